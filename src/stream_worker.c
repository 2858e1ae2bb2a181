/*-------------------------------------------------------------------------
 *
 * stream_worker.c
 *	  The streaming lane's background worker, which drains the queue.
 *
 * The worker, started when feature_store is in shared_preload_libraries,
 * drains the queue (fs_stream_queue) of one database
 * (feature_store.stream_database) in flushes of at most
 * feature_store.stream_batch_size events, every
 * feature_store.stream_flush_interval_ms, or at once while the queue is
 * fuller than a batch.  A flush:
 *
 *	1. claims the oldest events: it stamps them with a new flush id and
 *	   commits, so that a flush that fails is retried with the same events
 *	   and the same id (events claimed by an unfinished flush go first);
 *	2. checks each event as its producer (the role that queued it) and sets
 *	   aside those that fail (unknown view or feature, a value its type
 *	   refuses, no privilege) in fs_stream_rejects;
 *	3. merges the rest per view and entity (by the join key type's equality:
 *	   '1' and '1.0' of a numeric key are one entity): for 'set', the newest
 *	   value of each feature wins (event time, then queue order) and the
 *	   entity's write carries the newest event time; 'add' deltas are summed;
 *	4. writes them (write.c): the set writes, then the add writes, whose
 *	   seq is the flush id, so that a store that already applied a retried
 *	   flush's add refuses it (fs_dynamodb; on the embedded store the writes
 *	   and the queue's delete commit together);
 *	5. deletes the flush's events from the queue and commits.
 *
 * A store error (after the client's retries) fails the flush: it is logged,
 * kept as the last error, and retried with growing waits (up to 5 s) until
 * the store is back.  Delivery is at least once, and idempotent.
 *
 * The worker's figures (last flush, events per second, last error) live in
 * shared memory; fs_stream_status shows them with the queue's depth.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "entity_key.h"
#include "registry.h"
#include "stream.h"
#include "utils.h"
#include "write.h"

/* Longest wait between flushes that failed. */
#define MAX_BACKOFF_MS 5000

/* A queued event, as a flush reads it. */
typedef struct Event
{
	int64		id;
	int			pos;			/* its place in the flush (queue order) */
	char	   *view;
	char	   *entity_id;
	Jsonb	   *features;
	TimestampTz event_time;
	bool		add;
	Oid			producer;		/* the role that queued it */
	int			entity;			/* its entity's number within its view; -1: not known yet */
	char	   *reason;			/* set aside: why */
} Event;

/* One entity's merged writes within a view's events of a flush. */
typedef struct EntityWrites
{
	FsKey		key;			/* hash key: the entity's key */
	char	   *entity_id;		/* as its first event names it */
	HTAB	   *set_features;	/* feature name -> FeatureValue */
	TimestampTz set_time;		/* the newest set event's */
	TimestampTz set_oldest;		/* the oldest set event's */
	bool		has_set;
	int			nset_events;
	Event	  **set_events;		/* in queue order */
	Event	  **add_events;		/* in queue order */
	int			nadd_events;
	int			first_pos;		/* the flush position of its first event */
	int			number;			/* in the view's first pass (Event.entity) */
} EntityWrites;

typedef struct FeatureValue
{
	char		name[NAMEDATALEN];
	JsonbValue	value;			/* set: the newest value; add: the sum (numeric) */
	TimestampTz event_time;
	int64		id;
	int64		last_set_id;	/* set: the last set event of the feature, in queue order */
} FeatureValue;

/* A seq is the flush id times this plus a position in the flush. */
#define SEQ_PER_FLUSH INT64CONST(1000000)

static int	flush_failures = 0;	/* in a row, for the backoff */
static int	injected_failures = 0;
static int	injected_for = -1;	/* the setting's value they count against */
static bool warned_no_extension = false;
static MemoryContext flush_cxt = NULL;	/* reset before every flush */

/* A hash table of feature values by feature name, in the current context. */
static HTAB *
feature_table(void)
{
	HASHCTL		ctl;

	ctl.keysize = NAMEDATALEN;
	ctl.entrysize = sizeof(FeatureValue);
	ctl.hcxt = CurrentMemoryContext;
	return hash_create("fs_stream features", 16, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

/* Append to a growing array of events. */
static Event **
push_event(Event **list, int *n, Event *e)
{
	if (list == NULL)
		list = palloc(sizeof(Event *) * 4);
	else if (*n >= 4 && (*n & (*n - 1)) == 0)
		list = repalloc(list, sizeof(Event *) * (*n) * 2);
	list[(*n)++] = e;
	return list;
}

/* Read the events of flush flush_id, in queue order. */
static Event *
read_events(const char *schema, int64 flush_id, int *nevents)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1];
	char	   *query;
	int			ret;
	Event	   *events;

	args[0] = Int64GetDatum(flush_id);
	query = psprintf("SELECT q.id, q.feature_view, q.entity_id, q.features, q.event_time, "
					 "q.mode OPERATOR(pg_catalog.=) 'add', r.oid "
					 "FROM %s.fs_stream_queue q LEFT JOIN pg_catalog.pg_roles r ON r.rolname OPERATOR(pg_catalog.=) q.pushed_by "
					 "WHERE q.flush_id OPERATOR(pg_catalog.=) $1 ORDER BY q.id",
					 quote_identifier(schema));
	ret = SPI_execute_with_args(query, 1, argtypes, args, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the stream queue: %s", SPI_result_code_string(ret));
	events = palloc0(sizeof(Event) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		Event	   *e = &events[i];
		bool		isnull;
		Datum		d;

		e->pos = (int) i;
		e->entity = -1;
		e->id = DatumGetInt64(SPI_getbinval(tup, td, 1, &isnull));
		e->view = SPI_getvalue(tup, td, 2);
		e->entity_id = SPI_getvalue(tup, td, 3);
		d = SPI_getbinval(tup, td, 4, &isnull);
		e->features = isnull ? NULL : DatumGetJsonbPCopy(d);
		d = SPI_getbinval(tup, td, 5, &isnull);
		e->event_time = isnull ? GetCurrentTimestamp() : DatumGetTimestampTz(d);
		e->add = DatumGetBool(SPI_getbinval(tup, td, 6, &isnull));
		d = SPI_getbinval(tup, td, 7, &isnull);
		e->producer = isnull ? InvalidOid : DatumGetObjectId(d);
		if (e->view == NULL || e->entity_id == NULL || e->features == NULL)
			e->reason = pstrdup("the event lacks its view, entity id or features");
		else if (!OidIsValid(e->producer))
			e->reason = pstrdup("the role that queued the event no longer exists");
	}
	*nevents = (int) SPI_processed;
	return events;
}

/*
 * Whether an error means "try again later": the database or the store is
 * away, busy or refusing us for now, or the flush was cancelled.  Anything
 * else means "these events cannot be written": they are set aside.  The
 * store client's errors all say "DynamoDB ... request failed"; of those, a
 * refused request (ValidationException, ...) is not transient, while HV000
 * after retries (its hint names max_retries), a missing table, refused
 * credentials or access are.
 */
static bool
transient_error(ErrorData *edata)
{
	int			code = edata->sqlerrcode;
	int			category = ERRCODE_TO_CATEGORY(code);

	if (category == ERRCODE_TO_CATEGORY(ERRCODE_CONNECTION_EXCEPTION) ||
		category == ERRCODE_TO_CATEGORY(ERRCODE_INSUFFICIENT_RESOURCES) ||
		category == ERRCODE_TO_CATEGORY(ERRCODE_TRANSACTION_ROLLBACK) ||
		category == ERRCODE_TO_CATEGORY(ERRCODE_OPERATOR_INTERVENTION) ||
		category == ERRCODE_TO_CATEGORY(ERRCODE_SYSTEM_ERROR) ||
		code == ERRCODE_LOCK_NOT_AVAILABLE)
		return true;
	if (edata->message != NULL && strncmp(edata->message, "DynamoDB ", 9) == 0)
		return code == ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION ||
			code == ERRCODE_FDW_TABLE_NOT_FOUND ||
			code == ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION ||
			code == ERRCODE_INSUFFICIENT_PRIVILEGE ||
			code == ERRCODE_PROTOCOL_VIOLATION ||
			(code == ERRCODE_FDW_ERROR && edata->hint != NULL &&
			 strstr(edata->hint, "max_retries") != NULL);
	return false;
}

/*
 * Run fn(arg) as a role, in a subtransaction, with the role's session
 * settings contained: nothing it sets survives (a producer's trigger could
 * otherwise change the search_path the worker resolves names with).  Returns
 * whether it worked; an error that is not transient is returned in *error, a
 * transient one is raised.
 */
static bool
run_as(Oid role, void (*fn) (void *), void *arg, ErrorData **error)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	Oid			save_userid;
	int			save_sec;
	volatile bool ok = true;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		int			nestlevel = NewGUCNestLevel();

		SetUserIdAndSecContext(role, save_sec | SECURITY_LOCAL_USERID_CHANGE |
							   SECURITY_RESTRICTED_OPERATION);
		fn(arg);
		AtEOXact_GUC(false, nestlevel);
		SetUserIdAndSecContext(save_userid, save_sec);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		SetUserIdAndSecContext(save_userid, save_sec);
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (transient_error(edata))
			PG_RE_THROW();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		*error = edata;
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/* Why an event was set aside, for fs_stream_rejects.reason. */
static char *
reason_of(ErrorData *edata)
{
	if (edata->detail)
		return psprintf("%s: %s (SQLSTATE %s)", edata->message, edata->detail,
						unpack_sql_state(edata->sqlerrcode));
	return psprintf("%s (SQLSTATE %s)", edata->message, unpack_sql_state(edata->sqlerrcode));
}

/* Check events as fs_write_features would. */
typedef struct CheckArg
{
	Event	  **events;
	int			nevents;
} CheckArg;

/* Check each event of ca as its producer would be checked by fs_push. */
static void
check_events(void *arg)
{
	CheckArg   *ca = (CheckArg *) arg;

	for (int i = 0; i < ca->nevents; i++)
	{
		Event	   *e = ca->events[i];
		FsWrite		w;

		memset(&w, 0, sizeof(w));
		w.entity_id = e->entity_id;
		w.event_time = e->event_time;
		if (e->add)
			w.add = e->features;
		else
			w.set = e->features;
		fs_check_write(e->view, &w);
	}
}

/*
 * Check the flush's events, each as the role that queued it: all of a
 * producer's at once, and one by one only when that fails, so that a flush
 * of good events takes one subtransaction per producer, not per event.
 */
static void
check_flush(Event *events, int nevents)
{
	bool	   *done = palloc0(sizeof(bool) * Max(nevents, 1));
	Event	  **members = palloc(sizeof(Event *) * Max(nevents, 1));

	for (int i = 0; i < nevents; i++)
	{
		CheckArg	ca;
		ErrorData  *edata = NULL;

		if (done[i] || events[i].reason != NULL)
			continue;
		ca.events = members;
		ca.nevents = 0;
		for (int j = i; j < nevents; j++)
			if (!done[j] && events[j].reason == NULL && events[j].producer == events[i].producer)
			{
				done[j] = true;
				members[ca.nevents++] = &events[j];
			}
		if (run_as(events[i].producer, check_events, &ca, &edata))
			continue;
		for (int m = 0; m < ca.nevents; m++)
		{
			CheckArg	one;

			one.events = &members[m];
			one.nevents = 1;
			if (!run_as(members[m]->producer, check_events, &one, &edata))
				members[m]->reason = reason_of(edata);
		}
	}
}

/* Put a JSON scalar into a FeatureValue's value, as a copy. */
static void
take_value(FeatureValue *fv, JsonbValue *v)
{
	fv->value = *v;
	if (v->type == jbvString)
		fv->value.val.string.val = pnstrdup(v->val.string.val, v->val.string.len);
}

/* A jsonb key as a feature name (NUL-terminated; longer names are cut). */
static void
key_name(JsonbValue *k, char *name)
{
	int			len = Min(k->val.string.len, NAMEDATALEN - 1);

	memcpy(name, k->val.string.val, len);
	name[len] = '\0';
}

/* Merge a set event into its entity's set write; keep adds for later. */
static void
merge_event(EntityWrites *ew, Event *e)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char		name[NAMEDATALEN];

	if (e->add)
	{
		ew->add_events = push_event(ew->add_events, &ew->nadd_events, e);
		return;
	}
	if (ew->set_features == NULL)
		ew->set_features = feature_table();
	ew->set_time = ew->has_set ? Max(ew->set_time, e->event_time) : e->event_time;
	ew->set_oldest = ew->has_set ? Min(ew->set_oldest, e->event_time) : e->event_time;
	ew->has_set = true;
	ew->set_events = push_event(ew->set_events, &ew->nset_events, e);

	it = JsonbIteratorInit(&e->features->root);
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		FeatureValue *fv;
		bool		found;

		if (tok != WJB_KEY)
			continue;
		key_name(&v, name);
		tok = JsonbIteratorNext(&it, &v, true);	/* the value, containers whole */
		fv = hash_search(ew->set_features, name, HASH_ENTER, &found);
		if (!found)
			fv->last_set_id = 0;
		fv->last_set_id = Max(fv->last_set_id, e->id);
		/* Newest event time wins; on a tie the later event (queue order). */
		if (!found || e->event_time >= fv->event_time)
		{
			if (v.type == jbvBinary)
			{
				/* A container: keep it as a jsonb of its own. */
				Jsonb	   *j = JsonbValueToJsonb(&v);

				fv->value.type = jbvBinary;
				fv->value.val.binary.data = &j->root;
				fv->value.val.binary.len = VARSIZE(j) - VARHDRSZ;
			}
			else
				take_value(fv, &v);
			fv->event_time = e->event_time;
			fv->id = e->id;
		}
	}
}

static Jsonb *features_jsonb(HTAB *features);

/*
 * The sums of an entity's add events, as a jsonb object; NULL if none is
 * left.  An add queued before a set of the same feature in this flush is
 * overwritten by that set: it is dropped, as applying the events one by one
 * would.  *time gets the newest event time of the adds kept.
 */
static Jsonb *
add_sums(EntityWrites *ew, TimestampTz *time)
{
	HTAB	   *sums = NULL;
	char		name[NAMEDATALEN];
	bool		any = false;

	for (int i = 0; i < ew->nadd_events; i++)
	{
		Event	   *e = ew->add_events[i];
		JsonbIterator *it = JsonbIteratorInit(&e->features->root);
		JsonbValue	v;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
		{
			FeatureValue *set;
			FeatureValue *sum;
			bool		found;

			if (tok != WJB_KEY)
				continue;
			key_name(&v, name);
			tok = JsonbIteratorNext(&it, &v, true);
			if (v.type != jbvNumeric)
				continue;		/* checked: cannot happen */
			set = ew->set_features ? hash_search(ew->set_features, name, HASH_FIND, NULL) : NULL;
			if (set != NULL && set->last_set_id > e->id)
				continue;
			if (sums == NULL)
				sums = feature_table();
			sum = hash_search(sums, name, HASH_ENTER, &found);
			if (!found)
			{
				sum->value.type = jbvNumeric;
				sum->value.val.numeric = v.val.numeric;
			}
			else
				sum->value.val.numeric =
					DatumGetNumeric(DirectFunctionCall2(numeric_add,
														NumericGetDatum(sum->value.val.numeric),
														NumericGetDatum(v.val.numeric)));
			*time = any ? Max(*time, e->event_time) : e->event_time;
			any = true;
		}
	}
	return any ? features_jsonb(sums) : NULL;
}

/* A hash of merged features as a jsonb object. */
static Jsonb *
features_jsonb(HTAB *features)
{
	JsonbParseState *state = NULL;
	HASH_SEQ_STATUS seq;
	FeatureValue *fv;
	JsonbValue *res;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	hash_seq_init(&seq, features);
	while ((fv = hash_seq_search(&seq)) != NULL)
	{
		JsonbValue	k;

		k.type = jbvString;
		k.val.string.val = fv->name;
		k.val.string.len = strlen(fv->name);
		pushJsonbValue(&state, WJB_KEY, &k);
		pushJsonbValue(&state, WJB_VALUE, &fv->value);
	}
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

/* Order events by event time, then queue order. */
static int
event_time_cmp(const void *a, const void *b)
{
	const Event *x = *(Event *const *) a;
	const Event *y = *(Event *const *) b;

	if (x->event_time != y->event_time)
		return x->event_time < y->event_time ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Order add writes by seq: a store keeps only growing seqs per item. */
static int
write_seq_cmp(const void *a, const void *b)
{
	const FsWrite *x = (const FsWrite *) a;
	const FsWrite *y = (const FsWrite *) b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * The set events of an entity that a merged write could not apply (a value
 * stored meanwhile is newer than some of them): apply them in rounds, one
 * event time per round and entity, oldest first, so that each is refused
 * or applied against what the rounds before left.  Returns the number of
 * stale events.
 */
static int64
write_in_rounds(const char *view, EntityWrites **ews, int n)
{
	int		   *next = palloc0(sizeof(int) * n);
	FsWrite    *writes = palloc(sizeof(FsWrite) * n);
	int		   *nevents = palloc(sizeof(int) * n);
	int64		stale = 0;

	for (int i = 0; i < n; i++)
		qsort(ews[i]->set_events, ews[i]->nset_events, sizeof(Event *), event_time_cmp);
	for (;;)
	{
		int			nwrites = 0;

		for (int i = 0; i < n; i++)
		{
			EntityWrites *ew = ews[i];
			EntityWrites one;
			int			first = next[i];
			int			last = first;

			if (first >= ew->nset_events)
				continue;
			while (last < ew->nset_events &&
				   ew->set_events[last]->event_time == ew->set_events[first]->event_time)
				last++;
			memset(&one, 0, sizeof(one));
			for (int e = first; e < last; e++)
				merge_event(&one, ew->set_events[e]);
			memset(&writes[nwrites], 0, sizeof(FsWrite));
			writes[nwrites].entity_id = ew->entity_id;
			writes[nwrites].event_time = one.set_time;
			writes[nwrites].set = features_jsonb(one.set_features);
			nevents[nwrites] = last - first;
			nwrites++;
			next[i] = last;
		}
		if (nwrites == 0)
			break;
		fs_apply_writes(view, writes, nwrites);
		for (int w = 0; w < nwrites; w++)
			if (writes[w].status == FS_WRITE_STALE)
				stale += nevents[w];
	}
	return stale;
}

/* A view's events to write, and what became of them. */
typedef struct ViewWrite
{
	Oid			schema;			/* feature_store's */
	const char *view;
	Event	  **events;
	int			nevents;
	int64		flush_id;
	int64		stale;			/* out */
} ViewWrite;

/*
 * Write a view's checked events: merged per entity, set writes first, then
 * add writes, whose seq is the flush id and the flush position of the
 * entity's first event (the same in every retry of the flush, and growing
 * in the order the writes go out).
 *
 * A merged set write applies only if the stored event time is not after its
 * oldest event; where it is, the entity's events go again in rounds.
 */
static void
write_view(void *arg)
{
	ViewWrite  *vw = (ViewWrite *) arg;
	HTAB	   *entities;
	HASH_SEQ_STATUS seq;
	EntityWrites *ew;
	FsWrite    *sets;
	FsWrite    *adds;
	EntityWrites **set_entities;
	EntityWrites **again;
	int			nsets = 0;
	int			nadds = 0;
	int			nagain = 0;
	long		n;
	FsView	   *view;
	FsKeyType	kt;
	char	  **texts;
	Datum	   *keys;
	bool	   *ok;
	int			nentities = 0;

	/* Entities by the join key type's equality, read as the view's owner. */
	view = fs_resolve_view(vw->schema, vw->view);
	fs_key_type_of(&kt, view->relid, view->key_attnum);
	texts = palloc(sizeof(char *) * Max(vw->nevents, 1));
	keys = palloc(sizeof(Datum) * Max(vw->nevents, 1));
	ok = palloc(sizeof(bool) * Max(vw->nevents, 1));
	for (int i = 0; i < vw->nevents; i++)
		texts[i] = vw->events[i]->entity_id;
	fs_key_read(&kt, texts, vw->nevents, keys, ok);
	entities = fs_key_table("fs_stream entities", Max(vw->nevents, 16), sizeof(EntityWrites),
							CurrentMemoryContext);
	for (int i = 0; i < vw->nevents; i++)
	{
		Event	   *e = vw->events[i];
		FsKey		k;
		bool		found;

		if (!ok[i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid entity id \"%s\" for join key \"%s\" of type %s",
							e->entity_id, view->join_key, format_type_be(kt.type)),
					 errcontext("feature view \"%s\"", vw->view)));
		k.value = keys[i];
		k.type = &kt;
		ew = hash_search(entities, &k, HASH_ENTER, &found);
		if (!found)
		{
			memset(ew, 0, sizeof(*ew));
			ew->key = k;
			ew->entity_id = e->entity_id;
			ew->first_pos = e->pos;
			ew->number = nentities++;
		}
		/* The first pass numbers entities; a retry keeps their numbers. */
		if (e->entity < 0)
			e->entity = ew->number;
		merge_event(ew, e);
	}

	n = hash_get_num_entries(entities);
	sets = palloc0(sizeof(FsWrite) * Max(n, 1));
	adds = palloc0(sizeof(FsWrite) * Max(n, 1));
	set_entities = palloc0(sizeof(EntityWrites *) * Max(n, 1));
	again = palloc0(sizeof(EntityWrites *) * Max(n, 1));
	hash_seq_init(&seq, entities);
	while ((ew = hash_seq_search(&seq)) != NULL)
	{
		if (ew->has_set)
		{
			sets[nsets].entity_id = ew->entity_id;
			sets[nsets].event_time = ew->set_time;
			sets[nsets].oldest_event_time = ew->set_oldest;
			sets[nsets].set = features_jsonb(ew->set_features);
			set_entities[nsets] = ew;
			nsets++;
		}
		if (ew->nadd_events > 0)
		{
			TimestampTz time = 0;
			Jsonb	   *sums = add_sums(ew, &time);

			if (sums != NULL)
			{
				adds[nadds].entity_id = ew->entity_id;
				adds[nadds].event_time = time;
				adds[nadds].add = sums;
				adds[nadds].seq = vw->flush_id * SEQ_PER_FLUSH + ew->first_pos;
				nadds++;
			}
		}
	}
	if (nsets > 0)
		fs_apply_writes(vw->view, sets, nsets);
	for (int i = 0; i < nsets; i++)
	{
		if (sets[i].status != FS_WRITE_STALE)
			continue;
		if (set_entities[i]->set_oldest == set_entities[i]->set_time)
			vw->stale += set_entities[i]->nset_events;	/* all older than what is stored */
		else
			again[nagain++] = set_entities[i];
	}
	if (nagain > 0)
		vw->stale += write_in_rounds(vw->view, again, nagain);
	if (nadds > 0)
	{
		qsort(adds, nadds, sizeof(FsWrite), write_seq_cmp);
		fs_apply_writes(vw->view, adds, nadds);
	}
}

/*
 * The role a view's events are written as: the owner of its relation, who
 * controls the triggers that run on it (events were checked as their
 * producers already); InvalidOid if the view is gone.
 */
static Oid
writer_of(const char *view, const char *schema, Oid *relid)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	char	   *query;
	bool		isnull;
	int			ret;

	args[0] = CStringGetTextDatum(view);
	query = psprintf("SELECT c.relowner, c.oid FROM %s.fs_feature_view v "
					 "JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) v.relation "
					 "WHERE v.name OPERATOR(pg_catalog.=) $1", quote_identifier(schema));
	ret = SPI_execute_with_args(query, 1, argtypes, args, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not find the owner of feature view \"%s\": %s", view,
			 SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return InvalidOid;
	*relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	return DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * Why a write of members[0..n) failed, for the reason of one of them, as its
 * producer may see it.  The write ran as the table's owner, so the error's
 * detail (a CHECK's "Failing row contains (...)") may show every column of
 * the row and the values of the other producers merged into it: keep it only
 * when the producer may read the whole table and the write held only its
 * own events, as PostgreSQL would have shown the producer itself.
 */
static char *
write_reason(ErrorData *edata, Event *e, Event **members, int n, Oid relid)
{
	bool		own = true;

	if (edata->detail == NULL)
		return reason_of(edata);
	for (int m = 0; m < n; m++)
		if (members[m]->producer != e->producer)
			own = false;
	if (own && pg_class_aclcheck(relid, e->producer, ACL_SELECT) == ACLCHECK_OK)
		return reason_of(edata);
	return psprintf("%s (SQLSTATE %s); the detail is not shown: it may hold values the role "
					"that queued the event cannot read", edata->message,
					unpack_sql_state(edata->sqlerrcode));
}

/*
 * Whether two events of a view are of one entity: by the numbers the first
 * write of the view's events gave them, or, where it failed before, by their
 * text.
 */
static bool
same_entity(Event *a, Event *b)
{
	if (a->entity >= 0 && b->entity >= 0)
		return a->entity == b->entity;
	return strcmp(a->entity_id, b->entity_id) == 0;
}

/*
 * Write a view's events.  If that fails for a reason that is not transient
 * (a value the table's CHECK refuses), write them again one entity at a
 * time, so that only the entities that cannot be written are set aside.  On
 * fs_dynamodb the entities written before the failure are written again:
 * set values are the same, and adds carry the same seq, which the store
 * refuses to apply twice.  Returns the number of stale events.
 */
static int64
write_events(const char *schema, const char *view, Event **events, int nevents, int64 flush_id)
{
	ViewWrite	vw;
	ErrorData  *edata = NULL;
	bool	   *done;
	Event	  **members;
	Oid			relid = InvalidOid;
	Oid			writer = writer_of(view, schema, &relid);
	int64		stale = 0;

	if (!OidIsValid(writer))
	{
		for (int i = 0; i < nevents; i++)
			events[i]->reason = psprintf("feature view \"%s\" does not exist (SQLSTATE 42704)", view);
		return 0;
	}
	vw.schema = get_namespace_oid(schema, false);
	vw.view = view;
	vw.events = events;
	vw.nevents = nevents;
	vw.flush_id = flush_id;
	vw.stale = 0;
	if (run_as(writer, write_view, &vw, &edata))
		return vw.stale;

	done = palloc0(sizeof(bool) * nevents);
	members = palloc(sizeof(Event *) * nevents);
	for (int i = 0; i < nevents; i++)
	{
		int			nmembers = 0;

		if (done[i])
			continue;
		for (int j = i; j < nevents; j++)
			if (!done[j] && same_entity(events[j], events[i]))
			{
				done[j] = true;
				members[nmembers++] = events[j];
			}
		if (nmembers == nevents)
		{
			/* One entity: no need to try again. */
			for (int m = 0; m < nmembers; m++)
				members[m]->reason = write_reason(edata, members[m], members, nmembers, relid);
			break;
		}
		vw.events = members;
		vw.nevents = nmembers;
		vw.stale = 0;
		if (run_as(writer, write_view, &vw, &edata))
			stale += vw.stale;
		else
			for (int m = 0; m < nmembers; m++)
				members[m]->reason = write_reason(edata, members[m], members, nmembers, relid);
	}
	return stale;
}

/*
 * Claim the next events: a retried flush's, else the oldest unclaimed.  A
 * flush id never goes back, even if the sequence does (the extension made
 * again, a restore): it is at least the time in hundredths of seconds,
 * times ten, so that the seqs of adds keep growing on a store that outlives
 * the database.
 */
static int64
claim(const char *schema, int *nclaimed)
{
	char	   *query;
	int			ret;
	bool		isnull;
	int64		flush_id;
	Datum		d;
	Oid			seqid;
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1];

	query = psprintf("SELECT pg_catalog.min(flush_id) FROM %s.fs_stream_queue", quote_identifier(schema));
	ret = SPI_execute(query, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the stream queue: %s", SPI_result_code_string(ret));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
	{
		*nclaimed = -1;			/* a retry: its count is what it is */
		return DatumGetInt64(d);
	}

	/* Nothing queued: no flush id, no write. */
	query = psprintf("SELECT 1 FROM %s.fs_stream_queue WHERE flush_id IS NULL LIMIT 1",
					 quote_identifier(schema));
	ret = SPI_execute(query, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the stream queue: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
	{
		*nclaimed = 0;
		return 0;
	}

	seqid = get_relname_relid("fs_stream_flush_seq", get_namespace_oid(schema, false));
	if (!OidIsValid(seqid))
		elog(ERROR, "sequence fs_stream_flush_seq of extension feature_store is missing");
	args[0] = ObjectIdGetDatum(seqid);
	ret = SPI_execute_with_args("SELECT pg_catalog.setval($1::pg_catalog.regclass, "
								"GREATEST(pg_catalog.nextval($1::pg_catalog.regclass), "
								"(pg_catalog.date_part('epoch', pg_catalog.clock_timestamp()) "
								"OPERATOR(pg_catalog.*) 1000)::pg_catalog.int8))",
								1, argtypes, args, NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not number a flush: %s", SPI_result_code_string(ret));
	flush_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	query = psprintf("UPDATE %1$s.fs_stream_queue SET flush_id = %2$lld WHERE id OPERATOR(pg_catalog.=) ANY ("
					 "SELECT id FROM %1$s.fs_stream_queue WHERE flush_id IS NULL "
					 "ORDER BY id LIMIT %3$d FOR UPDATE SKIP LOCKED)",
					 quote_identifier(schema), (long long) flush_id, fs_stream_batch_size);
	ret = SPI_execute(query, false, 0);
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "could not claim stream events: %s", SPI_result_code_string(ret));
	*nclaimed = (int) SPI_processed;
	return flush_id;
}

/* Move set-aside events to fs_stream_rejects. */
static void
set_aside(const char *schema, Event *events, int nevents)
{
	Oid			argtypes[2] = {INT8OID, TEXTOID};
	char	   *query = psprintf("INSERT INTO %1$s.fs_stream_rejects "
								 "(id, feature_view, entity_id, features, event_time, mode, pushed_by, enqueued_at, reason) "
								 "SELECT id, feature_view, entity_id, features, event_time, mode, pushed_by, enqueued_at, $2 "
								 "FROM %1$s.fs_stream_queue WHERE id OPERATOR(pg_catalog.=) $1",
								 quote_identifier(schema));
	SPIPlanPtr	plan = NULL;

	for (int i = 0; i < nevents; i++)
	{
		Datum		args[2];
		int			ret;

		if (events[i].reason == NULL)
			continue;
		if (plan == NULL)
		{
			plan = SPI_prepare(query, 2, argtypes);
			if (plan == NULL)
				elog(ERROR, "could not prepare: %s", SPI_result_code_string(SPI_result));
		}
		args[0] = Int64GetDatum(events[i].id);
		args[1] = CStringGetTextDatum(events[i].reason);
		ret = SPI_execute_plan(plan, args, NULL, false, 0);
		if (ret != SPI_OK_INSERT)
			elog(ERROR, "could not set a stream event aside: %s", SPI_result_code_string(ret));
	}
}

/*
 * One flush.  Returns the number of events it claimed (the caller flushes
 * again at once while that is a full batch), -1 if the extension is not
 * installed in the worker's database.
 */
static int
flush(void)
{
	Oid			schema_oid;
	char	   *schema;
	int64		flush_id;
	int			nclaimed;
	Event	   *events;
	int			nevents;
	int			nrejected = 0;
	int64		stale = 0;
	char	   *query;
	int			ret;

	/* 1. Claim, and commit the claim. */
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "feature_store stream flush");
	schema_oid = fs_extension_schema(true);
	if (!OidIsValid(schema_oid))
	{
		if (!warned_no_extension)
			ereport(LOG,
					(errmsg("feature_store stream worker: the extension is not installed in database \"%s\"; waiting",
							fs_stream_database)));
		warned_no_extension = true;
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		pgstat_report_activity(STATE_IDLE, NULL);
		return -1;
	}
	schema = get_namespace_name(schema_oid);
	warned_no_extension = false;
	schema = MemoryContextStrdup(flush_cxt, schema);
	flush_id = claim(schema, &nclaimed);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	if (nclaimed == 0)
	{
		pgstat_report_activity(STATE_IDLE, NULL);
		return 0;
	}

	/* 2-5. Check, merge, write, delete, commit. */
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	events = read_events(schema, flush_id, &nevents);
	check_flush(events, nevents);

	/* Per view, in the order of their first event. */
	{
		bool	   *grouped = palloc0(sizeof(bool) * Max(nevents, 1));
		Event	  **members = palloc(sizeof(Event *) * Max(nevents, 1));

		for (int i = 0; i < nevents; i++)
		{
			int			nmembers = 0;

			if (grouped[i] || events[i].reason != NULL)
				continue;
			for (int j = i; j < nevents; j++)
			{
				if (grouped[j] || events[j].reason != NULL ||
					strcmp(events[j].view, events[i].view) != 0)
					continue;
				grouped[j] = true;
				members[nmembers++] = &events[j];
			}
			stale += write_events(schema, events[i].view, members, nmembers, flush_id);
		}
	}

	for (int i = 0; i < nevents; i++)
		if (events[i].reason != NULL)
			nrejected++;
	if (nrejected > 0)
		set_aside(schema, events, nevents);

	query = psprintf("DELETE FROM %s.fs_stream_queue WHERE flush_id OPERATOR(pg_catalog.=) %lld",
					 quote_identifier(schema), (long long) flush_id);
	ret = SPI_execute(query, false, 0);
	if (ret != SPI_OK_DELETE)
		elog(ERROR, "could not delete flushed stream events: %s", SPI_result_code_string(ret));

	/* For testing: fail after the writes, before the commit. */
	if (injected_for != fs_stream_fail_after_write)
	{
		injected_for = fs_stream_fail_after_write;
		injected_failures = 0;
	}
	if (injected_failures < fs_stream_fail_after_write)
	{
		injected_failures++;
		ereport(ERROR,
				(errcode(ERRCODE_OPERATOR_INTERVENTION),
				 errmsg("flush %lld failed after its writes, as feature_store.stream_fail_after_write asks (%d of %d)",
						(long long) flush_id, injected_failures, fs_stream_fail_after_write)));
	}

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	fs_stream_note_flush(nevents - nrejected, stale, nrejected);
	return nevents;
}

/* Run a flush; on an error, log it, keep it as the last error, and go on. */
static int
flush_guarded(bool *failed)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile int n = 0;

	*failed = false;
	PG_TRY();
	{
		n = flush();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		EmitErrorReport();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		RESUME_INTERRUPTS();
		fs_stream_note_error(edata->detail ? psprintf("%s: %s", edata->message, edata->detail) : edata->message);
		FreeErrorData(edata);
		*failed = true;
	}
	PG_END_TRY();
	return n;
}

/* The worker exits: fs_stream_status shows no pid. */
static void
worker_gone(int code, Datum arg)
{
	fs_stream_note_worker(0);
}

/* The worker's entry point: connect, then flush until told to stop. */
void
fs_stream_worker_main(Datum arg)
{
	MemoryContext cxt;
	char	   *database;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(fs_stream_database, NULL, 0);
	database = pstrdup(fs_stream_database);
	pgstat_report_appname("feature_store stream worker");

	/*
	 * The worker's own queries name everything with its schema; no one
	 * else's objects may stand in.  A row lock held by an idle client must not
	 * stall every view for ever: wait 5 s, then retry the flush later.
	 */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("lock_timeout", "5000", PGC_SUSET, PGC_S_OVERRIDE);

	fs_stream_note_worker(MyProcPid);
	before_shmem_exit(worker_gone, (Datum) 0);

	cxt = AllocSetContextCreate(TopMemoryContext, "feature_store stream flush",
								ALLOCSET_DEFAULT_SIZES);
	flush_cxt = cxt;
	for (;;)
	{
		bool		failed;
		int			n;
		long		wait;

		/* A cancel between flushes has nothing to cancel: ignore it. */
		QueryCancelPending = false;
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			if (strcmp(database, fs_stream_database) != 0)
			{
				ereport(LOG,
						(errmsg("feature_store stream worker: feature_store.stream_database changed from \"%s\" to \"%s\"; restarting",
								database, fs_stream_database)));
				proc_exit(1);	/* the postmaster starts it again */
			}
		}
		MemoryContextReset(cxt);
		MemoryContextSwitchTo(cxt);
		n = flush_guarded(&failed);
		MemoryContextSwitchTo(TopMemoryContext);
		if (failed)
		{
			flush_failures++;
			wait = Min((long) fs_stream_flush_interval_ms << Min(flush_failures, 10), MAX_BACKOFF_MS);
		}
		else
		{
			flush_failures = 0;
			if (n >= fs_stream_batch_size)
				continue;
			/* No extension in the database yet: look again in a second. */
			wait = n < 0 ? Max(fs_stream_flush_interval_ms, 1000) : fs_stream_flush_interval_ms;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 wait, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
