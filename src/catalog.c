/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  Writes of the extension's catalog tables: the registry (fs_entity,
 *	  fs_feature_view, fs_feature_service, fs_feature_history) and
 *	  ingestion's record (fs_ingest_runs, fs_ingest_rejects).
 *
 * PUBLIC may only read these tables.  Any privilege to write one would also
 * let a role LOCK it in ACCESS EXCLUSIVE mode, and hold every DROP TABLE
 * (through the sql_drop event trigger), every registration and every
 * ingestion of the database behind that lock.  So each write goes through a
 * function here, which runs as the calling role the checks of the write
 * (the registry's fs_check_* functions, which raise its errors; for
 * ingestion's record, that the run is the caller's own and running), and
 * only then writes as the table's owner.  The check is part of each write:
 * whoever calls these functions, and however, nothing is written that the
 * checks refuse.
 *
 * Both the check and the write run with search_path = pg_catalog, pg_temp,
 * so that no object of the caller's can stand in for a built-in one while
 * the owner's rights are in force.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "ingest.h"
#include "utils.h"

PG_FUNCTION_INFO_V1(fs_register_entity);
PG_FUNCTION_INFO_V1(fs_register_feature_view);
PG_FUNCTION_INFO_V1(fs_alter_feature_view);
PG_FUNCTION_INFO_V1(fs_register_feature_service);
PG_FUNCTION_INFO_V1(fs_drop_feature_view);
PG_FUNCTION_INFO_V1(fs_drop_feature_service);
PG_FUNCTION_INFO_V1(fs_drop_entity);
PG_FUNCTION_INFO_V1(fs_record_history);
PG_FUNCTION_INFO_V1(fs_forget_history);
PG_FUNCTION_INFO_V1(fs_ingest_begin_run);
PG_FUNCTION_INFO_V1(fs_ingest_end_run);
PG_FUNCTION_INFO_V1(fs_ingest_add_reject);

/* One kind of catalog write. */
typedef struct CatalogWrite
{
	const char *table;			/* the table written: the write runs as its owner */
	const char *check_fn;		/* the registry's check (fs_check_*), called as
								 * the caller with the arguments: true, or raises */
	const char *check;			/* else a statement run as the caller on the
								 * arguments: true if allowed */
	bool		missing_ok;		/* whether a check that finds no row allows */
	const char *refusal;		/* the error when the check does not allow */
	const char *write;			/* as the owner, on the arguments and then the
								 * caller's name */
} CatalogWrite;

/* A write's statement and arguments, for run_write as the owner. */
typedef struct WriteCall
{
	const char *sql;
	int			nargs;
	Oid		   *types;
	Datum	   *values;
	char	   *nulls;
	Datum		result;			/* the first column of the first row returned */
	bool		result_null;
} WriteCall;

static void
run_write(void *arg)
{
	WriteCall  *wc = arg;
	int			rc;

	rc = SPI_execute_with_args(wc->sql, wc->nargs, wc->types, wc->values, wc->nulls, false, 0);
	if (rc < 0)
		elog(ERROR, "could not write the catalog: %s", SPI_result_code_string(rc));
	wc->result_null = true;
	if (SPI_tuptable != NULL && SPI_processed > 0)
	{
		Form_pg_attribute att = TupleDescAttr(SPI_tuptable->tupdesc, 0);
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
									  &wc->result_null);

		if (!wc->result_null)
			wc->result = SPI_datumTransfer(d, att->attbyval, att->attlen);
	}
}

static bool call_check_function(Oid schema, const char *name, int nargs, Oid *argtypes,
								Datum *values, char *nulls);

/* Run a check statement as the caller: whether it allows. */
static bool
check_allows(const char *sql, bool missing_ok, int nargs, Oid *types, Datum *values, char *nulls)
{
	int			rc;
	bool		isnull;
	bool		allowed;

	rc = SPI_execute_with_args(sql, nargs, types, values, nulls, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not check a catalog write: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		return missing_ok;
	allowed = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	return !isnull && allowed;
}

/*
 * Call a registry check, the function name of the extension's schema with
 * the arguments' types, as the caller: directly, and with its errors raised
 * again without the PL/pgSQL lines of the check, so that they read as the
 * registry function's own.
 */
static bool
call_check(Oid schema, const char *name, int nargs, Oid *argtypes, Datum *values, char *nulls)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool allowed = false;

	PG_TRY();
	{
		allowed = call_check_function(schema, name, nargs, argtypes, values, nulls);
	}
	PG_CATCH();
	{
		/* Re-raised at once: no state of the check's needs cleaning up here. */
		fs_rethrow_without_internals(cxt);
	}
	PG_END_TRY();
	return allowed;
}

/* Call a registry check as the caller: whether it allows (or it raises). */
static bool
call_check_function(Oid schema, const char *name, int nargs, Oid *argtypes, Datum *values, char *nulls)
{
	LOCAL_FCINFO(cinfo, FUNC_MAX_ARGS);
	FmgrInfo	flinfo;
	Oid			fn;
	Datum		result;

	fn = LookupFuncName(list_make2(makeString(get_namespace_name(schema)), makeString(pstrdup(name))),
						nargs, argtypes, false);
	fmgr_info(fn, &flinfo);
	InitFunctionCallInfoData(*cinfo, &flinfo, nargs, InvalidOid, NULL, NULL);
	for (int i = 0; i < nargs; i++)
	{
		cinfo->args[i].value = values[i];
		cinfo->args[i].isnull = (nulls[i] == 'n');
	}
	result = FunctionCallInvoke(cinfo);
	return !cinfo->isnull && DatumGetBool(result);
}

/*
 * Check and do one write with the function's arguments; returns the first
 * column of the first row the write returned, if any.
 */
static Datum
catalog_write(FunctionCallInfo fcinfo, const CatalogWrite *cw, bool *isnull)
{
	Oid			schema = get_func_namespace(fcinfo->flinfo->fn_oid);
	Oid		   *argtypes;
	int			nargs;
	Oid		   *types;
	Datum	   *values;
	char	   *nulls;
	WriteCall	wc;
	Oid			table;
	int			nest;
	MemoryContext cxt = CurrentMemoryContext;

	get_func_signature(fcinfo->flinfo->fn_oid, &argtypes, &nargs);
	types = palloc((nargs + 1) * sizeof(Oid));
	values = palloc((nargs + 1) * sizeof(Datum));
	nulls = palloc((nargs + 1) * sizeof(char));
	for (int i = 0; i < nargs; i++)
	{
		types[i] = argtypes[i];
		values[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
	}
	/* The caller's name, for registered_by and run_by. */
	types[nargs] = NAMEOID;
	values[nargs] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(GetUserId(), false)));
	nulls[nargs] = ' ';

	table = get_relname_relid(cw->table, schema);
	if (!OidIsValid(table))
		elog(ERROR, "table %s of extension feature_store is missing", cw->table);

	nest = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (cw->check_fn != NULL && !call_check(schema, cw->check_fn, nargs, argtypes, values, nulls))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s refused the write", cw->check_fn)));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (cw->check != NULL &&
		!check_allows(fs_schema_sql(schema, cw->check), cw->missing_ok, nargs, types, values, nulls))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s", cw->refusal ? cw->refusal : "catalog write refused")));

	wc.sql = fs_schema_sql(schema, cw->write);
	wc.nargs = nargs + 1;
	wc.types = types;
	wc.values = values;
	wc.nulls = nulls;
	wc.result = (Datum) 0;
	wc.result_null = true;
	fs_run_as_owner(table, run_write, &wc);
	SPI_finish();
	AtEOXact_GUC(true, nest);
	MemoryContextSwitchTo(cxt);
	*isnull = wc.result_null;
	return wc.result;
}

/* A write that returns nothing. */
static Datum
catalog_void(FunctionCallInfo fcinfo, const CatalogWrite *cw)
{
	bool		isnull;

	(void) catalog_write(fcinfo, cw, &isnull);
	PG_RETURN_VOID();
}

/*
 * A write whose statement returns the catalog row it wrote, as one
 * whole-row column: the registry functions hand it back, so that psql shows
 * what was registered rather than a blank void row.
 */
static Datum
catalog_row(FunctionCallInfo fcinfo, const CatalogWrite *cw)
{
	bool		isnull;
	Datum		row;

	row = catalog_write(fcinfo, cw, &isnull);
	if (isnull)
		elog(ERROR, "catalog write to %s returned no row", cw->table);
	PG_RETURN_DATUM(row);
}

/*-------------------------------------------------------------------------
 * The registry: each function's check is its fs_check_* (extension SQL),
 * which raises the function's errors.
 *-------------------------------------------------------------------------
 */

/* fs_register_entity(name, join_key, description): the fs_entity row */
Datum
fs_register_entity(PG_FUNCTION_ARGS)
{
	static const CatalogWrite cw = {
		.table = "fs_entity",
		.check_fn = "fs_check_register_entity",
		.write = "INSERT INTO @extschema@.fs_entity AS e (name, join_key, description, registered_by) "
		"VALUES ($1, $2, $3, $4) RETURNING e",
	};

	return catalog_row(fcinfo, &cw);
}

/*
 * fs_register_feature_view(name, relation, entity, ttl, event_time_column,
 * description, owner, tags): the fs_feature_view row
 */
Datum
fs_register_feature_view(PG_FUNCTION_ARGS)
{
	static const CatalogWrite cw = {
		.table = "fs_feature_view",
		.check_fn = "fs_check_register_feature_view",
		.write = "INSERT INTO @extschema@.fs_feature_view AS v "
		"(name, relation, entity, ttl, event_time_column, description, owner, tags, registered_by) "
		"VALUES ($1, $2, $3, $4, $5, $6, $7, coalesce($8, '{}'), $9) RETURNING v",
	};

	return catalog_row(fcinfo, &cw);
}

/*
 * fs_alter_feature_view(name, ttl, description, owner, tags, reset): what is
 * NULL stays; reset names what to clear; tags merge key by key, and a key
 * given as JSON null goes.  Returns the view's row as altered.
 */
Datum
fs_alter_feature_view(PG_FUNCTION_ARGS)
{
	static const CatalogWrite cw = {
		.table = "fs_feature_view",
		.check_fn = "fs_check_alter_feature_view",
		.write = "UPDATE @extschema@.fs_feature_view v SET "
		"ttl = CASE WHEN 'ttl' OPERATOR(pg_catalog.=) ANY ($6) THEN NULL "
		"ELSE coalesce($2, v.ttl) END, "
		"description = CASE WHEN 'description' OPERATOR(pg_catalog.=) ANY ($6) THEN NULL "
		"ELSE coalesce($3, v.description) END, "
		"owner = CASE WHEN 'owner' OPERATOR(pg_catalog.=) ANY ($6) THEN NULL "
		"ELSE coalesce($4, v.owner) END, "
		"tags = (CASE WHEN 'tags' OPERATOR(pg_catalog.=) ANY ($6) THEN '{}'::pg_catalog.jsonb "
		"ELSE v.tags END OPERATOR(pg_catalog.||) coalesce($5, '{}')) "
		"OPERATOR(pg_catalog.-) ARRAY(SELECT t.key FROM pg_catalog.jsonb_each($5) t "
		"WHERE t.value OPERATOR(pg_catalog.=) 'null'::pg_catalog.jsonb) "
		"WHERE v.name OPERATOR(pg_catalog.=) $1 RETURNING v",
	};

	return catalog_row(fcinfo, &cw);
}

/*
 * fs_register_feature_service(name, feature_refs, description): the
 * fs_feature_service row
 */
Datum
fs_register_feature_service(PG_FUNCTION_ARGS)
{
	static const CatalogWrite cw = {
		.table = "fs_feature_service",
		.check_fn = "fs_check_register_feature_service",
		.write = "INSERT INTO @extschema@.fs_feature_service AS s "
		"(name, feature_refs, description, registered_by) VALUES ($1, $2, $3, $4) RETURNING s",
	};

	return catalog_row(fcinfo, &cw);
}

/*
 * fs_drop_feature_view(name): the view's ingestion state goes with it, so
 * that a view registered again under the name starts from none.
 */
Datum
fs_drop_feature_view(PG_FUNCTION_ARGS)
{
	static const CatalogWrite cw = {
		.table = "fs_feature_view",
		.check_fn = "fs_check_drop_feature_view",
		.write = "WITH v AS (DELETE FROM @extschema@.fs_feature_view v "
		"WHERE v.name OPERATOR(pg_catalog.=) $1 RETURNING v.name) "
		"DELETE FROM @extschema@.fs_ingest_state st USING v "
		"WHERE st.feature_view OPERATOR(pg_catalog.=) v.name",
	};

	return catalog_void(fcinfo, &cw);
}

/* fs_drop_feature_service(name) */
Datum
fs_drop_feature_service(PG_FUNCTION_ARGS)
{
	static const CatalogWrite cw = {
		.table = "fs_feature_service",
		.check_fn = "fs_check_drop_feature_service",
		.write = "DELETE FROM @extschema@.fs_feature_service s WHERE s.name OPERATOR(pg_catalog.=) $1",
	};

	return catalog_void(fcinfo, &cw);
}

/* fs_drop_entity(name) */
Datum
fs_drop_entity(PG_FUNCTION_ARGS)
{
	static const CatalogWrite cw = {
		.table = "fs_entity",
		.check_fn = "fs_check_drop_entity",
		.write = "DELETE FROM @extschema@.fs_entity e WHERE e.name OPERATOR(pg_catalog.=) $1",
	};

	return catalog_void(fcinfo, &cw);
}

/*
 * fs_record_history(feature_view, history, retention): the view's history
 * table and retention, as fs_enable_history made them; returns the table.
 */
Datum
fs_record_history(PG_FUNCTION_ARGS)
{
	static const CatalogWrite cw = {
		.table = "fs_feature_history",
		.check = "SELECT @extschema@.fs_owns_relation(v.relation, false) "
		"AND @extschema@.fs_owns_relation($2, false) "
		"AND c.relkind OPERATOR(pg_catalog.=) 'r' "
		"AND ($3 IS NULL OR $3 OPERATOR(pg_catalog.>) '0 seconds'::pg_catalog.interval) "
		"FROM @extschema@.fs_feature_view v, pg_catalog.pg_class c "
		"WHERE v.name OPERATOR(pg_catalog.=) $1 AND c.oid OPERATOR(pg_catalog.=) $2",
		.refusal = "a history table is recorded for a view whose table, and that table, the current role owns",
		.write = "INSERT INTO @extschema@.fs_feature_history AS h "
		"(feature_view, history, retention, enabled_by) VALUES ($1, $2, $3, $4) "
		"ON CONFLICT (feature_view) DO UPDATE SET history = excluded.history, "
		"retention = excluded.retention RETURNING h.history",
	};
	bool		isnull;
	Datum		history;

	history = catalog_write(fcinfo, &cw, &isnull);
	if (isnull)
		elog(ERROR, "fs_record_history wrote nothing");
	PG_RETURN_DATUM(history);
}

/* fs_forget_history(feature_view): the view keeps no history from now on. */
Datum
fs_forget_history(PG_FUNCTION_ARGS)
{
	static const CatalogWrite cw = {
		.table = "fs_feature_history",
		.check = "SELECT @extschema@.fs_owns_relation(v.relation, false) "
		"FROM @extschema@.fs_feature_view v WHERE v.name OPERATOR(pg_catalog.=) $1",
		.missing_ok = true,
		.refusal = "only the owner of a view's table may turn its history off",
		.write = "DELETE FROM @extschema@.fs_feature_history h "
		"WHERE h.feature_view OPERATOR(pg_catalog.=) $1",
	};

	return catalog_void(fcinfo, &cw);
}

/*-------------------------------------------------------------------------
 * Ingestion's record
 *-------------------------------------------------------------------------
 */

/* The check that a run is the caller's and still running. */
#define RUN_CHECK \
	"SELECT r.status OPERATOR(pg_catalog.=) 'running' AND @extschema@.fs_acts_for(r.run_by) " \
	"FROM @extschema@.fs_ingest_runs r WHERE r.run_id OPERATOR(pg_catalog.=) $1"
#define RUN_REFUSAL "ingestion run is not one of the current role's running runs"

/*
 * fs_ingest_begin_run(feature_view, source, mode, started_at): record a run
 * by the owner of the view's relation, and lock the view's catalog row until
 * the transaction ends.  That row lock is what keeps a view's runs one at a
 * time: only roles that may ingest into the view can take it (an advisory
 * lock, which any role can take, would let anyone stall the view).
 */
Datum
fs_ingest_begin_run(PG_FUNCTION_ARGS)
{
	static const CatalogWrite cw = {
		.table = "fs_ingest_runs",
		.check = "SELECT @extschema@.fs_owns_relation(v.relation, false) "
		"AND $3 OPERATOR(pg_catalog.=) ANY (ARRAY['upsert', 'snapshot']) "
		"AND $4 OPERATOR(pg_catalog.>=) pg_catalog.now() "
		"AND $4 OPERATOR(pg_catalog.<=) pg_catalog.clock_timestamp() "
		"FROM @extschema@.fs_feature_view v WHERE v.name OPERATOR(pg_catalog.=) $1",
		.refusal = "an ingestion run starts now, with mode 'upsert' or 'snapshot', into a view whose table the current role owns",
		.write = "WITH v AS (SELECT v.view_id FROM @extschema@.fs_feature_view v "
		"WHERE v.name OPERATOR(pg_catalog.=) $1 FOR UPDATE) "
		"INSERT INTO @extschema@.fs_ingest_runs (feature_view, view_id, source, mode, started_at, run_by) "
		"SELECT $1, v.view_id, $2, $3, $4, $5 FROM v RETURNING run_id",
	};
	bool		isnull;
	Datum		run;

	run = catalog_write(fcinfo, &cw, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("feature view \"%s\" does not exist", text_to_cstring(PG_GETARG_TEXT_PP(0)))));
	PG_RETURN_DATUM(run);
}

/* fs_ingest_end_run(run_id, counts and timings...): a run succeeded. */
Datum
fs_ingest_end_run(PG_FUNCTION_ARGS)
{
	static const CatalogWrite cw = {
		.table = "fs_ingest_runs",
		.check = RUN_CHECK
		" AND (SELECT pg_catalog.bool_and(n IS NULL OR n OPERATOR(pg_catalog.>=) 0) "
		"FROM pg_catalog.unnest(ARRAY[$2, $3, $4, $5, $6, $7, $8, $9, $10]) n) "
		" AND (SELECT pg_catalog.bool_and(t IS NULL OR (t OPERATOR(pg_catalog.>=) 0 "
		"AND t OPERATOR(pg_catalog.<) 'Infinity')) "
		"FROM pg_catalog.unnest(ARRAY[$11, $12, $13, $14]) t)",
		.refusal = RUN_REFUSAL ", or its figures are not counts and times",
		.write = "UPDATE @extschema@.fs_ingest_runs r SET status = 'succeeded', "
		"finished_at = pg_catalog.clock_timestamp(), rows_read = $2, rows_rejected = $3, "
		"rows_stale = $4, rows_unchanged = $5, rows_inserted = $6, rows_updated = $7, "
		"rows_deleted = $8, online_writes = $9, store_requests = $10, store_wait_ms = $11, "
		"silver_ms = $12, gold_ms = $13, write_ms = $14 "
		"WHERE r.run_id OPERATOR(pg_catalog.=) $1",
	};

	return catalog_void(fcinfo, &cw);
}

/*
 * fs_ingest_add_reject(run_id, entity_id, column, raw_value, reason,
 * source_row): a value of the source row numbered source_row refused.
 */
Datum
fs_ingest_add_reject(PG_FUNCTION_ARGS)
{
	static const CatalogWrite cw = {
		.table = "fs_ingest_rejects",
		.check = RUN_CHECK,
		.refusal = RUN_REFUSAL,
		.write = "INSERT INTO @extschema@.fs_ingest_rejects "
		"(run_id, entity_id, \"column\", raw_value, reason, source_row) "
		"VALUES ($1, $2, $3, $4, $5, $6)",
	};

	return catalog_void(fcinfo, &cw);
}

/*
 * Check, as the caller and with SPI connected, that run_id is a running run
 * of the caller's into feature_view: the C steps of ingestion (silver, the
 * remote gold) check once and then record rejects with fs_ingest_reject.
 */
void
fs_ingest_check_run(Oid schema, int64 run_id, const char *feature_view)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];
	char	   *sql;

	values[0] = Int64GetDatum(run_id);
	values[1] = CStringGetTextDatum(feature_view);
	sql = fs_schema_sql(schema, RUN_CHECK " AND r.feature_view OPERATOR(pg_catalog.=) $2");
	if (!check_allows(sql, false, 2, types, values, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("ingestion run " INT64_FORMAT " is not a running run of the current role into feature view \"%s\"",
						run_id, feature_view)));
}
