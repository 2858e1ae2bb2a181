/*-------------------------------------------------------------------------
 *
 * stats.c
 *	  Serving statistics in shared memory (see stats.h), and the functions
 *	  under views fs_stats and fs_metrics.
 *
 * The shared table is a hash of (database, view name) entries under one
 * LWLock: taken shared to find an entry and add to it (under the entry's
 * spinlock), exclusive only to create or remove entries.  A backend adds a
 * call's figures once, at its end, so counting costs one lock round trip per
 * call, not per value.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "stats.h"

PG_FUNCTION_INFO_V1(fs_stats_internal);
PG_FUNCTION_INFO_V1(fs_stats_reset);
PG_FUNCTION_INFO_V1(fs_stats_untracked);

int			fs_stats_max_views = 1000;

/* The histogram's boundaries fs_metrics exposes: 2^k ms, k = -2 .. 14. */
#define FS_STATS_EXPOSED_FIRST_K (-2)
#define FS_STATS_EXPOSED_N 17

/* Names are shorter than 64 bytes (fs_feature_view's CHECK). */
#define FS_STATS_NAME_LEN 64

typedef struct FsStatsKey
{
	Oid			dbid;
	char		view[FS_STATS_NAME_LEN];
} FsStatsKey;

/* What is counted for a view, in shared memory and pending alike. */
typedef struct FsStatsCounters
{
	int64		calls;
	double		total_ms;
	FsViewCallStats sums;
	int64		hist[FS_STATS_BUCKETS];
} FsStatsCounters;

typedef struct FsStatsEntry
{
	FsStatsKey	key;			/* hash key: first */
	slock_t		mutex;			/* protects the counters */
	FsStatsCounters c;
	TimestampTz stats_reset;
} FsStatsEntry;

typedef struct FsStatsShared
{
	LWLock	   *lock;			/* the hash: shared to use, exclusive to add or remove */
	pg_atomic_uint64 untracked; /* call figures dropped: the table was full */
} FsStatsShared;

static FsStatsShared *stats_shared = NULL;
static HTAB *stats_hash = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* The pending set: this backend's figures not yet in shared memory. */
typedef struct FsStatsPending
{
	char		view[FS_STATS_NAME_LEN];
	FsStatsCounters c;
} FsStatsPending;

static FsStatsPending *pending = NULL;
static int	npending = 0;
static int	maxpending = 0;
static bool xact_callback_registered = false;

/*-------------------------------------------------------------------------
 * Shared memory
 *-------------------------------------------------------------------------
 */

static Size
stats_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(FsStatsShared)),
					hash_estimate_size(fs_stats_max_views, sizeof(FsStatsEntry)));
}

/* shmem_request_hook: the table and its lock. */
static void
stats_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(stats_shmem_size());
	RequestNamedLWLockTranche("feature_store stats", 1);
}

/* shmem_startup_hook: find or create the table. */
static void
stats_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	stats_shared = ShmemInitStruct("feature_store stats", sizeof(FsStatsShared), &found);
	if (!found)
	{
		stats_shared->lock = &(GetNamedLWLockTranche("feature_store stats"))->lock;
		pg_atomic_init_u64(&stats_shared->untracked, 0);
	}
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(FsStatsKey);
	info.entrysize = sizeof(FsStatsEntry);
	stats_hash = ShmemInitHash("feature_store stats views", fs_stats_max_views,
							   fs_stats_max_views, &info, HASH_ELEM | HASH_BLOBS);
	LWLockRelease(AddinShmemInitLock);
}

/* See stats.h. */
void
fs_stats_init(void)
{
	/* A postmaster setting can only be defined while preloading. */
	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomIntVariable("feature_store.stats_max_views",
							"How many feature views (of all databases) serving statistics are kept for.",
							"Each takes about 1 kB of shared memory; calls of views beyond it are not "
							"counted (fs_metrics counts them as untracked).",
							&fs_stats_max_views,
							1000, 10, 100000,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = stats_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = stats_shmem_startup;
}

/* See stats.h. */
bool
fs_stats_enabled(void)
{
	return stats_hash != NULL;
}

/*-------------------------------------------------------------------------
 * Counting
 *-------------------------------------------------------------------------
 */

/* The histogram bucket of a call time. */
static int
stats_bucket(double ms)
{
	double		b;

	if (!(ms >= FS_STATS_HIST_BASE_MS))
		return 0;
	b = floor(4.0 * log2(ms / FS_STATS_HIST_BASE_MS)) + 1;
	return (int) Min(b, FS_STATS_BUCKETS - 1);
}

/* Add a call's (or a pending set's) view figures. */
static void
sums_add(FsViewCallStats *dst, const FsViewCallStats *src)
{
	dst->entities += src->entities;
	for (int s = 0; s < FS_STATS_NSTATUS; s++)
		dst->values[s] += src->values[s];
	dst->store_requests += src->store_requests;
	dst->retries += src->retries;
	dst->throttles += src->throttles;
	dst->store_errors += src->store_errors;
	dst->cache_hits += src->cache_hits;
	dst->cache_misses += src->cache_misses;
}

static void
counters_add(FsStatsCounters *dst, const FsStatsCounters *src)
{
	dst->calls += src->calls;
	dst->total_ms += src->total_ms;
	sums_add(&dst->sums, &src->sums);
	if (src->calls > 0)
		for (int b = 0; b < FS_STATS_BUCKETS; b++)
			dst->hist[b] += src->hist[b];
}

/* Xact callback: what a call that raised left pending goes in too. */
static void
stats_xact_callback(XactEvent event, void *arg)
{
	if (npending > 0)
		fs_stats_flush();
}

/* See stats.h. */
void
fs_stats_add(const char *view, const FsViewCallStats *vs, bool counted_call, double elapsed_ms)
{
	FsStatsPending *p = NULL;

	if (stats_hash == NULL)
		return;
	for (int i = 0; i < npending && p == NULL; i++)
		if (strcmp(pending[i].view, view) == 0)
			p = &pending[i];
	if (p == NULL)
	{
		if (npending == maxpending)
		{
			int			n = Max(8, maxpending * 2);

			pending = pending == NULL
				? MemoryContextAlloc(TopMemoryContext, sizeof(FsStatsPending) * n)
				: repalloc(pending, sizeof(FsStatsPending) * n);
			maxpending = n;
		}
		if (!xact_callback_registered)
		{
			RegisterXactCallback(stats_xact_callback, NULL);
			xact_callback_registered = true;
		}
		p = &pending[npending++];
		memset(p, 0, sizeof(FsStatsPending));
		strlcpy(p->view, view, FS_STATS_NAME_LEN);
	}
	if (counted_call)
	{
		p->c.calls++;
		p->c.total_ms += elapsed_ms;
		p->c.hist[stats_bucket(elapsed_ms)]++;
		sums_add(&p->c.sums, vs);
	}
	else
	{
		/* A call that raised: what it asked of its store still counts. */
		FsViewCallStats store = {0};

		store.store_requests = vs->store_requests;
		store.retries = vs->retries;
		store.throttles = vs->throttles;
		store.store_errors = vs->store_errors;
		store.cache_hits = vs->cache_hits;
		store.cache_misses = vs->cache_misses;
		sums_add(&p->c.sums, &store);
	}
}

/* Add one pending entry to shared memory. */
static void
flush_one(const FsStatsPending *p)
{
	FsStatsKey	key;
	FsStatsEntry *e;

	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	strlcpy(key.view, p->view, FS_STATS_NAME_LEN);

	LWLockAcquire(stats_shared->lock, LW_SHARED);
	e = hash_search(stats_hash, &key, HASH_FIND, NULL);
	if (e == NULL)
	{
		bool		found;

		LWLockRelease(stats_shared->lock);
		LWLockAcquire(stats_shared->lock, LW_EXCLUSIVE);
		e = NULL;
		if (hash_get_num_entries(stats_hash) < fs_stats_max_views ||
			hash_search(stats_hash, &key, HASH_FIND, NULL) != NULL)
			e = hash_search(stats_hash, &key, HASH_ENTER_NULL, &found);
		if (e == NULL)
		{
			LWLockRelease(stats_shared->lock);
			pg_atomic_fetch_add_u64(&stats_shared->untracked, Max(p->c.calls, 1));
			return;
		}
		if (!found)
		{
			SpinLockInit(&e->mutex);
			memset(&e->c, 0, sizeof(e->c));
			e->stats_reset = GetCurrentTimestamp();
		}
	}
	SpinLockAcquire(&e->mutex);
	counters_add(&e->c, &p->c);
	SpinLockRelease(&e->mutex);
	LWLockRelease(stats_shared->lock);
}

/* See stats.h. */
void
fs_stats_flush(void)
{
	if (stats_hash == NULL || npending == 0)
		return;
	/* Each entry leaves the set before it is added: nothing counts twice. */
	while (npending > 0)
		flush_one(&pending[--npending]);
}

/*-------------------------------------------------------------------------
 * Reading
 *-------------------------------------------------------------------------
 */

/* Say once per call why a statistics function shows nothing. */
static bool
stats_available(void)
{
	if (stats_hash != NULL)
		return true;
	ereport(NOTICE,
			(errmsg("feature_store keeps no serving statistics: it is not in shared_preload_libraries"),
			 errhint("Add feature_store to shared_preload_libraries and restart the server.")));
	return false;
}

/* The call time at rank q of a histogram (its bucket's geometric middle). */
static double
stats_percentile(const int64 *hist, int64 calls, double q)
{
	int64		rank = (int64) ceil(q * calls);
	int64		seen = 0;
	int			b;

	rank = Max(rank, 1);
	for (b = 0; b < FS_STATS_BUCKETS - 1; b++)
	{
		seen += hist[b];
		if (seen >= rank)
			break;
	}
	if (b == 0)
		return FS_STATS_HIST_BASE_MS;
	if (b == FS_STATS_BUCKETS - 1)
		return FS_STATS_HIST_BASE_MS * pow(2.0, (b - 1) / 4.0);
	return FS_STATS_HIST_BASE_MS * pow(2.0, (2.0 * b - 1) / 8.0);
}

/*
 * fs_stats_internal(): the current database's entries, for views fs_stats
 * and fs_metrics; histogram holds the cumulative counts of calls under
 * 2^k ms, k = -2 .. 14.
 */
Datum
fs_stats_internal(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS status;
	FsStatsEntry *e;
	FsStatsEntry *copies;
	int			n = 0;

	InitMaterializedSRF(fcinfo, 0);
	if (!stats_available())
		return (Datum) 0;

	LWLockAcquire(stats_shared->lock, LW_SHARED);
	copies = palloc(sizeof(FsStatsEntry) * Max(hash_get_num_entries(stats_hash), 1));
	hash_seq_init(&status, stats_hash);
	while ((e = hash_seq_search(&status)) != NULL)
	{
		if (e->key.dbid != MyDatabaseId)
			continue;
		SpinLockAcquire(&e->mutex);
		copies[n] = *e;
		SpinLockRelease(&e->mutex);
		n++;
	}
	LWLockRelease(stats_shared->lock);

	for (int i = 0; i < n; i++)
	{
		FsStatsCounters *c = &copies[i].c;
		Datum		values[20];
		bool		nulls[20] = {0};
		Datum		buckets[FS_STATS_EXPOSED_N];
		int64		cum = 0;
		int			b = 0;
		int			col = 0;

		values[col++] = CStringGetTextDatum(copies[i].key.view);
		values[col++] = Int64GetDatum(c->calls);
		values[col++] = Int64GetDatum(c->sums.entities);
		for (int s = 0; s < FS_STATS_NSTATUS; s++)
			values[col++] = Int64GetDatum(c->sums.values[s]);
		values[col++] = Int64GetDatum(c->sums.store_requests);
		values[col++] = Int64GetDatum(c->sums.retries);
		values[col++] = Int64GetDatum(c->sums.throttles);
		values[col++] = Int64GetDatum(c->sums.store_errors);
		values[col++] = Int64GetDatum(c->sums.cache_hits);
		values[col++] = Int64GetDatum(c->sums.cache_misses);
		values[col++] = Float8GetDatum(c->total_ms);
		for (int q = 0; q < 3; q++)
		{
			static const double qs[3] = {0.50, 0.95, 0.99};

			/* To the microsecond: the bucket's 9.1% says no more. */
			if (c->calls > 0)
				values[col] = Float8GetDatum(round(stats_percentile(c->hist, c->calls, qs[q]) * 1000.0) /
											 1000.0);
			else
				nulls[col] = true;
			col++;
		}
		/* Calls under 2^k ms: every bucket up to the one that ends there. */
		for (int k = 0; k < FS_STATS_EXPOSED_N; k++)
		{
			int			last = 4 * (k + FS_STATS_EXPOSED_FIRST_K + 12);

			for (; b <= last; b++)
				cum += c->hist[b];
			buckets[k] = Int64GetDatum(cum);
		}
		values[col++] = PointerGetDatum(construct_array(buckets, FS_STATS_EXPOSED_N, INT8OID,
														8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		values[col++] = TimestampTzGetDatum(copies[i].stats_reset);
		Assert(col == 20);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * fs_stats_reset(): forget the current database's serving statistics.
 * Returns how many views' entries were removed.
 */
Datum
fs_stats_reset(PG_FUNCTION_ARGS)
{
	HASH_SEQ_STATUS status;
	FsStatsEntry *e;
	int64		removed = 0;

	if (!stats_available())
		PG_RETURN_INT64(0);
	/* This backend's figures not yet added belong to the old period. */
	npending = 0;
	LWLockAcquire(stats_shared->lock, LW_EXCLUSIVE);
	hash_seq_init(&status, stats_hash);
	while ((e = hash_seq_search(&status)) != NULL)
	{
		if (e->key.dbid != MyDatabaseId)
			continue;
		hash_search(stats_hash, &e->key, HASH_REMOVE, NULL);
		removed++;
	}
	LWLockRelease(stats_shared->lock);
	PG_RETURN_INT64(removed);
}

/*
 * fs_stats_untracked(): calls (of every database) whose figures were not
 * kept because feature_store.stats_max_views entries were in use.
 */
Datum
fs_stats_untracked(PG_FUNCTION_ARGS)
{
	if (stats_hash == NULL)
		PG_RETURN_NULL();
	PG_RETURN_INT64((int64) pg_atomic_read_u64(&stats_shared->untracked));
}
