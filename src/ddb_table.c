/*-------------------------------------------------------------------------
 *
 * ddb_table.c
 *	  Foreign tables of fs_dynamodb resolved to their remote tables.
 *
 * fs_ddb_table gives the remote table, its partition key and the attribute
 * of each column.  A key not named by the option 'key' comes from
 * DescribeTable, asked once per backend and foreign table: the answers are
 * kept in a cache that relcache invalidations of the foreign table (ALTER
 * FOREIGN TABLE) and syscache invalidations of servers clear, as
 * postgres_fdw's connection cache is cleared.
 *
 * fs_ingest_check_remote tells fs_ingest whether a view's remote table is
 * still the one its ingestion state describes: by the table's creation time,
 * asked afresh of DescribeTable on every run and kept in
 * fs_ingest_remote_table.  A table created again since (the store lost its
 * data, or the foreign table now names another) makes it forget the state.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "ddb.h"

#include "access/table.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "ingest_state.h"
#include "utils.h"

PG_FUNCTION_INFO_V1(fs_ingest_check_remote);

/* Key lookups: one cache entry per foreign table without a 'key' option. */
typedef struct FsKeyCacheEntry
{
	Oid			relid;			/* hash key */
	bool		valid;
	char	   *key_attr;		/* in CacheMemoryContext */
} FsKeyCacheEntry;

static HTAB *key_cache = NULL;

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
json_t *
fs_ddb_describe_table(FsDdbEndpoint *ep, const char *table, FsJsonHold *h, FsDdbCall **call)
{
	json_t	   *body = fs_held_object(h);

	fs_obj_set_new(body, "TableName", json_string(table));
	*call = fs_new_call("DescribeTable", body);
	fs_run_calls(ep, call, 1, table);
	return json_object_get(fs_parse_response(h, *call, table), "Table");
}

/*
 * The partition key of a foreign table's remote table, from DescribeTable;
 * a missing table is reported naming the foreign table (and the feature
 * view served, if view is not NULL).  NULL if the endpoint's deadline
 * passed before the store answered.  With failure not NULL nothing is
 * raised: a store that could not answer gives NULL, the failed call in
 * failure->call (or what was wrong with its answer in failure->invalid).
 */
static char *
describe_key(FsDdbEndpoint *ep, FsDdbTable *tbl, const char *view, FsJsonHold *h,
			 FsDescribeFailure *failure)
{
	json_t	   *body = fs_held_object(h);
	FsDdbCall  *call;
	json_t	   *schema;
	size_t		i;
	json_t	   *elem;

	fs_obj_set_new(body, "TableName", json_string(tbl->table));
	call = fs_new_call("DescribeTable", body);
	fs_ddb_run(ep, &call, 1);
	if (call->status != FS_DDB_OK && (failure != NULL || call->expired))
	{
		if (failure != NULL)
			failure->call = call;
		return NULL;
	}
	if (call->status != FS_DDB_OK)
	{
		if (call->error_type && strcmp(call->error_type, "ResourceNotFoundException") == 0)
			fs_report_missing_table(ERROR, call->operation, call->error_message, tbl->table,
									tbl->relid, view);
		fs_raise_call(call, tbl->table);
	}
	if (failure == NULL)
		schema = json_object_get(json_object_get(fs_parse_response(h, call, tbl->table), "Table"),
								 "KeySchema");
	else
	{
		/* Parse without raising: a malformed answer is one the store could not give. */
		json_t	   *root = call->response
			? json_loadb(call->response, call->response_len, 0, NULL) : NULL;

		if (root != NULL)
			fs_json_hold(h, root);
		schema = json_object_get(json_object_get(root, "Table"), "KeySchema");
	}
	if (!json_is_array(schema))
	{
		if (failure == NULL)
			fs_bad_shape(call, tbl->table, "\"Table\".\"KeySchema\" is not an array");
		failure->invalid = "\"Table\".\"KeySchema\" is not an array";
		return NULL;
	}
	json_array_foreach(schema, i, elem)
	{
		const char *type = json_string_value(json_object_get(elem, "KeyType"));
		const char *name = json_string_value(json_object_get(elem, "AttributeName"));

		if (type && name && strcmp(type, "HASH") == 0)
			return pstrdup(name);
	}
	if (failure == NULL)
		fs_bad_shape(call, tbl->table, "\"KeySchema\" has no HASH key");
	failure->invalid = "\"KeySchema\" has no HASH key";
	return NULL;
}

/* A failed call's outcome, copied into the current memory context. */
static FsDdbCall *
copy_failed_call(FsDdbCall *call)
{
	FsDdbCall  *copy = palloc(sizeof(FsDdbCall));

	*copy = *call;
	copy->body = NULL;
	copy->body_len = 0;
	copy->response = NULL;
	copy->response_len = 0;
	copy->error_type = call->error_type ? pstrdup(call->error_type) : NULL;
	copy->error_message = call->error_message ? pstrdup(call->error_message) : NULL;
	return copy;
}

/*
 * Whether a failed call is the store refusing a key of the wrong type
 * (DynamoDB and dynalite say so in a ValidationException).
 */
bool
fs_ddb_key_refused(FsDdbCall *call)
{
	return call->status == FS_DDB_FAILED && call->error_type != NULL &&
		strcmp(call->error_type, "ValidationException") == 0 && call->error_message != NULL &&
		(strstr(call->error_message, "key element does not match the schema") != NULL ||
		 strstr(call->error_message, "Type mismatch for key") != NULL);
}

/* What an attribute type (S, N, B) is, for messages. */
static const char *
kind_name(char kind)
{
	return kind == 'N' ? "a number (N)" : kind == 'B' ? "binary (B)" : "a string (S)";
}

/*
 * After the store refused a key (fs_ddb_key_refused): a hint comparing the
 * type of the remote table's partition key, from DescribeTable, with that of
 * the foreign table's key column (key_typid), and saying which column type
 * to use; NULL if they agree or the store does not say.  Never from inside
 * fs_ddb_run's callbacks: it sends a request.
 */
char *
fs_ddb_key_type_hint(FsDdbEndpoint *ep, FsDdbTable *tbl, Oid key_typid)
{
	FsJsonHold *h = fs_json_hold_create(CurrentMemoryContext);
	json_t	   *body = fs_held_object(h);
	FsDdbCall  *call;
	json_t	   *root;
	json_t	   *defs;
	size_t		i;
	json_t	   *def;
	char		remote = '\0';
	char		local = fs_key_kind(getBaseType(key_typid));
	char	   *rel;
	const char *column;

	fs_obj_set_new(body, "TableName", json_string(tbl->table));
	call = fs_new_call("DescribeTable", body);
	fs_ddb_run(ep, &call, 1);
	if (call->status != FS_DDB_OK || call->response == NULL)
		return NULL;
	root = json_loadb(call->response, call->response_len, 0, NULL);
	if (root == NULL)
		return NULL;
	fs_json_hold(h, root);
	defs = json_object_get(json_object_get(root, "Table"), "AttributeDefinitions");
	json_array_foreach(defs, i, def)
	{
		const char *name = json_string_value(json_object_get(def, "AttributeName"));
		const char *type = json_string_value(json_object_get(def, "AttributeType"));

		if (name && type && strcmp(name, tbl->key_attr) == 0 && strlen(type) == 1)
			remote = type[0];
	}
	if (remote == '\0' || remote == local)
		return NULL;
	rel = DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(tbl->relid)));
	column = quote_identifier(get_attname(tbl->relid, tbl->key_attnum, false));
	return psprintf("The partition key \"%s\" of remote table \"%s\" is %s, but key column %s of foreign table %s is of type %s, sent as %s. "
					"Declare the column %s: ALTER FOREIGN TABLE %s ALTER COLUMN %s TYPE %s;",
					tbl->key_attr, tbl->table, kind_name(remote), column, rel,
					format_type_be(key_typid), local ? kind_name(local) : "another type",
					remote == 'N' ? "a number (bigint, integer or numeric)" : remote == 'B' ? "bytea" : "text",
					rel, column, remote == 'N' ? "bigint" : remote == 'B' ? "bytea" : "text");
}

/* Forget the key learnt for a foreign table (its remote table was recreated). */
void
fs_ddb_forget_key(Oid relid)
{
	key_cache_relcache_cb((Datum) 0, relid);
}

/* A column's value in an item (absent or NULL:true is SQL NULL), per the item layout. */
Datum
fs_decode_column(FsDdbTable *tbl, const FsJv *item, Form_pg_attribute att, bool *isnull)
{
	const char *attr = tbl->attr_names[att->attnum - 1];
	FsJv		av;
	bool		found = item != NULL && fs_jget(item, attr, strlen(attr), &av);

	return fs_ddb_decode(found ? &av : NULL, att->atttypid, att->atttypmod,
						 att->attnum == tbl->event_time_attnum, attr, isnull);
}

/* The S, N or B string of a key AttributeValue of a request (jansson). */
bool
fs_request_key_text(json_t *av, FsBytesKey *kt)
{
	json_t	   *s;

	if (!json_is_object(av))
		return false;
	s = json_object_get(av, "S");
	if (s == NULL)
		s = json_object_get(av, "N");
	if (s == NULL)
		s = json_object_get(av, "B");
	if (!json_is_string(s))
		return false;
	kt->ptr = json_string_value(s);
	kt->len = json_string_length(s);
	return true;
}

/* See ddb.h. */
void
fs_call_forget(FsDdbCall *call, const char *table, json_t *av)
{
	FsBytesKey	kt;
	FsBytesKey *copy;

	if (!fs_request_key_text(av, &kt))
		return;
	copy = palloc(sizeof(FsBytesKey));
	copy->ptr = pnstrdup(kt.ptr, kt.len);
	copy->len = kt.len;
	call->forget_table = table;
	call->forget_keys = lappend(call->forget_keys, copy);
}

/* qsort comparator of C strings, by pointer. */
static int
cstring_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* See ddb.h. */
bool
fs_ddb_cache_scope(FsCacheScope *scope, FsDdbEndpoint *ep, FsDdbTable *tbl,
				   const char **attrs, int nattrs)
{
	int			ttl = tbl->cache_ttl_ms >= 0 ? tbl->cache_ttl_ms : ep->cache_ttl_ms;
	const char **names;
	StringInfoData buf;

	if (ttl <= 0 || !fs_cache_enabled())
		return false;
	/* The attribute names, sorted, each once: what an entry holds. */
	names = palloc(sizeof(char *) * Max(nattrs, 1));
	memcpy(names, attrs, sizeof(char *) * nattrs);
	qsort(names, nattrs, sizeof(char *), cstring_cmp);
	initStringInfo(&buf);
	for (int i = 0; i < nattrs; i++)
		if (i == 0 || strcmp(names[i], names[i - 1]) != 0)
			appendBinaryStringInfo(&buf, names[i], strlen(names[i]) + 1);

	scope->serverid = ep->serverid;
	scope->umid = ep->umid;
	scope->table = tbl->table;
	scope->ttl_ms = ttl;
	scope->consistent = ep->consistent_read;
	scope->now = GetCurrentTimestamp();
	scope->attrs = buf.data;
	scope->attrs_len = buf.len;
	return true;
}

/* The S, N or B string of a key AttributeValue of an answer; *is_n for N. */
bool
fs_answer_key_text(const FsJv *av, FsBytesKey *kt, bool *is_n)
{
	const char *kind;
	size_t		kindlen;
	FsJv		s;
	FsJType		type;
	size_t		len;

	if (av == NULL || !fs_jsingle(av, &kind, &kindlen, &s, &type) ||
		type != FSJ_STRING || kindlen != 1 ||
		(kind[0] != 'S' && kind[0] != 'N' && kind[0] != 'B'))
		return false;
	*is_n = (kind[0] == 'N');
	kt->ptr = fs_jstr(&s, &len);
	kt->len = len;
	return true;
}

/* Attributes names[0..n) to read from items. */
FsItemAttrs *
fs_item_attrs_create(const char **names, int n)
{
	FsItemAttrs *ia = palloc0(sizeof(FsItemAttrs));

	ia->n = n;
	ia->names = names;
	ia->lens = palloc(sizeof(size_t) * Max(n, 1));
	for (int i = 0; i < n; i++)
		ia->lens[i] = names[i] ? strlen(names[i]) : 0;
	ia->nguess = Max(n, 1) * 2;
	ia->guess = palloc(sizeof(int) * ia->nguess);
	for (int m = 0; m < ia->nguess; m++)
		ia->guess[m] = -1;
	return ia;
}

/* Whether attribute i is named key. */
static inline bool
attr_is(FsItemAttrs *ia, int i, const char *key, size_t keylen)
{
	return ia->names[i] != NULL && ia->lens[i] == keylen &&
		memcmp(ia->names[i], key, keylen) == 0;
}

/* The values of an item's attributes, in one pass over its members. */
void
fs_item_attrs_find(FsItemAttrs *ia, const FsJv *item, FsJv *slots, const FsJv **vals)
{
	FsJIter		it;
	const char *key;
	size_t		keylen;
	FsJv		val;
	int			m = 0;

	for (int i = 0; i < ia->n; i++)
		vals[i] = NULL;
	fs_jiter(item, &it);
	for (; fs_jnext_member(&it, &key, &keylen, &val); m++)
	{
		int			i = (m < ia->nguess) ? ia->guess[m] : -1;

		if (i < 0 || !attr_is(ia, i, key, keylen))
		{
			for (i = 0; i < ia->n && !attr_is(ia, i, key, keylen); i++)
				;
			if (i == ia->n)
				continue;		/* not asked for */
			if (m < ia->nguess)
				ia->guess[m] = i;
		}
		slots[i] = val;
		vals[i] = &slots[i];
	}
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
	return fs_ddb_table_for_view(rel, NULL, 0, NULL);
}

/*
 * fs_ddb_table for serving feature view view: a missing remote table is
 * reported naming the view.  A DescribeTable that learns the key waits no
 * longer than deadline (fs_ddb_now_ms(); 0: none), serving's: NULL if it
 * passed first.  With failure not NULL (on_store_error = 'unavailable'),
 * a DescribeTable the store could not answer raises nothing: NULL, and
 * failure says why.  A failed DescribeTable is not cached.
 */
FsDdbTable *
fs_ddb_table_for_view(Relation rel, const char *view, double deadline,
					  FsDescribeFailure *failure)
{
	char	   *event_time_column;
	FsDdbTable *tbl = fs_ddb_table_options(rel, &event_time_column);

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
			FsDdbEndpoint *ep;
			char	   *key;

			fs_push_call_context(&errcb, &cc, tbl->table, RelationGetRelationName(rel));

			ep = fs_ddb_endpoint(tbl->serverid, GetUserId());
			ep->deadline = deadline;
			if (failure != NULL)
				memset(failure, 0, sizeof(FsDescribeFailure));
			key = describe_key(ep, tbl, view, fs_json_hold_create(cxt), failure);

			error_context_stack = errcb.previous;
			MemoryContextSwitchTo(old);
			if (key == NULL)
			{
				/* What failed outlives the DescribeTable's memory. */
				if (failure != NULL)
				{
					if (failure->call != NULL)
						failure->call = copy_failed_call(failure->call);
					failure->table = tbl->table;
				}
				MemoryContextDelete(cxt);
				return NULL;
			}

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


/*
 * When a foreign table's remote table was created (DescribeTable's
 * CreationDateTime), asked afresh: the cached key says nothing about whether
 * the table is still the same one.
 */
static TimestampTz
remote_created_at(Relation rel, FsDdbTable *tbl)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "fs_dynamodb DescribeTable",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	FsCallContext cc;
	ErrorContextCallback errcb;
	FsDdbCall  *call;
	json_t	   *created;
	double		secs;

	fs_push_call_context(&errcb, &cc, tbl->table, RelationGetRelationName(rel));
	created = json_object_get(fs_ddb_describe_table(fs_ddb_endpoint(tbl->serverid, GetUserId()),
													tbl->table, fs_json_hold_create(cxt), &call),
							  "CreationDateTime");
	if (!json_is_number(created))
		fs_bad_shape(call, tbl->table, "\"Table\".\"CreationDateTime\" is not a number");
	secs = json_number_value(created);
	error_context_stack = errcb.previous;
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return DatumGetTimestampTz(DirectFunctionCall1(float8_timestamptz, Float8GetDatum(secs)));
}

/* What fs_ingest_remote_table says of a view, read as its owner. */
typedef struct RemoteRecord
{
	Oid			schema;
	const char *view;
	const char *table;			/* the table now, to record */
	TimestampTz created_at;		/* its creation time now, to record */
	bool		found;			/* out: a record exists */
	bool		same;			/* out: it names this table, created then */
	bool		same_name;		/* out: it names a table of this name */
} RemoteRecord;

static FsKeptPlan remote_read_plan;
static FsKeptPlan remote_write_plan;

/* Read the record of a view, and write the table's identity if it changed. */
static void
read_and_record(void *arg)
{
	RemoteRecord *rr = (RemoteRecord *) arg;
	Oid			argtypes[3] = {TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		args[3];
	int			ret;

	args[0] = CStringGetTextDatum(rr->view);
	args[1] = CStringGetTextDatum(rr->table);
	args[2] = TimestampTzGetDatum(rr->created_at);
	ret = SPI_execute_plan(fs_schema_plan(&remote_read_plan, rr->schema,
										  "SELECT r.remote_table OPERATOR(pg_catalog.=) $2 "
										  "       AND r.created_at OPERATOR(pg_catalog.=) $3, "
										  "       r.remote_table OPERATOR(pg_catalog.=) $2 "
										  "  FROM @extschema@.fs_feature_view v "
										  "  JOIN @extschema@.fs_ingest_remote_table r "
										  "    ON r.view_id OPERATOR(pg_catalog.=) v.view_id "
										  " WHERE v.name OPERATOR(pg_catalog.=) $1",
										  3, argtypes),
						   args, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read fs_ingest_remote_table: %s", SPI_result_code_string(ret));
	rr->found = SPI_processed > 0;
	if (rr->found)
	{
		bool		isnull;

		rr->same = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
											  &isnull));
		rr->same_name = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2,
												   &isnull));
	}
	if (rr->found && rr->same)
		return;
	ret = SPI_execute_plan(fs_schema_plan(&remote_write_plan, rr->schema,
										  "INSERT INTO @extschema@.fs_ingest_remote_table "
										  "       (view_id, remote_table, created_at) "
										  "SELECT v.view_id, $2, $3 FROM @extschema@.fs_feature_view v "
										  " WHERE v.name OPERATOR(pg_catalog.=) $1 "
										  "ON CONFLICT (view_id) DO UPDATE "
										  "   SET remote_table = EXCLUDED.remote_table, "
										  "       created_at = EXCLUDED.created_at",
										  3, argtypes),
						   args, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "could not write fs_ingest_remote_table: %s", SPI_result_code_string(ret));
}

/*
 * fs_ingest_check_remote(feature_view text) -> boolean
 *
 * Called by fs_ingest before its silver step for a view stored in
 * fs_dynamodb: change detection trusts the view's state only while the
 * remote table is the one the state describes.  If the table was created
 * again since the last run (a store that lost its data), forget the state,
 * so that every row is compared with the table and written where it lacks
 * it, and say so; record the table's identity either way.  For the owner of
 * the view's table; returns whether the state was forgotten.
 */
Datum
fs_ingest_check_remote(PG_FUNCTION_ARGS)
{
	Oid			schema = get_func_namespace(fcinfo->flinfo->fn_oid);
	RemoteRecord rr;
	Relation	rel;
	FsDdbTable *tbl;
	char	   *etc;
	Oid			relid;
	Oid			record_relid;
	bool		forgot = false;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("feature_view must not be null")));
	memset(&rr, 0, sizeof(rr));
	rr.schema = schema;
	rr.view = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	relid = fs_state_check_owner(schema, rr.view, false);
	rel = table_open(relid, AccessShareLock);
	if (rel->rd_rel->relkind != RELKIND_FOREIGN_TABLE)
	{
		table_close(rel, AccessShareLock);
		SPI_finish();
		PG_RETURN_BOOL(false);
	}
	tbl = fs_ddb_table_options(rel, &etc);
	rr.table = tbl->table;
	rr.created_at = remote_created_at(rel, tbl);
	table_close(rel, AccessShareLock);

	record_relid = get_relname_relid("fs_ingest_remote_table", schema);
	if (!OidIsValid(record_relid))
		elog(ERROR, "table fs_ingest_remote_table of extension feature_store is missing");
	fs_run_as_owner(record_relid, read_and_record, &rr);
	if (rr.found && !rr.same)
	{
		uint64		forgotten = fs_state_forget_all(schema, rr.view);

		/* The key may have changed with the table. */
		fs_ddb_forget_key(relid);
		forgot = forgotten > 0;
		if (forgot)
			ereport(NOTICE,
					(rr.same_name ?
					 errmsg("remote table \"%s\" of feature view \"%s\" was created again since the last fs_ingest",
							rr.table, rr.view) :
					 errmsg("feature view \"%s\" is stored in remote table \"%s\", not in the one the last fs_ingest wrote",
							rr.view, rr.table),
					 errdetail("The view's ingestion state says what the last runs wrote, which this table may not hold, so it was forgotten: "
							   "every row of the source is compared with the table and written where the "
							   "table lacks it.")));
	}
	SPI_finish();
	PG_RETURN_BOOL(forgot);
}
