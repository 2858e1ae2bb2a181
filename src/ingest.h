/*-------------------------------------------------------------------------
 *
 * ingest.h
 *	  Batch ingestion: the silver step of fs_ingest.
 *
 * fs_ingest (extension SQL) drives a run: it checks the view and the source,
 * records the run, and calls fs_ingest_silver to cast, validate and
 * deduplicate the source into a temporary table shaped like the view's
 * relation.  Change detection and the writes (gold) are SQL over that table.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FS_INGEST_H
#define FS_INGEST_H

#include "postgres.h"

#include "fmgr.h"
#include "access/tupdesc.h"
#include "lib/stringinfo.h"
#include "utils/relcache.h"

/* Rows between progress notices of a long run. */
#define FS_INGEST_PROGRESS_ROWS 100000

extern Datum fs_ingest_silver(PG_FUNCTION_ARGS);
extern Datum fs_ingest_remote(PG_FUNCTION_ARGS);

/* Record a rejected row in fs_ingest_rejects (SPI connected). */
extern void fs_ingest_reject(Oid schema, int64 run_id, const char *entity_id,
							 const char *column, const char *raw, const char *reason);

/* Refuse (42501) any table but a temporary scratch table of the current role. */
extern void fs_ingest_check_scratch_table(Relation rel);

#endif							/* FS_INGEST_H */
