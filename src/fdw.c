/*-------------------------------------------------------------------------
 *
 * fdw.c
 *	  The foreign data wrapper fs_dynamodb: handler, options, tables.
 *
 * A foreign table of fs_dynamodb is a table of a DynamoDB-compatible store.
 * This file holds the handler, the options validator, fs_ddb_endpoint and
 * fs_ddb_table (which serving uses too: fdw.h), the per-backend cache of
 * keys learnt from DescribeTable, and fs_create_online_table; and what the
 * callbacks share (fdw_internal.h): JSON holders and remote-call helpers.
 * The callbacks are in fdw_scan.c (planning, scans) and fdw_modify.c
 * (INSERT, UPDATE, DELETE).
 *
 * JSON (jansson) lives outside palloc: every object we create or parse is
 * registered with a holder whose memory-context reset callback drops the
 * references, so nothing leaks when an error unwinds the stack.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/reloptions.h"
#include "access/relation.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_type.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/acl.h"
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

#include "fdw_internal.h"
#include "feature_store.h"

/* fs_create_online_table: how often and how long to wait for ACTIVE. */
#define CREATE_POLL_MS		100
#define CREATE_TIMEOUT_MS	60000

/* Default name of the event-time column (epoch-seconds encoding). */
#define DEFAULT_EVENT_TIME_COLUMN "event_time"

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

/* Key lookups: one cache entry per foreign table without a 'key' option. */
typedef struct FsKeyCacheEntry
{
	Oid			relid;			/* hash key */
	bool		valid;
	char	   *key_attr;		/* in CacheMemoryContext */
} FsKeyCacheEntry;

static HTAB *key_cache = NULL;

PG_FUNCTION_INFO_V1(fs_dynamodb_handler);
PG_FUNCTION_INFO_V1(fs_dynamodb_validator);
PG_FUNCTION_INFO_V1(fs_create_online_table);

/*-------------------------------------------------------------------------
 * JSON holders and remote calls
 *-------------------------------------------------------------------------
 */

/* jansson failed to allocate (it fails on nothing else). */
static void
pg_attribute_noreturn()
request_oom(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_OUT_OF_MEMORY),
			 errmsg("out of memory building a DynamoDB request")));
}

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
FsJsonHold *
fs_json_hold_create(MemoryContext cxt)
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
json_t *
fs_json_hold(FsJsonHold *h, json_t *j)
{
	if (j == NULL)
		request_oom();
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
json_t *
fs_held_object(FsJsonHold *h)
{
	return fs_json_hold(h, fs_json_object());
}

/* Set key to a new reference, failing loudly (jansson only fails on OOM). */
void
fs_obj_set_new(json_t *obj, const char *key, json_t *value)
{
	if (value == NULL || json_object_set_new(obj, key, value) != 0)
		request_oom();
}

/* Set key to value, which keeps its owner's reference too. */
void
fs_obj_set(json_t *obj, const char *key, json_t *value)
{
	fs_obj_set_new(obj, key, json_incref(value));
}

/* Append a new reference to an array. */
void
fs_arr_append_new(json_t *arr, json_t *value)
{
	if (value == NULL || json_array_append_new(arr, value) != 0)
		request_oom();
}

/* A JSON value as a palloc'd compact string (measured, then written). */
char *
fs_json_to_cstring(json_t *j, size_t flags)
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
FsDdbCall *
fs_new_call(const char *operation, json_t *body)
{
	FsDdbCall  *call = palloc0(sizeof(FsDdbCall));

	call->operation = operation;
	call->body = fs_json_to_cstring(body, 0);
	call->body_len = strlen(call->body);
	return call;
}

/* Parse a successful call's response as a JSON object, held. */
json_t *
fs_parse_response(FsJsonHold *h, FsDdbCall *call, const char *table)
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
				 errdetail_log("%s at byte %d.", err.text, err.position)));
	fs_json_hold(h, root);
	if (!json_is_object(root))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("invalid %s response from DynamoDB for table \"%s\": not an object",
						call->operation, table)));
	return root;
}

/* A malformed response: name what is wrong. */
void
fs_bad_shape(FsDdbCall *call, const char *table, const char *what)
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
 * Push an errcontext callback naming the remote table (and the foreign
 * table, if relname is not NULL).  errcb and cc belong to the caller, who
 * pops errcb by restoring error_context_stack = errcb->previous.
 */
void
fs_push_call_context(ErrorContextCallback *errcb, FsCallContext *cc,
					 const char *table, const char *relname)
{
	cc->table = table;
	cc->relname = relname;
	errcb->callback = call_context_cb;
	errcb->arg = cc;
	errcb->previous = error_context_stack;
	error_context_stack = errcb;
}

bool
fs_condition_failed(FsDdbCall *call)
{
	return call->status == FS_DDB_FAILED && call->error_type != NULL &&
		strcmp(call->error_type, "ConditionalCheckFailedException") == 0;
}

/*
 * Raise a failed call.  A missing table gets its own message; everything
 * else is the client's (which carries the store's error type and message).
 */
void
fs_raise_call(FsDdbCall *call, const char *table)
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
void
fs_run_calls(FsDdbEndpoint *ep, FsDdbCall **calls, int ncalls, const char *table)
{
	fs_ddb_run(ep, calls, ncalls);
	for (int i = 0; i < ncalls; i++)
		if (calls[i]->status != FS_DDB_OK)
			fs_raise_call(calls[i], table);
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
char
fs_key_kind(Oid typid)
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
 * DescribeTable of a remote table: the "Table" object of the response (held
 * by h; NULL if absent), and the call in *call for messages.
 */
static json_t *
describe_table(FsDdbEndpoint *ep, const char *table, FsJsonHold *h, FsDdbCall **call)
{
	json_t	   *body = fs_held_object(h);

	fs_obj_set_new(body, "TableName", json_string(table));
	*call = fs_new_call("DescribeTable", body);
	fs_run_calls(ep, call, 1, table);
	return json_object_get(fs_parse_response(h, *call, table), "Table");
}

/* The partition key of a remote table, from DescribeTable. */
static char *
describe_key(FsDdbEndpoint *ep, const char *table, FsJsonHold *h)
{
	FsDdbCall  *call;
	json_t	   *schema;
	size_t		i;
	json_t	   *elem;

	schema = json_object_get(describe_table(ep, table, h, &call), "KeySchema");
	if (!json_is_array(schema))
		fs_bad_shape(call, table, "\"Table\".\"KeySchema\" is not an array");
	json_array_foreach(schema, i, elem)
	{
		const char *type = json_string_value(json_object_get(elem, "KeyType"));
		const char *name = json_string_value(json_object_get(elem, "AttributeName"));

		if (type && name && strcmp(type, "HASH") == 0)
			return pstrdup(name);
	}
	fs_bad_shape(call, table, "\"KeySchema\" has no HASH key");
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
		tbl->attr_names[i] = fs_column_attribute(tbl->relid, att);
	}
	return tbl;
}

/* The remote attribute of a column: its option 'attribute', else its name. */
char *
fs_column_attribute(Oid relid, Form_pg_attribute att)
{
	char	   *attr = pstrdup(NameStr(att->attname));
	ListCell   *lc;

	foreach(lc, GetForeignColumnOptions(relid, att->attnum))
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "attribute") == 0)
			attr = defGetString(def);
	}
	return attr;
}

/* A column's value in an item (absent or NULL:true is SQL NULL), per the item layout. */
Datum
fs_decode_column(FsDdbTable *tbl, json_t *item, Form_pg_attribute att, bool *isnull)
{
	const char *attr = tbl->attr_names[att->attnum - 1];

	return fs_ddb_decode(json_object_get(item, attr), att->atttypid, att->atttypmod,
						 att->attnum == tbl->event_time_attnum, attr, isnull);
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
			FsCallContext cc;
			ErrorContextCallback errcb;
			char	   *key;

			fs_push_call_context(&errcb, &cc, tbl->table, RelationGetRelationName(rel));

			key = describe_key(fs_ddb_endpoint(tbl->serverid, GetUserId()),
							   tbl->table, fs_json_hold_create(cxt));

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

	status = json_string_value(json_object_get(describe_table(ep, table, h, &call),
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
	key_cache_relcache_cb((Datum) 0, relid);
	relation_close(rel, AccessShareLock);
	PG_RETURN_VOID();
}

