/*-------------------------------------------------------------------------
 *
 * stats.h
 *	  Serving statistics in shared memory: what fs_stats and fs_metrics show.
 *
 * Serving adds each call's figures, per feature view, to a backend-local
 * pending set (no lock); the set is added to shared memory at the end of the
 * call, and at the end of the transaction for a call that raised (its store
 * figures still count).  Shared memory holds one entry per (database,
 * feature view), at most feature_store.stats_max_views of them, each with
 * its counters and a log-scale histogram of call times.  Without
 * shared_preload_libraries nothing is kept.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FS_STATS_H
#define FS_STATS_H

#include "postgres.h"

/* Values served per status, in fs_get_features' order of statuses. */
#define FS_STATS_NSTATUS 5

/*
 * Histogram buckets of call times: bucket b (0 < b < last) holds times in
 * [2^((b-1)/4), 2^(b/4)) times FS_STATS_HIST_BASE_MS; bucket 0 everything
 * shorter, the last everything longer.  A quarter octave: a percentile read
 * at a bucket's geometric middle is within 9.1% of the true value.
 */
#define FS_STATS_BUCKETS 124
#define FS_STATS_HIST_BASE_MS (1.0 / 4096.0)	/* 2^-12 ms, about 0.24 us */

/* What one call did for one feature view. */
typedef struct FsViewCallStats
{
	int64		entities;		/* entity ids asked (input positions) */
	int64		values[FS_STATS_NSTATUS];	/* present, null_value, not_found,
											 * outside_max_age, unavailable */
	int64		store_requests; /* HTTP requests, retries included */
	int64		retries;
	int64		throttles;
	int64		store_errors;	/* 1 when the view's store failed this call */
	int64		cache_hits;		/* keys the cache answered */
	int64		cache_misses;	/* keys it did not (when the view is cached) */
} FsViewCallStats;

extern int	fs_stats_max_views;

/* From _PG_init: the setting, and shared memory when preloaded. */
extern void fs_stats_init(void);

/* Whether statistics are kept (the library was preloaded). */
extern bool fs_stats_enabled(void);

/*
 * Add one view's figures to the pending set.  counted_call: a call that
 * returned, taking elapsed_ms; false for what a call that raised did (only
 * its store figures).
 */
extern void fs_stats_add(const char *view, const FsViewCallStats *vs, bool counted_call,
						 double elapsed_ms);

/* Move the pending set into shared memory (end of a call). */
extern void fs_stats_flush(void);

#endif							/* FS_STATS_H */
