/*-------------------------------------------------------------------------
 *
 * ingest_state.c
 *	  The writes of fs_ingest_state (ingest_state.h), each one statement
 *	  prepared once per backend and schema.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "ingest_state.h"
#include "utils.h"

static FsKeptPlan record_plan;
static FsKeptPlan advance_plan;
static FsKeptPlan delete_plan;
static FsKeptPlan forget_plan;

/* A text[] of n entities. */
static Datum
entity_array(Datum *entities, int n)
{
	return PointerGetDatum(construct_array(entities, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/* A timestamptz[] of n times. */
static Datum
time_array(Datum *times, int n)
{
	return PointerGetDatum(construct_array(times, n, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL,
										   TYPALIGN_DOUBLE));
}

/* Run a kept statement; what it did must be expected. */
static void
run(SPIPlanPtr plan, Datum *args, int expected, const char *what)
{
	int			ret = SPI_execute_plan(plan, args, NULL, false, 0);

	if (ret != expected)
		elog(ERROR, "could not %s the ingestion state: %s", what, SPI_result_code_string(ret));
}

/* Record entities as written: their digests and event times. */
void
fs_state_record(Oid schema, const char *view, Datum *entities, Datum *digests,
				Datum *times, int n)
{
	Oid			argtypes[4] = {TEXTOID, TEXTARRAYOID, BYTEAARRAYOID, TIMESTAMPTZARRAYOID};
	Datum		args[4];

	if (n == 0)
		return;
	args[0] = CStringGetTextDatum(view);
	args[1] = entity_array(entities, n);
	args[2] = PointerGetDatum(construct_array(digests, n, BYTEAOID, -1, false, TYPALIGN_INT));
	args[3] = time_array(times, n);
	run(fs_schema_plan(&record_plan, schema,
					   "INSERT INTO @extschema@.fs_ingest_state AS st (feature_view, entity_id, digest, event_time) "
					   "SELECT $1, u.e, u.d, u.t FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), "
					   "pg_catalog.unnest($4)) AS u(e, d, t) "
					   "ON CONFLICT (feature_view, entity_id) DO UPDATE "
					   "SET digest = EXCLUDED.digest, event_time = EXCLUDED.event_time",
					   4, argtypes),
		args, SPI_OK_INSERT, "record");
}

/* Move the event time of entities forward: unchanged rows seen at a newer time. */
void
fs_state_advance_times(Oid schema, const char *view, Datum *entities, Datum *times, int n)
{
	Oid			argtypes[3] = {TEXTOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID};
	Datum		args[3];

	if (n == 0)
		return;
	args[0] = CStringGetTextDatum(view);
	args[1] = entity_array(entities, n);
	args[2] = time_array(times, n);
	run(fs_schema_plan(&advance_plan, schema,
					   "UPDATE @extschema@.fs_ingest_state st SET event_time = u.t"
					   " FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3)) AS u(k, t)"
					   " WHERE st.feature_view OPERATOR(pg_catalog.=) $1"
					   "   AND st.entity_id OPERATOR(pg_catalog.=) u.k"
					   "   AND (st.event_time IS NULL"
					   "        OR st.event_time OPERATOR(pg_catalog.<) u.t)",
					   3, argtypes),
		args, SPI_OK_UPDATE, "advance");
}

/* Forget entities a snapshot deleted. */
void
fs_state_delete(Oid schema, const char *view, Datum *entities, int n)
{
	Oid			argtypes[2] = {TEXTOID, TEXTARRAYOID};
	Datum		args[2];

	if (n == 0)
		return;
	args[0] = CStringGetTextDatum(view);
	args[1] = entity_array(entities, n);
	run(fs_schema_plan(&delete_plan, schema,
					   "DELETE FROM @extschema@.fs_ingest_state st "
					   "WHERE st.feature_view OPERATOR(pg_catalog.=) $1 "
					   "AND st.entity_id OPERATOR(pg_catalog.=) ANY ($2)",
					   2, argtypes),
		args, SPI_OK_DELETE, "update");
}

/*
 * Empty the digests of entities another lane wrote, as the state table's
 * owner, for this one fixed statement.  An empty digest matches no row: the
 * next fs_ingest compares the entity afresh.  The row stays, so that a
 * snapshot still knows the entity as one the batch lane wrote.
 */
void
fs_state_forget_digests(Oid schema, const char *view, Datum *entities, int n)
{
	Oid			argtypes[2] = {TEXTOID, TEXTARRAYOID};
	SPIPlanPtr	plan;
	Oid			state_relid;
	Oid			owner;
	HeapTuple	tup;
	Datum		args[2];
	Oid			save_userid;
	int			save_sec_context;
	int			ret;

	if (n == 0)
		return;
	state_relid = get_relname_relid("fs_ingest_state", schema);
	if (!OidIsValid(state_relid))
		elog(ERROR, "table fs_ingest_state of extension feature_store is missing");
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(state_relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", state_relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);

	plan = fs_schema_plan(&forget_plan, schema,
						  "UPDATE @extschema@.fs_ingest_state st SET digest = '\\x'::pg_catalog.bytea "
						  "WHERE st.feature_view OPERATOR(pg_catalog.=) $1 "
						  "AND st.entity_id OPERATOR(pg_catalog.=) ANY ($2)",
						  2, argtypes);
	args[0] = CStringGetTextDatum(view);
	args[1] = entity_array(entities, n);
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	ret = SPI_execute_plan(plan, args, NULL, false, 0);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "could not update the ingestion state: %s", SPI_result_code_string(ret));
}
