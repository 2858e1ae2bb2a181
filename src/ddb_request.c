/*-------------------------------------------------------------------------
 *
 * ddb_request.c
 *	  Building, sending and checking calls to a DynamoDB-compatible store,
 *	  and the one loop that reads many keys (fs_ddb_batch_get).
 *
 * fs_ddb_batch_get serves every reader of the store: serving (ddb_lookup.c),
 * the foreign table's key scans (ddb_scan.c) and batch ingestion
 * (ddb_ingest.c).  It packs the keys of several tables into BatchGetItem
 * requests of at most 100 keys, sends them at once, hands every item to its
 * table's callback as each answer arrives, and asks again for the keys the
 * store left unprocessed, after a full-jitter backoff, for at most
 * max_retries rounds.  A retry is rebuilt from the keys rather than taken
 * from UnprocessedKeys as sent back: some stores (dynalite) drop the
 * ProjectionExpression there.  When the endpoint has a deadline (serving's
 * store_deadline_ms), no round starts past it, and the keys it leaves
 * unanswered go to their table's on_unanswered, one by one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "ddb.h"

#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"

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
		fs_bad_shape(call, table, "empty body");
	root = json_loadb(call->response, call->response_len, 0, &err);
	if (root == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("invalid %s response from DynamoDB for table \"%s\": not JSON",
						call->operation, table),
				 errdetail_log("%s at byte %d.", err.text, err.position)));
	fs_json_hold(h, root);
	if (!json_is_object(root))
		fs_bad_shape(call, table, "not an object");
	return root;
}

/*
 * Parse a successful call's response that carries items into a document of
 * the current memory context; its root object in *root.
 */
FsJsonDoc *
fs_parse_answer(FsDdbCall *call, const char *table, FsJv *root)
{
	const char *error;
	FsJsonDoc  *doc;

	if (call->response == NULL)
		fs_bad_shape(call, table, "empty body");
	doc = fs_json_doc_parse(call->response, call->response_len, &error);
	if (doc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("invalid %s response from DynamoDB for table \"%s\": not JSON",
						call->operation, table),
				 errdetail_log("%s", error)));
	if (fs_jtype(&doc->root) != FSJ_OBJECT)
		fs_bad_shape(call, table, "not an object");
	*root = doc->root;
	return doc;
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

/* Whether a call failed because its ConditionExpression did not hold. */
bool
fs_condition_failed(FsDdbCall *call)
{
	return call->status == FS_DDB_FAILED && call->error_type != NULL &&
		strcmp(call->error_type, "ConditionalCheckFailedException") == 0;
}

/*
 * Raise a failed call.  A missing table gets its own message, and a key
 * the store refused a hint on key types; everything else is the client's
 * (which carries the store's error type and message).
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
	if (fs_ddb_key_refused(call))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("DynamoDB %s request failed", call->operation),
				 errdetail("%s: %s", call->error_type, call->error_message),
				 errhint("The foreign table's key column must have the type of the partition key of remote table \"%s\" "
						 "(its AttributeDefinitions in DescribeTable): text for S, bigint, integer or numeric for N, bytea for B.",
						 table)));
	fs_ddb_raise(call);
}

/*
 * The hint for a missing remote table of foreign table relid: how to create
 * it, or point the foreign table elsewhere.
 */
char *
fs_missing_table_hint(Oid relid)
{
	char	   *rel = DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(relid)));

	return psprintf("Create it with SELECT fs_create_online_table(%s); or point foreign table %s at an existing table with its option \"table\".",
					quote_literal_cstr(rel), rel);
}

/*
 * Report, at elevel, that the remote table of foreign table relid is
 * missing, as a failed operation found (message: the store's); view names
 * the feature view being served, if any.
 */
void
fs_report_missing_table(int elevel, const char *operation, const char *message,
						const char *table, Oid relid, const char *view)
{
	ereport(elevel,
			(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
			 view ? errmsg("remote table \"%s\" of feature view \"%s\" does not exist", table, view)
			 : errmsg("remote table \"%s\" does not exist", table),
			 errdetail("DynamoDB %s: %s", operation, message ? message : "ResourceNotFoundException"),
			 errhint("%s", fs_missing_table_hint(relid))));
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

/*-------------------------------------------------------------------------
 * Reading many keys
 *-------------------------------------------------------------------------
 */

/* A batch read: the tables, and the keys the next round must ask again. */
typedef struct BatchRun
{
	FsDdbEndpoint *ep;
	FsDdbGet  **gets;
	int			ngets;
	MemoryContext cxt;			/* the run's own, answers parsed here */
	MemoryContext caller_cxt;	/* where callbacks run */
	FsJsonHold *hold;			/* request bodies, pending keys */
	json_t	  **pending;		/* [get]: keys left unprocessed (arrays) */
	char	  **names_text;		/* [get]: its ExpressionAttributeNames, as JSON */
} BatchRun;

/* One BatchGetItem request: the reads of its tables. */
typedef struct BatchCall
{
	BatchRun   *run;
	int			nparts;
	int			parts[FS_DDB_BATCH_GET_MAX];	/* indexes into run->gets */
	int			nkeys;
	json_t	   *keys[FS_DDB_BATCH_GET_MAX]; /* borrowed from the run's arrays */
	int			key_part[FS_DDB_BATCH_GET_MAX]; /* [key]: its index in parts */
} BatchCall;

/* The index of the read of table within a request, or -1. */
static int
call_part(BatchCall *bc, const char *table, size_t len)
{
	for (int p = 0; p < bc->nparts; p++)
	{
		const char *t = bc->run->gets[bc->parts[p]]->table;

		if (strlen(t) == len && memcmp(t, table, len) == 0)
			return bc->parts[p];
	}
	return -1;
}

/*
 * Give up on one table's read: its on_failure, or an error.  call is the
 * failed or malformed answer, or NULL when keys were left unprocessed after
 * the last round.
 */
static void
get_failed(BatchRun *run, FsDdbGet *get, FsDdbCall *call, const char *detail, int unanswered)
{
	if (get->failed)
		return;
	if (get->on_failure != NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(run->caller_cxt);

		get->failed = true;
		get->on_failure(get, call, detail);
		MemoryContextSwitchTo(old);
		return;
	}
	if (call == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("%d keys of remote table \"%s\" were not answered after %d retries",
						unanswered, get->table, run->ep->max_retries),
				 errhint("The store returned them as UnprocessedKeys; raise the server option "
						 "max_retries or feature_store.max_retries, or the table's capacity.")));
	if (call->status != FS_DDB_OK)
		fs_raise_call(call, get->table);
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
			 errmsg("invalid BatchGetItem response from DynamoDB for table \"%s\"", get->table),
			 errdetail("%s", detail)));
}

/* Give up on every table of a request. */
static void
call_failed(BatchCall *bc, FsDdbCall *call, const char *detail)
{
	for (int p = 0; p < bc->nparts; p++)
		get_failed(bc->run, bc->run->gets[bc->parts[p]], call, detail, 0);
}

/* A key the deadline left unanswered: on_unanswered, else the table fails. */
static void
key_unanswered(BatchRun *run, FsDdbGet *get, FsDdbCall *call, json_t *key)
{
	MemoryContext old;

	if (get->failed)
		return;
	if (get->on_unanswered == NULL)
	{
		if (get->on_failure == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("keys of remote table \"%s\" were not answered before the deadline",
							get->table)));
		get_failed(run, get, call, "The deadline passed before the store answered.", 1);
		return;
	}
	old = MemoryContextSwitchTo(run->caller_cxt);
	get->on_unanswered(get, key);
	MemoryContextSwitchTo(old);
}

/* Every key of a request the deadline cut off is unanswered. */
static void
call_expired(BatchCall *bc, FsDdbCall *call)
{
	for (int k = 0; k < bc->nkeys; k++)
		key_unanswered(bc->run, bc->run->gets[bc->parts[bc->key_part[k]]], call, bc->keys[k]);
}

/* Hand the items of one table's response to its read. */
static void
take_items(BatchRun *run, FsDdbGet *get, FsDdbCall *call, const FsJv *items)
{
	FsJIter		it;
	FsJv		item;
	MemoryContext old;

	if (fs_jtype(items) != FSJ_ARRAY)
	{
		get_failed(run, get, call,
				   psprintf("The items of table \"%s\" are not an array.", get->table), 0);
		return;
	}
	old = MemoryContextSwitchTo(run->caller_cxt);
	fs_jiter(items, &it);
	while (fs_jnext(&it, &item))
	{
		if (fs_jtype(&item) != FSJ_OBJECT)
		{
			get_failed(run, get, call,
					   psprintf("An item of table \"%s\" is not an object.", get->table), 0);
			break;
		}
		get->on_item(get, &item);
		if (get->failed)
			break;
	}
	MemoryContextSwitchTo(old);
}

/* Keep the keys an answer left unprocessed, for the next round. */
static void
keep_unprocessed(BatchCall *bc, FsDdbCall *call, const FsJv *unprocessed, bool present)
{
	BatchRun   *run = bc->run;
	FsJIter		it;
	const char *table;
	size_t		tablelen;
	FsJv		entry;

	if (!present || fs_jtype(unprocessed) == FSJ_NULL)
		return;
	if (fs_jtype(unprocessed) != FSJ_OBJECT)
	{
		/* Keys the store may have left unanswered cannot be asked again. */
		call_failed(bc, call, "\"UnprocessedKeys\" is not an object.");
		return;
	}
	fs_jiter(unprocessed, &it);
	while (fs_jnext_member(&it, &table, &tablelen, &entry))
	{
		int			g = call_part(bc, table, tablelen);
		FsJv		keys;
		FsJIter		kit;
		FsJv		key;

		if (g < 0 || run->gets[g]->failed)
			continue;
		if (!fs_jget(&entry, "Keys", 4, &keys) || fs_jtype(&keys) != FSJ_ARRAY)
		{
			get_failed(run, run->gets[g], call, "\"UnprocessedKeys\" has no \"Keys\" array.", 0);
			continue;
		}
		/* Few, and sent again: as jansson values. */
		fs_jiter(&keys, &kit);
		while (fs_jnext(&kit, &key))
			fs_arr_append_new(run->pending[g], fs_jv_to_json(&key));
	}
}

/* Read an answer as soon as it arrives, while the others are in flight. */
static void
batch_done(FsDdbCall *call)
{
	BatchCall  *bc = (BatchCall *) call->arg;
	BatchRun   *run = bc->run;
	FsJsonDoc  *doc;
	const char *error;
	FsJv		responses;
	MemoryContext old;

	for (int p = 0; p < bc->nparts; p++)
	{
		FsDdbGet   *get = run->gets[bc->parts[p]];

		get->requests += call->attempts;
		get->retries += Max(call->attempts - 1, 0);
		get->throttles += call->throttles;
	}
	if (call->status != FS_DDB_OK)
	{
		if (call->expired)
			call_expired(bc, call);
		else
			call_failed(bc, call, "The request failed.");
		return;
	}

	/* Parsed in the run's context: released below, or with it on error. */
	old = MemoryContextSwitchTo(run->cxt);
	doc = fs_json_doc_parse(call->response, call->response_len, &error);
	MemoryContextSwitchTo(old);
	if (doc == NULL || fs_jtype(&doc->root) != FSJ_OBJECT)
		call_failed(bc, call, "The answer is not a JSON object.");
	else if (!fs_jget(&doc->root, "Responses", 9, &responses))
		/* A store always sends Responses: without it, keys would look absent. */
		call_failed(bc, call, "The answer has no \"Responses\".");
	else if (fs_jtype(&responses) != FSJ_OBJECT)
		call_failed(bc, call, "\"Responses\" is not an object.");
	else
	{
		FsJIter		it;
		const char *table;
		size_t		tablelen;
		FsJv		items;
		FsJv		unprocessed;
		bool		present;

		fs_jiter(&responses, &it);
		while (fs_jnext_member(&it, &table, &tablelen, &items))
		{
			int			g = call_part(bc, table, tablelen);

			if (g >= 0 && !run->gets[g]->failed)
				take_items(run, run->gets[g], call, &items);
		}
		present = fs_jget(&doc->root, "UnprocessedKeys", 15, &unprocessed);
		keep_unprocessed(bc, call, &unprocessed, present);
	}

	/* Callbacks decoded what they keep: the document can go now. */
	if (doc != NULL)
		fs_json_doc_release(doc);
	pfree(call->response);
	call->response = NULL;
}

/* A JSON string, from text in the server's encoding. */
static void
append_json_string(StringInfo buf, const char *s)
{
	if (GetDatabaseEncoding() != PG_UTF8)
		s = pg_server_to_any(s, strlen(s), PG_UTF8);
	escape_json(buf, s);
}

/*
 * A key object: {"attr":{"S"|"N"|"B":"..."}}, as fs_ddb_encode makes them
 * (UTF-8 already), written directly; any other shape through jansson.
 */
static void
append_key(StringInfo buf, json_t *key)
{
	void	   *it = json_object_iter(key);
	json_t	   *av = it ? json_object_iter_value(it) : NULL;
	void	   *avit = json_is_object(av) ? json_object_iter(av) : NULL;
	json_t	   *s = avit ? json_object_iter_value(avit) : NULL;

	if (json_object_size(key) != 1 || json_object_size(av) != 1 || !json_is_string(s) ||
		strlen(json_string_value(s)) != json_string_length(s))
	{
		appendStringInfoString(buf, fs_json_to_cstring(key, 0));
		return;
	}
	appendStringInfoChar(buf, '{');
	escape_json(buf, json_object_iter_key(it));
	appendStringInfoString(buf, ":{");
	escape_json(buf, json_object_iter_key(avit));
	appendStringInfoChar(buf, ':');
	escape_json(buf, json_string_value(s));
	appendStringInfoString(buf, "}}");
}

/*
 * A request's body, written as text: it is all keys and names, and
 * building it as a jansson tree to serialise cost more than the rest of
 * the request.
 */
static FsDdbCall *
request_call(BatchCall *bc)
{
	StringInfoData buf;
	FsDdbCall  *call = palloc0(sizeof(FsDdbCall));

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"RequestItems\":{");
	for (int p = 0; p < bc->nparts; p++)
	{
		FsDdbGet   *get = bc->run->gets[bc->parts[p]];
		bool		first = true;

		if (p > 0)
			appendStringInfoChar(&buf, ',');
		append_json_string(&buf, get->table);
		appendStringInfoString(&buf, ":{\"Keys\":[");
		for (int k = 0; k < bc->nkeys; k++)
		{
			if (bc->key_part[k] != p)
				continue;
			if (!first)
				appendStringInfoChar(&buf, ',');
			append_key(&buf, bc->keys[k]);
			first = false;
		}
		appendStringInfoChar(&buf, ']');
		if (get->projection != NULL)
		{
			appendStringInfoString(&buf, ",\"ProjectionExpression\":");
			append_json_string(&buf, get->projection);
			appendStringInfoString(&buf, ",\"ExpressionAttributeNames\":");
			appendStringInfoString(&buf, bc->run->names_text[bc->parts[p]]);
		}
		appendStringInfoString(&buf, get->consistent_read
							   ? ",\"ConsistentRead\":true}" : ",\"ConsistentRead\":false}");
	}
	appendStringInfoString(&buf, "}}");
	call->operation = "BatchGetItem";
	call->body = buf.data;
	call->body_len = buf.len;
	call->arg = bc;
	call->on_done = batch_done;
	return call;
}

/* The index of read g in a request, added on first use. */
static int
request_part(BatchCall *bc, int g)
{
	for (int p = 0; p < bc->nparts; p++)
		if (bc->parts[p] == g)
			return p;
	bc->parts[bc->nparts] = g;
	return bc->nparts++;
}

/*
 * Pack keys[g] of every table into requests of at most FS_DDB_BATCH_GET_MAX
 * keys, each table at most once per request; returns the calls.
 */
static FsDdbCall **
pack_calls(BatchRun *run, json_t **keys, int *ncalls)
{
	List	   *batches = NIL;
	BatchCall  *cur = NULL;
	FsDdbCall **calls;
	ListCell   *lc;
	int			n = 0;

	for (int g = 0; g < run->ngets; g++)
	{
		const char *table = run->gets[g]->table;
		size_t		i;
		json_t	   *key;

		if (run->gets[g]->failed)
			continue;
		json_array_foreach(keys[g], i, key)
		{
			int			other;

			/* A new request when full, or when the table is there for another read. */
			if (cur == NULL || cur->nkeys == FS_DDB_BATCH_GET_MAX ||
				((other = call_part(cur, table, strlen(table))) >= 0 && other != g))
			{
				cur = palloc0(sizeof(BatchCall));
				cur->run = run;
				batches = lappend(batches, cur);
			}
			cur->key_part[cur->nkeys] = request_part(cur, g);
			cur->keys[cur->nkeys++] = key;
		}
	}

	calls = palloc(sizeof(FsDdbCall *) * Max(list_length(batches), 1));
	foreach(lc, batches)
		calls[n++] = request_call((BatchCall *) lfirst(lc));
	*ncalls = n;
	return calls;
}

/*
 * Read every key of gets[0..ngets) from one endpoint: one concurrent wave of
 * BatchGetItem requests, then rounds for the keys left unprocessed.
 */
void
fs_ddb_batch_get(FsDdbEndpoint *ep, FsDdbGet **gets, int ngets)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "fs_ddb_batch_get",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext caller_cxt = MemoryContextSwitchTo(cxt);
	BatchRun   *run = palloc0(sizeof(BatchRun));
	json_t	  **keys = palloc(sizeof(json_t *) * Max(ngets, 1));
	int			round = 0;

	run->ep = ep;
	run->gets = gets;
	run->ngets = ngets;
	run->cxt = cxt;
	run->caller_cxt = caller_cxt;
	run->hold = fs_json_hold_create(cxt);
	run->pending = palloc(sizeof(json_t *) * Max(ngets, 1));

	run->names_text = palloc0(sizeof(char *) * Max(ngets, 1));
	for (int g = 0; g < ngets; g++)
	{
		if (gets[g]->projection != NULL)
			run->names_text[g] = fs_json_to_cstring(gets[g]->names, 0);
		keys[g] = fs_json_hold(run->hold, json_array());
		for (int k = 0; k < gets[g]->nkeys; k++)
			fs_arr_append_new(keys[g], json_incref(gets[g]->keys[k]));
	}

	for (;;)
	{
		int			ncalls;
		FsDdbCall **calls;
		bool		more = false;

		for (int g = 0; g < ngets; g++)
			run->pending[g] = fs_json_hold(run->hold, json_array());
		calls = pack_calls(run, keys, &ncalls);
		if (ncalls == 0)
			break;
		if (round > 0)
			for (int c = 0; c < ncalls; c++)
			{
				BatchCall  *bc = (BatchCall *) calls[c]->arg;

				for (int p = 0; p < bc->nparts; p++)
					gets[bc->parts[p]]->retries++;
			}

		/* Answers are allocated, and read, in the caller's context. */
		MemoryContextSwitchTo(caller_cxt);
		fs_ddb_run(ep, calls, ncalls);
		MemoryContextSwitchTo(cxt);

		for (int g = 0; g < ngets; g++)
			if (!gets[g]->failed && json_array_size(run->pending[g]) > 0)
				more = true;
		if (!more)
			break;
		if (++round > ep->max_retries)
		{
			for (int g = 0; g < ngets; g++)
				if (!gets[g]->failed && json_array_size(run->pending[g]) > 0)
					get_failed(run, gets[g], NULL,
							   psprintf("%d keys were still unprocessed after %d retries.",
										(int) json_array_size(run->pending[g]), ep->max_retries),
							   (int) json_array_size(run->pending[g]));
			break;
		}
		if (!fs_ddb_backoff_until(round, ep->deadline))
		{
			/* The next round could not begin before the deadline. */
			for (int g = 0; g < ngets; g++)
			{
				size_t		i;
				json_t	   *key;

				json_array_foreach(run->pending[g], i, key)
					key_unanswered(run, gets[g], NULL, key);
			}
			break;
		}
		for (int g = 0; g < ngets; g++)
			keys[g] = run->pending[g];
	}

	MemoryContextSwitchTo(caller_cxt);
	MemoryContextDelete(cxt);
}
