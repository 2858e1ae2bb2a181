/*-------------------------------------------------------------------------
 *
 * ddb.h
 *	  The DynamoDB-compatible store: what its files share.
 *
 * Every file of the store carries the ddb_ prefix:
 *
 *	ddb_client.c	HTTP client: libcurl multi, SigV4, retries (ddb_client.h)
 *	ddb_json.c		jansson inside a backend: holders, builders; parsed
 *					answers (ddb_json.h, over json_doc.h: simdjson)
 *	ddb_codec.c		the item layout: types and numbers, shared by
 *	ddb_encode.c	Datums -> AttributeValues and
 *	ddb_decode.c	AttributeValues -> Datums (ddb_codec.h; between the
 *					three, ddb_codec_internal.h)
 *	ddb_option.c	options of servers, user mappings, foreign tables and
 *					columns: the validator, endpoints, table options
 *	ddb_table.c		foreign tables resolved to their remote tables, with the
 *					per-backend cache of keys learnt from DescribeTable
 *	ddb_request.c	building, sending and checking calls; the one BatchGetItem
 *					loop (fs_ddb_batch_get) every reader uses
 *	ddb_fdw.c		the wrapper's handler and fs_create_online_table
 *	ddb_scan.c		planning and scans (ddb_fdw.h)
 *	ddb_modify.c	INSERT, UPDATE, DELETE (ddb_fdw.h)
 *	ddb_lookup.c	serving: every remote lookup of a call in one wave (store.h)
 *	ddb_write.c		direct and streamed writes: UpdateItem with seqs (store.h)
 *	ddb_ingest.c	fs_ingest's gold step into the store (ingest.h)
 *
 * The rest of the extension reaches the store through store.h and ingest.h,
 * and _PG_init through ddb_client.h (libcurl, the servers' default
 * settings).  Include this header right after postgres.h: it brings in
 * jansson (ddb_json.h), which must come before utils/builtins.h.
 *
 * Options:
 *	server:			endpoint (required), region (default 'us-east-1'),
 *					connect_timeout_ms, request_timeout_ms, max_retries,
 *					max_connections, max_write_connections, max_response_size,
 *					store_deadline_ms, cache_ttl_ms, consistent_read ('true'/'false')
 *	user mapping:	access_key_id, secret_access_key, session_token
 *	foreign table:	table (default: the foreign table's name), key (the
 *					partition key attribute; default: from DescribeTable),
 *					event_time_column (default 'event_time': the timestamptz
 *					column stored as epoch seconds, N, rather than ISO 8601, S)
 *	column:			attribute (default: the column's name)
 *
 * Without a user mapping (for the user or PUBLIC) requests go unsigned.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FS_DDB_H
#define FS_DDB_H

#include "ddb_json.h"

#include "catalog/pg_attribute.h"
#include "utils/relcache.h"

#include "cache.h"
#include "ddb_client.h"
#include "ddb_codec.h"
#include "utils.h"

/* BatchGetItem takes at most this many keys per request. */
#define FS_DDB_BATCH_GET_MAX	100

/* BatchWriteItem takes at most this many puts and deletes per request. */
#define FS_DDB_BATCH_WRITE_MAX	25

/* A foreign table of fs_dynamodb, resolved. */
typedef struct FsDdbTable
{
	Oid			relid;
	Oid			serverid;
	char	   *table;			/* the remote table's name */
	char	   *key_attr;		/* its partition key attribute */
	AttrNumber	key_attnum;		/* the local column holding it */
	AttrNumber	event_time_attnum;	/* the event-time column, or InvalidAttrNumber */
	int			natts;
	char	  **attr_names;		/* [attnum - 1]: attribute name; NULL if dropped */
	int			cache_ttl_ms;	/* the table's option cache_ttl_ms; -1: the server's */
} FsDdbTable;

/* ddb_option.c */

/*
 * The endpoint of a server as seen by a user: server options over the
 * feature_store.* settings, credentials from the user mapping (or PUBLIC's).
 * Allocated in the current memory context.
 */
extern FsDdbEndpoint *fs_ddb_endpoint(Oid serverid, Oid userid);

/*
 * A foreign table's options and attribute names, without the key unless the
 * option 'key' names it; *event_time_column gets its event-time column.
 */
extern FsDdbTable *fs_ddb_table_options(Relation rel, char **event_time_column);

/* A column's remote attribute (option 'attribute', else the column's name). */
extern char *fs_column_attribute(Oid relid, Form_pg_attribute att);

/* The kind (S, N or B) of a partition key of type typid, or '\0'. */
extern char fs_key_kind(Oid typid);

/* ddb_table.c */

/*
 * A foreign table's remote table, key and attribute names, allocated in the
 * current memory context.  Without a 'key' option the key comes from
 * DescribeTable, asked once per backend and table.
 */
extern FsDdbTable *fs_ddb_table(Relation rel);

/* Why serving's DescribeTable of a key told none (fs_ddb_table_for_view). */
typedef struct FsDescribeFailure
{
	FsDdbCall  *call;			/* the failed call (a copy; expired if the
								 * deadline cut it off), or NULL */
	const char *invalid;		/* or what was wrong with its answer */
	const char *table;			/* the remote table asked about */
} FsDescribeFailure;

/*
 * fs_ddb_table for serving feature view view: errors name the view; NULL if
 * serving's deadline (fs_ddb_now_ms(); 0: none) passed before DescribeTable
 * told the key.  With failure not NULL, a DescribeTable the store could not
 * answer (failed or malformed) raises nothing either: NULL, failure says why.
 */
extern FsDdbTable *fs_ddb_table_for_view(Relation rel, const char *view, double deadline,
										 FsDescribeFailure *failure);

/* Whether a failed call is the store refusing a key of the wrong type. */
extern bool fs_ddb_key_refused(FsDdbCall *call);

/*
 * After the store refused a key: a hint comparing the remote partition
 * key's type (DescribeTable) with the key column's (key_typid), or NULL.
 * Sends a request: never from inside fs_ddb_run's callbacks.
 */
extern char *fs_ddb_key_type_hint(FsDdbEndpoint *ep, FsDdbTable *tbl, Oid key_typid);

/* Forget the key learnt for a foreign table (its remote table was recreated). */
extern void fs_ddb_forget_key(Oid relid);

/*
 * DescribeTable of a remote table: the "Table" object of the response (held
 * by h; NULL if absent), and the call in *call for messages.
 */
extern json_t *fs_ddb_describe_table(FsDdbEndpoint *ep, const char *table, FsJsonHold *h,
									 FsDdbCall **call);

/* The S, N or B string of a key AttributeValue of a request (jansson). */
extern bool fs_request_key_text(json_t *av, FsBytesKey *kt);

/*
 * Have the cache forget, once call has its outcome, the key av (a key
 * AttributeValue) of remote table table, which call writes.
 */
extern void fs_call_forget(FsDdbCall *call, const char *table, json_t *av);

/*
 * Whether reads of tbl go through the cache (its option cache_ttl_ms, else
 * its server's, and the cache on); if so, fill scope for reads of the
 * attributes attrs[0..nattrs) by the endpoint's user mapping.
 */
extern bool fs_ddb_cache_scope(FsCacheScope *scope, FsDdbEndpoint *ep, FsDdbTable *tbl,
							   const char **attrs, int nattrs);

/* The S, N or B string of a key AttributeValue of an answer; *is_n for N. */
extern bool fs_answer_key_text(const FsJv *av, FsBytesKey *kt, bool *is_n);

/*
 * The attributes to read from items: each item's members are matched to
 * them in one pass, guessing that items list their attributes in the same
 * order (stores answer so), at the cost of a string comparison per member.
 */
typedef struct FsItemAttrs
{
	int			n;
	const char **names;			/* [n] */
	size_t	   *lens;			/* [n] */
	int		   *guess;			/* [member position]: the index it had, or -1 */
	int			nguess;
} FsItemAttrs;

/* Attributes names[0..n) (kept, not copied), in the current memory context. */
extern FsItemAttrs *fs_item_attrs_create(const char **names, int n);

/*
 * The values of an item's attributes: vals[i] for names[i], or NULL when the
 * item lacks it (a repeated attribute: its last value, as a JSON object
 * holds).  vals and slots have n entries; vals[i] points into slots.
 */
extern void fs_item_attrs_find(FsItemAttrs *ia, const FsJv *item, FsJv *slots,
							   const FsJv **vals);

/*
 * A column's value in an item (an object of attributes in a parsed answer;
 * NULL: no item, the column is NULL).
 */
extern Datum fs_decode_column(FsDdbTable *tbl, const FsJv *item, Form_pg_attribute att,
							  bool *isnull);

/* ddb_request.c: single calls */

/* errcontext of remote calls */
typedef struct FsCallContext
{
	const char *table;
	const char *relname;
} FsCallContext;

/* A call of operation with body, allocated in the current context. */
extern FsDdbCall *fs_new_call(const char *operation, json_t *body);

/* Parse a successful call's response as a JSON object, held by h. */
extern json_t *fs_parse_response(FsJsonHold *h, FsDdbCall *call, const char *table);

/*
 * Parse a successful call's response that carries items (read, never sent
 * again) into a document of the current memory context; its root object in
 * *root.
 */
extern FsJsonDoc *fs_parse_answer(FsDdbCall *call, const char *table, FsJv *root);

/* A malformed response: name what is wrong (ERRCODE_FDW_INVALID_DATA_TYPE). */
extern void fs_bad_shape(FsDdbCall *call, const char *table, const char *what) pg_attribute_noreturn();

/* Push an errcontext callback naming table and relname; pop with errcb->previous. */
extern void fs_push_call_context(ErrorContextCallback *errcb, FsCallContext *cc,
								 const char *table, const char *relname);

/* Raise a failed call; a missing remote table gets its own message. */
extern void fs_raise_call(FsDdbCall *call, const char *table) pg_attribute_noreturn();

/* The hint for a missing remote table of foreign table relid. */
extern char *fs_missing_table_hint(Oid relid);

/*
 * Report at elevel that the remote table of foreign table relid is missing,
 * as a failed operation found (message: the store's); view: the feature
 * view served, or NULL.
 */
extern void fs_report_missing_table(int elevel, const char *operation, const char *message,
									const char *table, Oid relid, const char *view);

/* Whether a call failed because its ConditionExpression did not hold. */
extern bool fs_condition_failed(FsDdbCall *call);

/* Run calls, raising the first failure. */
extern void fs_run_calls(FsDdbEndpoint *ep, FsDdbCall **calls, int ncalls, const char *table);

/* ddb_request.c: reading many keys */

/*
 * One table's part of a batch read: its keys, what to ask of each item, and
 * what to do with the answers.  fs_ddb_batch_get packs the keys of every
 * FsDdbGet of one endpoint into BatchGetItem requests of at most
 * FS_DDB_BATCH_GET_MAX keys (several tables per request), sends them in one
 * concurrent wave, and asks again for UnprocessedKeys, after a backoff,
 * until every key is answered, max_retries rounds have passed, or the
 * endpoint's deadline (if it has one) has passed.
 */
typedef struct FsDdbGet
{
	const char *table;			/* the remote table */
	const char *relname;		/* its foreign table, for messages; or NULL */
	json_t	  **keys;			/* Key objects ({attr: AttributeValue}),
								 * distinct: a key asked twice is a
								 * ValidationException */
	int			nkeys;
	const char *projection;		/* ProjectionExpression, or NULL: every attribute */
	json_t	   *names;			/* its ExpressionAttributeNames */
	bool		consistent_read;

	/*
	 * Called with every item answered (an object), as each answer arrives
	 * (from the client's waiting loop, while other requests are still in
	 * flight).  The item lives in the answer's document, which goes when
	 * the callback returns: decode what to keep.
	 */
	void		(*on_item) (struct FsDdbGet *get, const FsJv *item);

	/*
	 * Called once when this table's keys cannot all be answered: the request
	 * failed (call->status is FS_DDB_FAILED), the answer has the wrong shape,
	 * or keys were still unprocessed after the last round (call is NULL).
	 * detail says which.  NULL: raise an error instead.  After it, this
	 * table's items are no longer passed on.
	 */
	void		(*on_failure) (struct FsDdbGet *get, FsDdbCall *call, const char *detail);

	/*
	 * Called with each key of this table left unanswered because the
	 * endpoint's deadline passed (FsDdbEndpoint.deadline): its request was
	 * abandoned or never sent, or the key was still unprocessed.  The key is
	 * borrowed.  NULL: the table fails (on_failure) instead.
	 */
	void		(*on_unanswered) (struct FsDdbGet *get, json_t *key);
	void	   *arg;			/* the caller's */

	/*
	 * Set by fs_ddb_batch_get when on_failure is called, or by on_item to
	 * give up on the table: no more of its items are passed on.
	 */
	bool		failed;
	int64		requests;		/* HTTP requests of this table's calls, retries included */
	int64		retries;
	int64		throttles;
} FsDdbGet;

/* Read every key of gets[0..ngets) from one endpoint. */
extern void fs_ddb_batch_get(FsDdbEndpoint *ep, FsDdbGet **gets, int ngets);

#endif							/* FS_DDB_H */
