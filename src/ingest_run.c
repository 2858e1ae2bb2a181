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
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "registry.h"
#include "utils.h"

PG_FUNCTION_INFO_V1(fs_ingest);
PG_FUNCTION_INFO_V1(fs_create_staging_table);

/*
 * Check the feature view argument as the other entry points do: NULL is
 * 22004, and a view that does not exist is 42704 with the registered views
 * in the hint, as serving says it.
 */
static void
check_view_arg(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("feature_view must not be null")));
	(void) fs_resolve_view(get_func_namespace(fcinfo->flinfo->fn_oid),
						   text_to_cstring(PG_GETARG_TEXT_PP(0)));
}

/*
 * fs_ingest(feature_view text, source regclass, mode text): run
 * fs_ingest_run, so that its errors can be raised as our users should see
 * them.
 */
Datum
fs_ingest(PG_FUNCTION_ARGS)
{
	check_view_arg(fcinfo);
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
	check_view_arg(fcinfo);
	PG_RETURN_DATUM(fs_call_internal(fcinfo, "fs_create_staging_table_run"));
}
