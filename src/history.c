/*-------------------------------------------------------------------------
 *
 * history.c
 *	  Answer a lookup as of a past time from a view's history table.
 *
 * A view's history table holds one row per version: the key, the event
 * time, fs_recorded_at, fs_version (the order versions were recorded in),
 * fs_deleted (the entity is gone from then on) and the features, matched to
 * the view's by name.  The latest version at or before as_of is the first
 * row of an index scan of (key, event time DESC, fs_version DESC) from
 * (key, as_of): by event time, then the version recorded last.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "history.h"
#include "registry.h"
#include "utils.h"

PG_FUNCTION_INFO_V1(fs_history_capture);

/*
 * The history table of a view, or InvalidOid: fs_feature_history, read as
 * the caller.
 */
static Oid
history_of(Oid schema, const char *view)
{
	StringInfoData sql;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	Oid			history = InvalidOid;

	/* An extension not yet updated to 0.2.0 has no history: the library is newer. */
	if (!OidIsValid(get_relname_relid("fs_feature_history", schema)))
		return InvalidOid;
	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "SELECT h.history::pg_catalog.oid FROM %s.fs_feature_history h "
					 "WHERE h.feature_view OPERATOR(pg_catalog.=) $1",
					 quote_identifier(get_namespace_name(schema)));
	args[0] = CStringGetTextDatum(view);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(sql.data, 1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read fs_feature_history");
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			history = DatumGetObjectId(d);
	}
	SPI_finish();
	return history;
}

/* A column of the history table, by name, of the type the view has. */
static AttrNumber
history_column(FsView *view, Relation hist, const char *name, Oid typid, const char *what)
{
	AttrNumber	attnum = get_attnum(RelationGetRelid(hist), name);

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("history table %s of feature view \"%s\" has no column \"%s\"",
						RelationGetRelationName(hist), view->name, name),
				 errdetail("The view reads it as %s.", what),
				 errhint("Call fs_enable_history('%s') to bring its history up to date with its table.",
						 view->name)));
	if (OidIsValid(typid) && TupleDescAttr(RelationGetDescr(hist), attnum - 1)->atttypid != typid)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("column \"%s\" of history table %s is of type %s, and the view's of type %s",
						name, RelationGetRelationName(hist),
						format_type_be(TupleDescAttr(RelationGetDescr(hist), attnum - 1)->atttypid),
						format_type_be(typid)),
				 errdetail("Feature view \"%s\" reads it as %s.", view->name, what)));
	return attnum;
}

/* Refuse a caller who may not read a column of the history table. */
static void
check_history_access(FsView *view, Relation hist, AttrNumber *cols, int ncols)
{
	Oid			relid = RelationGetRelid(hist);
	Oid			userid = GetUserId();

	if (pg_namespace_aclcheck(RelationGetNamespace(hist), userid, ACL_USAGE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for schema %s",
						get_namespace_name(RelationGetNamespace(hist))),
				 errdetail("Feature view \"%s\" keeps its history in table %s in that schema.",
						   view->name, RelationGetRelationName(hist))));
	if (pg_class_aclcheck(relid, userid, ACL_SELECT) != ACLCHECK_OK)
	{
		for (int c = 0; c < ncols; c++)
			if (pg_attribute_aclcheck(relid, cols[c], userid, ACL_SELECT) != ACLCHECK_OK)
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("permission denied for column \"%s\" of table %s",
								get_attname(relid, cols[c], false), RelationGetRelationName(hist)),
						 errdetail("Feature view \"%s\" keeps its history in that table.", view->name),
						 errhint("fs_enable_history('%s') grants on it what the view's table grants.",
								 view->name)));
	}
	if (check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot read the history of feature view \"%s\": table %s has row-level security enabled",
						view->name, RelationGetRelationName(hist))));
}

/* The index of (key, event time DESC, fs_version DESC) of a history table. */
static Oid
history_index(FsView *view, Relation hist, AttrNumber key, AttrNumber ts, AttrNumber version)
{
	List	   *indexes = RelationGetIndexList(hist);
	ListCell   *lc;
	Oid			found = InvalidOid;

	foreach(lc, indexes)
	{
		Oid			indexoid = lfirst_oid(lc);
		Relation	index = index_open(indexoid, AccessShareLock);
		Form_pg_index ix = index->rd_index;

		if (ix->indnkeyatts == 3 && ix->indisvalid && index->rd_rel->relam == BTREE_AM_OID &&
			ix->indkey.values[0] == key && ix->indkey.values[1] == ts &&
			ix->indkey.values[2] == version &&
			(index->rd_indoption[0] & INDOPTION_DESC) == 0 &&
			(index->rd_indoption[1] & INDOPTION_DESC) != 0 &&
			(index->rd_indoption[2] & INDOPTION_DESC) != 0 &&
			RelationGetIndexPredicate(index) == NIL &&
			RelationGetIndexExpressions(index) == NIL)
			found = indexoid;
		index_close(index, AccessShareLock);
		if (OidIsValid(found))
			break;
	}
	if (!OidIsValid(found))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("history table %s of feature view \"%s\" has no index on (%s, %s DESC, fs_version DESC)",
						RelationGetRelationName(hist), view->name,
						quote_identifier(view->join_key), quote_identifier(view->event_time_column)),
				 errhint("Create it again: CREATE INDEX ON %s (%s, %s DESC, fs_version DESC);",
						 fs_qualified_relation_name(RelationGetRelid(hist)),
						 quote_identifier(view->join_key), quote_identifier(view->event_time_column))));
	return found;
}

/*
 * Answer a lookup from the view's history as of a time: for each key, the
 * latest version at or before it; none, or one that says the entity was
 * gone, is not found.  Checks first that the caller may read what it reads.
 */
void
fs_history_lookup(FsLookup *lookup, Oid schema, TimestampTz as_of)
{
	FsView	   *view = lookup->view;
	Oid			histid = history_of(schema, view->name);
	Relation	heap;
	Relation	index;
	TupleTableSlot *slot;
	IndexScanDesc scan;
	ScanKeyData skey[2];
	AttrNumber *cols;
	AttrNumber	key_att;
	AttrNumber	ts_att;
	AttrNumber	version_att;
	AttrNumber	deleted_att;
	AttrNumber	maxatt;
	Oid			eqproc;
	Oid			leproc;
	int			nfeat = lookup->nfeat;

	if (!OidIsValid(histid) || !SearchSysCacheExists1(RELOID, ObjectIdGetDatum(histid)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("feature view \"%s\" keeps no history", view->name),
				 errhint("Call fs_enable_history('%s') to keep it from now on.", view->name)));

	heap = table_open(histid, AccessShareLock);
	cols = palloc(sizeof(AttrNumber) * (nfeat + 4));
	key_att = history_column(view, heap, view->join_key, view->key_type, "its join key");
	ts_att = history_column(view, heap, view->event_time_column, TIMESTAMPTZOID, "its event time");
	version_att = history_column(view, heap, "fs_version", INT8OID, "the order of versions");
	deleted_att = history_column(view, heap, "fs_deleted", BOOLOID, "whether an entity was gone");
	cols[0] = key_att;
	cols[1] = ts_att;
	cols[2] = version_att;
	cols[3] = deleted_att;
	maxatt = Max(Max(key_att, ts_att), deleted_att);
	for (int f = 0; f < nfeat; f++)
	{
		char	   *what = psprintf("feature \"%s:%s\"", view->name, lookup->feat[f]->name);

		cols[4 + f] = history_column(view, heap, lookup->feat[f]->name, lookup->feat[f]->typid, what);
		maxatt = Max(maxatt, cols[4 + f]);
	}
	check_history_access(view, heap, cols, nfeat + 4);

	index = index_open(history_index(view, heap, key_att, ts_att, version_att), AccessShareLock);
	eqproc = get_opcode(get_opfamily_member(index->rd_opfamily[0], index->rd_opcintype[0],
											index->rd_opcintype[0], BTEqualStrategyNumber));
	leproc = get_opcode(get_opfamily_member(index->rd_opfamily[1], index->rd_opcintype[1],
											index->rd_opcintype[1], BTLessEqualStrategyNumber));
	if (!OidIsValid(eqproc) || !OidIsValid(leproc))
		elog(ERROR, "history index %s has no btree operators for its keys",
			 RelationGetRelationName(index));
	slot = table_slot_create(heap, NULL);
	scan = index_beginscan(heap, index, GetActiveSnapshot(), 2, 0);

	for (int k = 0; k < lookup->nkeys; k++)
	{
		bool		isnull;

		CHECK_FOR_INTERRUPTS();
		lookup->found[k] = false;
		if (lookup->keynull[k])
			continue;
		ScanKeyEntryInitialize(&skey[0], 0, 1, BTEqualStrategyNumber, InvalidOid,
							   index->rd_indcollation[0], eqproc, lookup->keys[k]);
		ScanKeyEntryInitialize(&skey[1], 0, 2, BTLessEqualStrategyNumber, InvalidOid,
							   index->rd_indcollation[1], leproc, TimestampTzGetDatum(as_of));
		index_rescan(scan, skey, 2, NULL, 0);
		if (!index_getnext_slot(scan, ForwardScanDirection, slot))
			continue;

		slot_getsomeattrs(slot, maxatt);
		isnull = slot->tts_isnull[deleted_att - 1];
		if (!isnull && DatumGetBool(slot->tts_values[deleted_att - 1]))
			continue;			/* gone from then on */

		lookup->found[k] = true;
		lookup->event_time_null[k] = slot->tts_isnull[ts_att - 1];
		lookup->event_time[k] = slot->tts_values[ts_att - 1];
		for (int f = 0; f < nfeat; f++)
		{
			FsFeature  *feat = lookup->feat[f];
			int			i = k * nfeat + f;
			AttrNumber	att = cols[4 + f];

			lookup->nulls[i] = slot->tts_isnull[att - 1];
			if (!lookup->nulls[i])
				lookup->values[i] = datumCopy(slot->tts_values[att - 1],
											  feat->codec.typbyval, feat->codec.typlen);
		}
	}

	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, NoLock);
	table_close(heap, NoLock);
}

/*-------------------------------------------------------------------------
 * Capture: the statement triggers of a view's table
 *-------------------------------------------------------------------------
 */

/* The statements that write one event's versions (a table, an event). */
typedef struct CaptureEntry
{
	Oid			relid;			/* hash key, with event */
	int			event;			/* TRIGGER_EVENT_INSERT, _UPDATE, _DELETE, _TRUNCATE */
	bool		valid;			/* cleared by an invalidation of either table */
	Oid			history;		/* InvalidOid: the view keeps no history */
	int			nplans;
	SPIPlanPtr	plans[2];
} CaptureEntry;

typedef struct CaptureKey
{
	Oid			relid;
	int			event;
} CaptureKey;

static HTAB *capture_cache = NULL;

/*
 * The table fs_local_write is writing, whose statement triggers let it
 * record its versions itself, once for all its writes (fs_history_local):
 * the stream worker's flush and a direct write are one upsert per entity,
 * and a trigger per statement would cost more than the upsert.
 */
static Oid	quiet_relid = InvalidOid;

/* One execution of a prepared INSERT into a history table, for run_insert. */
typedef struct InsertRun
{
	SPIPlanPtr	plan;
	Datum	   *values;
	const char *nulls;
	const char *what;			/* the view's table or name, for errors */
} InsertRun;

/* Execute an InsertRun (as the history table's owner: fs_run_as_owner). */
static void
run_insert(void *arg)
{
	InsertRun  *ir = (InsertRun *) arg;
	int			rc = SPI_execute_plan(ir->plan, ir->values, ir->nulls, false, 0);

	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not record the history of %s: %s", ir->what, SPI_result_code_string(rc));
}

/*
 * Insert versions as the history table's owner: the writers of a view's
 * table need no privilege on its history (nor could they write a version
 * of their own making into it).
 */
static void
insert_as_owner(Oid history, SPIPlanPtr plan, Datum *values, const char *nulls, const char *what)
{
	InsertRun	ir = {plan, values, nulls, what};

	fs_run_as_owner(history, run_insert, &ir);
}

/* Drop an entry's statements before it is built again. */
static void
capture_reset(CaptureEntry *e)
{
	for (int i = 0; i < e->nplans; i++)
		SPI_freeplan(e->plans[i]);
	e->nplans = 0;
	e->history = InvalidOid;
}

/* Relcache callback: the statements of a changed table (or of all) go stale. */
static void
capture_relcache_cb(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	CaptureEntry *e;

	if (capture_cache == NULL)
		return;
	hash_seq_init(&status, capture_cache);
	while ((e = hash_seq_search(&status)) != NULL)
		if (!OidIsValid(relid) || e->relid == relid || e->history == relid)
			e->valid = false;
}

/* The cache, created on first use. */
static void
capture_cache_ready(void)
{
	HASHCTL		ctl;

	if (capture_cache != NULL)
		return;
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(CaptureKey);
	ctl.entrysize = sizeof(CaptureEntry);
	ctl.hcxt = TopMemoryContext;
	capture_cache = hash_create("feature_store history capture", 16, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	CacheRegisterRelcacheCallback(capture_relcache_cb, (Datum) 0);
}

/*
 * The features the view's table and its history table share by name (the
 * key, the event time and the history's own columns aside), each quoted and
 * prefixed, comma first: ALTER TABLE of either changes it.
 */
static char *
shared_columns(Relation rel, Relation hist, const char *key, const char *ts, const char *prefix)
{
	StringInfoData buf;
	TupleDesc	desc = RelationGetDescr(rel);

	initStringInfo(&buf);
	for (int a = 0; a < desc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a);
		const char *name = NameStr(att->attname);

		if (att->attisdropped || strcmp(name, key) == 0 || strcmp(name, ts) == 0 ||
			strcmp(name, "fs_recorded_at") == 0 || strcmp(name, "fs_version") == 0 ||
			strcmp(name, "fs_deleted") == 0)
			continue;
		if (get_attnum(RelationGetRelid(hist), name) == InvalidAttrNumber)
			continue;
		appendStringInfo(&buf, ", %s%s", prefix, quote_identifier(name));
	}
	return buf.data;
}

/*
 * The statements of an event, as the capture function's header says: for
 * INSERT the new rows; for UPDATE the new rows that differ from the old row
 * of their key (or have none), then the old keys no new row has; for
 * DELETE the old rows; for TRUNCATE every row of the table, before it goes.
 */
static void
capture_build(CaptureEntry *e, TriggerData *td, Oid schema)
{
	Relation	rel = td->tg_relation;
	StringInfoData sql;
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1];
	Relation	hist;
	char	   *key;
	char	   *ts;
	const char *h;
	const char *k;
	const char *t;
	const char *r;
	char	   *sqls[2];
	int			n = 0;

	capture_reset(e);

	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "SELECT fh.history::pg_catalog.oid, e.join_key::pg_catalog.text, "
					 "v.event_time_column::pg_catalog.text "
					 "FROM %1$s.fs_feature_view v "
					 "JOIN %1$s.fs_feature_history fh ON fh.feature_view OPERATOR(pg_catalog.=) v.name "
					 "JOIN %1$s.fs_entity e ON e.name OPERATOR(pg_catalog.=) v.entity "
					 "WHERE v.relation OPERATOR(pg_catalog.=) $1",
					 quote_identifier(get_namespace_name(schema)));
	args[0] = ObjectIdGetDatum(RelationGetRelid(rel));
	if (SPI_execute_with_args(sql.data, 1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read fs_feature_history");
	if (SPI_processed != 1)
	{
		e->valid = true;		/* history off: the triggers stay inert */
		return;
	}
	{
		bool		isnull;

		e->history = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
													SPI_tuptable->tupdesc, 1, &isnull));
		key = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		ts = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	}
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(e->history)))
	{
		e->history = InvalidOid;	/* dropped: fs_on_sql_drop forgets it at commit */
		e->valid = true;
		return;
	}

	hist = table_open(e->history, AccessShareLock);
	h = fs_qualified_relation_name(e->history);
	r = fs_qualified_relation_name(RelationGetRelid(rel));
	k = quote_identifier(key);
	t = quote_identifier(ts);
	switch (e->event)
	{
		case TRIGGER_EVENT_INSERT:
			sqls[n++] = psprintf("INSERT INTO %s (%s, %s%s) SELECT n.%s, n.%s%s FROM fs_new n",
								 h, k, t, shared_columns(rel, hist, key, ts, ""),
								 k, t, shared_columns(rel, hist, key, ts, "n."));
			break;
		case TRIGGER_EVENT_UPDATE:
			sqls[n++] = psprintf("INSERT INTO %s (%s, %s%s) SELECT n.%s, n.%s%s FROM fs_new n "
								 "LEFT JOIN fs_old o ON o.%s OPERATOR(pg_catalog.=) n.%s "
								 "WHERE o.%s IS NULL OR NOT (o.* OPERATOR(pg_catalog.*=) n.*)",
								 h, k, t, shared_columns(rel, hist, key, ts, ""),
								 k, t, shared_columns(rel, hist, key, ts, "n."), k, k, k);
			sqls[n++] = psprintf("INSERT INTO %s (%s, %s, fs_deleted) "
								 "SELECT o.%s, GREATEST(o.%s, pg_catalog.now()), true FROM fs_old o "
								 "WHERE NOT EXISTS (SELECT FROM fs_new n WHERE n.%s OPERATOR(pg_catalog.=) o.%s)",
								 h, k, t, k, t, k, k);
			break;
		case TRIGGER_EVENT_DELETE:
			sqls[n++] = psprintf("INSERT INTO %s (%s, %s, fs_deleted) "
								 "SELECT o.%s, GREATEST(o.%s, pg_catalog.now()), true FROM fs_old o",
								 h, k, t, k, t);
			break;
		case TRIGGER_EVENT_TRUNCATE:
			sqls[n++] = psprintf("INSERT INTO %s (%s, %s, fs_deleted) "
								 "SELECT o.%s, GREATEST(o.%s, pg_catalog.now()), true FROM %s o",
								 h, k, t, k, t, r);
			break;
	}
	table_close(hist, AccessShareLock);

	for (int i = 0; i < n; i++)
	{
		SPIPlanPtr	plan = SPI_prepare(sqls[i], 0, NULL);

		if (plan == NULL)
			elog(ERROR, "could not prepare the history capture of %s: %s",
				 r, SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		e->plans[e->nplans++] = plan;
	}
	e->valid = true;
}

/*
 * A row written to a view's foreign table (INSERT, UPDATE, DELETE through
 * fs_dynamodb): record what the store holds now for its key, and for the
 * old key of an UPDATE that changed it.
 */
static void
capture_remote_row(TriggerData *td, Oid schema)
{
	Relation	rel = td->tg_relation;
	Datum		keys[2];
	int			n = 0;
	StringInfoData sql;
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1];
	FsView	   *view;
	Form_pg_attribute att;
	bool		isnull;
	Datum		d;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT v.name FROM %s.fs_feature_view v "
					 "WHERE v.relation OPERATOR(pg_catalog.=) $1",
					 quote_identifier(get_namespace_name(schema)));
	args[0] = ObjectIdGetDatum(RelationGetRelid(rel));
	if (SPI_execute_with_args(sql.data, 1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read fs_feature_view");
	if (SPI_processed != 1)
	{
		SPI_finish();
		return;					/* no longer a view: the triggers stay inert */
	}
	view = fs_resolve_view(schema, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
	att = TupleDescAttr(RelationGetDescr(rel), view->key_attnum - 1);

	d = slot_getattr(TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newslot : td->tg_trigslot,
					 view->key_attnum, &isnull);
	if (!isnull)
		keys[n++] = d;
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		Datum		old = slot_getattr(td->tg_trigslot, view->key_attnum, &isnull);

		if (!isnull && (n == 0 || !datumIsEqual(old, keys[0], att->attbyval, att->attlen)))
			keys[n++] = old;
	}
	fs_history_record_remote(schema, view, keys, n);
	SPI_finish();
}

/*
 * fs_history_capture(): the statement triggers fs_enable_history puts on a
 * view's table (fs_history_insert, _update, _delete and _truncate) write
 * the statement's versions into the view's history table, in the
 * statement's transaction, as the history table's owner.  An UPDATE that changes
 * nothing of a row writes no version; a row gone (DELETE, TRUNCATE, an
 * UPDATE of its key) is a version that says so, at the later of now() and
 * the row's event time, so that it is never hidden behind the version it
 * ends.  The statements are prepared once per table and event, and again
 * after either table changes.
 */
Datum
fs_history_capture(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Oid			schema = get_func_namespace(fcinfo->flinfo->fn_oid);
	CaptureKey	ck;
	CaptureEntry *e;
	bool		found;
	int			nest;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("fs_history_capture must be called as a trigger")));
	if (TRIGGER_FIRED_FOR_ROW(td->tg_event))
	{
		if (TRIGGER_FIRED_BEFORE(td->tg_event) ||
			td->tg_relation->rd_rel->relkind != RELKIND_FOREIGN_TABLE)
			ereport(ERROR,
					(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
					 errmsg("fs_history_capture is a row trigger only after writes to a foreign table")));
		capture_remote_row(td, schema);
		return PointerGetDatum(NULL);
	}

	/* fs_local_write records its own writes (fs_history_local). */
	if (OidIsValid(quiet_relid) && RelationGetRelid(td->tg_relation) == quiet_relid)
		return PointerGetDatum(NULL);

	capture_cache_ready();
	memset(&ck, 0, sizeof(ck));
	ck.relid = RelationGetRelid(td->tg_relation);
	ck.event = td->tg_event & TRIGGER_EVENT_OPMASK;
	e = hash_search(capture_cache, &ck, HASH_ENTER, &found);
	if (!found)
	{
		e->valid = false;
		e->history = InvalidOid;
		e->nplans = 0;
	}

	nest = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_register_trigger_data(td) != SPI_OK_TD_REGISTER)
		elog(ERROR, "could not register the transition tables of %s",
			 RelationGetRelationName(td->tg_relation));
	if (!e->valid)
		capture_build(e, td, schema);
	for (int i = 0; i < e->nplans; i++)
		insert_as_owner(e->history, e->plans[i], NULL, NULL,
						RelationGetRelationName(td->tg_relation));
	SPI_finish();
	AtEOXact_GUC(true, nest);
	return PointerGetDatum(NULL);
}

/*-------------------------------------------------------------------------
 * Remote views: versions read back from the store
 *-------------------------------------------------------------------------
 */

/*
 * Record in the history of a view of the DynamoDB-compatible store what the
 * store holds now for keys just written, by any lane: one consistent read
 * of the items (past the cache), then, per key, a version when the item
 * differs from the version the history ends with (the last recorded), and
 * a deletion when the item is gone and the history ends with one present.
 * So a write retried after its transaction failed (its version rolled back
 * with it, the store kept the value) is recorded once, by the retry, and an
 * unchanged item is no new version.  A view without history records
 * nothing.  The store is read as the current role (its user mapping), the
 * versions written as the history table's owner.
 */
void
fs_history_record_remote(Oid schema, FsView *view, Datum *keys, int nkeys)
{
	Oid			histid;
	Relation	hist;
	FsLookup	lk;
	FsLookup   *lks[1];
	StringInfoData sql;
	StringInfoData cols;
	StringInfoData params;
	StringInfoData last;
	StringInfoData given;
	Oid		   *types;
	Datum	   *values;
	char	   *nulls;
	SPIPlanPtr	plan;
	const char *h;
	const char *k;
	const char *t;
	int			np;

	if (nkeys == 0)
		return;
	histid = history_of(schema, view->name);
	if (!OidIsValid(histid) || !SearchSysCacheExists1(RELOID, ObjectIdGetDatum(histid)))
		return;

	/* Each key once (a batch read refuses a key asked twice), by its text. */
	{
		HTAB	   *seen = fs_string_table("feature_store history keys", nkeys, sizeof(char *),
										   CurrentMemoryContext);
		Datum	   *distinct = palloc(sizeof(Datum) * nkeys);
		int			n = 0;
		Oid			typoutput;
		bool		isvarlena;

		getTypeOutputInfo(view->key_type, &typoutput, &isvarlena);
		for (int i = 0; i < nkeys; i++)
		{
			char	   *text = OidOutputFunctionCall(typoutput, keys[i]);
			bool		found;

			hash_search(seen, &text, HASH_ENTER, &found);
			if (!found)
				distinct[n++] = keys[i];
		}
		keys = distinct;
		nkeys = n;
	}

	/* The features the history keeps, of the view's types. */
	hist = table_open(histid, AccessShareLock);
	memset(&lk, 0, sizeof(lk));
	lk.view = view;
	lk.feat = palloc(sizeof(FsFeature *) * Max(view->nfeatures, 1));
	for (int f = 0; f < view->nfeatures; f++)
	{
		AttrNumber	att = get_attnum(histid, view->features[f].name);

		if (att != InvalidAttrNumber &&
			TupleDescAttr(RelationGetDescr(hist), att - 1)->atttypid == view->features[f].typid)
			lk.feat[lk.nfeat++] = &view->features[f];
	}
	table_close(hist, AccessShareLock);

	lk.nkeys = nkeys;
	lk.keys = keys;
	lk.keynull = palloc0(sizeof(bool) * nkeys);
	lk.found = palloc0(sizeof(bool) * nkeys);
	lk.event_time = palloc(sizeof(Datum) * nkeys);
	lk.event_time_null = palloc(sizeof(bool) * nkeys);
	lk.values = palloc(sizeof(Datum) * Max((Size) nkeys * lk.nfeat, 1));
	lk.nulls = palloc(sizeof(bool) * Max((Size) nkeys * lk.nfeat, 1));
	lk.read_back = true;
	lks[0] = &lk;
	fs_ddb_lookup(lks, 1);
	for (int i = 0; i < nkeys; i++)
		if (lk.unavailable || (lk.key_unavailable != NULL && lk.key_unavailable[i]))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("could not read back what was written to feature view \"%s\" for its history",
							view->name),
					 errhint("The write reached the store; a retry records its version.")));

	/*
	 * $1 the key, $2 the event time, $3 whether the item is gone, then the
	 * features: a version unless the history ends with the same.
	 */
	h = fs_qualified_relation_name(histid);
	k = quote_identifier(view->join_key);
	t = quote_identifier(view->event_time_column);
	types = palloc(sizeof(Oid) * (lk.nfeat + 3));
	values = palloc(sizeof(Datum) * (lk.nfeat + 3));
	nulls = palloc(sizeof(char) * (lk.nfeat + 3));
	types[0] = view->key_type;
	types[1] = TIMESTAMPTZOID;
	types[2] = BOOLOID;
	initStringInfo(&cols);
	initStringInfo(&params);
	initStringInfo(&last);
	initStringInfo(&given);
	for (int f = 0; f < lk.nfeat; f++)
	{
		const char *name = quote_identifier(lk.feat[f]->name);

		types[f + 3] = lk.feat[f]->typid;
		appendStringInfo(&cols, ", %s", name);
		appendStringInfo(&params, ", $%d", f + 4);
		appendStringInfo(&last, ", l.%s", name);
		appendStringInfo(&given, ", $%d", f + 4);
	}
	np = lk.nfeat + 3;
	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "INSERT INTO %1$s (%2$s, %3$s, fs_deleted%4$s) "
					 "SELECT $1, CASE WHEN $3 THEN GREATEST($2, (SELECT pg_catalog.max(x.%3$s) FROM %1$s x "
					 "WHERE x.%2$s OPERATOR(pg_catalog.=) $1)) ELSE $2 END, $3%5$s "
					 "FROM (SELECT) one "
					 "LEFT JOIN LATERAL (SELECT h.%3$s, h.fs_deleted%8$s FROM %1$s h "
					 "WHERE h.%2$s OPERATOR(pg_catalog.=) $1 ORDER BY h.fs_version DESC LIMIT 1) l ON true "
					 "WHERE CASE WHEN $3 THEN l.fs_deleted IS false "
					 "ELSE l.fs_deleted IS NOT false OR NOT pg_catalog.record_image_eq("
					 "ROW(l.%3$s%6$s), ROW($2%7$s)) END",
					 h, k, t, cols.data, params.data, last.data, given.data, cols.data);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = SPI_prepare(sql.data, np, types);
	if (plan == NULL)
		elog(ERROR, "could not prepare the history of %s: %s", h, SPI_result_code_string(SPI_result));

	for (int i = 0; i < nkeys; i++)
	{
		CHECK_FOR_INTERRUPTS();
		values[0] = keys[i];
		nulls[0] = ' ';
		values[1] = lk.found[i] ? lk.event_time[i] : TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
		nulls[1] = (lk.found[i] && lk.event_time_null[i]) ? 'n' : ' ';
		values[2] = BoolGetDatum(!lk.found[i]);
		nulls[2] = ' ';
		for (int f = 0; f < lk.nfeat; f++)
		{
			int			v = i * lk.nfeat + f;

			values[f + 3] = lk.found[i] ? lk.values[v] : (Datum) 0;
			nulls[f + 3] = (!lk.found[i] || lk.nulls[v]) ? 'n' : ' ';
		}
		insert_as_owner(histid, plan, values, nulls, view->name);
	}
	SPI_freeplan(plan);
	SPI_finish();
}


/*-------------------------------------------------------------------------
 * The lanes' writes to the embedded store
 *-------------------------------------------------------------------------
 */


/* Quiet the triggers of relid (InvalidOid: none); returns what was quiet. */
Oid
fs_history_quiet(Oid relid)
{
	Oid			was = quiet_relid;

	quiet_relid = relid;
	return was;
}

/* The event of the capture cache's entries for fs_history_local. */
#define CAPTURE_LOCAL_WRITE		(-1)

/*
 * The statement fs_history_local runs, prepared once per view's table
 * (kept until either table changes): the rows of the keys $1, each unless
 * the history's latest version of it is the same.  Latest by event time, then
 * recording: the lanes never write an older event time over a newer one,
 * so that is the version recorded last.  A version without an event time
 * (a plain UPDATE can make one) is left out: the row a lane wrote has an
 * event time, so it differs from such a version anyway, and what is left
 * is one index probe in the index's order (DESC, NULLS FIRST, past the
 * NULLs).  ORDER BY ... NULLS LAST, as it was, read and sorted every
 * version of the key: a flush got slower the longer the history.
 */
static CaptureEntry *
local_entry(Oid schema, FsView *view, Relation rel)
{
	CaptureKey	ck;
	CaptureEntry *e;
	bool		found;
	Relation	hist;
	const char *h;
	const char *k;
	const char *t;
	char	   *sql;
	Oid			argtypes[1];
	SPIPlanPtr	plan;

	capture_cache_ready();
	memset(&ck, 0, sizeof(ck));
	ck.relid = RelationGetRelid(rel);
	ck.event = CAPTURE_LOCAL_WRITE;
	e = hash_search(capture_cache, &ck, HASH_ENTER, &found);
	if (!found)
	{
		e->valid = false;
		e->history = InvalidOid;
		e->nplans = 0;
	}
	if (e->valid)
		return e;

	capture_reset(e);
	e->history = history_of(schema, view->name);
	if (!OidIsValid(e->history) || !SearchSysCacheExists1(RELOID, ObjectIdGetDatum(e->history)))
	{
		e->history = InvalidOid;
		e->valid = true;
		return e;
	}

	hist = table_open(e->history, AccessShareLock);
	h = fs_qualified_relation_name(e->history);
	k = quote_identifier(view->join_key);
	t = quote_identifier(view->event_time_column);
	sql = psprintf("INSERT INTO %1$s (%2$s, %3$s%4$s) SELECT r.%2$s, r.%3$s%5$s "
				   "FROM (SELECT DISTINCT u.k FROM pg_catalog.unnest($1) u(k)) u "
				   "JOIN %6$s r ON r.%2$s OPERATOR(pg_catalog.=) u.k "
				   "LEFT JOIN LATERAL (SELECT x.%3$s, x.fs_deleted%7$s FROM %1$s x "
				   "WHERE x.%2$s OPERATOR(pg_catalog.=) r.%2$s AND x.%3$s IS NOT NULL "
				   "ORDER BY x.%3$s DESC, x.fs_version DESC LIMIT 1) l ON true "
				   "WHERE l.fs_deleted IS NOT false "
				   "OR NOT pg_catalog.record_image_eq(ROW(l.%3$s%8$s), ROW(r.%3$s%5$s))",
				   h, k, t,
				   shared_columns(rel, hist, view->join_key, view->event_time_column, ""),
				   shared_columns(rel, hist, view->join_key, view->event_time_column, "r."),
				   fs_qualified_relation_name(RelationGetRelid(rel)),
				   shared_columns(rel, hist, view->join_key, view->event_time_column, "x."),
				   shared_columns(rel, hist, view->join_key, view->event_time_column, "l."));
	table_close(hist, AccessShareLock);
	argtypes[0] = get_array_type(view->key_type);
	if (!OidIsValid(argtypes[0]))
		elog(ERROR, "type %s has no array type", format_type_be(view->key_type));
	plan = SPI_prepare(sql, 1, argtypes);
	if (plan == NULL)
		elog(ERROR, "could not prepare the history of feature view \"%s\": %s",
			 view->name, SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	e->plans[e->nplans++] = plan;
	e->valid = true;
	return e;
}

/*
 * Record in an embedded view's history its rows of keys just written by
 * fs_local_write, those that differ from the version their history ends
 * with.  Several writes of one entity in one call are one version, the row
 * after them.
 */
void
fs_history_local(Oid schema, FsView *view, Relation rel, Datum *keys, int nkeys)
{
	CaptureEntry *e;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum		arr;

	if (nkeys == 0)
		return;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	e = local_entry(schema, view, rel);
	if (OidIsValid(e->history))
	{
		get_typlenbyvalalign(view->key_type, &typlen, &typbyval, &typalign);
		arr = PointerGetDatum(construct_array(keys, nkeys, view->key_type, typlen, typbyval, typalign));
		insert_as_owner(e->history, e->plans[0], &arr, NULL, view->name);
	}
	SPI_finish();
}
