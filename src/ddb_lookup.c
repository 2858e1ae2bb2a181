/*-------------------------------------------------------------------------
 *
 * ddb_lookup.c
 *	  Serving from feature views backed by fs_dynamodb foreign tables.
 *
 * All remote views of one call are answered together: for each server, the
 * distinct keys of every view go into one batch read (fs_ddb_batch_get: one
 * concurrent wave of BatchGetItem requests, several tables per request, then
 * rounds for the keys left unprocessed), and each item is decoded into its
 * view's lookup as its answer arrives.  A store that cannot answer raises an
 * error, or with feature_store.on_store_error = 'unavailable' marks its
 * views UNAVAILABLE with a WARNING.
 *
 * feature_store.store_deadline_ms (or a server's option store_deadline_ms)
 * bounds the remote part of the call, counted from its start here: the keys
 * a store has not answered by then are an error, or UNAVAILABLE one by one
 * (the keys it did answer are served).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "ddb.h"

#include "access/table.h"
#include "catalog/pg_type.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "cache.h"
#include "store.h"
#include "utils.h"

typedef struct KeyEntry
{
	FsBytesKey		key;
	int			slot;
} KeyEntry;

/* One remote view of the call. */
typedef struct RemoteView
{
	FsLookup   *lk;
	FsDdbTable *table;
	const char *key_attr;
	const char *ts_attr;
	bool		ts_is_event_time;	/* stored as epoch seconds (N) */
	const char **feat_attrs;	/* [nfeat] */
	FsItemAttrs *item_attrs;	/* key, event time, then the features */
	FsJv	   *item_slots;		/* [nfeat + 2]: an item's values */
	const FsJv **item_vals;		/* [nfeat + 2] */
	json_t	   *names;			/* ExpressionAttributeNames */
	char	   *projection;		/* ProjectionExpression */
	HTAB	   *slot_of_key;
	int		   *same_as;		/* [key]: the slot asked for instead, or -1 */
	struct JsonRoots *jr;		/* documents kept until the call ends */
	bool		failed;
	FsDdbCall  *deferred;		/* a failure that needs a DescribeTable to
								 * explain (a copy), handled after the batch */
	int			table_state;	/* TABLE_UNKNOWN, _MISSING or _PRESENT */
	bool	   *unanswered;		/* [key]: cut off by the deadline */
	int			nunanswered;
	FsDdbGet	get;			/* its part of the server's batch read */

	/* The cache (cache.h), when the table has a cache_ttl_ms. */
	bool		cached;
	FsCacheScope scope;
	uint64		cache_seq;		/* fs_cache_seq before the read was sent */
	StringInfoData hits;		/* "[item,...]": the items the cache answered */
	int			nhits;
	FsBytesKey *key_text;		/* [key]: as asked */
	bool	   *asked;			/* [key]: asked of the store */
	FsBytesKey *answer;			/* [key]: the item the store answered, as
								 * JSON text, for the cache (NULL ptr: none) */
	bool		from_cache;		/* lookup_item reads the cache's items */
} RemoteView;

/* What DescribeTable said of a view's remote table, after a failure. */
#define TABLE_UNKNOWN	0
#define TABLE_MISSING	1
#define TABLE_PRESENT	2

/* feature_store.on_store_error (store.h) */
int			fs_on_store_error = FS_ON_STORE_ERROR_ERROR;

/* JSON made during this call, released even when an error unwinds. */
typedef struct JsonRoots
{
	List	   *roots;
} JsonRoots;

/* Memory-context callback: drop the JSON of a call. */
static void
release_roots(void *arg)
{
	JsonRoots  *jr = arg;
	ListCell   *lc;

	foreach(lc, jr->roots)
		json_decref((json_t *) lfirst(lc));
	jr->roots = NIL;
}

/* Keep a JSON value until the call's memory goes. */
static json_t *
keep_root(JsonRoots *jr, json_t *root)
{
	jr->roots = lappend(jr->roots, root);
	return root;
}

/* How a deadline's limit is named: the server's option, or the setting. */
static char *
deadline_limit(FsDdbEndpoint *ep, Oid serverid)
{
	return ep->store_deadline_from_server
		? psprintf("the store_deadline_ms of server \"%s\"", GetForeignServer(serverid)->servername)
		: pstrdup("feature_store.store_deadline_ms");
}

/*
 * The deadline passed before the store told a view's partition key
 * (DescribeTable, asked once per backend when the foreign table has no
 * option "key"): raise, or mark every key of the view UNAVAILABLE.
 */
static void
describe_cut_off(FsDdbEndpoint *ep, Oid serverid, FsLookup *lk)
{
	char	   *limit = deadline_limit(ep, serverid);

	lk->store_failed = true;
	if (fs_on_store_error == FS_ON_STORE_ERROR_ERROR)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the store of feature view \"%s\" did not answer within %s (%d ms)",
						lk->view->name, limit, ep->store_deadline_ms),
				 errdetail("Its DescribeTable, which tells the remote table's key, was not answered in time."),
				 errhint("Raise %s, or set feature_store.on_store_error = 'unavailable' to serve the answered keys and mark the others UNAVAILABLE.",
						 limit)));
	ereport(WARNING,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("feature view \"%s\" is unavailable: its store did not answer within %s (%d ms)",
					lk->view->name, limit, ep->store_deadline_ms),
			 errdetail("Its DescribeTable, which tells the remote table's key, was not answered in time: its features are UNAVAILABLE.")));
	lk->unavailable = true;
}

static void describe_failed(FsLookup *lk, FsDescribeFailure *failure);

/*
 * Whether a view reads through the cache; if so, its scope (the attribute
 * names it asks for) and what the call keeps for it.
 */
static void
view_cache_init(RemoteView *rv, FsDdbEndpoint *ep)
{
	FsLookup   *lk = rv->lk;
	const char **names = palloc(sizeof(char *) * (lk->nfeat + 2));
	int			n = 0;

	if (lk->read_back)
	{
		rv->cached = false;
		return;
	}
	names[n++] = rv->key_attr;
	names[n++] = rv->ts_attr;
	for (int f = 0; f < lk->nfeat; f++)
		names[n++] = rv->feat_attrs[f];
	rv->cached = fs_ddb_cache_scope(&rv->scope, ep, rv->table, names, n);
	if (!rv->cached)
		return;
	initStringInfo(&rv->hits);
	appendStringInfoChar(&rv->hits, '[');
	rv->key_text = palloc0(sizeof(FsBytesKey) * Max(lk->nkeys, 1));
	rv->asked = palloc0(sizeof(bool) * Max(lk->nkeys, 1));
	rv->answer = palloc0(sizeof(FsBytesKey) * Max(lk->nkeys, 1));
}

/*
 * Ask the cache for key k: true if it answered (an item, kept in rv->hits,
 * or that there is none), false if the store must be asked.
 */
static bool
cache_answers(RemoteView *rv, int k, const FsBytesKey *kt)
{
	int			mark = rv->hits.len;
	FsCacheResult r;

	rv->key_text[k] = *kt;
	if (rv->nhits > 0)
		appendStringInfoChar(&rv->hits, ',');
	r = fs_cache_get(&rv->scope, kt->ptr, kt->len, &rv->hits);
	if (r == FS_CACHE_ITEM)
		rv->nhits++;
	else
	{
		rv->hits.len = mark;
		rv->hits.data[mark] = '\0';
	}
	if (r == FS_CACHE_MISS)
	{
		rv->asked[k] = true;
		rv->lk->cache_misses++;
		return false;
	}
	rv->lk->cache_hits++;
	return true;
}

/*
 * Prepare a view: its table, attribute names, projection and key map.  NULL
 * if its table's key could not be known (the deadline passed, or under
 * on_store_error = 'unavailable' the store could not answer DescribeTable):
 * the view is then UNAVAILABLE, or an error was raised.
 */
static RemoteView *
remote_view_init(FsLookup *lk, JsonRoots *jr, FsDdbEndpoint *ep, Oid serverid)
{
	FsView	   *view = lk->view;
	RemoteView *rv = palloc0(sizeof(RemoteView));
	Relation	rel = table_open(view->relid, AccessShareLock);
	FsDescribeFailure failure = {0};
	StringInfoData proj;

	rv->lk = lk;
	rv->jr = jr;
	rv->same_as = palloc(sizeof(int) * Max(lk->nkeys, 1));
	for (int k = 0; k < lk->nkeys; k++)
		rv->same_as[k] = -1;
	/*
	 * Under 'unavailable' a DescribeTable that failed is told, not raised.
	 * Raised, it is the store's failure (for the statistics).
	 */
	lk->store_failed = true;
	rv->table = fs_ddb_table_for_view(rel, view->name, ep->deadline,
									  fs_on_store_error == FS_ON_STORE_ERROR_ERROR
									  ? NULL : &failure);
	lk->store_failed = false;
	table_close(rel, NoLock);
	if (rv->table == NULL)
	{
		if (failure.table != NULL && !(failure.call != NULL && failure.call->expired))
			describe_failed(lk, &failure);
		else
			describe_cut_off(ep, serverid, lk);
		return NULL;
	}

	if (rv->table->key_attnum != view->key_attnum)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("join key \"%s\" of feature view \"%s\" is not the partition key of remote table \"%s\"",
						view->join_key, view->name, rv->table->table),
				 errdetail("The partition key attribute is \"%s\".", rv->table->key_attr)));

	rv->key_attr = rv->table->key_attr;
	rv->ts_attr = rv->table->attr_names[view->ts_attnum - 1];
	/* Written as epoch seconds only if the FDW knows it as the event time. */
	rv->ts_is_event_time = (rv->table->event_time_attnum == view->ts_attnum);
	rv->feat_attrs = palloc(sizeof(char *) * Max(lk->nfeat, 1));
	rv->names = keep_root(jr, fs_json_object());
	initStringInfo(&proj);
	json_object_set_new(rv->names, "#k", json_string(rv->key_attr));
	json_object_set_new(rv->names, "#t", json_string(rv->ts_attr));
	appendStringInfoString(&proj, "#k, #t");
	for (int f = 0; f < lk->nfeat; f++)
	{
		char		alias[16];

		rv->feat_attrs[f] = rv->table->attr_names[lk->feat[f]->attnum - 1];
		snprintf(alias, sizeof(alias), "#f%d", f);
		json_object_set_new(rv->names, alias, json_string(rv->feat_attrs[f]));
		appendStringInfo(&proj, ", %s", alias);
	}
	rv->projection = proj.data;
	{
		const char **attrs = palloc(sizeof(char *) * (lk->nfeat + 2));

		attrs[0] = rv->key_attr;
		attrs[1] = rv->ts_attr;
		memcpy(attrs + 2, rv->feat_attrs, sizeof(char *) * lk->nfeat);
		rv->item_attrs = fs_item_attrs_create(attrs, lk->nfeat + 2);
		rv->item_slots = palloc(sizeof(FsJv) * (lk->nfeat + 2));
		rv->item_vals = palloc(sizeof(FsJv *) * (lk->nfeat + 2));
	}

	rv->slot_of_key = fs_bytes_table("feature_store remote keys", Max(lk->nkeys, 16),
									 sizeof(KeyEntry), CurrentMemoryContext);
	rv->unanswered = palloc0(sizeof(bool) * Max(lk->nkeys, 1));
	view_cache_init(rv, ep);
	return rv;
}

/*
 * Warn that a view is unavailable, with the same words (and SQLSTATE) as the
 * error the failed call would raise.
 */
static void
warn_unavailable(FsView *view, FsDdbCall *call, const char *why)
{
	MemoryContext cxt = CurrentMemoryContext;
	ErrorData  *edata = NULL;

	if (call != NULL && call->status == FS_DDB_FAILED)
	{
		/* fs_ddb_raise only reports: nothing to clean up when caught. */
		PG_TRY();
		{
			fs_ddb_raise(call);
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(cxt);
			edata = CopyErrorData();
			FlushErrorState();
		}
		PG_END_TRY();
	}

	if (edata != NULL)
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("feature view \"%s\" is unavailable: %s", view->name, edata->message),
				 edata->detail ? errdetail("%s", edata->detail) : 0,
				 edata->hint ? errhint("%s", edata->hint) : 0));
	else
		ereport(WARNING,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("feature view \"%s\" is unavailable: its store did not answer",
						view->name),
				 errdetail("%s", why)));
}

/* Warn that a view is unavailable because its remote table does not exist. */
static void
warn_missing_table(FsView *view, FsDdbCall *call, const char *table, Oid relid)
{
	ereport(WARNING,
			(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
			 errmsg("feature view \"%s\" is unavailable: its remote table \"%s\" does not exist",
					view->name, table),
			 errdetail("DynamoDB %s: %s", call->operation,
					   call->error_message ? call->error_message : call->error_type),
			 errhint("%s", fs_missing_table_hint(relid))));
}

/*
 * Under on_store_error = 'unavailable', the store could not answer the
 * DescribeTable that tells a view's partition key (asked when its foreign
 * table has no option "key"): mark the view UNAVAILABLE, and warn naming the
 * view, its remote table and the cause, in the words (and SQLSTATE) of the
 * error 'error' raises.
 */
static void
describe_failed(FsLookup *lk, FsDescribeFailure *failure)
{
	FsView	   *view = lk->view;
	FsDdbCall  *call = failure->call;
	const char *table = failure->table;
	MemoryContext cxt = CurrentMemoryContext;
	ErrorData  *edata = NULL;

	lk->unavailable = true;
	if (call == NULL)
	{
		ereport(WARNING,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("feature view \"%s\" is unavailable: invalid DescribeTable response from its store for remote table \"%s\"",
						view->name, table),
				 errdetail("%s", failure->invalid)));
		return;
	}
	if (call->error_type && strcmp(call->error_type, "ResourceNotFoundException") == 0)
	{
		warn_missing_table(view, call, table, view->relid);
		return;
	}

	/* fs_ddb_raise only reports: nothing to clean up when caught. */
	PG_TRY();
	{
		fs_ddb_raise(call);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
	}
	PG_END_TRY();
	ereport(WARNING,
			(errcode(edata->sqlerrcode),
			 errmsg("feature view \"%s\" is unavailable: %s for remote table \"%s\"",
					view->name, edata->message, table),
			 edata->detail ? errdetail("%s", edata->detail) : 0,
			 edata->hint ? errhint("%s", edata->hint) : 0));
}

/* Give up on a view: raise, or mark it UNAVAILABLE. */
static void
view_failed(RemoteView *rv, FsDdbCall *call, const char *why)
{
	if (rv->failed)
		return;
	rv->lk->store_failed = true;
	if (fs_on_store_error == FS_ON_STORE_ERROR_ERROR)
	{
		if (call != NULL && call->status == FS_DDB_FAILED)
			fs_ddb_raise(call);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the store of feature view \"%s\" did not answer", rv->lk->view->name),
				 errdetail("%s", why)));
	}
	rv->failed = true;
	rv->lk->unavailable = true;
	warn_unavailable(rv->lk->view, call, why);
}

/*
 * The store answered, but not with a BatchGetItem response: raise HV004 as
 * the FDW does, or with on_store_error = 'unavailable' give up on the view.
 */
static void
bad_answer(RemoteView *rv, const char *detail)
{
	if (rv->failed)
		return;
	rv->lk->store_failed = true;
	if (fs_on_store_error == FS_ON_STORE_ERROR_ERROR)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("invalid BatchGetItem response from the store of feature view \"%s\"",
						rv->lk->view->name),
				 errdetail("%s", detail)));
	rv->failed = true;
	rv->lk->unavailable = true;
	ereport(WARNING,
			(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
			 errmsg("feature view \"%s\" is unavailable: invalid BatchGetItem response from its store",
					rv->lk->view->name),
			 errdetail("%s", detail)));
}

/* Whether an N key is already in the canonical integer form we encode. */
static bool
canonical_integer(const FsBytesKey *kt)
{
	size_t		i = (kt->len > 0 && kt->ptr[0] == '-') ? 1 : 0;

	if (i == kt->len)
		return false;
	if (kt->ptr[i] == '0')
		return kt->len == i + 1 && i == 0;
	for (; i < kt->len; i++)
		if (kt->ptr[i] < '0' || kt->ptr[i] > '9')
			return false;
	return true;
}

/*
 * The text under which an item's key was asked for.  Stores normalise
 * numbers, but not all alike ("1E+2", "42.0"): a number that is not in the
 * form we send goes through the key type and back.
 */
static bool
item_key_text(RemoteView *rv, const FsJv *av, FsBytesKey *kt)
{
	FsView	   *view = rv->lk->view;
	json_t	   *again;
	bool		isnull;
	bool		is_n;
	Datum		key;

	if (!fs_answer_key_text(av, kt, &is_n))
		return false;
	if (!is_n || canonical_integer(kt))
		return true;
	key = fs_ddb_decode(av, view->key_type, view->key_typmod, false, rv->key_attr, &isnull);
	if (isnull)
		return false;
	again = keep_root(rv->jr, fs_ddb_encode(key, view->key_type, false, view->join_key, NULL));
	return fs_request_key_text(again, kt);
}

/* Error context: the item being decoded. */
typedef struct ItemContext
{
	FsView	   *view;
	FsBytesKey		key;
} ItemContext;

/* errcontext callback: the item's key and view. */
static void
item_context(void *arg)
{
	ItemContext *ic = arg;

	if (ic->key.ptr != NULL)
		errcontext("item with key \"%.*s\" of feature view \"%s\"",
				   (int) ic->key.len, ic->key.ptr, ic->view->name);
}

/* Keep the store's answer for a key as JSON text, for the cache. */
static void
keep_answer(RemoteView *rv, int slot, const FsJv *item)
{
	char	   *text;
	int			len;

	/* An item too large for an entry is not cached. */
	if (fs_json_cached_text(item, &text, &len))
	{
		rv->answer[slot].ptr = text;
		rv->answer[slot].len = len;
	}
}

/* An item of a view's table: store its values in the view's lookup. */
static void
lookup_item(FsDdbGet *get, const FsJv *item)
{
	RemoteView *rv = (RemoteView *) get->arg;
	FsLookup   *lk = rv->lk;
	ItemContext ic = {lk->view, {NULL, 0}};
	ErrorContextCallback errcb;
	FsBytesKey		kt;
	KeyEntry   *entry;
	int			slot;
	const FsJv **vals = rv->item_vals;

	fs_item_attrs_find(rv->item_attrs, item, rv->item_slots, vals);
	if (!item_key_text(rv, vals[0], &kt))
	{
		bad_answer(rv, psprintf("An item of table \"%s\" has no usable key attribute \"%s\".",
								rv->table->table, rv->key_attr));
		get->failed = true;
		return;
	}
	entry = hash_search(rv->slot_of_key, &kt, HASH_FIND, NULL);
	if (entry == NULL)
		return;					/* not a key we asked for */
	slot = entry->slot;
	if (rv->cached && !rv->from_cache)
		keep_answer(rv, slot, item);

	ic.key = kt;
	errcb.callback = item_context;
	errcb.arg = &ic;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	lk->found[slot] = true;
	lk->event_time[slot] = fs_ddb_decode(vals[1],
										 TIMESTAMPTZOID, -1, rv->ts_is_event_time,
										 rv->ts_attr, &lk->event_time_null[slot]);
	for (int f = 0; f < lk->nfeat; f++)
	{
		FsFeature  *feat = lk->feat[f];
		int			v = slot * lk->nfeat + f;

		lk->values[v] = fs_ddb_decode(vals[f + 2],
									  feat->typid, feat->typmod, false,
									  rv->feat_attrs[f], &lk->nulls[v]);
	}
	error_context_stack = errcb.previous;
}

/*
 * The store could not answer for a view's table: the request failed, the
 * answer was malformed, or keys were left unprocessed (call NULL).  A
 * missing table or a refused key is explained after the batch (it takes a
 * DescribeTable, which cannot be sent from inside the batch's callbacks).
 */
static void
lookup_failed(FsDdbGet *get, FsDdbCall *call, const char *detail)
{
	RemoteView *rv = (RemoteView *) get->arg;

	if (call != NULL && call->status == FS_DDB_FAILED && !rv->failed && rv->deferred == NULL &&
		((call->error_type && strcmp(call->error_type, "ResourceNotFoundException") == 0) ||
		 fs_ddb_key_refused(call)))
	{
		/* The call goes with the batch's memory: keep a copy. */
		rv->deferred = palloc(sizeof(FsDdbCall));
		*rv->deferred = *call;
		rv->deferred->body = NULL;
		rv->deferred->response = NULL;
		rv->deferred->error_type = pstrdup(call->error_type);
		rv->deferred->error_message = call->error_message ? pstrdup(call->error_message) : NULL;
		rv->failed = true;
		rv->lk->unavailable = true;
	}
	else if (call != NULL && call->status == FS_DDB_FAILED)
		view_failed(rv, call, "the request failed");
	else if (call == NULL)
		view_failed(rv, NULL, detail);
	else
		bad_answer(rv, detail);
}

/* Whether a view's remote table is missing, by DescribeTable (asked once). */
static bool
table_missing(FsDdbEndpoint *ep, RemoteView *rv)
{
	if (rv->table_state == TABLE_UNKNOWN)
	{
		json_t	   *body = keep_root(rv->jr, fs_json_object());
		FsDdbCall  *call;

		fs_obj_set_new(body, "TableName", json_string(rv->table->table));
		call = fs_new_call("DescribeTable", body);
		fs_ddb_run(ep, &call, 1);
		rv->table_state = (call->status == FS_DDB_FAILED && call->error_type != NULL &&
						   strcmp(call->error_type, "ResourceNotFoundException") == 0)
			? TABLE_MISSING : TABLE_PRESENT;
	}
	return rv->table_state == TABLE_MISSING;
}

/*
 * Explain a view's deferred failure, now that the batch is over: raise it,
 * or with on_store_error = 'unavailable' warn.  A missing table: the store
 * refuses a whole BatchGetItem request when one of its tables is missing,
 * so the missing one is found among the views whose request failed so.  A
 * refused key: a hint comparing the key's types.
 */
static void
deferred_failure(FsDdbEndpoint *ep, RemoteView *rv, RemoteView **rvs, int nrv)
{
	FsDdbCall  *call = rv->deferred;
	FsView	   *view = rv->lk->view;
	bool		raise = (fs_on_store_error == FS_ON_STORE_ERROR_ERROR);

	if (strcmp(call->error_type, "ResourceNotFoundException") == 0)
	{
		RemoteView *missing = table_missing(ep, rv) ? rv : NULL;

		for (int v = 0; missing == NULL && v < nrv; v++)
			if (rvs[v] != rv && rvs[v]->deferred != NULL &&
				strcmp(rvs[v]->deferred->error_type, "ResourceNotFoundException") == 0 &&
				table_missing(ep, rvs[v]))
				missing = rvs[v];
		if (missing != NULL && raise)
			fs_report_missing_table(ERROR, call->operation, call->error_message,
									missing->table->table, missing->table->relid,
									missing->lk->view->name);
		if (raise)
			fs_ddb_raise(call);
		if (missing == rv)
			warn_missing_table(view, call, rv->table->table, rv->table->relid);
		else if (missing != NULL)
			ereport(WARNING,
					(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
					 errmsg("feature view \"%s\" is unavailable: remote table \"%s\" of feature view \"%s\", read in the same request, does not exist",
							view->name, missing->table->table, missing->lk->view->name),
					 errdetail("The store refuses a BatchGetItem request as a whole when one of its tables is missing.")));
		else
			warn_unavailable(view, call, "the request failed");
	}
	else
	{
		char	   *hint = fs_ddb_key_type_hint(ep, rv->table, view->key_type);

		if (hint == NULL && raise)
			fs_ddb_raise(call);
		if (hint == NULL)
			warn_unavailable(view, call, "the request failed");
		else
			ereport(raise ? ERROR : WARNING,
					(errcode(ERRCODE_FDW_ERROR),
					 raise ? errmsg("the store refused the keys of feature view \"%s\"", view->name)
					 : errmsg("feature view \"%s\" is unavailable: the store refused its keys", view->name),
					 errdetail("DynamoDB %s: %s: %s", call->operation, call->error_type,
							   call->error_message),
					 errhint("%s", hint)));
	}
}

/* A key the store did not answer before the deadline. */
static void
lookup_unanswered(FsDdbGet *get, json_t *key)
{
	RemoteView *rv = (RemoteView *) get->arg;
	FsBytesKey	kt;
	KeyEntry   *entry;

	/* The key as we sent it: its text is the one in slot_of_key. */
	if (!fs_request_key_text(json_object_get(key, rv->key_attr), &kt))
		return;
	entry = hash_search(rv->slot_of_key, &kt, HASH_FIND, NULL);
	if (entry == NULL || rv->lk->found[entry->slot] || rv->unanswered[entry->slot])
		return;
	rv->unanswered[entry->slot] = true;
	rv->nunanswered++;
}

/*
 * After the batch read: raise the keys the deadline cut off, or serve them as
 * UNAVAILABLE (with a WARNING) and the rest as answered.
 */
static void
deadline_passed(FsDdbEndpoint *ep, Oid serverid, RemoteView *rv)
{
	FsLookup   *lk = rv->lk;
	char	   *limit;

	if (rv->nunanswered == 0 || rv->failed)
		return;
	lk->store_failed = true;
	limit = deadline_limit(ep, serverid);
	if (fs_on_store_error == FS_ON_STORE_ERROR_ERROR)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the store of feature view \"%s\" did not answer within %s (%d ms)",
						lk->view->name, limit, ep->store_deadline_ms),
				 errdetail("%d of %d keys were not answered in time.",
						   rv->nunanswered, rv->get.nkeys),
				 errhint("Raise %s, or set feature_store.on_store_error = 'unavailable' to serve "
						 "the answered keys and mark the others UNAVAILABLE.", limit)));
	ereport(WARNING,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("feature view \"%s\" is unavailable: its store did not answer within %s (%d ms)",
					lk->view->name, limit, ep->store_deadline_ms),
			 errdetail("%d of %d keys were not answered in time: their features are UNAVAILABLE.",
					   rv->nunanswered, rv->get.nkeys)));
	lk->key_unavailable = rv->unanswered;
}

/* An item the cache answered, read as the store's are. */
static void
cached_item(void *arg, const FsJv *item)
{
	lookup_item(&((RemoteView *) arg)->get, item);
}

/*
 * After a view's batch read: read the items the cache answered as the
 * store's are read, then put what the store answered (an item, or that
 * there is none) for the next calls.  Nothing is put for a view that
 * failed or keys the deadline cut off.
 */
static void
cache_finish(RemoteView *rv)
{
	FsLookup   *lk = rv->lk;

	if (rv->failed || lk->unavailable)
		return;
	if (rv->nhits > 0)
	{
		rv->from_cache = true;
		fs_json_each_cached(&rv->hits, cached_item, rv,
							psprintf("feature view \"%s\"", lk->view->name));
		rv->from_cache = false;
	}
	for (int k = 0; k < lk->nkeys; k++)
	{
		if (!rv->asked[k] || rv->unanswered[k])
			continue;
		if (rv->answer[k].ptr != NULL)
			fs_cache_put(&rv->scope, rv->cache_seq, rv->key_text[k].ptr, rv->key_text[k].len,
						 rv->answer[k].ptr, rv->answer[k].len);
		else if (!lk->found[k])
			fs_cache_put(&rv->scope, rv->cache_seq, rv->key_text[k].ptr, rv->key_text[k].len,
						 NULL, 0);
	}
}

/* Error context: which server's answer was being read. */
static void
server_context(void *arg)
{
	errcontext("serving from foreign server \"%s\"", (const char *) arg);
}

/* Leave each lookup its store figures, for the statistics. */
static void
count_requests(RemoteView **rvs, int nrv)
{
	for (int v = 0; v < nrv; v++)
	{
		rvs[v]->lk->store_requests = rvs[v]->get.requests;
		rvs[v]->lk->store_retries = rvs[v]->get.retries;
		rvs[v]->lk->store_throttles = rvs[v]->get.throttles;
	}
}

/* Read the batch of one server's lookups, counted even when it raises. */
static void
batch_get_counted(FsDdbEndpoint *ep, FsDdbGet **gets, RemoteView **rvs, int nrv)
{
	PG_TRY();
	{
		fs_ddb_batch_get(ep, gets, nrv);
	}
	PG_CATCH();
	{
		count_requests(rvs, nrv);
		PG_RE_THROW();
	}
	PG_END_TRY();
	count_requests(rvs, nrv);
}

/*
 * Answer the lookups of one server: each view's distinct keys, read in one
 * batch (fs_ddb_batch_get: one wave of requests, then rounds for unprocessed
 * keys).
 */
static void
lookup_server(FsDdbEndpoint *ep, Oid serverid, RemoteView **rvs, int nrv, JsonRoots *jr)
{
	FsDdbGet  **gets = palloc(sizeof(FsDdbGet *) * Max(nrv, 1));
	ErrorContextCallback errcb;

	errcb.callback = server_context;
	errcb.arg = GetForeignServer(serverid)->servername;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	for (int v = 0; v < nrv; v++)
	{
		RemoteView *rv = rvs[v];
		FsLookup   *lk = rv->lk;
		FsView	   *view = lk->view;
		FsDdbGet   *get = &rv->get;

		/* Entries' age from now, after any DescribeTable of the views. */
		if (rv->cached)
			rv->scope.now = GetCurrentTimestamp();

		get->table = rv->table->table;
		get->keys = palloc(sizeof(json_t *) * Max(lk->nkeys, 1));
		get->projection = rv->projection;
		get->names = rv->names;
		get->consistent_read = ep->consistent_read || lk->read_back;
		get->on_item = lookup_item;
		get->on_failure = lookup_failed;
		get->on_unanswered = lookup_unanswered;
		get->arg = rv;
		for (int k = 0; k < lk->nkeys; k++)
		{
			json_t	   *av;
			json_t	   *keyobj;
			FsBytesKey		kt;
			KeyEntry   *entry;
			bool		found;

			if (lk->keynull[k])
				continue;
			av = keep_root(jr, fs_ddb_encode(lk->keys[k], view->key_type, false,
											 view->join_key, NULL));
			if (!fs_request_key_text(av, &kt))
				elog(ERROR, "join key of feature view \"%s\" is not S, N or B", view->name);
			entry = hash_search(rv->slot_of_key, &kt, HASH_ENTER, &found);
			if (found)
			{
				rv->same_as[k] = entry->slot;	/* two ids, one key: ask once */
				continue;
			}
			entry->slot = k;
			if (rv->cached && cache_answers(rv, k, &kt))
				continue;
			keyobj = keep_root(jr, fs_json_object());
			fs_obj_set(keyobj, rv->key_attr, av);
			get->keys[get->nkeys++] = keyobj;
		}
		gets[v] = get;
	}

	for (int v = 0; v < nrv; v++)
		if (rvs[v]->cached)
			rvs[v]->cache_seq = fs_cache_seq();
	batch_get_counted(ep, gets, rvs, nrv);
	for (int v = 0; v < nrv; v++)
	{
		if (rvs[v]->deferred != NULL)
			deferred_failure(ep, rvs[v], rvs, nrv);
		deadline_passed(ep, serverid, rvs[v]);
		if (rvs[v]->cached)
			cache_finish(rvs[v]);
	}

	/* Ids that map to one key (e.g. '7' and '007' for an integer key) share its row. */
	for (int v = 0; v < nrv; v++)
	{
		RemoteView *rv = rvs[v];
		FsLookup   *lk = rv->lk;

		for (int k = 0; k < lk->nkeys; k++)
		{
			int			src = rv->same_as[k];

			if (src >= 0 && rv->unanswered[src])
				rv->unanswered[k] = true;
			if (src < 0 || !lk->found[src])
				continue;
			lk->found[k] = true;
			lk->event_time[k] = lk->event_time[src];
			lk->event_time_null[k] = lk->event_time_null[src];
			memcpy(&lk->values[k * lk->nfeat], &lk->values[src * lk->nfeat],
				   sizeof(Datum) * lk->nfeat);
			memcpy(&lk->nulls[k * lk->nfeat], &lk->nulls[src * lk->nfeat],
				   sizeof(bool) * lk->nfeat);
		}
	}
	error_context_stack = errcb.previous;
}

/*
 * Answer every remote lookup of a call, grouped by server, each server within
 * its store_deadline_ms of the start.
 */
void
fs_ddb_lookup(FsLookup **lookups, int n)
{
	double		start = fs_ddb_now_ms();
	JsonRoots  *jr = palloc0(sizeof(JsonRoots));
	MemoryContextCallback *cb = palloc(sizeof(MemoryContextCallback));
	bool	   *done = palloc0(sizeof(bool) * Max(n, 1));
	RemoteView **rvs = palloc(sizeof(RemoteView *) * Max(n, 1));

	cb->func = release_roots;
	cb->arg = jr;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);

	for (int i = 0; i < n; i++)
	{
		Oid			serverid;
		int			nrv = 0;
		FsDdbEndpoint *ep;

		if (done[i])
			continue;
		serverid = lookups[i]->view->serverid;
		ep = fs_ddb_endpoint(serverid, GetUserId());
		if (lookups[i]->read_back)
			ep->deadline = 0;
		else if (ep->store_deadline_ms > 0)
			ep->deadline = start + ep->store_deadline_ms;
		for (int j = i; j < n; j++)
		{
			if (done[j] || lookups[j]->view->serverid != serverid)
				continue;
			rvs[nrv] = remote_view_init(lookups[j], jr, ep, serverid);
			if (rvs[nrv] != NULL)
				nrv++;
			done[j] = true;
		}
		if (nrv > 0)
			lookup_server(ep, serverid, rvs, nrv, jr);
	}
}
