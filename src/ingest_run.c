/*-------------------------------------------------------------------------
 *
 * ingest_run.c
 *	  fs_ingest, the entry point of batch ingestion.
 *
 * The run itself is fs_ingest_run, in PL/pgSQL (src/sql/feature_store.sql),
 * with the same arguments and result.  fs_ingest calls it directly, handing
 * it the caller's set-returning-function call, and raises its errors again
 * without the lines of our implementation: the PL/pgSQL line that raised
 * it, the internal SQL that failed.  The user sees the error, its detail and
 * hint, the lines of their own functions (a trigger on the view's table) and
 * the context of their own call.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/lsyscache.h"

#include "utils.h"

PG_FUNCTION_INFO_V1(fs_ingest);

/*
 * fs_ingest(feature_view text, source regclass, mode text): run
 * fs_ingest_run of the extension's schema with the same call, so that its
 * errors can be raised as our users should see them.
 */
Datum
fs_ingest(PG_FUNCTION_ARGS)
{
	Oid			argtypes[3] = {TEXTOID, REGCLASSOID, TEXTOID};
	Oid			schema = get_func_namespace(fcinfo->flinfo->fn_oid);
	LOCAL_FCINFO(cinfo, 3);
	FmgrInfo   *flinfo = palloc0(sizeof(FmgrInfo));
	MemoryContext cxt = CurrentMemoryContext;
	volatile Datum result = (Datum) 0;
	Oid			fn;

	fn = LookupFuncName(list_make2(makeString(get_namespace_name(schema)),
								   makeString(pstrdup("fs_ingest_run"))),
						3, argtypes, false);
	fmgr_info(fn, flinfo);
	InitFunctionCallInfoData(*cinfo, flinfo, 3, PG_GET_COLLATION(), fcinfo->context,
							 fcinfo->resultinfo);
	for (int i = 0; i < 3; i++)
		cinfo->args[i] = fcinfo->args[i];

	PG_TRY();
	{
		result = FunctionCallInvoke(cinfo);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		/* Re-raised at once: the transaction's abort cleans up after the run. */
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		fs_rethrow_without_internals(edata);
	}
	PG_END_TRY();

	fcinfo->isnull = cinfo->isnull;
	return result;
}
