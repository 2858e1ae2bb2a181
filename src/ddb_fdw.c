/*-------------------------------------------------------------------------
 *
 * ddb_fdw.c
 *	  The foreign data wrapper fs_dynamodb: its handler, and
 *	  fs_create_online_table.
 *
 * A foreign table of fs_dynamodb is a table of a DynamoDB-compatible store.
 * The callbacks are in ddb_scan.c (planning, scans) and ddb_modify.c
 * (INSERT, UPDATE, DELETE); the options and their validator in
 * ddb_option.c; the remote table behind a foreign table in ddb_table.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "ddb.h"

#include "access/relation.h"
#include "catalog/pg_class.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "ddb_fdw.h"

/* fs_create_online_table: how often and how long to wait for ACTIVE. */
#define CREATE_POLL_MS		100
#define CREATE_TIMEOUT_MS	60000

PG_FUNCTION_INFO_V1(fs_dynamodb_handler);
PG_FUNCTION_INFO_V1(fs_create_online_table);

/*-------------------------------------------------------------------------
 * Handler
 *-------------------------------------------------------------------------
 */

/* The FdwRoutine of fs_dynamodb: every callback. */
Datum
fs_dynamodb_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	routine->GetForeignRelSize = fsGetForeignRelSize;
	routine->GetForeignPaths = fsGetForeignPaths;
	routine->GetForeignPlan = fsGetForeignPlan;
	routine->BeginForeignScan = fsBeginForeignScan;
	routine->IterateForeignScan = fsIterateForeignScan;
	routine->ReScanForeignScan = fsReScanForeignScan;
	routine->EndForeignScan = fsEndForeignScan;
	routine->ExplainForeignScan = fsExplainForeignScan;

	routine->AddForeignUpdateTargets = fsAddForeignUpdateTargets;
	routine->PlanForeignModify = fsPlanForeignModify;
	routine->BeginForeignModify = fsBeginForeignModify;
	routine->ExecForeignInsert = fsExecForeignInsert;
	routine->ExecForeignBatchInsert = fsExecForeignBatchInsert;
	routine->GetForeignModifyBatchSize = fsGetForeignModifyBatchSize;
	routine->ExecForeignUpdate = fsExecForeignUpdate;
	routine->ExecForeignDelete = fsExecForeignDelete;
	routine->EndForeignModify = fsEndForeignModify;
	routine->BeginForeignInsert = fsBeginForeignInsert;
	routine->EndForeignInsert = fsEndForeignInsert;
	routine->ExplainForeignModify = fsExplainForeignModify;

	PG_RETURN_POINTER(routine);
}

/*-------------------------------------------------------------------------
 * fs_create_online_table
 *-------------------------------------------------------------------------
 */

/* The TableStatus of a remote table. */
static const char *
table_status(FsDdbEndpoint *ep, const char *table, FsJsonHold *h)
{
	FsDdbCall  *call;
	const char *status;

	status = json_string_value(json_object_get(fs_ddb_describe_table(ep, table, h, &call),
											   "TableStatus"));
	if (status == NULL)
		fs_bad_shape(call, table, "\"Table\".\"TableStatus\" is not a string");
	return pstrdup(status);
}

/*
 * Create the remote table of a foreign table (CreateTable, on-demand
 * capacity) and wait until it is ACTIVE.  The key is the 'key' option's
 * attribute, else the first column's.
 */
Datum
fs_create_online_table(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Relation	rel = relation_open(relid, AccessShareLock);
	FdwRoutine *routine;
	char	   *event_time_column;
	FsDdbTable *tbl;
	FsDdbEndpoint *ep;
	AttrNumber	key_attnum = InvalidAttrNumber;
	char		kind;
	char		kindstr[2];
	MemoryContext cxt;
	MemoryContext old;
	FsJsonHold *h;
	json_t	   *body;
	FsDdbCall  *call;
	TimestampTz deadline;
	FsCallContext cc;
	ErrorContextCallback errcb;

	if (rel->rd_rel->relkind != RELKIND_FOREIGN_TABLE ||
		(routine = GetFdwRoutineForRelation(rel, false))->BeginForeignScan != fsBeginForeignScan)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a foreign table of fs_dynamodb",
						RelationGetRelationName(rel))));
	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_FOREIGN_TABLE, RelationGetRelationName(rel));

	tbl = fs_ddb_table_options(rel, &event_time_column);
	for (int i = 0; i < tbl->natts; i++)
	{
		if (tbl->attr_names[i] == NULL)
			continue;
		if (tbl->key_attr == NULL || strcmp(tbl->attr_names[i], tbl->key_attr) == 0)
		{
			key_attnum = i + 1;
			break;
		}
	}
	if (key_attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
				 errmsg("foreign table \"%s\" has no column for the key attribute \"%s\"",
						RelationGetRelationName(rel),
						tbl->key_attr ? tbl->key_attr : "?")));
	tbl->key_attr = tbl->attr_names[key_attnum - 1];
	kind = fs_key_kind(TupleDescAttr(RelationGetDescr(rel), key_attnum - 1)->atttypid);
	if (kind == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("column \"%s\" of foreign table \"%s\" cannot hold a partition key",
						NameStr(TupleDescAttr(RelationGetDescr(rel), key_attnum - 1)->attname),
						RelationGetRelationName(rel)),
				 errdetail("Its type is %s; a key is text, varchar, an integer type, numeric or bytea.",
						   format_type_be(TupleDescAttr(RelationGetDescr(rel), key_attnum - 1)->atttypid))));
	kindstr[0] = kind;
	kindstr[1] = '\0';

	ep = fs_ddb_endpoint(tbl->serverid, GetUserId());

	cxt = AllocSetContextCreate(CurrentMemoryContext, "fs_create_online_table",
								ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cxt);
	h = fs_json_hold_create(cxt);

	fs_push_call_context(&errcb, &cc, tbl->table, RelationGetRelationName(rel));

	body = fs_held_object(h);
	fs_obj_set_new(body, "TableName", json_string(tbl->table));
	fs_obj_set_new(body, "AttributeDefinitions",
				json_pack("[{ssss}]", "AttributeName", tbl->key_attr,
						  "AttributeType", kindstr));
	fs_obj_set_new(body, "KeySchema",
				json_pack("[{ssss}]", "AttributeName", tbl->key_attr, "KeyType", "HASH"));
	fs_obj_set_new(body, "BillingMode", json_string("PAY_PER_REQUEST"));
	call = fs_new_call("CreateTable", body);
	fs_ddb_run(ep, &call, 1);
	if (call->status != FS_DDB_OK)
	{
		if (call->error_type && strcmp(call->error_type, "ResourceInUseException") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_TABLE),
					 errmsg("remote table \"%s\" already exists", tbl->table),
					 errhint("Use it as it is, or set the foreign table's option \"table\" to another name.")));
		fs_ddb_raise(call);
	}

	/* Tables are CREATING for a while; wait, interruptibly, until ACTIVE. */
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), CREATE_TIMEOUT_MS);
	for (;;)
	{
		const char *status = table_status(ep, tbl->table, h);

		if (strcmp(status, "ACTIVE") == 0)
			break;
		if (GetCurrentTimestamp() >= deadline)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("remote table \"%s\" did not become ACTIVE within %d seconds",
							tbl->table, CREATE_TIMEOUT_MS / 1000),
					 errdetail("Its status is %s.", status)));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 CREATE_POLL_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}

	error_context_stack = errcb.previous;
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);

	/* A key learnt from an earlier table of that name is stale now. */
	fs_ddb_forget_key(relid);
	relation_close(rel, AccessShareLock);
	PG_RETURN_VOID();
}

