/*-------------------------------------------------------------------------
 *
 * ddb_modify.c
 *	  fs_dynamodb: INSERT, UPDATE and DELETE.
 *
 * Writes: INSERT is PutItem, or BatchWriteItem of up to 25 rows; UPDATE is
 * UpdateItem (SET changed columns, REMOVE those set to NULL) and DELETE is
 * DeleteItem, one row at a time, both conditional on the item existing.
 * An INSERT of an existing key replaces the item: the store has no unique
 * violation to report.  COPY and partition routing insert through the same
 * code.  Here: the modify callbacks, batch writes and EXPLAIN of writes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "ddb.h"

#include "access/sysattr.h"
#include "access/table.h"
#include "commands/defrem.h"
#include "executor/executor.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/appendinfo.h"
#include "optimizer/inherit.h"
#include "optimizer/pathnode.h"
#include "parser/parsetree.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "ddb_fdw.h"

/* Name of the row-identity junk column of UPDATE and DELETE. */
#define KEY_JUNK_NAME		"fs_key"

/*-------------------------------------------------------------------------
 * Modifying
 *-------------------------------------------------------------------------
 */

typedef struct FsModifyState
{
	Relation	rel;
	FsDdbTable *tbl;
	FsDdbEndpoint *ep;
	CmdType		operation;
	List	   *target_attrs;	/* UPDATE: the columns set */
	AttrNumber	key_junk;		/* UPDATE/DELETE: the key in the plan's output */
	FmgrInfo	key_out;		/* the key column's output function */
	MemoryContext temp_cxt;		/* per row or batch */
	FsJsonHold *hold;
} FsModifyState;

/* UPDATE and DELETE identify rows by the key column. */
void
fsAddForeignUpdateTargets(PlannerInfo *root, Index rtindex,
						  RangeTblEntry *target_rte, Relation target_relation)
{
	FsDdbTable *tbl = fs_ddb_table(target_relation);
	Form_pg_attribute att = TupleDescAttr(RelationGetDescr(target_relation),
										  tbl->key_attnum - 1);
	Var		   *var = makeVar(rtindex, tbl->key_attnum, att->atttypid,
							  att->atttypmod, att->attcollation, 0);

	add_row_identity_var(root, var, rtindex, KEY_JUNK_NAME);
}

/* Remember the columns an UPDATE sets; refuse what the store cannot do. */
List *
fsPlanForeignModify(PlannerInfo *root, ModifyTable *plan,
					Index resultRelation, int subplan_index)
{
	CmdType		operation = plan->operation;
	RangeTblEntry *rte = planner_rt_fetch(resultRelation, root);
	List	   *target_attrs = NIL;

	if (plan->onConflictAction != ONCONFLICT_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ON CONFLICT is not supported on foreign tables of fs_dynamodb"),
				 errhint("An INSERT of an existing key replaces the item.")));

	if (operation == CMD_UPDATE)
	{
		RelOptInfo *rel = find_base_rel(root, resultRelation);
		Bitmapset  *cols = get_rel_all_updated_cols(root, rel);
		Relation	r = table_open(rte->relid, NoLock);
		FsDdbTable *tbl = fs_ddb_table(r);
		int			col = -1;

		while ((col = bms_next_member(cols, col)) >= 0)
		{
			AttrNumber	attno = col + FirstLowInvalidHeapAttributeNumber;

			if (attno <= InvalidAttrNumber)
				elog(ERROR, "system-column update is not supported");
			if (attno == tbl->key_attnum)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot update the key column \"%s\" of foreign table \"%s\"",
								NameStr(TupleDescAttr(RelationGetDescr(r), attno - 1)->attname),
								RelationGetRelationName(r)),
						 errdetail("It holds the partition key of remote table \"%s\".", tbl->table),
						 errhint("Delete the row and insert it with the new key.")));
			target_attrs = lappend_int(target_attrs, attno);
		}
		table_close(r, NoLock);
	}
	return list_make1(target_attrs);
}

/* Set up the state of an INSERT, UPDATE or DELETE on rinfo. */
static FsModifyState *
modify_state(EState *estate, ResultRelInfo *rinfo, CmdType operation)
{
	FsModifyState *ms = palloc0(sizeof(FsModifyState));
	Oid			userid = GetUserId();
	Oid			typoutput;
	bool		isvarlena;

	if (rinfo->ri_RangeTableIndex > 0)
	{
		RangeTblEntry *rte = exec_rt_fetch(rinfo->ri_RangeTableIndex, estate);

		if (OidIsValid(rte->checkAsUser))
			userid = rte->checkAsUser;
	}
	ms->rel = rinfo->ri_RelationDesc;
	ms->operation = operation;
	ms->tbl = fs_ddb_table(ms->rel);
	ms->ep = fs_ddb_endpoint(ms->tbl->serverid, userid);
	getTypeOutputInfo(TupleDescAttr(RelationGetDescr(ms->rel), ms->tbl->key_attnum - 1)->atttypid,
					  &typoutput, &isvarlena);
	fmgr_info(typoutput, &ms->key_out);
	ms->temp_cxt = AllocSetContextCreate(estate->es_query_cxt,
										 "fs_dynamodb modify",
										 ALLOCSET_DEFAULT_SIZES);
	return ms;
}

/* Start a row or batch: drop the previous one's memory and JSON. */
static MemoryContext
modify_begin_row(FsModifyState *ms)
{
	MemoryContextReset(ms->temp_cxt);
	ms->hold = fs_json_hold_create(ms->temp_cxt);
	return MemoryContextSwitchTo(ms->temp_cxt);
}

/* Set up an INSERT, UPDATE or DELETE; find the key junk column of the latter two. */
void
fsBeginForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
					 List *fdw_private, int subplan_index, int eflags)
{
	FsModifyState *ms;

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;
	ms = modify_state(mtstate->ps.state, rinfo, mtstate->operation);
	ms->target_attrs = (List *) linitial(fdw_private);
	if (mtstate->operation == CMD_UPDATE || mtstate->operation == CMD_DELETE)
	{
		Plan	   *subplan = outerPlanState(mtstate)->plan;

		ms->key_junk = ExecFindJunkAttributeInTlist(subplan->targetlist, KEY_JUNK_NAME);
		if (!AttributeNumberIsValid(ms->key_junk))
			elog(ERROR, "could not find junk column \"%s\"", KEY_JUNK_NAME);
	}
	rinfo->ri_FdwState = ms;
}

/* COPY and partition routing insert through the same code. */
void
fsBeginForeignInsert(ModifyTableState *mtstate, ResultRelInfo *rinfo)
{
	rinfo->ri_FdwState = modify_state(mtstate->ps.state, rinfo, CMD_INSERT);
}

/* The key of a row as text, for messages. */
static char *
key_text(FsModifyState *ms, Datum value)
{
	return OutputFunctionCall(&ms->key_out, value);
}

/* A row as a held Item, and its key's canonical text in *keytext. */
static json_t *
row_item(FsModifyState *ms, TupleTableSlot *slot, char **keytext)
{
	TupleDesc	desc = RelationGetDescr(ms->rel);
	FsDdbTable *tbl = ms->tbl;
	json_t	   *item = fs_held_object(ms->hold);
	char	   *entity;
	bool		isnull;
	Datum		key;

	slot_getallattrs(slot);
	key = slot->tts_values[tbl->key_attnum - 1];
	isnull = slot->tts_isnull[tbl->key_attnum - 1];
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("null value in column \"%s\" of foreign table \"%s\" violates not-null constraint",
						NameStr(TupleDescAttr(desc, tbl->key_attnum - 1)->attname),
						RelationGetRelationName(ms->rel)),
				 errdetail("It holds the partition key of remote table \"%s\".", tbl->table)));
	entity = key_text(ms, key);

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		json_t	   *av;

		if (att->attisdropped || slot->tts_isnull[i])
			continue;
		av = fs_ddb_encode(slot->tts_values[i], att->atttypid,
						   i + 1 == tbl->event_time_attnum,
						   NameStr(att->attname), entity);
		if (av)
			fs_obj_set_new(item, tbl->attr_names[i], av);
	}
	if (keytext)
		*keytext = fs_json_to_cstring(json_object_get(item, tbl->key_attr), JSON_SORT_KEYS);
	return item;
}

static void modify_raise(FsModifyState *ms, FsDdbCall *call) pg_attribute_noreturn();

/* Run one call on the modified table, with the table in the error context. */
static void
modify_run(FsModifyState *ms, FsDdbCall **calls, int ncalls, bool raise)
{
	FsCallContext cc;
	ErrorContextCallback errcb;

	fs_push_call_context(&errcb, &cc, ms->tbl->table, RelationGetRelationName(ms->rel));
	if (raise)
		fs_run_calls(ms->ep, calls, ncalls, ms->tbl->table);
	else
		fs_ddb_run(ms->ep, calls, ncalls);
	error_context_stack = errcb.previous;
}

/* Raise a failed call of a write, with the table in the error context. */
static void
modify_raise(FsModifyState *ms, FsDdbCall *call)
{
	FsCallContext cc;
	ErrorContextCallback errcb;

	fs_push_call_context(&errcb, &cc, ms->tbl->table, RelationGetRelationName(ms->rel));
	fs_raise_call(call, ms->tbl->table);
}

/* INSERT one row: PutItem. */
TupleTableSlot *
fsExecForeignInsert(EState *estate, ResultRelInfo *rinfo,
					TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	FsModifyState *ms = (FsModifyState *) rinfo->ri_FdwState;
	MemoryContext old = modify_begin_row(ms);
	json_t	   *body = fs_held_object(ms->hold);
	FsDdbCall  *call;

	fs_obj_set_new(body, "TableName", json_string(ms->tbl->table));
	fs_obj_set(body, "Item", row_item(ms, slot, NULL));
	call = fs_new_call("PutItem", body);
	fs_call_forget(call, ms->tbl->table,
				   json_object_get(json_object_get(body, "Item"), ms->tbl->key_attr));
	modify_run(ms, &call, 1, true);
	MemoryContextSwitchTo(old);
	return slot;
}

/* The cache forgets the keys of the PutRequests of list, which call writes. */
static void
forget_puts(FsModifyState *ms, FsDdbCall *call, json_t *list)
{
	size_t		i;
	json_t	   *put;

	json_array_foreach(list, i, put)
		fs_call_forget(call, ms->tbl->table,
					   json_object_get(json_object_get(json_object_get(put, "PutRequest"), "Item"),
									   ms->tbl->key_attr));
}

/* A BatchWriteItem call for the given RequestItems. */
static FsDdbCall *
batch_write_call(FsModifyState *ms, json_t *request_items)
{
	json_t	   *body = fs_held_object(ms->hold);

	fs_obj_set(body, "RequestItems", request_items);
	return fs_new_call("BatchWriteItem", body);
}

/*
 * Write items with distinct keys: BatchWriteItem requests of 25, all sent
 * as one concurrent wave, then rounds for the UnprocessedItems.
 */
static void
batch_write(FsModifyState *ms, json_t **items, int n)
{
	int			ncalls = (n + FS_DDB_BATCH_WRITE_MAX - 1) / FS_DDB_BATCH_WRITE_MAX;
	FsDdbCall **calls = palloc(sizeof(FsDdbCall *) * Max(ncalls, 1));
	int			round = 0;

	for (int c = 0; c < ncalls; c++)
	{
		json_t	   *req = fs_held_object(ms->hold);
		json_t	   *list = json_array();

		fs_obj_set_new(req, ms->tbl->table, list);
		for (int i = c * FS_DDB_BATCH_WRITE_MAX; i < Min(n, (c + 1) * FS_DDB_BATCH_WRITE_MAX); i++)
		{
			json_t	   *put = fs_json_object();

			fs_arr_append_new(list, put);
			fs_obj_set_new(put, "PutRequest", json_pack("{sO}", "Item", items[i]));
		}
		calls[c] = batch_write_call(ms, req);
		forget_puts(ms, calls[c], list);
	}

	while (ncalls > 0)
	{
		int			nnext = 0;
		int			left = 0;

		modify_run(ms, calls, ncalls, true);
		for (int c = 0; c < ncalls; c++)
		{
			FsDdbCall  *call = calls[c];
			json_t	   *root = fs_parse_response(ms->hold, call, ms->tbl->table);
			json_t	   *unprocessed = json_object_get(root, "UnprocessedItems");
			json_t	   *mine;

			if (unprocessed == NULL || json_is_null(unprocessed))
				continue;
			if (!json_is_object(unprocessed))
				fs_bad_shape(call, ms->tbl->table, "\"UnprocessedItems\" is not an object");
			mine = json_object_get(unprocessed, ms->tbl->table);
			if (mine == NULL || (json_is_array(mine) && json_array_size(mine) == 0))
				continue;
			if (!json_is_array(mine))
				fs_bad_shape(call, ms->tbl->table, "\"UnprocessedItems\" is not an array per table");
			left += (int) json_array_size(mine);
			/* Calls before c are done with: their slots can be reused. */
			calls[nnext] = batch_write_call(ms, unprocessed);
			forget_puts(ms, calls[nnext++], mine);
		}
		if (nnext > 0)
		{
			if (++round > ms->ep->max_retries)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("%d items for remote table \"%s\" were not written after %d retries",
								left, ms->tbl->table, ms->ep->max_retries),
						 errhint("The store returned them as UnprocessedItems; raise the server option "
								 "max_retries or feature_store.max_retries, or the table's capacity.")));
			fs_ddb_backoff(round);
		}
		ncalls = nnext;
	}
}

/*
 * INSERT a batch: BatchWriteItem.  Two puts of one key in a request are
 * rejected, so a repeated key starts a new wave of requests; waves go in
 * order, so the last row of a key wins, as with single inserts.
 */
TupleTableSlot **
fsExecForeignBatchInsert(EState *estate, ResultRelInfo *rinfo,
						 TupleTableSlot **slots, TupleTableSlot **planSlots,
						 int *numSlots)
{
	FsModifyState *ms = (FsModifyState *) rinfo->ri_FdwState;
	MemoryContext old = modify_begin_row(ms);
	int			n = *numSlots;
	json_t	  **items = palloc(sizeof(json_t *) * Max(n, 1));
	char	  **keys = palloc(sizeof(char *) * Max(n, 1));
	int			start = 0;

	for (int i = 0; i < n; i++)
		items[i] = row_item(ms, slots[i], &keys[i]);

	for (int i = 1; i <= n; i++)
	{
		bool		repeat = false;

		for (int j = start; i < n && j < i && !repeat; j++)
			repeat = strcmp(keys[j], keys[i]) == 0;
		if (i == n || repeat)
		{
			batch_write(ms, items + start, i - start);
			start = i;
		}
	}
	MemoryContextSwitchTo(old);
	return slots;
}

/* Batch INSERTs unless RETURNING, row triggers or check options need rows one at a time. */
int
fsGetForeignModifyBatchSize(ResultRelInfo *rinfo)
{
	FsModifyState *ms = (FsModifyState *) rinfo->ri_FdwState;

	if (rinfo->ri_projectReturning != NULL ||
		rinfo->ri_WithCheckOptions != NIL ||
		(rinfo->ri_TrigDesc &&
		 (rinfo->ri_TrigDesc->trig_insert_before_row ||
		  rinfo->ri_TrigDesc->trig_insert_after_row)))
		return 1;
	/*
	 * Enough rows for one BatchWriteItem per write connection: the wave, all
	 * writes, goes out at once (max_write_connections in flight).
	 */
	if (ms != NULL && ms->ep != NULL)
		return FS_DDB_BATCH_WRITE_MAX * Max(ms->ep->max_write_connections, 1);
	else
	{
		/* EXPLAIN without ANALYZE: no state, but the same answer. */
		Oid			serverid = GetForeignTable(RelationGetRelid(rinfo->ri_RelationDesc))->serverid;

		return FS_DDB_BATCH_WRITE_MAX * Max(fs_ddb_endpoint(serverid, GetUserId())->max_write_connections, 1);
	}
}

/* The key of the row to change, from the junk column, as a held object. */
static json_t *
modify_key(FsModifyState *ms, TupleTableSlot *planSlot)
{
	bool		isnull;
	Datum		value = ExecGetJunkAttribute(planSlot, ms->key_junk, &isnull);
	Form_pg_attribute att = TupleDescAttr(RelationGetDescr(ms->rel), ms->tbl->key_attnum - 1);
	json_t	   *key = fs_held_object(ms->hold);
	json_t	   *av;

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("the key of a row to change in remote table \"%s\" is null",
						ms->tbl->table)));
	av = fs_ddb_encode(value, att->atttypid, false, NameStr(att->attname), NULL);
	fs_obj_set_new(key, ms->tbl->key_attr, av);
	return key;
}

/* Whether a conditional write found no item (the row is gone). */
static bool
condition_failed(FsDdbCall *call)
{
	return call->status == FS_DDB_FAILED && call->error_type &&
		strcmp(call->error_type, "ConditionalCheckFailedException") == 0;
}

/* UPDATE one row: UpdateItem, SET the new values, REMOVE the NULLs. */
TupleTableSlot *
fsExecForeignUpdate(EState *estate, ResultRelInfo *rinfo,
					TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	FsModifyState *ms = (FsModifyState *) rinfo->ri_FdwState;
	MemoryContext old = modify_begin_row(ms);
	TupleDesc	desc = RelationGetDescr(ms->rel);
	json_t	   *body = fs_held_object(ms->hold);
	json_t	   *names = fs_json_object();
	json_t	   *values = fs_json_object();
	StringInfoData set,
				remove;
	FsDdbCall  *call;
	ListCell   *lc;
	int			i = 0;
	char	   *entity;
	json_t	   *key = modify_key(ms, planSlot);

	fs_obj_set_new(body, "TableName", json_string(ms->tbl->table));
	fs_obj_set(body, "Key", key);
	fs_obj_set_new(body, "ExpressionAttributeNames", names);
	{
		bool		isnull;
		Datum		keyvalue = ExecGetJunkAttribute(planSlot, ms->key_junk, &isnull);

		/* modify_key refused a NULL key */
		entity = key_text(ms, keyvalue);
	}

	slot_getallattrs(slot);
	initStringInfo(&set);
	initStringInfo(&remove);
	foreach(lc, ms->target_attrs)
	{
		AttrNumber	attnum = lfirst_int(lc);
		Form_pg_attribute att = TupleDescAttr(desc, attnum - 1);
		char		alias[16];

		snprintf(alias, sizeof(alias), "#a%d", i);
		fs_obj_set_new(names, alias, json_string(ms->tbl->attr_names[attnum - 1]));
		if (slot->tts_isnull[attnum - 1])
			appendStringInfo(&remove, "%s%s", remove.len > 0 ? ", " : "REMOVE ", alias);
		else
		{
			char		val[16];
			json_t	   *av = fs_ddb_encode(slot->tts_values[attnum - 1], att->atttypid,
										   attnum == ms->tbl->event_time_attnum,
										   NameStr(att->attname), entity);

			snprintf(val, sizeof(val), ":v%d", i);
			fs_obj_set_new(values, val, av);
			appendStringInfo(&set, "%s%s = %s", set.len > 0 ? ", " : "SET ", alias, val);
		}
		i++;
	}
	if (json_object_size(values) > 0)
		fs_obj_set_new(body, "ExpressionAttributeValues", values);
	else
		json_decref(values);
	fs_obj_set_new(names, "#k", json_string(ms->tbl->key_attr));
	fs_obj_set_new(body, "ConditionExpression", json_string("attribute_exists(#k)"));
	fs_obj_set_new(body, "UpdateExpression",
				json_string(psprintf("%s%s%s", set.data,
									 set.len > 0 && remove.len > 0 ? " " : "",
									 remove.data)));
	call = fs_new_call("UpdateItem", body);
	fs_call_forget(call, ms->tbl->table,
				   json_object_get(json_object_get(body, "Key"), ms->tbl->key_attr));
	modify_run(ms, &call, 1, false);
	MemoryContextSwitchTo(old);
	if (condition_failed(call))
		return NULL;			/* deleted meanwhile */
	if (call->status != FS_DDB_OK)
		modify_raise(ms, call);
	return slot;
}

/* DELETE one row: DeleteItem, the old item returned if RETURNING needs it. */
TupleTableSlot *
fsExecForeignDelete(EState *estate, ResultRelInfo *rinfo,
					TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	FsModifyState *ms = (FsModifyState *) rinfo->ri_FdwState;
	MemoryContext old = modify_begin_row(ms);
	json_t	   *body = fs_held_object(ms->hold);
	bool		returning = rinfo->ri_projectReturning != NULL;
	FsDdbCall  *call;

	fs_obj_set_new(body, "TableName", json_string(ms->tbl->table));
	fs_obj_set(body, "Key", modify_key(ms, planSlot));
	fs_obj_set_new(body, "ConditionExpression", json_string("attribute_exists(#k)"));
	fs_obj_set_new(body, "ExpressionAttributeNames",
				json_pack("{ss}", "#k", ms->tbl->key_attr));
	if (returning)
		fs_obj_set_new(body, "ReturnValues", json_string("ALL_OLD"));
	call = fs_new_call("DeleteItem", body);
	fs_call_forget(call, ms->tbl->table,
				   json_object_get(json_object_get(body, "Key"), ms->tbl->key_attr));
	modify_run(ms, &call, 1, false);
	if (condition_failed(call))
	{
		MemoryContextSwitchTo(old);
		return NULL;			/* already gone */
	}
	if (call->status != FS_DDB_OK)
		modify_raise(ms, call);

	if (returning)
	{
		/* The old row, decoded into temp_cxt: it lives until the next row. */
		FsJv		root;
		FsJv		attrs;
		FsJsonDoc  *doc = fs_parse_answer(call, ms->tbl->table, &root);
		bool		present = fs_jget(&root, "Attributes", 10, &attrs);
		TupleDesc	desc = slot->tts_tupleDescriptor;

		if (present && fs_jtype(&attrs) != FSJ_OBJECT)
			fs_bad_shape(call, ms->tbl->table, "\"Attributes\" is not an object");
		ExecClearTuple(slot);
		for (int i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);

			slot->tts_isnull[i] = true;
			if (att->attisdropped || ms->tbl->attr_names[i] == NULL)
				continue;
			slot->tts_values[i] = fs_decode_column(ms->tbl, present ? &attrs : NULL, att,
												   &slot->tts_isnull[i]);
		}
		ExecStoreVirtualTuple(slot);
		fs_json_doc_release(doc);
	}
	MemoryContextSwitchTo(old);
	return slot;
}

/* Release the last row's JSON now rather than at the end of the query. */
void
fsEndForeignModify(EState *estate, ResultRelInfo *rinfo)
{
	FsModifyState *ms = (FsModifyState *) rinfo->ri_FdwState;

	if (ms == NULL)
		return;
	MemoryContextDelete(ms->temp_cxt);
	ms->temp_cxt = NULL;
}

/* End of COPY or partition routing: as for a modify. */
void
fsEndForeignInsert(EState *estate, ResultRelInfo *rinfo)
{
	fsEndForeignModify(estate, rinfo);
}

/* EXPLAIN of a write: the operation and the remote table. */
void
fsExplainForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
					   List *fdw_private, int subplan_index,
					   struct ExplainState *es)
{
	Relation	rel = rinfo->ri_RelationDesc;
	ForeignTable *ft = GetForeignTable(RelationGetRelid(rel));
	const char *table = RelationGetRelationName(rel);
	const char *op;
	ListCell   *lc;

	foreach(lc, ft->options)
		if (strcmp(((DefElem *) lfirst(lc))->defname, "table") == 0)
			table = defGetString((DefElem *) lfirst(lc));

	switch (mtstate->operation)
	{
		case CMD_INSERT:
			op = rinfo->ri_BatchSize > 1 ? "BatchWriteItem" : "PutItem";
			break;
		case CMD_UPDATE:
			op = "UpdateItem";
			break;
		case CMD_DELETE:
			op = "DeleteItem";
			break;
		default:
			op = "?";
			break;
	}
	ExplainPropertyText("DynamoDB Access", op, es);
	if (mtstate->operation == CMD_INSERT && rinfo->ri_BatchSize > 1)
		ExplainPropertyInteger("Batch Size", NULL, rinfo->ri_BatchSize, es);
	ExplainPropertyText("Remote Table", table, es);
}

