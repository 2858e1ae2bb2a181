/*-------------------------------------------------------------------------
 *
 * store.h
 *	  What a store does: answer a lookup, apply writes.
 *
 * Two stores hold a feature view's values: the embedded store
 * (store_local.c: a table in this database) and the DynamoDB-compatible
 * store (ddb_lookup.c, ddb_write.c: a foreign table of fs_dynamodb).
 *
 * Reads: serving builds one FsLookup per view of a call and hands each to
 * its store; the embedded store answers with one pass of index probes, the
 * DynamoDB-compatible store every remote lookup of a call in one wave.
 *
 * Writes: write.c checks and converts the writes of one call to one view
 * (FsPrepared) and hands them to the view's store, which applies each,
 * conditional on the stored event time, and sets its status.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FS_STORE_H
#define FS_STORE_H

#include "postgres.h"

#include "utils/relcache.h"

#include "registry.h"
#include "write.h"

typedef struct FsLookup
{
	FsView	   *view;
	int			nkeys;
	Datum	   *keys;			/* join-key values, in the key column's type */
	bool	   *keynull;		/* no key (a NULL id): not looked up */
	bool		read_back;		/* remote: what the store holds now, read
								 * consistently, past the cache and with no
								 * deadline (history's read after a write) */
	int			nfeat;			/* features asked of this view */
	FsFeature **feat;

	/* Filled by the store. */
	bool	   *found;			/* [key] */
	Datum	   *event_time;		/* [key] */
	bool	   *event_time_null;	/* [key] */
	Datum	   *values;			/* [key * nfeat + feature] */
	bool	   *nulls;			/* [key * nfeat + feature] */
	bool		unavailable;	/* the store could not answer */
	bool	   *key_unavailable;	/* [key], or NULL: the store did not answer
									 * these keys in time (store_deadline_ms) */

	/* Filled by a remote store, for the statistics, even when it raises. */
	int64		store_requests; /* HTTP requests, retries included */
	int64		store_retries;
	int64		store_throttles;
	bool		store_failed;	/* the store failed: raised, or UNAVAILABLE */
	int64		cache_hits;		/* keys the cache answered */
	int64		cache_misses;	/* keys it did not, asked of the store */
} FsLookup;

/*
 * feature_store.on_store_error: what a lookup does when its store cannot
 * answer.  Registered by _PG_init (feature_store.c); defined in ddb_lookup.c,
 * the only store that can fail.
 */
typedef enum FsOnStoreError
{
	FS_ON_STORE_ERROR_ERROR,	/* raise the store's error */
	FS_ON_STORE_ERROR_UNAVAILABLE	/* UNAVAILABLE values and a WARNING */
} FsOnStoreError;

extern int	fs_on_store_error;

/* A feature named by a write, checked and converted. */
typedef struct FsWriteCol
{
	int			feat;			/* index in view->features */
	bool		add;
	JsonbValue	json;			/* as given */
	Datum		value;			/* converted */
	bool		isnull;
} FsWriteCol;

/* A write, checked and converted: what a store applies. */
typedef struct FsPrepared
{
	FsWrite    *w;				/* the write; the store sets w->status */
	Datum		key;			/* in the join key's type */
	char	   *entity;			/* the key's output text: fs_ingest_state's entity_id */
	int			ncols;
	FsWriteCol *cols;			/* in column order */
} FsPrepared;

/*
 * The time the stored event time must not be after for a write to apply:
 * its event time, or the oldest of the events merged into it.
 */
static inline TimestampTz
fs_write_condition_time(const FsWrite *w)
{
	return w->oldest_event_time != 0 ? w->oldest_event_time : w->event_time;
}

/*
 * Whether a write only adds (counters): every event counts, whatever the
 * stored event time, which only moves forward.
 */
static inline bool
fs_write_add_only(const FsPrepared *p)
{
	for (int c = 0; c < p->ncols; c++)
		if (!p->cols[c].add)
			return false;
	return p->ncols > 0;
}

/* store_local.c: the embedded store */
extern void fs_local_lookup(FsLookup *lookup);
extern void fs_local_write(FsView *view, Relation rel, FsPrepared *ps, int n);

/* ddb_lookup.c: every fs_dynamodb lookup of a call, in one wave per server */
extern void fs_ddb_lookup(FsLookup **lookups, int n);

/* ddb_write.c: the writes of a call, in one wave of UpdateItem */
extern void fs_ddb_write(FsView *view, Relation rel, FsPrepared *ps, int n);

/* ddb_write.c: refuse a write whose values DynamoDB cannot hold */
extern void fs_ddb_check_write(FsView *view, FsPrepared *p);

#endif							/* FS_STORE_H */
