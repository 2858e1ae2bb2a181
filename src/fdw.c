/*-------------------------------------------------------------------------
 *
 * fdw.c
 *	  The foreign data wrapper fs_dynamodb.
 *
 * A foreign table of fs_dynamodb is a table of a DynamoDB-compatible store.
 * Reads: a restriction "key = value", "key = ANY(array)" or "key = $n" on
 * the partition key becomes BatchGetItem requests (at most 100 keys each,
 * all sent at once, UnprocessedKeys resent with backoff); anything else is
 * a paginated Scan.  Either way only the needed columns' attributes are
 * asked for (ProjectionExpression), and every qual is also checked locally.
 * Writes: INSERT is PutItem, or BatchWriteItem of up to 25 rows; UPDATE is
 * UpdateItem (SET changed columns, REMOVE those set to NULL) and DELETE is
 * DeleteItem, one row at a time, both conditional on the item existing.
 * An INSERT of an existing key replaces the item: the store has no unique
 * violation to report.
 *
 * Also here: the options validator, fs_ddb_endpoint and fs_ddb_table (which
 * serving uses too) and fs_create_online_table.
 *
 * JSON (jansson) lives outside palloc: every object we create or parse is
 * registered with a holder whose memory-context reset callback drops the
 * references, so nothing leaks when an error unwinds the stack.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/reloptions.h"
#include "access/relation.h"
#include "access/sysattr.h"
#include "access/table.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_foreign_data_wrapper.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/appendinfo.h"
#include "optimizer/clauses.h"
#include "optimizer/cost.h"
#include "optimizer/inherit.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "parser/parsetree.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/acl.h"
#include "utils/array.h"
/* fmgrprotos.h declares SQL's json_object, which jansson.h defines too. */
#define json_object pg_json_object
#define json_typeof pg_json_typeof
#include "utils/builtins.h"
#undef json_object
#undef json_typeof
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include <jansson.h>

#include "dynamodb_client.h"
#include "dynamodb_codec.h"
#include "fdw.h"
#include "feature_store.h"

/* API limits of DynamoDB. */
#define DDB_BATCH_GET_MAX	100
#define DDB_BATCH_WRITE_MAX 25

/* fs_create_online_table: how often and how long to wait for ACTIVE. */
#define CREATE_POLL_MS		100
#define CREATE_TIMEOUT_MS	60000

/* Name of the row-identity junk column of UPDATE and DELETE. */
#define KEY_JUNK_NAME		"fs_key"

/* Default name of the event-time column (epoch-seconds encoding). */
#define DEFAULT_EVENT_TIME_COLUMN "event_time"

/*
 * Planner estimates: a Scan is a sequence of 1 MB pages, a key lookup one
 * round trip; decoding a JSON item is the per-row work.
 */
#define DDB_REQUEST_COST	25.0
#define DDB_ROW_COST		0.1
#define DDB_DEFAULT_ROWS	10000.0

/*-------------------------------------------------------------------------
 * Options
 *-------------------------------------------------------------------------
 */

typedef struct FsOption
{
	const char *name;
	Oid			catalog;
} FsOption;

static const FsOption valid_options[] = {
	{"endpoint", ForeignServerRelationId},
	{"region", ForeignServerRelationId},
	{"connect_timeout_ms", ForeignServerRelationId},
	{"request_timeout_ms", ForeignServerRelationId},
	{"max_retries", ForeignServerRelationId},
	{"max_connections", ForeignServerRelationId},
	{"consistent_read", ForeignServerRelationId},
	{"access_key_id", UserMappingRelationId},
	{"secret_access_key", UserMappingRelationId},
	{"session_token", UserMappingRelationId},
	{"table", ForeignTableRelationId},
	{"key", ForeignTableRelationId},
	{"event_time_column", ForeignTableRelationId},
	{"attribute", AttributeRelationId},
	{NULL, InvalidOid}
};

/*-------------------------------------------------------------------------
 * JSON holders
 *-------------------------------------------------------------------------
 */

/* References to jansson values, dropped when a memory context is reset. */
typedef struct FsJsonHold
{
	MemoryContextCallback cb;
	int			n;
	int			cap;
	json_t	  **refs;
} FsJsonHold;

/*-------------------------------------------------------------------------
 * Scan and modify state
 *-------------------------------------------------------------------------
 */

typedef enum FsAccess
{
	FS_ACCESS_SCAN,
	FS_ACCESS_BATCHGET
} FsAccess;

/* Indexes of the ForeignScan's fdw_private list. */
enum FsScanPrivate
{
	FS_PRIV_ACCESS,				/* Integer: FsAccess */
	FS_PRIV_TABLE,				/* String: the remote table */
	FS_PRIV_ATTNUMS,			/* List of Integer: the projected columns */
	FS_PRIV_NKEYS,				/* Integer: keys known at plan time, or -1 */
	FS_PRIV_KEY_ARRAY			/* Integer: 1 if the key expression is an array */
};

typedef struct FsScanState
{
	FsDdbTable *tbl;
	FsDdbEndpoint *ep;
	FsAccess	access;
	ExprState  *key_expr;		/* BatchGetItem: the key value(s) */
	bool		key_is_array;
	Oid			key_type;		/* type of one key value */
	int			nproj;
	AttrNumber *proj;			/* projected columns, in attnum order */
	json_t	   *names;			/* ExpressionAttributeNames of the projection */
	char	   *projection;		/* ProjectionExpression */
	FsJsonHold *keep;			/* holds 'names' for the scan's lifetime */

	MemoryContext batch_cxt;	/* the current fetch: responses, items */
	FsJsonHold *hold;			/* parsed responses of the current fetch */
	json_t	  **items;			/* borrowed from the held responses */
	int			nitems;
	int			maxitems;
	int			next;
	bool		fetched;		/* the keys were fetched / the Scan began */
	bool		scan_done;		/* Scan: no LastEvaluatedKey on the last page */
	json_t	   *start_key;		/* Scan: LastEvaluatedKey (in 'hold') */

	int64		requests;		/* for EXPLAIN ANALYZE */
	int64		retries;
	int64		throttles;
} FsScanState;

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

/* Key lookups: one cache entry per foreign table without a 'key' option. */
typedef struct FsKeyCacheEntry
{
	Oid			relid;			/* hash key */
	bool		valid;
	char	   *key_attr;		/* in CacheMemoryContext */
} FsKeyCacheEntry;

static HTAB *key_cache = NULL;

/* errcontext of remote calls */
typedef struct FsCallContext
{
	const char *table;
	const char *relname;
} FsCallContext;

PG_FUNCTION_INFO_V1(fs_dynamodb_handler);
PG_FUNCTION_INFO_V1(fs_dynamodb_validator);
PG_FUNCTION_INFO_V1(fs_create_online_table);

/* FDW callbacks */
static void fsGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid);
static void fsGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid);
static ForeignScan *fsGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel,
									 Oid foreigntableid, ForeignPath *best_path,
									 List *tlist, List *scan_clauses, Plan *outer_plan);
static void fsBeginForeignScan(ForeignScanState *node, int eflags);
static TupleTableSlot *fsIterateForeignScan(ForeignScanState *node);
static void fsReScanForeignScan(ForeignScanState *node);
static void fsEndForeignScan(ForeignScanState *node);
static void fsExplainForeignScan(ForeignScanState *node, ExplainState *es);
static void fsAddForeignUpdateTargets(PlannerInfo *root, Index rtindex,
									  RangeTblEntry *target_rte, Relation target_relation);
static List *fsPlanForeignModify(PlannerInfo *root, ModifyTable *plan,
								 Index resultRelation, int subplan_index);
static void fsBeginForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
								 List *fdw_private, int subplan_index, int eflags);
static TupleTableSlot *fsExecForeignInsert(EState *estate, ResultRelInfo *rinfo,
										   TupleTableSlot *slot, TupleTableSlot *planSlot);
static TupleTableSlot **fsExecForeignBatchInsert(EState *estate, ResultRelInfo *rinfo,
												 TupleTableSlot **slots,
												 TupleTableSlot **planSlots, int *numSlots);
static int	fsGetForeignModifyBatchSize(ResultRelInfo *rinfo);
static TupleTableSlot *fsExecForeignUpdate(EState *estate, ResultRelInfo *rinfo,
										   TupleTableSlot *slot, TupleTableSlot *planSlot);
static TupleTableSlot *fsExecForeignDelete(EState *estate, ResultRelInfo *rinfo,
										   TupleTableSlot *slot, TupleTableSlot *planSlot);
static void fsEndForeignModify(EState *estate, ResultRelInfo *rinfo);
static void fsBeginForeignInsert(ModifyTableState *mtstate, ResultRelInfo *rinfo);
static void fsEndForeignInsert(EState *estate, ResultRelInfo *rinfo);
static void fsExplainForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
								   List *fdw_private, int subplan_index,
								   struct ExplainState *es);

static void raise_call(FsDdbCall *call, const char *table) pg_attribute_noreturn();
static void bad_shape(FsDdbCall *call, const char *table, const char *what) pg_attribute_noreturn();

/*-------------------------------------------------------------------------
 * Small helpers
 *-------------------------------------------------------------------------
 */

/* Reset callback: drop every held reference. */
static void
json_hold_release(void *arg)
{
	FsJsonHold *h = (FsJsonHold *) arg;

	for (int i = 0; i < h->n; i++)
		json_decref(h->refs[i]);
	h->n = 0;
}

/* A holder whose references are dropped when cxt is reset or deleted. */
static FsJsonHold *
json_hold_create(MemoryContext cxt)
{
	FsJsonHold *h = MemoryContextAllocZero(cxt, sizeof(FsJsonHold));

	h->cap = 8;
	h->refs = MemoryContextAlloc(cxt, sizeof(json_t *) * h->cap);
	h->cb.func = json_hold_release;
	h->cb.arg = h;
	MemoryContextRegisterResetCallback(cxt, &h->cb);
	return h;
}

/* Hand a new reference to the holder; returns it for convenience. */
static json_t *
json_hold(FsJsonHold *h, json_t *j)
{
	if (j == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory building a DynamoDB request")));
	if (h->n == h->cap)
	{
		/* Keep the reference even if enlarging fails. */
		json_t	  **refs;

		PG_TRY();
		{
			refs = repalloc(h->refs, sizeof(json_t *) * h->cap * 2);
		}
		PG_CATCH();
		{
			json_decref(j);
			PG_RE_THROW();
		}
		PG_END_TRY();
		h->refs = refs;
		h->cap *= 2;
	}
	h->refs[h->n++] = j;
	return j;
}

/* A new object, held. */
static json_t *
held_object(FsJsonHold *h)
{
	return json_hold(h, fs_json_object());
}

/* Set key to a new reference, failing loudly (jansson only fails on OOM). */
static void
obj_set_new(json_t *obj, const char *key, json_t *value)
{
	if (value == NULL || json_object_set_new(obj, key, value) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory building a DynamoDB request")));
}

/* Append a new reference to an array. */
static void
arr_append_new(json_t *arr, json_t *value)
{
	if (value == NULL || json_array_append_new(arr, value) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory building a DynamoDB request")));
}

/* A JSON value as a palloc'd compact string (measured, then written). */
static char *
json_to_cstring(json_t *j, size_t flags)
{
	size_t		len = json_dumpb(j, NULL, 0, JSON_COMPACT | flags);
	char	   *result;

	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not serialise a DynamoDB request")));
	result = palloc(len + 1);
	if (json_dumpb(j, result, len, JSON_COMPACT | flags) != len)
		elog(ERROR, "could not serialise a DynamoDB request");
	result[len] = '\0';
	return result;
}

/* A call of operation with body, allocated in the current context. */
static FsDdbCall *
new_call(const char *operation, json_t *body)
{
	FsDdbCall  *call = palloc0(sizeof(FsDdbCall));

	call->operation = operation;
	call->body = json_to_cstring(body, 0);
	call->body_len = strlen(call->body);
	return call;
}

/* Parse a successful call's response as a JSON object, held. */
static json_t *
parse_response(FsJsonHold *h, FsDdbCall *call, const char *table)
{
	json_error_t err;
	json_t	   *root;

	if (call->response == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("invalid %s response from DynamoDB for table \"%s\": empty body",
						call->operation, table)));
	root = json_loadb(call->response, call->response_len, 0, &err);
	if (root == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("invalid %s response from DynamoDB for table \"%s\": not JSON",
						call->operation, table),
				 errdetail("%s at byte %d.", err.text, err.position)));
	json_hold(h, root);
	if (!json_is_object(root))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("invalid %s response from DynamoDB for table \"%s\": not an object",
						call->operation, table)));
	return root;
}

/* A malformed response: name what is wrong. */
static void
bad_shape(FsDdbCall *call, const char *table, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
			 errmsg("invalid %s response from DynamoDB for table \"%s\": %s",
					call->operation, table, what)));
}

/* errcontext callback naming the remote table. */
static void
call_context_cb(void *arg)
{
	FsCallContext *c = (FsCallContext *) arg;

	if (c->relname)
		errcontext("remote table \"%s\" of foreign table \"%s\"", c->table, c->relname);
	else
		errcontext("remote table \"%s\"", c->table);
}

/*
 * Raise a failed call.  A missing table gets its own message; everything
 * else is the client's (which carries the store's error type and message).
 */
static void
raise_call(FsDdbCall *call, const char *table)
{
	if (call->error_type && strcmp(call->error_type, "ResourceNotFoundException") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
				 errmsg("remote table \"%s\" does not exist", table),
				 errdetail("DynamoDB %s: %s", call->operation,
						   call->error_message ? call->error_message : "ResourceNotFoundException"),
				 errhint("Create it with fs_create_online_table(), or set the foreign table's option \"table\".")));
	fs_ddb_raise(call);
}

/* Run calls, raising the first failure. */
static void
run_calls(FsDdbEndpoint *ep, FsDdbCall **calls, int ncalls, const char *table)
{
	fs_ddb_run(ep, calls, ncalls);
	for (int i = 0; i < ncalls; i++)
		if (calls[i]->status != FS_DDB_OK)
			raise_call(calls[i], table);
}

/* The value of an integer option, checked. */
static int
option_int(DefElem *def, int min)
{
	char	   *s = defGetString(def);
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || v < min || v > INT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", def->defname, s),
				 errhint("The value must be an integer of at least %d.", min)));
	return (int) v;
}

/* Whether typid is a type whose values can be a partition key of kind S, N or B. */
static char
key_kind(Oid typid)
{
	switch (getBaseType(typid))
	{
		case TEXTOID:
		case VARCHAROID:
			return 'S';
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case NUMERICOID:
			return 'N';
		case BYTEAOID:
			return 'B';
		default:
			return '\0';
	}
}

/*-------------------------------------------------------------------------
 * Validator
 *-------------------------------------------------------------------------
 */

/* Check the options of one catalog object. */
Datum
fs_dynamodb_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		const FsOption *opt;
		bool		found = false;

		for (opt = valid_options; opt->name; opt++)
			if (opt->catalog == catalog && strcmp(opt->name, def->defname) == 0)
				found = true;

		if (!found)
		{
			StringInfoData buf;

			initStringInfo(&buf);
			for (opt = valid_options; opt->name; opt++)
				if (opt->catalog == catalog)
					appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "", opt->name);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\"", def->defname),
					 buf.len > 0
					 ? errhint("Valid options in this context are: %s.", buf.data)
					 : errhint("There are no valid options in this context.")));
		}

		if (strcmp(def->defname, "endpoint") == 0)
		{
			char	   *s = defGetString(def);

			if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
						 errmsg("invalid value for option \"endpoint\": \"%s\"", s),
						 errhint("The endpoint is a URL beginning with http:// or https://.")));
		}
		else if (strcmp(def->defname, "max_retries") == 0)
			(void) option_int(def, 0);
		else if (strcmp(def->defname, "connect_timeout_ms") == 0 ||
				 strcmp(def->defname, "request_timeout_ms") == 0 ||
				 strcmp(def->defname, "max_connections") == 0)
			(void) option_int(def, 1);
		else if (strcmp(def->defname, "consistent_read") == 0)
			(void) defGetBoolean(def);
		else if (strcmp(def->defname, "region") == 0 ||
				 strcmp(def->defname, "table") == 0 ||
				 strcmp(def->defname, "key") == 0 ||
				 strcmp(def->defname, "event_time_column") == 0 ||
				 strcmp(def->defname, "attribute") == 0 ||
				 strcmp(def->defname, "access_key_id") == 0 ||
				 strcmp(def->defname, "secret_access_key") == 0)
		{
			if (defGetString(def)[0] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
						 errmsg("option \"%s\" must not be empty", def->defname)));
		}
	}

	PG_RETURN_VOID();
}

/*-------------------------------------------------------------------------
 * Endpoints and tables
 *-------------------------------------------------------------------------
 */

/* The endpoint of a server as seen by a user. */
FsDdbEndpoint *
fs_ddb_endpoint(Oid serverid, Oid userid)
{
	ForeignServer *server = GetForeignServer(serverid);
	FsDdbEndpoint *ep = palloc0(sizeof(FsDdbEndpoint));
	ListCell   *lc;

	ep->region = "us-east-1";
	ep->connect_timeout_ms = fs_connect_timeout_ms;
	ep->request_timeout_ms = fs_request_timeout_ms;
	ep->max_retries = fs_max_retries;
	ep->max_connections = fs_max_connections;
	ep->consistent_read = false;

	foreach(lc, server->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "endpoint") == 0)
			ep->endpoint = defGetString(def);
		else if (strcmp(def->defname, "region") == 0)
			ep->region = defGetString(def);
		else if (strcmp(def->defname, "connect_timeout_ms") == 0)
			ep->connect_timeout_ms = option_int(def, 1);
		else if (strcmp(def->defname, "request_timeout_ms") == 0)
			ep->request_timeout_ms = option_int(def, 1);
		else if (strcmp(def->defname, "max_retries") == 0)
			ep->max_retries = option_int(def, 0);
		else if (strcmp(def->defname, "max_connections") == 0)
			ep->max_connections = option_int(def, 1);
		else if (strcmp(def->defname, "consistent_read") == 0)
			ep->consistent_read = defGetBoolean(def);
	}
	if (ep->endpoint == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("server \"%s\" has no endpoint", server->servername),
				 errhint("Set it with ALTER SERVER %s OPTIONS (ADD endpoint 'http://host:port').",
						 quote_identifier(server->servername))));

	/* Credentials: the user's mapping, else PUBLIC's, else unsigned requests. */
	if (SearchSysCacheExists2(USERMAPPINGUSERSERVER,
							  ObjectIdGetDatum(userid), ObjectIdGetDatum(serverid)) ||
		SearchSysCacheExists2(USERMAPPINGUSERSERVER,
							  ObjectIdGetDatum(InvalidOid), ObjectIdGetDatum(serverid)))
	{
		UserMapping *um = GetUserMapping(userid, serverid);

		foreach(lc, um->options)
		{
			DefElem    *def = (DefElem *) lfirst(lc);

			if (strcmp(def->defname, "access_key_id") == 0)
				ep->access_key_id = defGetString(def);
			else if (strcmp(def->defname, "secret_access_key") == 0)
				ep->secret_access_key = defGetString(def);
			else if (strcmp(def->defname, "session_token") == 0)
				ep->session_token = defGetString(def);
		}
		if ((ep->access_key_id == NULL) != (ep->secret_access_key == NULL))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("user mapping for server \"%s\" has %s but no %s",
							server->servername,
							ep->access_key_id ? "access_key_id" : "secret_access_key",
							ep->access_key_id ? "secret_access_key" : "access_key_id")));
	}
	return ep;
}

/* Relcache callback: forget the key of a foreign table that changed. */
static void
key_cache_relcache_cb(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	FsKeyCacheEntry *entry;

	if (key_cache == NULL)
		return;
	if (OidIsValid(relid))
	{
		entry = hash_search(key_cache, &relid, HASH_FIND, NULL);
		if (entry)
			entry->valid = false;
		return;
	}
	hash_seq_init(&status, key_cache);
	while ((entry = hash_seq_search(&status)) != NULL)
		entry->valid = false;
}

/* Syscache callback: a server changed, so any cached key may be stale. */
static void
key_cache_syscache_cb(Datum arg, int cacheid, uint32 hashvalue)
{
	key_cache_relcache_cb(arg, InvalidOid);
}

/* The cache entry of relid, created (invalid) if new. */
static FsKeyCacheEntry *
key_cache_entry(Oid relid)
{
	FsKeyCacheEntry *entry;
	bool		found;

	if (key_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(FsKeyCacheEntry);
		ctl.hcxt = CacheMemoryContext;
		key_cache = hash_create("fs_dynamodb keys", 32, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		CacheRegisterRelcacheCallback(key_cache_relcache_cb, (Datum) 0);
		CacheRegisterSyscacheCallback(FOREIGNSERVEROID, key_cache_syscache_cb, (Datum) 0);
	}
	entry = hash_search(key_cache, &relid, HASH_ENTER, &found);
	if (!found)
	{
		entry->valid = false;
		entry->key_attr = NULL;
	}
	return entry;
}

/*
 * The partition key of a remote table, from DescribeTable.  Returns the
 * parsed response too (held by h) if 'root' is not NULL.
 */
static char *
describe_key(FsDdbEndpoint *ep, const char *table, FsJsonHold *h)
{
	json_t	   *body = held_object(h);
	json_t	   *root;
	json_t	   *schema;
	FsDdbCall  *call;
	size_t		i;
	json_t	   *elem;

	obj_set_new(body, "TableName", json_string(table));
	call = new_call("DescribeTable", body);
	run_calls(ep, &call, 1, table);
	root = parse_response(h, call, table);
	schema = json_object_get(json_object_get(root, "Table"), "KeySchema");
	if (!json_is_array(schema))
		bad_shape(call, table, "\"Table\".\"KeySchema\" is not an array");
	json_array_foreach(schema, i, elem)
	{
		const char *type = json_string_value(json_object_get(elem, "KeyType"));
		const char *name = json_string_value(json_object_get(elem, "AttributeName"));

		if (type && name && strcmp(type, "HASH") == 0)
			return pstrdup(name);
	}
	bad_shape(call, table, "\"KeySchema\" has no HASH key");
}

/* A foreign table's options and attribute names, without the key. */
static FsDdbTable *
table_options(Relation rel, char **event_time_column)
{
	ForeignTable *ft = GetForeignTable(RelationGetRelid(rel));
	TupleDesc	desc = RelationGetDescr(rel);
	FsDdbTable *tbl = palloc0(sizeof(FsDdbTable));
	ListCell   *lc;

	tbl->relid = RelationGetRelid(rel);
	tbl->serverid = ft->serverid;
	tbl->table = pstrdup(RelationGetRelationName(rel));
	*event_time_column = DEFAULT_EVENT_TIME_COLUMN;
	foreach(lc, ft->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "table") == 0)
			tbl->table = defGetString(def);
		else if (strcmp(def->defname, "key") == 0)
			tbl->key_attr = defGetString(def);
		else if (strcmp(def->defname, "event_time_column") == 0)
			*event_time_column = defGetString(def);
	}

	tbl->natts = desc->natts;
	tbl->attr_names = palloc0(sizeof(char *) * Max(desc->natts, 1));
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		tbl->attr_names[i] = pstrdup(NameStr(att->attname));
		foreach(lc, GetForeignColumnOptions(tbl->relid, att->attnum))
		{
			DefElem    *def = (DefElem *) lfirst(lc);

			if (strcmp(def->defname, "attribute") == 0)
				tbl->attr_names[i] = defGetString(def);
		}
	}
	return tbl;
}

/* The event-time column of a table: a timestamptz column named so. */
static AttrNumber
event_time_attnum(Relation rel, const char *column)
{
	TupleDesc	desc = RelationGetDescr(rel);

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), column) == 0 &&
			getBaseType(att->atttypid) == TIMESTAMPTZOID)
			return att->attnum;
	}
	return InvalidAttrNumber;
}

/* A foreign table's remote table, key and attribute names. */
FsDdbTable *
fs_ddb_table(Relation rel)
{
	char	   *event_time_column;
	FsDdbTable *tbl = table_options(rel, &event_time_column);

	tbl->event_time_attnum = event_time_attnum(rel, event_time_column);

	if (tbl->key_attr == NULL)
	{
		FsKeyCacheEntry *entry = key_cache_entry(tbl->relid);

		if (!entry->valid)
		{
			MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
													  "fs_dynamodb DescribeTable",
													  ALLOCSET_SMALL_SIZES);
			MemoryContext old = MemoryContextSwitchTo(cxt);
			FsCallContext cc = {tbl->table, RelationGetRelationName(rel)};
			ErrorContextCallback errcb;
			char	   *key;

			errcb.callback = call_context_cb;
			errcb.arg = &cc;
			errcb.previous = error_context_stack;
			error_context_stack = &errcb;

			key = describe_key(fs_ddb_endpoint(tbl->serverid, GetUserId()),
							   tbl->table, json_hold_create(cxt));

			error_context_stack = errcb.previous;
			MemoryContextSwitchTo(old);

			/* The entry may have been invalidated meanwhile; we are newer. */
			if (entry->key_attr)
				pfree(entry->key_attr);
			entry->key_attr = MemoryContextStrdup(CacheMemoryContext, key);
			entry->valid = true;
			MemoryContextDelete(cxt);
		}
		tbl->key_attr = pstrdup(entry->key_attr);
	}

	for (int i = 0; i < tbl->natts; i++)
		if (tbl->attr_names[i] && strcmp(tbl->attr_names[i], tbl->key_attr) == 0)
		{
			tbl->key_attnum = i + 1;
			break;
		}
	if (tbl->key_attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
				 errmsg("foreign table \"%s\" has no column for the key attribute \"%s\" of remote table \"%s\"",
						RelationGetRelationName(rel), tbl->key_attr, tbl->table),
				 errhint("Add a column named \"%s\", or set a column's option \"attribute\" to it.",
						 tbl->key_attr)));
	return tbl;
}

/*-------------------------------------------------------------------------
 * Planning
 *-------------------------------------------------------------------------
 */

/* What the planner keeps of a foreign table between callbacks. */
typedef struct FsPlanInfo
{
	FsDdbTable *tbl;
	Oid			key_collation;
} FsPlanInfo;

/* The key column under any RelabelType, or NULL. */
static bool
is_key_var(Node *node, RelOptInfo *baserel, FsPlanInfo *pi)
{
	while (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	return node && IsA(node, Var) &&
		((Var *) node)->varno == baserel->relid &&
		((Var *) node)->varattno == pi->tbl->key_attnum &&
		((Var *) node)->varlevelsup == 0;
}

/* Whether opno is an equality that means key equality in the store. */
static bool
is_key_equality(Oid opno, Oid inputcollid, Oid lefttype, Oid righttype)
{
	char	   *name = get_opname(opno);

	if (name == NULL || strcmp(name, "=") != 0)
		return false;
	if (!op_mergejoinable(opno, lefttype) && !op_hashjoinable(opno, lefttype))
		return false;
	if (key_kind(lefttype) == '\0' || key_kind(righttype) == '\0' ||
		key_kind(lefttype) != key_kind(righttype))
		return false;
	if (OidIsValid(inputcollid) && !get_collation_isdeterministic(inputcollid))
		return false;
	return true;
}

/*
 * If clause restricts the key to values computable before the scan, return
 * the value expression (*is_array for "= ANY").
 */
static Expr *
key_clause_value(PlannerInfo *root, RelOptInfo *baserel, FsPlanInfo *pi,
				 Expr *clause, bool *is_array)
{
	Expr	   *value = NULL;

	if (IsA(clause, OpExpr))
	{
		OpExpr	   *op = (OpExpr *) clause;
		Node	   *l,
				   *r;

		if (list_length(op->args) != 2)
			return NULL;
		l = linitial(op->args);
		r = lsecond(op->args);
		if (is_key_var(l, baserel, pi))
			value = (Expr *) r;
		else if (is_key_var(r, baserel, pi))
			value = (Expr *) l;
		else
			return NULL;
		if (!is_key_equality(op->opno, op->inputcollid,
							 exprType(l), exprType(r)))
			return NULL;
		*is_array = false;
	}
	else if (IsA(clause, ScalarArrayOpExpr))
	{
		ScalarArrayOpExpr *sa = (ScalarArrayOpExpr *) clause;
		Oid			elemtype;

		if (!sa->useOr || list_length(sa->args) != 2 ||
			!is_key_var(linitial(sa->args), baserel, pi))
			return NULL;
		value = (Expr *) lsecond(sa->args);
		elemtype = get_base_element_type(exprType((Node *) value));
		if (!OidIsValid(elemtype) ||
			!is_key_equality(sa->opno, sa->inputcollid,
							 exprType(linitial(sa->args)), elemtype))
			return NULL;
		*is_array = true;
	}
	else
		return NULL;

	if (bms_is_member(baserel->relid, pull_varnos(root, (Node *) value)) ||
		contain_volatile_functions((Node *) value) ||
		contain_subplans((Node *) value))
		return NULL;
	return value;
}

/* Find the first key clause among restrictinfos. */
static Expr *
find_key_clause(PlannerInfo *root, RelOptInfo *baserel, FsPlanInfo *pi,
				List *rinfos, bool *is_array)
{
	ListCell   *lc;

	foreach(lc, rinfos)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		Expr	   *value;

		if (ri->pseudoconstant)
			continue;
		value = key_clause_value(root, baserel, pi, ri->clause, is_array);
		if (value)
			return value;
	}
	return NULL;
}

/* Keys known at plan time: the number of non-null values, else -1. */
static int
known_keys(Expr *value, bool is_array)
{
	if (!is_array)
	{
		if (IsA(value, Const) && ((Const *) value)->constisnull)
			return 0;
		return 1;
	}
	if (IsA(value, Const))
	{
		Const	   *c = (Const *) value;
		ArrayType  *arr;
		Datum	   *elems;
		bool	   *nulls;
		int			n,
					count = 0;
		int16		typlen;
		bool		typbyval;
		char		typalign;

		if (c->constisnull)
			return 0;
		arr = DatumGetArrayTypeP(c->constvalue);
		get_typlenbyvalalign(ARR_ELEMTYPE(arr), &typlen, &typbyval, &typalign);
		deconstruct_array(arr, ARR_ELEMTYPE(arr), typlen, typbyval, typalign,
						  &elems, &nulls, &n);
		for (int i = 0; i < n; i++)
			if (!nulls[i])
				count++;
		return count;
	}
	if (IsA(value, ArrayExpr))
		return list_length(((ArrayExpr *) value)->elements);
	return -1;
}

/* EquivalenceClass member callback: the key column of this rel. */
static bool
ec_member_is_key(PlannerInfo *root, RelOptInfo *rel, EquivalenceClass *ec,
				 EquivalenceMember *em, void *arg)
{
	return is_key_var((Node *) em->em_expr, rel, (FsPlanInfo *) arg);
}

/* Estimate rows: keys for lookups, a default for Scans. */
static void
fsGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	FsPlanInfo *pi = palloc0(sizeof(FsPlanInfo));
	Relation	rel = table_open(foreigntableid, NoLock);
	bool		is_array;
	Expr	   *value;
	double		rows;

	pi->tbl = fs_ddb_table(rel);
	table_close(rel, NoLock);
	baserel->fdw_private = pi;

	value = find_key_clause(root, baserel, pi, baserel->baserestrictinfo, &is_array);
	if (value)
	{
		int			n = known_keys(value, is_array);

		rows = n >= 0 ? n : 10;
	}
	else
	{
		rows = baserel->tuples > 0 ? baserel->tuples : DDB_DEFAULT_ROWS;
		rows *= clauselist_selectivity(root, baserel->baserestrictinfo, 0,
									   JOIN_INNER, NULL);
	}
	baserel->rows = clamp_row_est(rows);
}

/* Paths: a lookup or a Scan, plus lookups parameterized by join clauses. */
static void
fsGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	FsPlanInfo *pi = (FsPlanInfo *) baserel->fdw_private;
	bool		is_array;
	Expr	   *value;
	Cost		total;
	List	   *candidates = NIL;
	ListCell   *lc;

	value = find_key_clause(root, baserel, pi, baserel->baserestrictinfo, &is_array);
	if (value)
		total = DDB_REQUEST_COST + baserel->rows * DDB_ROW_COST;
	else
		total = DDB_REQUEST_COST * (1 + (baserel->tuples > 0 ? baserel->tuples : DDB_DEFAULT_ROWS) / 1000) +
			(baserel->tuples > 0 ? baserel->tuples : DDB_DEFAULT_ROWS) * DDB_ROW_COST;
	add_path(baserel, (Path *)
			 create_foreignscan_path(root, baserel, NULL, baserel->rows,
									 DDB_REQUEST_COST, total, NIL,
									 baserel->lateral_relids, NULL, NIL));

	/* Join clauses on the key make lookups parameterized by other rels. */
	foreach(lc, baserel->joininfo)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);

		if (join_clause_is_movable_to(ri, baserel) &&
			key_clause_value(root, baserel, pi, ri->clause, &is_array))
			candidates = lappend(candidates, ri);
	}
	if (baserel->has_eclass_joins)
		candidates = list_concat(candidates,
								 generate_implied_equalities_for_column(root, baserel,
																		ec_member_is_key,
																		pi,
																		baserel->lateral_referencers));

	foreach(lc, candidates)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		Relids		required_outer;
		ParamPathInfo *ppi;

		if (!join_clause_is_movable_to(ri, baserel))
			continue;
		required_outer = bms_union(ri->clause_relids, baserel->lateral_relids);
		required_outer = bms_del_member(required_outer, baserel->relid);
		if (bms_is_empty(required_outer))
			continue;
		ppi = get_baserel_parampathinfo(root, baserel, required_outer);
		add_path(baserel, (Path *)
				 create_foreignscan_path(root, baserel, NULL, ppi->ppi_rows,
										 DDB_REQUEST_COST,
										 DDB_REQUEST_COST + ppi->ppi_rows * DDB_ROW_COST,
										 NIL, required_outer, NULL, NIL));
	}
}

/* The plan: BatchGetItem if a key clause is at hand, else Scan. */
static ForeignScan *
fsGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
				 ForeignPath *best_path, List *tlist, List *scan_clauses,
				 Plan *outer_plan)
{
	FsPlanInfo *pi = (FsPlanInfo *) baserel->fdw_private;
	FsDdbTable *tbl = pi->tbl;
	List	   *local_quals = extract_actual_clauses(scan_clauses, false);
	Bitmapset  *attrs = NULL;
	List	   *attnums = NIL;
	List	   *fdw_exprs = NIL;
	FsAccess	access = FS_ACCESS_SCAN;
	int			nkeys = -1;
	bool		is_array = false;
	Expr	   *value;
	ListCell   *lc;
	bool		whole_row;

	value = find_key_clause(root, baserel, pi, scan_clauses, &is_array);
	if (value)
	{
		access = FS_ACCESS_BATCHGET;
		nkeys = known_keys(value, is_array);
		fdw_exprs = list_make1(value);
	}

	/* Columns needed above the scan and by the local quals; the key always. */
	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid, &attrs);
	foreach(lc, local_quals)
		pull_varattnos((Node *) lfirst(lc), baserel->relid, &attrs);
	whole_row = bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, attrs);
	for (int i = 1; i <= tbl->natts; i++)
	{
		if (tbl->attr_names[i - 1] == NULL)
			continue;
		if (whole_row || i == tbl->key_attnum ||
			bms_is_member(i - FirstLowInvalidHeapAttributeNumber, attrs))
			attnums = lappend_int(attnums, i);
	}

	return make_foreignscan(tlist, local_quals, baserel->relid, fdw_exprs,
							list_make5(makeInteger(access),
									   makeString(tbl->table),
									   attnums,
									   makeInteger(nkeys),
									   makeInteger(is_array ? 1 : 0)),
							NIL, NIL, outer_plan);
}

/*-------------------------------------------------------------------------
 * Scanning
 *-------------------------------------------------------------------------
 */

/* Set up the scan; nothing is sent before the first row is asked for. */
static void
fsBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	Relation	rel = node->ss.ss_currentRelation;
	RangeTblEntry *rte;
	Oid			userid;
	FsScanState *st;
	List	   *attnums;
	ListCell   *lc;
	StringInfoData proj;
	int			i;

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	st = palloc0(sizeof(FsScanState));
	node->fdw_state = st;

	rte = exec_rt_fetch(plan->scan.scanrelid, estate);
	userid = OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
	st->tbl = fs_ddb_table(rel);
	st->ep = fs_ddb_endpoint(st->tbl->serverid, userid);
	st->access = (FsAccess) intVal(list_nth(plan->fdw_private, FS_PRIV_ACCESS));
	st->key_is_array = intVal(list_nth(plan->fdw_private, FS_PRIV_KEY_ARRAY)) != 0;
	if (st->access == FS_ACCESS_BATCHGET)
	{
		Expr	   *value = (Expr *) linitial(plan->fdw_exprs);

		st->key_expr = ExecInitExpr(value, (PlanState *) node);
		st->key_type = exprType((Node *) value);
		if (st->key_is_array)
			st->key_type = get_base_element_type(st->key_type);
	}

	/* The projection: #a0, #a1, ... so reserved words are no trouble. */
	attnums = (List *) list_nth(plan->fdw_private, FS_PRIV_ATTNUMS);
	st->nproj = list_length(attnums);
	st->proj = palloc(sizeof(AttrNumber) * Max(st->nproj, 1));
	st->keep = json_hold_create(CurrentMemoryContext);
	st->names = held_object(st->keep);
	initStringInfo(&proj);
	i = 0;
	foreach(lc, attnums)
	{
		AttrNumber	attnum = lfirst_int(lc);
		char		alias[16];

		st->proj[i] = attnum;
		snprintf(alias, sizeof(alias), "#a%d", i);
		obj_set_new(st->names, alias, json_string(st->tbl->attr_names[attnum - 1]));
		appendStringInfo(&proj, "%s%s", i > 0 ? ", " : "", alias);
		i++;
	}
	st->projection = proj.data;

	st->batch_cxt = AllocSetContextCreate(estate->es_query_cxt,
										  "fs_dynamodb scan",
										  ALLOCSET_DEFAULT_SIZES);
}

/* Drop the previous fetch and start a new one. */
static void
scan_reset_batch(FsScanState *st)
{
	MemoryContextReset(st->batch_cxt);
	st->hold = json_hold_create(st->batch_cxt);
	st->maxitems = 64;
	st->items = MemoryContextAlloc(st->batch_cxt, sizeof(json_t *) * st->maxitems);
	st->nitems = 0;
	st->next = 0;
	st->start_key = NULL;
}

/* Add items (an array of objects) to the scan's items. */
static void
scan_add_items(FsScanState *st, FsDdbCall *call, json_t *items, const char *what)
{
	size_t		i;
	json_t	   *item;

	if (items == NULL)
		return;
	if (!json_is_array(items))
		bad_shape(call, st->tbl->table, psprintf("%s is not an array", what));
	json_array_foreach(items, i, item)
	{
		if (!json_is_object(item))
			bad_shape(call, st->tbl->table, psprintf("an item of %s is not an object", what));
		if (st->nitems == st->maxitems)
		{
			st->maxitems *= 2;
			st->items = repalloc(st->items, sizeof(json_t *) * st->maxitems);
		}
		st->items[st->nitems++] = item;
	}
}

/* Send calls and count requests, retries and throttles for EXPLAIN ANALYZE. */
static void
scan_run(FsScanState *st, FsDdbCall **calls, int ncalls)
{
	FsDdbStats	before = fs_ddb_stats;

	fs_ddb_run(st->ep, calls, ncalls);
	st->requests += fs_ddb_stats.requests - before.requests;
	st->retries += fs_ddb_stats.retries - before.retries;
	st->throttles += fs_ddb_stats.throttles - before.throttles;
	for (int i = 0; i < ncalls; i++)
		if (calls[i]->status != FS_DDB_OK)
			raise_call(calls[i], st->tbl->table);
}

/* A held key-value AttributeValue for the key column, or NULL for NULL. */
static json_t *
encode_key(FsJsonHold *h, FsDdbTable *tbl, Datum value, bool isnull, Oid typid)
{
	json_t	   *av;

	if (isnull)
		return NULL;
	av = fs_ddb_encode(value, typid, false, tbl->attr_names[tbl->key_attnum - 1], NULL);
	return av ? json_hold(h, av) : NULL;
}

/* A key AttributeValue with its canonical text, for deduplication. */
typedef struct FsKey
{
	json_t	   *av;
	char	   *text;
} FsKey;

static int
fskey_cmp(const void *a, const void *b)
{
	return strcmp(((const FsKey *) a)->text, ((const FsKey *) b)->text);
}

/* Evaluate the key expression: distinct, non-null key AttributeValues. */
static FsKey *
scan_eval_keys(ForeignScanState *node, FsScanState *st, int *nkeys)
{
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	MemoryContext old;
	Datum		value;
	bool		isnull;
	FsKey	   *keys;
	int			n = 0;

	old = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
	value = ExecEvalExpr(st->key_expr, econtext, &isnull);
	MemoryContextSwitchTo(st->batch_cxt);

	if (isnull)
		keys = palloc(sizeof(FsKey));
	else if (!st->key_is_array)
	{
		keys = palloc(sizeof(FsKey));
		keys[n++].av = encode_key(st->hold, st->tbl, value, false, st->key_type);
	}
	else
	{
		ArrayType  *arr = DatumGetArrayTypeP(value);
		Datum	   *elems;
		bool	   *nulls;
		int			nelems;
		int16		typlen;
		bool		typbyval;
		char		typalign;

		get_typlenbyvalalign(ARR_ELEMTYPE(arr), &typlen, &typbyval, &typalign);
		deconstruct_array(arr, ARR_ELEMTYPE(arr), typlen, typbyval, typalign,
						  &elems, &nulls, &nelems);
		keys = palloc(sizeof(FsKey) * Max(nelems, 1));
		for (int i = 0; i < nelems; i++)
			if (!nulls[i])
				keys[n++].av = encode_key(st->hold, st->tbl, elems[i], false, st->key_type);
	}

	/* Duplicate keys are a ValidationException: send each once. */
	for (int i = 0; i < n; i++)
		keys[i].text = json_to_cstring(keys[i].av, JSON_SORT_KEYS);
	if (n > 1)
	{
		int			m = 1;

		qsort(keys, n, sizeof(FsKey), fskey_cmp);
		for (int i = 1; i < n; i++)
			if (strcmp(keys[i].text, keys[m - 1].text) != 0)
				keys[m++] = keys[i];
		n = m;
	}
	MemoryContextSwitchTo(old);
	*nkeys = n;
	return keys;
}

/* A BatchGetItem call of keys[from .. from + n - 1]. */
static FsDdbCall *
batch_get_call(FsScanState *st, FsKey *keys, int from, int n)
{
	json_t	   *body = held_object(st->hold);
	json_t	   *items = fs_json_object();
	json_t	   *kaa = fs_json_object();
	json_t	   *list = json_array();

	obj_set_new(body, "RequestItems", items);
	obj_set_new(items, st->tbl->table, kaa);
	obj_set_new(kaa, "Keys", list);
	for (int i = from; i < from + n; i++)
	{
		json_t	   *key = fs_json_object();

		arr_append_new(list, key);
		if (json_object_set(key, st->tbl->key_attr, keys[i].av) != 0)
			elog(ERROR, "out of memory building a DynamoDB request");
	}
	obj_set_new(kaa, "ProjectionExpression", json_string(st->projection));
	obj_set_new(kaa, "ExpressionAttributeNames", json_incref(st->names));
	obj_set_new(kaa, "ConsistentRead", json_boolean(st->ep->consistent_read));
	return new_call("BatchGetItem", body);
}

/*
 * A BatchGetItem call of unprocessed keys.  The request is rebuilt rather
 * than taken from UnprocessedKeys: some stores (dynalite) drop the
 * ProjectionExpression there.
 */
static FsDdbCall *
batch_get_retry(FsScanState *st, json_t *keys)
{
	json_t	   *body = held_object(st->hold);
	json_t	   *items = fs_json_object();
	json_t	   *kaa = fs_json_object();

	obj_set_new(body, "RequestItems", items);
	obj_set_new(items, st->tbl->table, kaa);
	obj_set_new(kaa, "Keys", json_incref(keys));
	obj_set_new(kaa, "ProjectionExpression", json_string(st->projection));
	obj_set_new(kaa, "ExpressionAttributeNames", json_incref(st->names));
	obj_set_new(kaa, "ConsistentRead", json_boolean(st->ep->consistent_read));
	return new_call("BatchGetItem", body);
}

/*
 * Fetch every key: one concurrent wave of BatchGetItem calls, then rounds
 * of UnprocessedKeys with backoff until all are answered.
 */
static void
scan_batch_get(ForeignScanState *node, FsScanState *st)
{
	MemoryContext old;
	FsKey	   *keys;
	int			nkeys;
	int			ncalls;
	FsDdbCall **calls;
	int			round = 0;

	scan_reset_batch(st);
	keys = scan_eval_keys(node, st, &nkeys);
	if (nkeys == 0)
		return;

	old = MemoryContextSwitchTo(st->batch_cxt);
	ncalls = (nkeys + DDB_BATCH_GET_MAX - 1) / DDB_BATCH_GET_MAX;
	calls = palloc(sizeof(FsDdbCall *) * ncalls);
	for (int i = 0; i < ncalls; i++)
		calls[i] = batch_get_call(st, keys, i * DDB_BATCH_GET_MAX,
								  Min(DDB_BATCH_GET_MAX, nkeys - i * DDB_BATCH_GET_MAX));

	for (;;)
	{
		int			npending = 0;
		int			unanswered = 0;
		FsDdbCall **pending = palloc(sizeof(FsDdbCall *) * ncalls);

		scan_run(st, calls, ncalls);
		for (int i = 0; i < ncalls; i++)
		{
			json_t	   *root = parse_response(st->hold, calls[i], st->tbl->table);
			json_t	   *responses = json_object_get(root, "Responses");
			json_t	   *unprocessed = json_object_get(root, "UnprocessedKeys");
			json_t	   *mine;

			if (!json_is_object(responses))
				bad_shape(calls[i], st->tbl->table, "\"Responses\" is not an object");
			scan_add_items(st, calls[i], json_object_get(responses, st->tbl->table),
						   "\"Responses\"");

			if (unprocessed == NULL || json_is_null(unprocessed))
				continue;
			if (!json_is_object(unprocessed))
				bad_shape(calls[i], st->tbl->table, "\"UnprocessedKeys\" is not an object");
			mine = json_object_get(unprocessed, st->tbl->table);
			if (mine == NULL)
				continue;
			if (!json_is_array(json_object_get(mine, "Keys")))
				bad_shape(calls[i], st->tbl->table, "\"UnprocessedKeys\" has no \"Keys\" array");
			if (json_array_size(json_object_get(mine, "Keys")) == 0)
				continue;
			unanswered += json_array_size(json_object_get(mine, "Keys"));
			pending[npending++] = batch_get_retry(st, json_object_get(mine, "Keys"));
		}
		if (npending == 0)
			break;
		if (++round > st->ep->max_retries)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("%d keys of remote table \"%s\" were not answered after %d retries",
							unanswered, st->tbl->table, st->ep->max_retries),
					 errhint("The store returned them as UnprocessedKeys; raise the server option "
							 "max_retries or feature_store.max_retries, or the table's capacity.")));
		st->retries += npending;
		fs_ddb_backoff(round);
		calls = pending;
		ncalls = npending;
	}
	MemoryContextSwitchTo(old);
}

/* Fetch the next page of a Scan. */
static void
scan_next_page(FsScanState *st)
{
	MemoryContext old = MemoryContextSwitchTo(st->batch_cxt);
	json_t	   *body = held_object(st->hold);
	char	   *text;
	FsDdbCall  *call;
	json_t	   *root;
	json_t	   *lek;

	/* Serialise before the reset drops the previous page's LastEvaluatedKey. */
	obj_set_new(body, "TableName", json_string(st->tbl->table));
	obj_set_new(body, "ProjectionExpression", json_string(st->projection));
	obj_set_new(body, "ExpressionAttributeNames", json_incref(st->names));
	obj_set_new(body, "ConsistentRead", json_boolean(st->ep->consistent_read));
	if (st->start_key)
		obj_set_new(body, "ExclusiveStartKey", json_incref(st->start_key));
	text = MemoryContextStrdup(GetMemoryChunkContext(st), json_to_cstring(body, 0));

	scan_reset_batch(st);
	call = palloc0(sizeof(FsDdbCall));
	call->operation = "Scan";
	call->body = text;
	call->body_len = strlen(text);
	scan_run(st, &call, 1);
	pfree(text);
	call->body = NULL;

	root = parse_response(st->hold, call, st->tbl->table);
	scan_add_items(st, call, json_object_get(root, "Items"), "\"Items\"");
	lek = json_object_get(root, "LastEvaluatedKey");
	if (lek == NULL || json_is_null(lek))
		st->scan_done = true;
	else if (!json_is_object(lek))
		bad_shape(call, st->tbl->table, "\"LastEvaluatedKey\" is not an object");
	else
		st->start_key = lek;	/* borrowed from the held response */
	MemoryContextSwitchTo(old);
}

/* Return the next row. */
static TupleTableSlot *
fsIterateForeignScan(ForeignScanState *node)
{
	FsScanState *st = (FsScanState *) node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	TupleDesc	desc = slot->tts_tupleDescriptor;
	MemoryContext old;
	json_t	   *item;
	FsCallContext cc = {st->tbl->table, RelationGetRelationName(node->ss.ss_currentRelation)};
	ErrorContextCallback errcb;

	errcb.callback = call_context_cb;
	errcb.arg = &cc;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	if (!st->fetched)
	{
		st->fetched = true;
		if (st->access == FS_ACCESS_BATCHGET)
			scan_batch_get(node, st);
		else
		{
			scan_reset_batch(st);
			st->scan_done = false;
			scan_next_page(st);
		}
	}
	while (st->access == FS_ACCESS_SCAN && st->next >= st->nitems && !st->scan_done)
		scan_next_page(st);

	ExecClearTuple(slot);
	if (st->next >= st->nitems)
	{
		error_context_stack = errcb.previous;
		return slot;
	}
	item = st->items[st->next++];

	/* Decode into the per-tuple context, which the executor resets per row. */
	old = MemoryContextSwitchTo(node->ss.ps.ps_ExprContext->ecxt_per_tuple_memory);
	memset(slot->tts_isnull, true, sizeof(bool) * desc->natts);
	for (int i = 0; i < st->nproj; i++)
	{
		AttrNumber	attnum = st->proj[i];
		Form_pg_attribute att = TupleDescAttr(desc, attnum - 1);
		const char *attr = st->tbl->attr_names[attnum - 1];

		slot->tts_values[attnum - 1] =
			fs_ddb_decode(json_object_get(item, attr), att->atttypid, att->atttypmod,
						  attnum == st->tbl->event_time_attnum, attr,
						  &slot->tts_isnull[attnum - 1]);
	}
	MemoryContextSwitchTo(old);
	ExecStoreVirtualTuple(slot);

	error_context_stack = errcb.previous;
	return slot;
}

/* Start over; lookups whose keys did not change are answered from memory. */
static void
fsReScanForeignScan(ForeignScanState *node)
{
	FsScanState *st = (FsScanState *) node->fdw_state;

	if (st->access == FS_ACCESS_BATCHGET && st->fetched && node->ss.ps.chgParam == NULL)
	{
		st->next = 0;
		return;
	}
	st->fetched = false;
	st->scan_done = false;
	st->start_key = NULL;
	MemoryContextReset(st->batch_cxt);
	st->hold = NULL;
	st->items = NULL;
	st->nitems = st->next = 0;
}

/* Release the responses now rather than at the end of the query. */
static void
fsEndForeignScan(ForeignScanState *node)
{
	FsScanState *st = (FsScanState *) node->fdw_state;

	if (st == NULL)
		return;
	MemoryContextDelete(st->batch_cxt);
	st->batch_cxt = NULL;
}

/* EXPLAIN: the access path, keys, remote table and projection. */
static void
fsExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	List	   *priv = plan->fdw_private;
	FsAccess	access = (FsAccess) intVal(list_nth(priv, FS_PRIV_ACCESS));
	int			nkeys = intVal(list_nth(priv, FS_PRIV_NKEYS));
	List	   *attnums = (List *) list_nth(priv, FS_PRIV_ATTNUMS);
	Relation	rel = node->ss.ss_currentRelation;
	StringInfoData proj;
	ListCell   *lc;

	ExplainPropertyText("DynamoDB Access",
						access == FS_ACCESS_BATCHGET ? "BatchGetItem" : "Scan", es);
	if (access == FS_ACCESS_BATCHGET)
	{
		if (nkeys >= 0)
			ExplainPropertyInteger("Keys", NULL, nkeys, es);
		else
			ExplainPropertyText("Keys", "from parameter", es);
	}
	ExplainPropertyText("Remote Table", strVal(list_nth(priv, FS_PRIV_TABLE)), es);

	initStringInfo(&proj);
	foreach(lc, attnums)
	{
		AttrNumber	attnum = lfirst_int(lc);
		char	   *attr = NameStr(TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attname);
		List	   *opts = GetForeignColumnOptions(RelationGetRelid(rel), attnum);
		ListCell   *lc2;

		foreach(lc2, opts)
			if (strcmp(((DefElem *) lfirst(lc2))->defname, "attribute") == 0)
				attr = defGetString((DefElem *) lfirst(lc2));
		appendStringInfo(&proj, "%s%s", proj.len > 0 ? ", " : "", attr);
	}
	ExplainPropertyText("Projection", proj.data, es);

	if (es->analyze && node->fdw_state)
	{
		FsScanState *st = (FsScanState *) node->fdw_state;

		if (es->format == EXPLAIN_FORMAT_TEXT)
		{
			appendStringInfoSpaces(es->str, es->indent * 2);
			appendStringInfo(es->str, "Requests: " INT64_FORMAT "  Retries: " INT64_FORMAT
							 "  Throttles: " INT64_FORMAT "\n",
							 st->requests, st->retries, st->throttles);
		}
		else
		{
			ExplainPropertyInteger("Requests", NULL, st->requests, es);
			ExplainPropertyInteger("Retries", NULL, st->retries, es);
			ExplainPropertyInteger("Throttles", NULL, st->throttles, es);
		}
	}
}

/*-------------------------------------------------------------------------
 * Modifying
 *-------------------------------------------------------------------------
 */

/* UPDATE and DELETE identify rows by the key column. */
static void
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
static List *
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
	ms->hold = json_hold_create(ms->temp_cxt);
	return MemoryContextSwitchTo(ms->temp_cxt);
}

static void
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
static void
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
	json_t	   *item = held_object(ms->hold);
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
			obj_set_new(item, tbl->attr_names[i], av);
	}
	if (keytext)
		*keytext = json_to_cstring(json_object_get(item, tbl->key_attr), JSON_SORT_KEYS);
	return item;
}

static void modify_raise(FsModifyState *ms, FsDdbCall *call) pg_attribute_noreturn();

/* Run one call on the modified table, with the table in the error context. */
static void
modify_run(FsModifyState *ms, FsDdbCall **calls, int ncalls, bool raise)
{
	FsCallContext cc = {ms->tbl->table, RelationGetRelationName(ms->rel)};
	ErrorContextCallback errcb;

	errcb.callback = call_context_cb;
	errcb.arg = &cc;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	if (raise)
		run_calls(ms->ep, calls, ncalls, ms->tbl->table);
	else
		fs_ddb_run(ms->ep, calls, ncalls);
	error_context_stack = errcb.previous;
}

/* Raise a failed call of a write, with the table in the error context. */
static void
modify_raise(FsModifyState *ms, FsDdbCall *call)
{
	FsCallContext cc = {ms->tbl->table, RelationGetRelationName(ms->rel)};
	ErrorContextCallback errcb;

	errcb.callback = call_context_cb;
	errcb.arg = &cc;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	raise_call(call, ms->tbl->table);
}

/* INSERT one row: PutItem. */
static TupleTableSlot *
fsExecForeignInsert(EState *estate, ResultRelInfo *rinfo,
					TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	FsModifyState *ms = (FsModifyState *) rinfo->ri_FdwState;
	MemoryContext old = modify_begin_row(ms);
	json_t	   *body = held_object(ms->hold);
	FsDdbCall  *call;

	obj_set_new(body, "TableName", json_string(ms->tbl->table));
	if (json_object_set(body, "Item", row_item(ms, slot, NULL)) != 0)
		elog(ERROR, "out of memory building a DynamoDB request");
	call = new_call("PutItem", body);
	modify_run(ms, &call, 1, true);
	MemoryContextSwitchTo(old);
	return slot;
}

/* A BatchWriteItem call for the given RequestItems. */
static FsDdbCall *
batch_write_call(FsModifyState *ms, json_t *request_items)
{
	json_t	   *body = held_object(ms->hold);

	if (json_object_set(body, "RequestItems", request_items) != 0)
		elog(ERROR, "out of memory building a DynamoDB request");
	return new_call("BatchWriteItem", body);
}

/*
 * Write items with distinct keys: BatchWriteItem requests of 25, all sent
 * as one concurrent wave, then rounds for the UnprocessedItems.
 */
static void
batch_write(FsModifyState *ms, json_t **items, int n)
{
	int			ncalls = (n + DDB_BATCH_WRITE_MAX - 1) / DDB_BATCH_WRITE_MAX;
	FsDdbCall **calls = palloc(sizeof(FsDdbCall *) * Max(ncalls, 1));
	int			round = 0;

	for (int c = 0; c < ncalls; c++)
	{
		json_t	   *req = held_object(ms->hold);
		json_t	   *list = json_array();

		obj_set_new(req, ms->tbl->table, list);
		for (int i = c * DDB_BATCH_WRITE_MAX; i < Min(n, (c + 1) * DDB_BATCH_WRITE_MAX); i++)
		{
			json_t	   *put = fs_json_object();

			arr_append_new(list, put);
			obj_set_new(put, "PutRequest", json_pack("{sO}", "Item", items[i]));
		}
		calls[c] = batch_write_call(ms, req);
	}

	while (ncalls > 0)
	{
		int			nnext = 0;
		int			left = 0;

		modify_run(ms, calls, ncalls, true);
		for (int c = 0; c < ncalls; c++)
		{
			FsDdbCall  *call = calls[c];
			json_t	   *root = parse_response(ms->hold, call, ms->tbl->table);
			json_t	   *unprocessed = json_object_get(root, "UnprocessedItems");
			json_t	   *mine;

			if (unprocessed == NULL || json_is_null(unprocessed))
				continue;
			if (!json_is_object(unprocessed))
				bad_shape(call, ms->tbl->table, "\"UnprocessedItems\" is not an object");
			mine = json_object_get(unprocessed, ms->tbl->table);
			if (mine == NULL || (json_is_array(mine) && json_array_size(mine) == 0))
				continue;
			if (!json_is_array(mine))
				bad_shape(call, ms->tbl->table, "\"UnprocessedItems\" is not an array per table");
			left += (int) json_array_size(mine);
			/* Calls before c are done with: their slots can be reused. */
			calls[nnext++] = batch_write_call(ms, unprocessed);
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
static TupleTableSlot **
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
static int
fsGetForeignModifyBatchSize(ResultRelInfo *rinfo)
{
	FsModifyState *ms = (FsModifyState *) rinfo->ri_FdwState;

	if (rinfo->ri_projectReturning != NULL ||
		rinfo->ri_WithCheckOptions != NIL ||
		(rinfo->ri_TrigDesc &&
		 (rinfo->ri_TrigDesc->trig_insert_before_row ||
		  rinfo->ri_TrigDesc->trig_insert_after_row)))
		return 1;
	/* Enough rows for one request per connection: the wave goes out at once. */
	if (ms != NULL && ms->ep != NULL)
		return DDB_BATCH_WRITE_MAX * Max(ms->ep->max_connections, 1);
	return DDB_BATCH_WRITE_MAX;
}

/* The key of the row to change, from the junk column, as a held object. */
static json_t *
modify_key(FsModifyState *ms, TupleTableSlot *planSlot)
{
	bool		isnull;
	Datum		value = ExecGetJunkAttribute(planSlot, ms->key_junk, &isnull);
	Form_pg_attribute att = TupleDescAttr(RelationGetDescr(ms->rel), ms->tbl->key_attnum - 1);
	json_t	   *key = held_object(ms->hold);
	json_t	   *av;

	if (isnull)
		elog(ERROR, "key of a row to change is null");
	av = fs_ddb_encode(value, att->atttypid, false, NameStr(att->attname), NULL);
	obj_set_new(key, ms->tbl->key_attr, av);
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
static TupleTableSlot *
fsExecForeignUpdate(EState *estate, ResultRelInfo *rinfo,
					TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	FsModifyState *ms = (FsModifyState *) rinfo->ri_FdwState;
	MemoryContext old = modify_begin_row(ms);
	TupleDesc	desc = RelationGetDescr(ms->rel);
	json_t	   *body = held_object(ms->hold);
	json_t	   *names = fs_json_object();
	json_t	   *values = fs_json_object();
	StringInfoData set,
				remove;
	FsDdbCall  *call;
	ListCell   *lc;
	int			i = 0;
	char	   *entity;
	json_t	   *key = modify_key(ms, planSlot);

	obj_set_new(body, "TableName", json_string(ms->tbl->table));
	if (json_object_set(body, "Key", key) != 0)
		elog(ERROR, "out of memory building a DynamoDB request");
	obj_set_new(body, "ExpressionAttributeNames", names);
	entity = json_to_cstring(json_object_get(key, ms->tbl->key_attr), 0);

	slot_getallattrs(slot);
	initStringInfo(&set);
	initStringInfo(&remove);
	foreach(lc, ms->target_attrs)
	{
		AttrNumber	attnum = lfirst_int(lc);
		Form_pg_attribute att = TupleDescAttr(desc, attnum - 1);
		char		alias[16];

		snprintf(alias, sizeof(alias), "#a%d", i);
		obj_set_new(names, alias, json_string(ms->tbl->attr_names[attnum - 1]));
		if (slot->tts_isnull[attnum - 1])
			appendStringInfo(&remove, "%s%s", remove.len > 0 ? ", " : "REMOVE ", alias);
		else
		{
			char		val[16];
			json_t	   *av = fs_ddb_encode(slot->tts_values[attnum - 1], att->atttypid,
										   attnum == ms->tbl->event_time_attnum,
										   NameStr(att->attname), entity);

			snprintf(val, sizeof(val), ":v%d", i);
			obj_set_new(values, val, av);
			appendStringInfo(&set, "%s%s = %s", set.len > 0 ? ", " : "SET ", alias, val);
		}
		i++;
	}
	if (json_object_size(values) > 0)
		obj_set_new(body, "ExpressionAttributeValues", values);
	else
		json_decref(values);
	obj_set_new(names, "#k", json_string(ms->tbl->key_attr));
	obj_set_new(body, "ConditionExpression", json_string("attribute_exists(#k)"));
	obj_set_new(body, "UpdateExpression",
				json_string(psprintf("%s%s%s", set.data,
									 set.len > 0 && remove.len > 0 ? " " : "",
									 remove.data)));
	call = new_call("UpdateItem", body);
	modify_run(ms, &call, 1, false);
	MemoryContextSwitchTo(old);
	if (condition_failed(call))
		return NULL;			/* deleted meanwhile */
	if (call->status != FS_DDB_OK)
		modify_raise(ms, call);
	return slot;
}

/* DELETE one row: DeleteItem, the old item returned if RETURNING needs it. */
static TupleTableSlot *
fsExecForeignDelete(EState *estate, ResultRelInfo *rinfo,
					TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	FsModifyState *ms = (FsModifyState *) rinfo->ri_FdwState;
	MemoryContext old = modify_begin_row(ms);
	json_t	   *body = held_object(ms->hold);
	bool		returning = rinfo->ri_projectReturning != NULL;
	FsDdbCall  *call;

	obj_set_new(body, "TableName", json_string(ms->tbl->table));
	if (json_object_set(body, "Key", modify_key(ms, planSlot)) != 0)
		elog(ERROR, "out of memory building a DynamoDB request");
	obj_set_new(body, "ConditionExpression", json_string("attribute_exists(#k)"));
	obj_set_new(body, "ExpressionAttributeNames",
				json_pack("{ss}", "#k", ms->tbl->key_attr));
	if (returning)
		obj_set_new(body, "ReturnValues", json_string("ALL_OLD"));
	call = new_call("DeleteItem", body);
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
		json_t	   *root = parse_response(ms->hold, call, ms->tbl->table);
		json_t	   *attrs = json_object_get(root, "Attributes");
		TupleDesc	desc = slot->tts_tupleDescriptor;

		if (attrs != NULL && !json_is_object(attrs))
			bad_shape(call, ms->tbl->table, "\"Attributes\" is not an object");
		ExecClearTuple(slot);
		for (int i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);

			slot->tts_isnull[i] = true;
			if (att->attisdropped || ms->tbl->attr_names[i] == NULL)
				continue;
			slot->tts_values[i] =
				fs_ddb_decode(json_object_get(attrs, ms->tbl->attr_names[i]),
							  att->atttypid, att->atttypmod,
							  i + 1 == ms->tbl->event_time_attnum,
							  ms->tbl->attr_names[i], &slot->tts_isnull[i]);
		}
		ExecStoreVirtualTuple(slot);
	}
	MemoryContextSwitchTo(old);
	return slot;
}

/* Release the last row's JSON now rather than at the end of the query. */
static void
fsEndForeignModify(EState *estate, ResultRelInfo *rinfo)
{
	FsModifyState *ms = (FsModifyState *) rinfo->ri_FdwState;

	if (ms == NULL)
		return;
	MemoryContextDelete(ms->temp_cxt);
	ms->temp_cxt = NULL;
}

static void
fsEndForeignInsert(EState *estate, ResultRelInfo *rinfo)
{
	fsEndForeignModify(estate, rinfo);
}

/* EXPLAIN of a write: the operation and the remote table. */
static void
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

/*-------------------------------------------------------------------------
 * Handler
 *-------------------------------------------------------------------------
 */

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
	json_t	   *body = held_object(h);
	FsDdbCall  *call;
	json_t	   *root;
	const char *status;

	obj_set_new(body, "TableName", json_string(table));
	call = new_call("DescribeTable", body);
	run_calls(ep, &call, 1, table);
	root = parse_response(h, call, table);
	status = json_string_value(json_object_get(json_object_get(root, "Table"), "TableStatus"));
	if (status == NULL)
		bad_shape(call, table, "\"Table\".\"TableStatus\" is not a string");
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

	tbl = table_options(rel, &event_time_column);
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
	kind = key_kind(TupleDescAttr(RelationGetDescr(rel), key_attnum - 1)->atttypid);
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
	h = json_hold_create(cxt);

	cc.table = tbl->table;
	cc.relname = RelationGetRelationName(rel);
	errcb.callback = call_context_cb;
	errcb.arg = &cc;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	body = held_object(h);
	obj_set_new(body, "TableName", json_string(tbl->table));
	obj_set_new(body, "AttributeDefinitions",
				json_pack("[{ssss}]", "AttributeName", tbl->key_attr,
						  "AttributeType", kindstr));
	obj_set_new(body, "KeySchema",
				json_pack("[{ssss}]", "AttributeName", tbl->key_attr, "KeyType", "HASH"));
	obj_set_new(body, "BillingMode", json_string("PAY_PER_REQUEST"));
	call = new_call("CreateTable", body);
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
	key_cache_relcache_cb((Datum) 0, relid);
	relation_close(rel, AccessShareLock);
	PG_RETURN_VOID();
}
