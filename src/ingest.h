/*-------------------------------------------------------------------------
 *
 * ingest.h
 *	  Batch ingestion: the C steps of fs_ingest.
 *
 * fs_ingest (extension SQL) drives a run: it checks the view and the source,
 * records the run, and calls fs_ingest_silver (ingest.c) to cast, validate,
 * deduplicate and compare the source into a temporary table with the view's
 * join key, event time and the features the source carries: only the
 * changed rows.  Gold, the writes, is SQL over that
 * table for the embedded store, and fs_ingest_remote (ddb_ingest.c) for a
 * view in the DynamoDB-compatible store.  fs_ingest_state's writes are in
 * ingest_state.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FS_INGEST_H
#define FS_INGEST_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/relcache.h"

/* Rows between progress notices of a long run. */
#define FS_INGEST_PROGRESS_ROWS 100000

extern Datum fs_ingest_silver(PG_FUNCTION_ARGS);
extern Datum fs_ingest_remote(PG_FUNCTION_ARGS);

/*
 * Refuse (42501) a run_id that is not a running run of the caller's into
 * feature_view (SPI connected): the C steps check it before they record.
 */
extern void fs_ingest_check_run(Oid schema, int64 run_id, const char *feature_view);

/*
 * Record a rejected value of a row in fs_ingest_rejects (SPI connected), as
 * its owner; source_row is the row's ordinal in the source, 0 if unknown.
 */
extern void fs_ingest_reject(Oid schema, int64 run_id, const char *entity_id,
							 const char *column, const char *raw, const char *reason,
							 int64 source_row);

/* Refuse (42501) any table but a temporary scratch table of the current role. */
extern void fs_ingest_check_scratch_table(Relation rel);

/*
 * Check that column i (0-based) of a scratch table, one of fs_ingest's own
 * (fs_row, fs_digest, fs_entity, fs_entity_hash), has the type it is read
 * and written as (42804).
 */
extern void fs_ingest_check_scratch_column(Relation rel, int i, Oid type);

#endif							/* FS_INGEST_H */
