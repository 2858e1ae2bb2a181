/*-------------------------------------------------------------------------
 *
 * ingest_run.c
 *	  fs_ingest and fs_create_staging_table, the entry points of batch
 *	  ingestion.
 *
 * Each one's work is an internal PL/pgSQL function (src/sql/feature_store.sql)
 * with the same arguments and result: fs_ingest_run, the run, and
 * fs_create_staging_table_run.  The C function calls it directly, handing
 * it the caller's call (fs_call_internal, utils.c), and raises its errors
 * again without the lines of our implementation: the PL/pgSQL line that
 * raised it, the internal SQL that failed.  The user sees the error, its
 * detail and hint, the lines of their own functions (a trigger on the
 * view's table) and the context of their own call.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

#include "utils.h"

PG_FUNCTION_INFO_V1(fs_ingest);
PG_FUNCTION_INFO_V1(fs_create_staging_table);

/*
 * fs_ingest(feature_view text, source regclass, mode text): run
 * fs_ingest_run, so that its errors can be raised as our users should see
 * them.
 */
Datum
fs_ingest(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(fs_call_internal(fcinfo, "fs_ingest_run"));
}

/*
 * fs_create_staging_table(feature_view text, staging_table text,
 * features text[], replace boolean): run fs_create_staging_table_run, so
 * that its errors (its checks', and those of the DROP TABLE and CREATE TABLE
 * it runs) can be raised as our users should see them.
 */
Datum
fs_create_staging_table(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(fs_call_internal(fcinfo, "fs_create_staging_table_run"));
}
