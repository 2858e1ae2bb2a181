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
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "history.h"
#include "utils.h"

/* The history table of a view, or InvalidOid: fs_feature_history, as the caller. */
static Oid
history_of(Oid schema, const char *view)
{
	StringInfoData sql;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	Oid			history = InvalidOid;

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
