/*-------------------------------------------------------------------------
 *
 * ingest_state.c
 *	  The writes of fs_ingest_state (ingest_state.h), each one statement
 *	  prepared once per backend and schema and run as the table's owner;
 *	  and the SQL functions through which fs_ingest's gold step and a
 *	  view's owner write it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "entity_key.h"
#include "ingest.h"
#include "ingest_state.h"
#include "registry.h"
#include "utils.h"

PG_FUNCTION_INFO_V1(fs_ingest_record_state);
PG_FUNCTION_INFO_V1(fs_forget_ingest_state);
PG_FUNCTION_INFO_V1(fs_ingest_state_rehash);

/* State rows read or written at a time. */
#define STATE_CHUNK 10000

static FsKeptPlan owner_plan;
static FsKeptPlan record_plan;
static FsKeptPlan add_plan;
static FsKeptPlan fresh_plan;
static FsKeptPlan advance_plan;
static FsKeptPlan delete_plan;
static FsKeptPlan rehash_plan;
static FsKeptPlan candidates_plan;
static FsKeptPlan forget_plan;
static FsKeptPlan legacy_record_plan;
static FsKeptPlan legacy_advance_plan;
static FsKeptPlan legacy_delete_plan;
static FsKeptPlan legacy_forget_plan;

/* A text[] of n values. */
static Datum
text_array(Datum *values, int n)
{
	return PointerGetDatum(construct_array(values, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/* An int4[] of n values. */
static Datum
int4_array(Datum *values, int n)
{
	return PointerGetDatum(construct_array(values, n, INT4OID, 4, true, TYPALIGN_INT));
}

/* A timestamptz[] of n times. */
static Datum
time_array(Datum *times, int n)
{
	return PointerGetDatum(construct_array(times, n, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL,
										   TYPALIGN_DOUBLE));
}

/* Check that the current user owns the relation of a view (ingest_state.h). */
Oid
fs_state_check_owner(Oid schema, const char *view, bool if_missing)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	int			ret;
	bool		isnull;
	Oid			relid;
	HeapTuple	tup;
	Oid			owner;

	args[0] = CStringGetTextDatum(view);
	ret = SPI_execute_plan(fs_schema_plan(&owner_plan, schema,
										  "SELECT v.relation FROM @extschema@.fs_feature_view v "
										  "WHERE v.name OPERATOR(pg_catalog.=) $1",
										  1, argtypes),
						   args, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read feature view \"%s\": %s", view, SPI_result_code_string(ret));
	if (SPI_processed == 0)
	{
		/* Raise it as serving does, with the views that exist. */
		(void) fs_resolve_view(schema, view);
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("feature view \"%s\" does not exist", view)));
	}
	relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);

	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
	{
		if (if_missing)
			return InvalidOid;
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the relation of feature view \"%s\" no longer exists", view)));
	}
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	if (!has_privs_of_role(GetUserId(), owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of table %s", get_rel_name(relid)),
				 errdetail("The ingestion state of feature view \"%s\" belongs to the owner of its table.",
						   view)));
	return relid;
}

/* One fixed statement on the state, to run as its owner. */
typedef struct StateWrite
{
	SPIPlanPtr	plan;
	Datum	   *args;
	int			expected;
	const char *what;
	uint64		processed;		/* out */
} StateWrite;

/* Run a StateWrite; what it did must be expected. */
static void
run_write(void *arg)
{
	StateWrite *sw = (StateWrite *) arg;
	int			ret = SPI_execute_plan(sw->plan, sw->args, NULL, false, 0);

	if (ret != sw->expected)
		elog(ERROR, "could not %s the ingestion state: %s", sw->what, SPI_result_code_string(ret));
	sw->processed = SPI_processed;
}

/* The table fs_ingest_state of the extension in schema. */
static Oid
state_relid(Oid schema)
{
	Oid			relid = get_relname_relid("fs_ingest_state", schema);

	if (!OidIsValid(relid))
		elog(ERROR, "table fs_ingest_state of extension feature_store is missing");
	return relid;
}

/*
 * Whether the state has entity_hash.  A database still on 0.1.0, which this
 * library serves until ALTER EXTENSION feature_store UPDATE, has not: its
 * rows are found by their text, as 0.1.0 did.
 */
bool
fs_state_hashed(Oid schema)
{
	return get_attnum(state_relid(schema), "entity_hash") != InvalidAttrNumber;
}

/* The kept plan of sql, or of legacy_sql while the state has no entity_hash. */
static SPIPlanPtr
state_plan(Oid schema, FsKeptPlan *kp, const char *sql, FsKeptPlan *legacy_kp,
		   const char *legacy_sql, int nargs, Oid *argtypes)
{
	if (fs_state_hashed(schema))
		return fs_schema_plan(kp, schema, sql, nargs, argtypes);
	return fs_schema_plan(legacy_kp, schema, legacy_sql, nargs, argtypes);
}

/* Run a kept statement as the state table's owner; rows it processed. */
static uint64
run(Oid schema, SPIPlanPtr plan, Datum *args, int expected, const char *what)
{
	StateWrite	sw;

	sw.plan = plan;
	sw.args = args;
	sw.expected = expected;
	sw.what = what;
	sw.processed = 0;
	fs_run_as_owner(state_relid(schema), run_write, &sw);
	return sw.processed;
}

/*
 * Record entities as written: their digests and event times.  Their rows
 * are replaced; with fresh (the view has no state rows, and only fs_ingest,
 * holding the view's run lock, adds any), they are only added, which takes
 * half the time: an INSERT that need not look for a conflict.
 */
static void
state_record(Oid schema, const char *view, Datum *entities, Datum *hashes, Datum *digests,
			 Datum *times, int n, bool fresh)
{
	Oid			argtypes[5] = {TEXTOID, TEXTARRAYOID, INT4ARRAYOID, BYTEAARRAYOID,
	TIMESTAMPTZARRAYOID};
	Datum		args[5];
	SPIPlanPtr	plan;

	if (n == 0)
		return;
	args[0] = CStringGetTextDatum(view);
	args[1] = text_array(entities, n);
	args[2] = int4_array(hashes, n);
	args[3] = PointerGetDatum(construct_array(digests, n, BYTEAOID, -1, false, TYPALIGN_INT));
	args[4] = time_array(times, n);
	if (fresh)
		plan = fs_schema_plan(&add_plan, schema,
							  "INSERT INTO @extschema@.fs_ingest_state "
							  "(feature_view, entity_id, entity_hash, digest, event_time) "
							  "SELECT $1, u.e, u.h, u.d, u.t FROM ROWS FROM (pg_catalog.unnest($2), "
							  "pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5)) "
							  "AS u(e, h, d, t)",
							  5, argtypes);
	else
		plan = state_plan(schema, &record_plan,
						  "INSERT INTO @extschema@.fs_ingest_state AS st "
						  "(feature_view, entity_id, entity_hash, digest, event_time) "
						  "SELECT $1, u.e, u.h, u.d, u.t FROM ROWS FROM (pg_catalog.unnest($2), "
						  "pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5)) "
						  "AS u(e, h, d, t) "
						  "ON CONFLICT (feature_view, entity_hash, entity_id) DO UPDATE "
						  "SET digest = EXCLUDED.digest, event_time = EXCLUDED.event_time",
						  &legacy_record_plan,
						  "INSERT INTO @extschema@.fs_ingest_state AS st "
						  "(feature_view, entity_id, digest, event_time) "
						  "SELECT $1, u.e, u.d, u.t FROM ROWS FROM (pg_catalog.unnest($2), "
						  "pg_catalog.unnest($4), pg_catalog.unnest($5)) AS u(e, d, t) "
						  "ON CONFLICT (feature_view, entity_id) DO UPDATE "
						  "SET digest = EXCLUDED.digest, event_time = EXCLUDED.event_time",
						  5, argtypes);
	run(schema, plan, args, SPI_OK_INSERT, "record");
}

/* Record entities as written (ingest_state.h). */
void
fs_state_record(Oid schema, const char *view, Datum *entities, Datum *hashes, Datum *digests,
				Datum *times, int n)
{
	state_record(schema, view, entities, hashes, digests, times, n, false);
}

/*
 * Whether a view has no state rows, read as the state's owner.  Never under
 * REPEATABLE READ or SERIALIZABLE: the transaction's snapshot may miss rows
 * committed since, and a plain INSERT would then fail on one with 23505,
 * which gold takes for a constraint of the view's table (a reject); ON
 * CONFLICT raises the serialization failure it should.
 */
static bool
state_fresh(Oid schema, const char *view)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];

	if (!fs_state_hashed(schema) || IsolationUsesXactSnapshot())
		return false;
	args[0] = CStringGetTextDatum(view);
	return run(schema,
			   fs_schema_plan(&fresh_plan, schema,
							  "SELECT FROM @extschema@.fs_ingest_state st "
							  "WHERE st.feature_view OPERATOR(pg_catalog.=) $1 LIMIT 1",
							  1, argtypes),
			   args, SPI_OK_SELECT, "read") == 0;
}

/* Move the event time of entities forward: unchanged rows seen at a newer time. */
void
fs_state_advance_times(Oid schema, const char *view, Datum *entities, Datum *hashes,
					   Datum *times, int n)
{
	Oid			argtypes[4] = {TEXTOID, TEXTARRAYOID, INT4ARRAYOID, TIMESTAMPTZARRAYOID};
	Datum		args[4];

	if (n == 0)
		return;
	args[0] = CStringGetTextDatum(view);
	args[1] = text_array(entities, n);
	args[2] = int4_array(hashes, n);
	args[3] = time_array(times, n);
	run(schema,
		state_plan(schema, &advance_plan,
				   "UPDATE @extschema@.fs_ingest_state st SET event_time = u.t"
				   " FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3),"
				   " pg_catalog.unnest($4)) AS u(k, h, t)"
				   " WHERE st.feature_view OPERATOR(pg_catalog.=) $1"
				   "   AND st.entity_hash OPERATOR(pg_catalog.=) u.h"
				   "   AND st.entity_id OPERATOR(pg_catalog.=) u.k"
				   "   AND (st.event_time IS NULL"
				   "        OR st.event_time OPERATOR(pg_catalog.<) u.t)",
				   &legacy_advance_plan,
				   "UPDATE @extschema@.fs_ingest_state st SET event_time = u.t"
				   " FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($4)) AS u(k, t)"
				   " WHERE st.feature_view OPERATOR(pg_catalog.=) $1"
				   "   AND st.entity_id OPERATOR(pg_catalog.=) u.k"
				   "   AND (st.event_time IS NULL"
				   "        OR st.event_time OPERATOR(pg_catalog.<) u.t)",
				   4, argtypes),
		args, SPI_OK_UPDATE, "advance");
}

/* Forget entities: a snapshot deleted them, or they are no entities. */
uint64
fs_state_delete(Oid schema, const char *view, Datum *entities, Datum *hashes, int n)
{
	Oid			argtypes[3] = {TEXTOID, TEXTARRAYOID, INT4ARRAYOID};
	Datum		args[3];

	if (n == 0)
		return 0;
	args[0] = CStringGetTextDatum(view);
	args[1] = text_array(entities, n);
	args[2] = int4_array(hashes, n);
	return run(schema,
			   state_plan(schema, &delete_plan,
						  "DELETE FROM @extschema@.fs_ingest_state st "
						  "USING ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3)) AS u(k, h) "
						  "WHERE st.feature_view OPERATOR(pg_catalog.=) $1 "
						  "AND st.entity_hash OPERATOR(pg_catalog.=) u.h "
						  "AND st.entity_id OPERATOR(pg_catalog.=) u.k",
						  &legacy_delete_plan,
						  "DELETE FROM @extschema@.fs_ingest_state st "
						  "WHERE st.feature_view OPERATOR(pg_catalog.=) $1 "
						  "AND st.entity_id OPERATOR(pg_catalog.=) ANY ($2)",
						  3, argtypes),
			   args, SPI_OK_DELETE, "update");
}

/*
 * Give rows their right entity_hash; with forget, empty their digests.  A
 * row whose entity has a row with the right hash already (a second row of
 * one entity, which its reader drops, maybe only later) is deleted instead:
 * the state then holds at most one row of the entity, whichever of the two
 * its reader came to first.
 */
void
fs_state_rehash(Oid schema, const char *view, Datum *entities, Datum *old_hashes,
				Datum *new_hashes, int n, bool forget)
{
	Oid			argtypes[5] = {TEXTOID, TEXTARRAYOID, INT4ARRAYOID, INT4ARRAYOID, BOOLOID};
	Datum		args[5];

	if (n == 0 || !fs_state_hashed(schema))
		return;
	args[0] = CStringGetTextDatum(view);
	args[1] = text_array(entities, n);
	args[2] = int4_array(old_hashes, n);
	args[3] = int4_array(new_hashes, n);
	args[4] = BoolGetDatum(forget);
	run(schema,
		fs_schema_plan(&rehash_plan, schema,
					   "WITH u AS (SELECT * FROM ROWS FROM (pg_catalog.unnest($2), "
					   "pg_catalog.unnest($3), pg_catalog.unnest($4)) AS u(k, h, n)), "
					   "taken AS (SELECT u.* FROM u WHERE EXISTS (SELECT FROM @extschema@.fs_ingest_state t "
					   "WHERE t.feature_view OPERATOR(pg_catalog.=) $1 "
					   "AND t.entity_hash OPERATOR(pg_catalog.=) u.n "
					   "AND t.entity_id OPERATOR(pg_catalog.=) u.k)), "
					   "dropped AS (DELETE FROM @extschema@.fs_ingest_state st USING taken "
					   "WHERE st.feature_view OPERATOR(pg_catalog.=) $1 "
					   "AND st.entity_hash OPERATOR(pg_catalog.=) taken.h "
					   "AND st.entity_id OPERATOR(pg_catalog.=) taken.k) "
					   "UPDATE @extschema@.fs_ingest_state st SET entity_hash = u.n, "
					   "digest = CASE WHEN $5 THEN '\\x'::pg_catalog.bytea ELSE st.digest END "
					   "FROM u "
					   "WHERE st.feature_view OPERATOR(pg_catalog.=) $1 "
					   "AND st.entity_hash OPERATOR(pg_catalog.=) u.h "
					   "AND st.entity_id OPERATOR(pg_catalog.=) u.k "
					   "AND NOT EXISTS (SELECT FROM taken WHERE taken.k OPERATOR(pg_catalog.=) u.k "
					   "AND taken.h OPERATOR(pg_catalog.=) u.h)",
					   5, argtypes),
		args, SPI_OK_UPDATE, "update");
}

/* The state's rows of a view with one of some hashes, read as the owner. */
typedef struct Candidates
{
	Oid			schema;
	const char *view;
	Datum	   *hashes;
	int			n;
	SPITupleTable *rows;		/* out */
	uint64		nrows;
} Candidates;

/* Read the candidates of a Candidates. */
static void
read_candidates(void *arg)
{
	Candidates *c = (Candidates *) arg;
	Oid			argtypes[2] = {TEXTOID, INT4ARRAYOID};
	Datum		args[2];
	int			ret;

	args[0] = CStringGetTextDatum(c->view);
	args[1] = int4_array(c->hashes, c->n);
	ret = SPI_execute_plan(fs_schema_plan(&candidates_plan, c->schema,
										  "SELECT st.entity_id, st.entity_hash "
										  "FROM @extschema@.fs_ingest_state st "
										  "WHERE st.feature_view OPERATOR(pg_catalog.=) $1 "
										  "AND st.entity_hash OPERATOR(pg_catalog.=) ANY ($2)",
										  2, argtypes),
						   args, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the ingestion state: %s", SPI_result_code_string(ret));
	c->rows = SPI_tuptable;
	c->nrows = SPI_processed;
}

/*
 * The state's rows of the entities of keys: their entity_ids and
 * entity_hashes, into *entities and *hashes; returns how many.  The caller
 * may not read the state: the rows of the keys' hashes are read as the
 * owner, and their entity_ids converted and compared with the keys as the
 * caller.
 */
static int
matching_rows(Oid schema, const char *view, const FsKeyType *kt, Datum *keys, int n,
			  Datum **entities, Datum **hashes)
{
	Candidates	c;
	Datum	   *key_hashes;
	char	  **texts;
	Datum	   *stored;
	bool	   *ok;
	int			nmatch = 0;

	if (n == 0)
		return 0;
	key_hashes = palloc(sizeof(Datum) * n);
	for (int i = 0; i < n; i++)
		key_hashes[i] = Int32GetDatum(fs_key_hash(kt, keys[i]));
	c.schema = schema;
	c.view = view;
	c.hashes = key_hashes;
	c.n = n;
	fs_run_as_owner(state_relid(schema), read_candidates, &c);
	if (c.nrows == 0)
		return 0;

	texts = palloc(sizeof(char *) * c.nrows);
	stored = palloc(sizeof(Datum) * c.nrows);
	ok = palloc(sizeof(bool) * c.nrows);
	*entities = palloc(sizeof(Datum) * c.nrows);
	*hashes = palloc(sizeof(Datum) * c.nrows);
	for (uint64 r = 0; r < c.nrows; r++)
		texts[r] = SPI_getvalue(c.rows->vals[r], c.rows->tupdesc, 1);
	fs_key_read(kt, texts, (int) c.nrows, stored, ok);
	for (uint64 r = 0; r < c.nrows; r++)
	{
		bool		isnull;
		int32		h = DatumGetInt32(SPI_getbinval(c.rows->vals[r], c.rows->tupdesc, 2, &isnull));

		if (!ok[r])
			continue;
		for (int i = 0; i < n; i++)
			if (DatumGetInt32(key_hashes[i]) == h && fs_key_equal(kt, stored[r], keys[i]))
			{
				(*entities)[nmatch] = CStringGetTextDatum(texts[r]);
				(*hashes)[nmatch] = Int32GetDatum(h);
				nmatch++;
				break;
			}
	}
	SPI_freetuptable(c.rows);
	return nmatch;
}

/* Empty the digests of entities another lane wrote (ingest_state.h). */
void
fs_state_forget_digests(Oid schema, const char *view, const FsKeyType *kt, Datum *keys, int n)
{
	Oid			argtypes[3] = {TEXTOID, TEXTARRAYOID, INT4ARRAYOID};
	Datum		args[3];
	Datum	   *entities = NULL;
	Datum	   *hashes = NULL;
	int			nforget;

	if (n == 0)
		return;
	if (!fs_state_hashed(schema))
	{
		/* 0.1.0's rows: by the keys' text forms. */
		entities = palloc(sizeof(Datum) * n);
		for (int i = 0; i < n; i++)
			entities[i] = CStringGetTextDatum(OutputFunctionCall((FmgrInfo *) &kt->output, keys[i]));
		args[0] = CStringGetTextDatum(view);
		args[1] = text_array(entities, n);
		run(schema,
			fs_schema_plan(&legacy_forget_plan, schema,
						   "UPDATE @extschema@.fs_ingest_state st SET digest = '\\x'::pg_catalog.bytea "
						   "WHERE st.feature_view OPERATOR(pg_catalog.=) $1 "
						   "AND st.entity_id OPERATOR(pg_catalog.=) ANY ($2)",
						   2, argtypes),
			args, SPI_OK_UPDATE, "update");
		return;
	}
	nforget = matching_rows(schema, view, kt, keys, n, &entities, &hashes);
	if (nforget == 0)
		return;
	args[0] = CStringGetTextDatum(view);
	args[1] = text_array(entities, nforget);
	args[2] = int4_array(hashes, nforget);
	run(schema,
		fs_schema_plan(&forget_plan, schema,
					   "UPDATE @extschema@.fs_ingest_state st SET digest = '\\x'::pg_catalog.bytea "
					   "FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3)) AS u(k, h) "
					   "WHERE st.feature_view OPERATOR(pg_catalog.=) $1 "
					   "AND st.entity_hash OPERATOR(pg_catalog.=) u.h "
					   "AND st.entity_id OPERATOR(pg_catalog.=) u.k",
					   3, argtypes),
		args, SPI_OK_UPDATE, "update");
}

/* Hand fn the view's state rows not in present (ingest_state.h). */
void
fs_state_absent(Oid schema, const char *view, const FsKeyType *kt, HTAB *present,
				int nparts, int part, int chunk,
				void (*fn) (void *arg, FsStateRow *rows, int n), void *arg)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "fs_ingest_state rows",
											  ALLOCSET_DEFAULT_SIZES);
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	Portal		portal;

	args[0] = CStringGetTextDatum(view);
	portal = SPI_cursor_open_with_args(NULL,
									   psprintf("SELECT st.entity_id, %s, st.event_time "
												"FROM %s.fs_ingest_state st "
												"WHERE st.feature_view OPERATOR(pg_catalog.=) $1",
												fs_state_hashed(schema) ? "st.entity_hash" : "0",
												quote_identifier(get_namespace_name(schema))),
									   1, argtypes, args, NULL, true, 0);
	for (;;)
	{
		SPITupleTable *tuptable;
		uint64		nfetched;
		MemoryContext old;
		FsStateRow *rows;
		char	  **texts;
		Datum	   *keys;
		bool	   *ok;
		int			nabsent = 0;

		SPI_cursor_fetch(portal, true, chunk);
		tuptable = SPI_tuptable;
		nfetched = SPI_processed;
		if (nfetched == 0)
			break;
		MemoryContextReset(cxt);
		old = MemoryContextSwitchTo(cxt);
		rows = palloc(sizeof(FsStateRow) * nfetched);
		texts = palloc(sizeof(char *) * nfetched);
		keys = palloc(sizeof(Datum) * nfetched);
		ok = palloc(sizeof(bool) * nfetched);
		for (uint64 r = 0; r < nfetched; r++)
			texts[r] = SPI_getvalue(tuptable->vals[r], tuptable->tupdesc, 1);
		fs_key_read(kt, texts, (int) nfetched, keys, ok);
		for (uint64 r = 0; r < nfetched; r++)
		{
			FsStateRow *row = &rows[nabsent];
			bool		isnull;
			Datum		d;

			CHECK_FOR_INTERRUPTS();
			if (ok[r])
			{
				FsKey		k;

				if (fs_state_part(kt, keys[r], nparts) != part)
					continue;
				k.value = keys[r];
				k.type = kt;
				if (hash_search(present, &k, HASH_FIND, NULL) != NULL)
					continue;
			}
			else if (part != 0)
				continue;
			row->entity = texts[r];
			row->hash = DatumGetInt32(SPI_getbinval(tuptable->vals[r], tuptable->tupdesc, 2, &isnull));
			row->has_key = ok[r];
			row->key = ok[r] ? keys[r] : (Datum) 0;
			d = SPI_getbinval(tuptable->vals[r], tuptable->tupdesc, 3, &isnull);
			row->has_time = !isnull;
			row->event_time = isnull ? 0 : DatumGetTimestampTz(d);
			nabsent++;
		}
		SPI_freetuptable(tuptable);
		if (nabsent > 0)
			fn(arg, rows, nabsent);
		MemoryContextSwitchTo(old);
	}
	SPI_cursor_close(portal);
	MemoryContextDelete(cxt);
}

/*-------------------------------------------------------------------------
 * SQL functions
 *-------------------------------------------------------------------------
 */

/*
 * fs_ingest_record_state(feature_view text, silver regclass, written regclass)
 *
 * Gold on the embedded store: record the state of the rows of the silver
 * table that the view's table took (their fs_row in the table written, of
 * one column fs_row), under their fs_entity and fs_entity_hash, in the
 * order of the state's primary key: in the silver table's order the hashes
 * are random, and a million rows take twice as long to insert.  A join and
 * a sort, both within work_mem, spilling to disk beyond: a first load writes
 * every entity.  written may be the silver table itself: the view's table
 * took every silver row, and there is no join.  A view without state rows
 * (a first load, or after fs_forget_ingest_state) has its rows added
 * without looking for conflicts.  The caller must own the view's table; the
 * silver and written tables are read as the caller (what they hold is the
 * caller's to say of the view), the state written as its owner.
 */
Datum
fs_ingest_record_state(PG_FUNCTION_ARGS)
{
	Oid			schema = get_func_namespace(fcinfo->flinfo->fn_oid);
	char	   *view;
	Oid			silver;
	Oid			written;
	FsView	   *fv;
	bool		fresh;
	Portal		portal;
	MemoryContext cxt;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("feature_view and silver must not be null")));
	if (PG_ARGISNULL(2))
		PG_RETURN_VOID();
	view = text_to_cstring(PG_GETARG_TEXT_PP(0));
	silver = PG_GETARG_OID(1);
	written = PG_GETARG_OID(2);

	if (get_rel_name(silver) == NULL || get_rel_name(written) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("silver or written table does not exist")));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	fs_state_check_owner(schema, view, false);
	fv = fs_resolve_view(schema, view);
	fresh = state_fresh(schema, view);

	portal = SPI_cursor_open_with_args(NULL,
									   psprintf("SELECT s.fs_entity::pg_catalog.text, "
												"s.fs_entity_hash::pg_catalog.int4, "
												"s.fs_digest::pg_catalog.bytea, s.%s::pg_catalog.timestamptz "
												"FROM %s s%s%s%s ORDER BY 2",
												quote_identifier(fv->event_time_column),
												fs_qualified_relation_name(silver),
												written == silver ? "" : " JOIN ",
												written == silver ? "" : fs_qualified_relation_name(written),
												written == silver ? "" :
												" w ON w.fs_row OPERATOR(pg_catalog.=) s.fs_row"),
									   0, NULL, NULL, NULL, true, 0);
	cxt = AllocSetContextCreate(CurrentMemoryContext, "fs_ingest_record_state",
								ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		SPITupleTable *tuptable;
		uint64		n;
		MemoryContext old;
		Datum	   *cols[4];

		SPI_cursor_fetch(portal, true, STATE_CHUNK);
		tuptable = SPI_tuptable;
		n = SPI_processed;
		if (n == 0)
			break;
		MemoryContextReset(cxt);
		old = MemoryContextSwitchTo(cxt);
		for (int c = 0; c < 4; c++)
			cols[c] = palloc(sizeof(Datum) * n);
		for (uint64 r = 0; r < n; r++)
			for (int c = 0; c < 4; c++)
			{
				bool		isnull;

				cols[c][r] = SPI_getbinval(tuptable->vals[r], tuptable->tupdesc, c + 1, &isnull);
				if (isnull)
					elog(ERROR, "silver row lacks its entity, hash, digest or event time");
			}
		state_record(schema, view, cols[0], cols[1], cols[2], cols[3], (int) n, fresh);
		MemoryContextSwitchTo(old);
		SPI_freetuptable(tuptable);
	}
	SPI_cursor_close(portal);
	MemoryContextDelete(cxt);
	SPI_finish();
	PG_RETURN_VOID();
}

/* A view's state rows, as the owner, for delete_all. */
typedef struct DeleteAll
{
	Oid			schema;
	const char *view;
	uint64		deleted;		/* out */
} DeleteAll;

static FsKeptPlan delete_all_plan;

/* Delete every state row of a view. */
static void
delete_all(void *arg)
{
	DeleteAll  *da = (DeleteAll *) arg;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	int			ret;

	args[0] = CStringGetTextDatum(da->view);
	ret = SPI_execute_plan(fs_schema_plan(&delete_all_plan, da->schema,
										  "DELETE FROM @extschema@.fs_ingest_state st "
										  "WHERE st.feature_view OPERATOR(pg_catalog.=) $1",
										  1, argtypes),
						   args, NULL, false, 0);
	if (ret != SPI_OK_DELETE)
		elog(ERROR, "could not update the ingestion state: %s", SPI_result_code_string(ret));
	da->deleted = SPI_processed;
}

/* Forget every entity of a view (ingest_state.h); how many rows were. */
uint64
fs_state_forget_all(Oid schema, const char *view)
{
	DeleteAll	da;

	da.schema = schema;
	da.view = view;
	da.deleted = 0;
	fs_run_as_owner(state_relid(schema), delete_all, &da);
	return da.deleted;
}

/*
 * fs_forget_ingest_state(feature_view text, entity_ids text[] DEFAULT NULL)
 *   -> bigint
 *
 * Forget what fs_ingest wrote to a view, for every entity or for the
 * entities of entity_ids (by the join key type's equality): the next run
 * writes them whatever the state said, and a snapshot no longer deletes
 * them as the batch lane's.  Only the owner of the view's table may (or
 * anyone, once that table is gone); returns the number of rows forgotten.
 */
Datum
fs_forget_ingest_state(PG_FUNCTION_ARGS)
{
	Oid			schema = get_func_namespace(fcinfo->flinfo->fn_oid);
	char	   *view;
	uint64		forgotten;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("feature_view must not be null")));
	view = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (PG_ARGISNULL(1))
	{
		fs_state_check_owner(schema, view, true);
		forgotten = fs_state_forget_all(schema, view);
	}
	else
	{
		ArrayType  *ids = PG_GETARG_ARRAYTYPE_P(1);
		FsView	   *fv;
		FsKeyType	kt;
		Datum	   *elems;
		bool	   *nulls;
		int			nelems;
		char	  **texts;
		Datum	   *keys;
		bool	   *ok;
		int			n = 0;
		Datum	   *entities = NULL;
		Datum	   *hashes = NULL;
		int			nmatch;

		fs_state_check_owner(schema, view, false);
		fv = fs_resolve_view(schema, view);
		fs_key_type_of(&kt, fv->relid, fv->key_attnum);
		deconstruct_array(ids, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &nelems);
		texts = palloc(sizeof(char *) * Max(nelems, 1));
		keys = palloc(sizeof(Datum) * Max(nelems, 1));
		ok = palloc(sizeof(bool) * Max(nelems, 1));
		for (int i = 0; i < nelems; i++)
			if (!nulls[i])
				texts[n++] = TextDatumGetCString(elems[i]);
		fs_key_read(&kt, texts, n, keys, ok);
		for (int i = 0; i < n; i++)
			if (!ok[i])
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
						 errmsg("invalid entity id \"%s\" for join key \"%s\" of type %s",
								texts[i], fv->join_key, format_type_be(kt.type)),
						 errcontext("feature view \"%s\"", view)));
		nmatch = matching_rows(schema, view, &kt, keys, n, &entities, &hashes);
		forgotten = fs_state_delete(schema, view, entities, hashes, nmatch);
	}
	SPI_finish();
	PG_RETURN_INT64((int64) forgotten);
}

/* Keys to read as a view's owner, for read_as_view_owner. */
typedef struct ReadKeys
{
	const FsKeyType *kt;
	char	  **texts;
	int			n;
	Datum	   *keys;
	bool	   *ok;
} ReadKeys;

/* Read the keys of a ReadKeys. */
static void
read_keys(void *arg)
{
	ReadKeys   *rk = (ReadKeys *) arg;

	fs_key_read(rk->kt, rk->texts, rk->n, rk->keys, rk->ok);
}

/*
 * fs_ingest_state_rehash(feature_view text, relation regclass, join_key name)
 *   -> bigint
 *
 * Give the view's state rows the entity_hash of their entity_id, keeping
 * their digests: for the update from 0.1.0, whose rows have none, which
 * creates this function for the while.  A row whose entity_id is no key of
 * the relation's join key type keeps what it has (the next fs_ingest
 * forgets it).  The key text is read as the owner of the relation, who chose
 * its type, not as the superuser running the update.  Returns the number of
 * rows changed.
 */
Datum
fs_ingest_state_rehash(PG_FUNCTION_ARGS)
{
	Oid			schema = get_func_namespace(fcinfo->flinfo->fn_oid);
	char	   *view = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Oid			relid = PG_GETARG_OID(1);
	AttrNumber	attnum = get_attnum(relid, NameStr(*PG_GETARG_NAME(2)));
	FsKeyType	kt;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	Portal		portal;
	MemoryContext cxt;
	uint64		changed = 0;

	if (attnum == InvalidAttrNumber)
		PG_RETURN_INT64(0);
	fs_key_type_of(&kt, relid, attnum);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	args[0] = CStringGetTextDatum(view);
	portal = SPI_cursor_open_with_args(NULL,
									   psprintf("SELECT st.entity_id, st.entity_hash "
												"FROM %s.fs_ingest_state st "
												"WHERE st.feature_view OPERATOR(pg_catalog.=) $1",
												quote_identifier(get_namespace_name(schema))),
									   1, argtypes, args, NULL, true, 0);
	cxt = AllocSetContextCreate(CurrentMemoryContext, "fs_ingest_state_rehash",
								ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		SPITupleTable *tuptable;
		uint64		n;
		MemoryContext old;
		ReadKeys	rk;
		Datum	   *entities;
		Datum	   *old_hashes;
		Datum	   *new_hashes;
		int			nchanged = 0;

		SPI_cursor_fetch(portal, true, STATE_CHUNK);
		tuptable = SPI_tuptable;
		n = SPI_processed;
		if (n == 0)
			break;
		MemoryContextReset(cxt);
		old = MemoryContextSwitchTo(cxt);
		rk.kt = &kt;
		rk.n = (int) n;
		rk.texts = palloc(sizeof(char *) * n);
		rk.keys = palloc(sizeof(Datum) * n);
		rk.ok = palloc(sizeof(bool) * n);
		entities = palloc(sizeof(Datum) * n);
		old_hashes = palloc(sizeof(Datum) * n);
		new_hashes = palloc(sizeof(Datum) * n);
		for (uint64 r = 0; r < n; r++)
			rk.texts[r] = SPI_getvalue(tuptable->vals[r], tuptable->tupdesc, 1);
		fs_run_as_owner(relid, read_keys, &rk);
		for (uint64 r = 0; r < n; r++)
		{
			bool		isnull;
			int32		stored = DatumGetInt32(SPI_getbinval(tuptable->vals[r], tuptable->tupdesc, 2, &isnull));
			int32		h;

			if (!rk.ok[r])
				continue;
			h = fs_key_hash(&kt, rk.keys[r]);
			if (h == stored)
				continue;
			entities[nchanged] = CStringGetTextDatum(rk.texts[r]);
			old_hashes[nchanged] = Int32GetDatum(stored);
			new_hashes[nchanged] = Int32GetDatum(h);
			nchanged++;
		}
		fs_state_rehash(schema, view, entities, old_hashes, new_hashes, nchanged, false);
		changed += nchanged;
		MemoryContextSwitchTo(old);
		SPI_freetuptable(tuptable);
	}
	SPI_cursor_close(portal);
	MemoryContextDelete(cxt);
	SPI_finish();
	PG_RETURN_INT64((int64) changed);
}
