/*-------------------------------------------------------------------------
 *
 * cache.c
 *	  The hot-entity cache in shared memory (see cache.h), and the functions
 *	  under view fs_cache_status and fs_cache_reset.
 *
 * Entries live in fixed slots of FS_CACHE_ENTRY_BYTES, found through a
 * shared hash of (database, server, hash of table and key); a slot holds
 * the table name and key again, so a hash collision is a miss, never
 * another item.  One LWLock guards both: shared to read (the item is copied
 * out), exclusive to put, invalidate or evict.  Nothing under it can raise
 * an error or wait on anything else, so an ERROR, a cancel or a terminated
 * backend never leaves it held or an entry half written.
 *
 * Eviction is CLOCK with a usage count of at most 3, which a hit raises and
 * the hand lowers; a new entry starts at 0, so a scan of cold keys evicts its
 * own entries before hot ones.
 *
 * A read and a write of one key may cross: the reader may get the old item
 * after the writer invalidated the key.  Each invalidation stamps the
 * key's bucket of inval_at with a new sequence number; a put is dropped when
 * the bucket's stamp is newer than the reader's fs_cache_seq taken before it
 * sent the read.  (Buckets are shared by many keys: a collision only drops
 * a put.)  An eventually consistent read sent after the stamp may still
 * answer the old value, for about a second on DynamoDB: its put is dropped
 * for FS_CACHE_EVENTUAL_MS after the stamp.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#include "cache.h"

PG_FUNCTION_INFO_V1(fs_cache_status_internal);
PG_FUNCTION_INFO_V1(fs_cache_reset);

int			fs_cache_size_kb = 32 * 1024;

#define FS_CACHE_MAX_USAGE 3
#define FS_CACHE_INVAL_BUCKETS 16384

typedef struct FsCacheKey
{
	Oid			dbid;
	Oid			serverid;
	uint64		hash;			/* of table and key */
} FsCacheKey;

typedef struct FsCacheIndexEntry
{
	FsCacheKey	key;			/* hash key: first */
	int32		slot;
} FsCacheIndexEntry;

typedef struct FsCacheSlot
{
	FsCacheKey	key;
	Oid			umid;
	bool		used;
	bool		absent;			/* the store had no item */
	pg_atomic_uint32 usage;
	TimestampTz fetched_at;
	uint16		table_len;
	uint16		key_len;
	uint16		attrs_len;
	uint16		item_len;
	int32		next_free;
} FsCacheSlot;

typedef struct FsCacheShared
{
	LWLock	   *lock;
	int32		nslots;
	int32		free_head;		/* -1: none */
	int32		hand;
	int32		nused;
	uint64		inval_seq;
	uint64		inval_at[FS_CACHE_INVAL_BUCKETS];
	TimestampTz inval_time[FS_CACHE_INVAL_BUCKETS];	/* when inval_at was stamped */
	pg_atomic_uint64 hits;
	pg_atomic_uint64 misses;
	pg_atomic_uint64 evictions;
	pg_atomic_uint64 invalidations;
	FsCacheSlot slots[FLEXIBLE_ARRAY_MEMBER];
} FsCacheShared;

static bool cache_preloaded = false;	/* _PG_init ran while preloading */
static FsCacheShared *cache = NULL;
static char *cache_data = NULL;		/* nslots x FS_CACHE_ENTRY_BYTES */
static HTAB *cache_index = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/*-------------------------------------------------------------------------
 * Shared memory
 *-------------------------------------------------------------------------
 */

/* How many entries cache_size holds, counting each one's share of the index. */
static int
cache_nslots(void)
{
	Size		per = FS_CACHE_ENTRY_BYTES + sizeof(FsCacheSlot) + 2 * sizeof(FsCacheIndexEntry);

	return (int) Min(((Size) fs_cache_size_kb * 1024) / per, (Size) PG_INT32_MAX / 2);
}

static Size
cache_header_size(int nslots)
{
	return add_size(offsetof(FsCacheShared, slots), mul_size(nslots, sizeof(FsCacheSlot)));
}

static void
cache_shmem_request(void)
{
	int			n = cache_nslots();

	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(add_size(add_size(MAXALIGN(cache_header_size(n)),
											 mul_size(n, FS_CACHE_ENTRY_BYTES)),
									hash_estimate_size(n, sizeof(FsCacheIndexEntry))));
	RequestNamedLWLockTranche("feature_store cache", 1);
}

static void
cache_shmem_startup(void)
{
	bool		found;
	bool		found_data;
	int			n = cache_nslots();
	HASHCTL		info;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	cache = ShmemInitStruct("feature_store cache", cache_header_size(n), &found);
	cache_data = ShmemInitStruct("feature_store cache entries",
								 mul_size(n, FS_CACHE_ENTRY_BYTES), &found_data);
	if (!found)
	{
		cache->lock = &(GetNamedLWLockTranche("feature_store cache"))->lock;
		cache->nslots = n;
		cache->hand = 0;
		cache->nused = 0;
		cache->inval_seq = 0;
		memset(cache->inval_at, 0, sizeof(cache->inval_at));
		memset(cache->inval_time, 0, sizeof(cache->inval_time));
		pg_atomic_init_u64(&cache->hits, 0);
		pg_atomic_init_u64(&cache->misses, 0);
		pg_atomic_init_u64(&cache->evictions, 0);
		pg_atomic_init_u64(&cache->invalidations, 0);
		for (int i = 0; i < n; i++)
		{
			cache->slots[i].used = false;
			pg_atomic_init_u32(&cache->slots[i].usage, 0);
			cache->slots[i].next_free = i + 1 < n ? i + 1 : -1;
		}
		cache->free_head = n > 0 ? 0 : -1;
	}
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(FsCacheKey);
	info.entrysize = sizeof(FsCacheIndexEntry);
	cache_index = ShmemInitHash("feature_store cache index", n, n, &info,
								HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
	LWLockRelease(AddinShmemInitLock);
}

/* See cache.h. */
void
fs_cache_init(void)
{
	/* A postmaster setting can only be defined while preloading. */
	if (!process_shared_preload_libraries_in_progress)
		return;
	cache_preloaded = true;
	DefineCustomIntVariable("feature_store.cache_size",
							"Shared memory for the cache of items read from DynamoDB-compatible stores; 0 turns it off.",
							"Items are cached for foreign tables or servers with the option cache_ttl_ms. "
							"Each entry takes about 2 kB.",
							&fs_cache_size_kb,
							32 * 1024, 0, INT_MAX / 1024,
							PGC_POSTMASTER, GUC_UNIT_KB,
							NULL, NULL, NULL);
	if (fs_cache_size_kb == 0 || cache_nslots() == 0)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = cache_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = cache_shmem_startup;
}

/* See cache.h. */
bool
fs_cache_enabled(void)
{
	return cache_index != NULL;
}

/* See cache.h. */
uint64
fs_cache_seq(void)
{
	uint64		seq;

	if (cache == NULL)
		return 0;
	LWLockAcquire(cache->lock, LW_SHARED);
	seq = cache->inval_seq;
	LWLockRelease(cache->lock);
	return seq;
}

/*-------------------------------------------------------------------------
 * Entries
 *-------------------------------------------------------------------------
 */

/* The key of an entry of this database. */
static FsCacheKey
entry_key(Oid serverid, const char *table, const char *key, int keylen)
{
	FsCacheKey	k;
	uint64		h;

	memset(&k, 0, sizeof(k));
	k.dbid = MyDatabaseId;
	k.serverid = serverid;
	h = hash_bytes_extended((const unsigned char *) table, strlen(table), 0);
	k.hash = hash_bytes_extended((const unsigned char *) key, keylen, h);
	return k;
}

static char *
slot_data(int slot)
{
	return cache_data + (Size) slot * FS_CACHE_ENTRY_BYTES;
}

/* Whether every name of want (sorted, NUL-terminated) is among have's. */
static bool
attrs_subset(const char *want, int wantlen, const char *have, int havelen)
{
	const char *w = want;
	const char *h = have;

	if (wantlen == havelen && memcmp(want, have, wantlen) == 0)
		return true;
	while (w < want + wantlen)
	{
		int			c = 1;

		while (h < have + havelen && (c = strcmp(h, w)) < 0)
			h += strlen(h) + 1;
		if (h >= have + havelen || c != 0)
			return false;
		w += strlen(w) + 1;
	}
	return true;
}

/* Free a used slot (lock held exclusively). */
static void
slot_free(int slot)
{
	FsCacheSlot *s = &cache->slots[slot];

	hash_search(cache_index, &s->key, HASH_REMOVE, NULL);
	s->used = false;
	s->next_free = cache->free_head;
	cache->free_head = slot;
	cache->nused--;
}

/* A slot for a new entry: a free one, else the clock's victim (lock held exclusively). */
static int
slot_take(void)
{
	int			slot;

	if (cache->free_head < 0)
	{
		for (;;)
		{
			FsCacheSlot *s = &cache->slots[cache->hand];
			uint32		u = pg_atomic_read_u32(&s->usage);

			slot = cache->hand;
			cache->hand = (cache->hand + 1) % cache->nslots;
			if (u == 0)
				break;
			pg_atomic_write_u32(&s->usage, u - 1);
		}
		slot_free(slot);
		pg_atomic_fetch_add_u64(&cache->evictions, 1);
	}
	slot = cache->free_head;
	cache->free_head = cache->slots[slot].next_free;
	cache->nused++;
	return slot;
}

/* See cache.h. */
FsCacheResult
fs_cache_get(const FsCacheScope *scope, const char *key, int keylen, StringInfo item)
{
	FsCacheKey	k;
	FsCacheIndexEntry *e;
	FsCacheResult result = FS_CACHE_MISS;
	int			tablelen = strlen(scope->table);

	if (cache_index == NULL || scope->ttl_ms <= 0)
		return FS_CACHE_MISS;
	k = entry_key(scope->serverid, scope->table, key, keylen);
	/* Room for any item first: nothing under the lock may raise. */
	enlargeStringInfo(item, FS_CACHE_ENTRY_BYTES);

	LWLockAcquire(cache->lock, LW_SHARED);
	e = hash_search(cache_index, &k, HASH_FIND, NULL);
	if (e != NULL)
	{
		FsCacheSlot *s = &cache->slots[e->slot];
		char	   *d = slot_data(e->slot);

		if (s->umid == scope->umid &&
			s->table_len == tablelen && memcmp(d, scope->table, tablelen) == 0 &&
			s->key_len == keylen && memcmp(d + tablelen, key, keylen) == 0 &&
			scope->now - s->fetched_at <= (TimestampTz) scope->ttl_ms * 1000 &&
			(s->absent || attrs_subset(scope->attrs, scope->attrs_len,
									   d + tablelen + keylen, s->attrs_len)))
		{
			uint32		u = pg_atomic_read_u32(&s->usage);

			if (u < FS_CACHE_MAX_USAGE)
				pg_atomic_write_u32(&s->usage, u + 1);
			if (s->absent)
				result = FS_CACHE_ABSENT;
			else
			{
				appendBinaryStringInfo(item, d + tablelen + keylen + s->attrs_len, s->item_len);
				result = FS_CACHE_ITEM;
			}
		}
	}
	LWLockRelease(cache->lock);
	pg_atomic_fetch_add_u64(result == FS_CACHE_MISS ? &cache->misses : &cache->hits, 1);
	return result;
}

/* See cache.h. */
void
fs_cache_put(const FsCacheScope *scope, uint64 seq, const char *key, int keylen,
			 const char *item, int itemlen)
{
	FsCacheKey	k;
	FsCacheIndexEntry *e;
	FsCacheSlot *s;
	char	   *d;
	int			tablelen = strlen(scope->table);
	int			attrslen = item != NULL ? scope->attrs_len : 0;
	bool		found;
	TimestampTz now;
	uint32		bucket;

	if (cache_index == NULL || scope->ttl_ms <= 0)
		return;
	if (item == NULL)
		itemlen = 0;
	if ((Size) tablelen + keylen + attrslen + itemlen > FS_CACHE_ENTRY_BYTES)
		return;
	k = entry_key(scope->serverid, scope->table, key, keylen);

	now = GetCurrentTimestamp();

	LWLockAcquire(cache->lock, LW_EXCLUSIVE);
	bucket = k.hash % FS_CACHE_INVAL_BUCKETS;
	if (cache->inval_at[bucket] > seq ||
		(!scope->consistent && cache->inval_time[bucket] != 0 &&
		 now - cache->inval_time[bucket] < (TimestampTz) FS_CACHE_EVENTUAL_MS * 1000))
	{
		LWLockRelease(cache->lock);
		return;
	}
	e = hash_search(cache_index, &k, HASH_FIND, NULL);
	if (e == NULL)
	{
		int			slot = slot_take();

		e = hash_search(cache_index, &k, HASH_ENTER_NULL, &found);
		if (e == NULL)
		{
			/* Cannot happen: the index has room for every slot. */
			cache->slots[slot].next_free = cache->free_head;
			cache->free_head = slot;
			cache->nused--;
			LWLockRelease(cache->lock);
			return;
		}
		e->slot = slot;
		pg_atomic_write_u32(&cache->slots[slot].usage, 0);
	}
	s = &cache->slots[e->slot];
	d = slot_data(e->slot);
	s->key = k;
	s->umid = scope->umid;
	s->used = true;
	s->absent = (item == NULL);
	s->fetched_at = scope->now;
	s->table_len = tablelen;
	s->key_len = keylen;
	s->attrs_len = attrslen;
	s->item_len = itemlen;
	memcpy(d, scope->table, tablelen);
	memcpy(d + tablelen, key, keylen);
	memcpy(d + tablelen + keylen, scope->attrs, attrslen);
	if (itemlen > 0)
		memcpy(d + tablelen + keylen + attrslen, item, itemlen);
	LWLockRelease(cache->lock);
}

/* See cache.h. */
void
fs_cache_invalidate(Oid serverid, const char *table, const char *key, int keylen)
{
	FsCacheKey	k;
	FsCacheIndexEntry *e;
	TimestampTz now;

	if (cache_index == NULL)
		return;
	k = entry_key(serverid, table, key, keylen);
	now = GetCurrentTimestamp();
	LWLockAcquire(cache->lock, LW_EXCLUSIVE);
	cache->inval_at[k.hash % FS_CACHE_INVAL_BUCKETS] = ++cache->inval_seq;
	cache->inval_time[k.hash % FS_CACHE_INVAL_BUCKETS] = now;
	e = hash_search(cache_index, &k, HASH_FIND, NULL);
	if (e != NULL)
	{
		slot_free(e->slot);
		pg_atomic_fetch_add_u64(&cache->invalidations, 1);
	}
	LWLockRelease(cache->lock);
}

/*-------------------------------------------------------------------------
 * SQL
 *-------------------------------------------------------------------------
 */

/* Say why the cache shows nothing. */
static bool
cache_available(void)
{
	if (cache_index != NULL)
		return true;
	if (!cache_preloaded)
		ereport(NOTICE,
				(errmsg("feature_store's cache is off: it is not in shared_preload_libraries"),
				 errhint("Add feature_store to shared_preload_libraries and restart the server.")));
	else
		ereport(NOTICE,
				(errmsg("feature_store's cache is off: feature_store.cache_size is 0")));
	return false;
}

/*
 * fs_cache_status_internal(): one row of the cache's figures (all
 * databases): size_bytes, used_bytes, entries, hits, misses, evictions,
 * invalidations; no row when the cache is off.
 */
Datum
fs_cache_status_internal(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		values[7];
	bool		nulls[7] = {0};
	int64		used = 0;
	int32		nused;

	InitMaterializedSRF(fcinfo, 0);
	if (!cache_available())
		return (Datum) 0;
	LWLockAcquire(cache->lock, LW_SHARED);
	nused = cache->nused;
	for (int i = 0; i < cache->nslots; i++)
	{
		FsCacheSlot *s = &cache->slots[i];

		if (s->used)
			used += s->table_len + s->key_len + s->attrs_len + s->item_len;
	}
	LWLockRelease(cache->lock);
	values[0] = Int64GetDatum((int64) cache->nslots * FS_CACHE_ENTRY_BYTES);
	values[1] = Int64GetDatum(used);
	values[2] = Int64GetDatum(nused);
	values[3] = Int64GetDatum((int64) pg_atomic_read_u64(&cache->hits));
	values[4] = Int64GetDatum((int64) pg_atomic_read_u64(&cache->misses));
	values[5] = Int64GetDatum((int64) pg_atomic_read_u64(&cache->evictions));
	values[6] = Int64GetDatum((int64) pg_atomic_read_u64(&cache->invalidations));
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

/* fs_cache_reset(): forget the current database's entries; returns how many. */
Datum
fs_cache_reset(PG_FUNCTION_ARGS)
{
	int64		removed = 0;

	if (!cache_available())
		PG_RETURN_INT64(0);
	LWLockAcquire(cache->lock, LW_EXCLUSIVE);
	for (int i = 0; i < cache->nslots; i++)
	{
		FsCacheSlot *s = &cache->slots[i];

		if (s->used && s->key.dbid == MyDatabaseId)
		{
			/* A read in flight must not put back what it read before. */
			cache->inval_at[s->key.hash % FS_CACHE_INVAL_BUCKETS] = ++cache->inval_seq;
			slot_free(i);
			removed++;
		}
	}
	LWLockRelease(cache->lock);
	PG_RETURN_INT64(removed);
}
