/*-------------------------------------------------------------------------
 *
 * stream_worker.c
 *	  The streaming lane's background worker, which drains the queue of
 *	  one database.
 *
 * The launcher (stream_launcher.c) starts a worker in a database whose
 * queue (fs_stream_queue) has events.  It drains the queue in flushes of at
 * most feature_store.stream_batch_size events, every
 * feature_store.stream_flush_interval_ms, or at once while the queue is
 * fuller than a batch; once the queue has stayed empty for
 * feature_store.stream_idle_timeout_ms it leaves, and the next commit of
 * events calls a worker back (a queue of 0.1.0 cannot: its worker stays).
 * It leaves at once when a command needs the database to itself (DROP
 * DATABASE, ...).  A pass:
 *
 *	1. claims the oldest events of the views that have no group in flight,
 *	   one group per view: it stamps each view's events with a flush id of
 *	   their own and commits, so that a group that fails is retried with
 *	   the same events and the same id, before any newer event of its view;
 *
 * then each group, in a transaction of its own:
 *
 *	2. checks each event as its producer (the role that queued it) and sets
 *	   aside those that fail (unknown view or feature, a value its type
 *	   refuses, no privilege) in fs_stream_rejects;
 *	3. merges the rest per view and entity (by the join key type's equality:
 *	   '1' and '1.0' of a numeric key are one entity): for 'set', the newest
 *	   value of each feature wins (event time, then queue order) and the
 *	   entity's write carries the newest event time; 'add' deltas are summed;
 *	4. writes them (write.c): the set writes, then the add writes, whose
 *	   seq is the flush id, so that a store that already applied a retried
 *	   group's add refuses it (fs_dynamodb; on the embedded store the writes
 *	   and the queue's delete commit together);
 *	5. deletes the group's events from the queue and commits.
 *
 * A group that fails is rolled back, logged, kept as its view's last error,
 * and its view waits (growing waits, up to 5 s) while the other views'
 * groups go on.  Waits (the store away or lacking the table, a lock held
 * elsewhere) are retried for as long as they last; an error the view's
 * table or checks raise that may pass (a trigger's 40001) counts as an
 * attempt, and after feature_store.stream_max_attempts of them the group
 * goes one last time, setting aside the events that still fail.  Delivery
 * is at least once, and idempotent.
 *
 * The worker's figures (last flush, events per second, last error) live in
 * its database's slot of shared memory; fs_stream_status shows them with
 * the queue's depth.
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
#include "utils/datum.h"
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

/*
 * How long a view's checks and writes wait for a lock.  A lock held longer
 * (SELECT ... FOR UPDATE, a long fs_ingest) makes the view's group wait and
 * go again later, while the other views' groups go on.
 */
#define VIEW_LOCK_TIMEOUT "100ms"

/* A worker that failed is not started again in its database sooner. */
#define RESTART_DELAY_MS 1000

/*
 * How long a worker keeps its slot, at least, once other databases wait for
 * one: then it leaves after its flush, and the launcher starts the database
 * that waited longest.
 */
#define WORKER_TURN_MS 5000

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
static FsStreamDb *my_db = NULL;	/* this database's slot */
static bool calls_back = true;	/* the queue calls a worker back: one may leave */
static MemoryContext flush_cxt = NULL;	/* reset before every flush */

/* The group being flushed: its last attempt?  Did a view's code raise? */
static bool last_attempt = false;
static bool raised_in_view = false;

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
 * Whether the store client (src/ddb_*.c) raised an error: told by the file
 * that raised it, which a trigger's RAISE cannot pass for.
 */
static bool
raised_by_store(ErrorData *edata)
{
	const char *file = edata->filename;
	const char *slash;

	if (file == NULL)
		return false;
	slash = strrchr(file, '/');
	return strncmp(slash ? slash + 1 : file, "ddb_", 4) == 0;
}

/*
 * Whether an error of the store client means that the store is away for
 * now: it cannot be reached, times out or breaks the connection (08006),
 * fails after the retries (HV000 whose hint names max_retries), refuses
 * the credentials or the access, or lacks the table (HV00R: a store that
 * came back empty).  None of these is the events' fault, so none may set
 * them aside.  A request the store refuses (ValidationException, ...) is
 * not an outage.
 */
static bool
store_outage(ErrorData *edata)
{
	int			code = edata->sqlerrcode;

	if (!raised_by_store(edata))
		return false;
	return code == ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION ||
		code == ERRCODE_CONNECTION_FAILURE ||
		code == ERRCODE_FDW_TABLE_NOT_FOUND ||
		code == ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION ||
		code == ERRCODE_INSUFFICIENT_PRIVILEGE ||
		code == ERRCODE_PROTOCOL_VIOLATION ||
		(code == ERRCODE_FDW_ERROR && edata->hint != NULL &&
		 strstr(edata->hint, "max_retries") != NULL);
}

/*
 * Whether PostgreSQL gave up a wait: a lock held longer than lock_timeout,
 * a deadlock, a cancel.  Told by where the error was raised (the interrupt
 * handler, the deadlock detector), which a trigger's RAISE of the same
 * SQLSTATE cannot fake.
 */
static bool
wait_given_up(ErrorData *edata)
{
	if (edata->funcname == NULL)
		return false;
	return strcmp(edata->funcname, "ProcessInterrupts") == 0 ||
		(edata->sqlerrcode == ERRCODE_T_R_DEADLOCK_DETECTED &&
		 strcmp(edata->funcname, "DeadLockReport") == 0);
}

/*
 * Whether an error means "try again later, for as long as it takes": the
 * store is away, or a lock is held.  Nothing is lost to these.
 */
static bool
must_wait(ErrorData *edata)
{
	return store_outage(edata) || wait_given_up(edata);
}

/*
 * Whether an error may pass if tried again: the database or the store is
 * away, busy or refusing us for now, or the flush was cancelled.  Anything
 * else means "these events cannot be written": they are set aside.  Of
 * these, the ones that are not waits (must_wait) count as attempts: a
 * trigger or constraint of the view's table may raise them every time.
 */
static bool
transient_error(ErrorData *edata)
{
	int			code = edata->sqlerrcode;
	int			category = ERRCODE_TO_CATEGORY(code);

	return category == ERRCODE_TO_CATEGORY(ERRCODE_CONNECTION_EXCEPTION) ||
		category == ERRCODE_TO_CATEGORY(ERRCODE_INSUFFICIENT_RESOURCES) ||
		category == ERRCODE_TO_CATEGORY(ERRCODE_TRANSACTION_ROLLBACK) ||
		category == ERRCODE_TO_CATEGORY(ERRCODE_OPERATOR_INTERVENTION) ||
		category == ERRCODE_TO_CATEGORY(ERRCODE_SYSTEM_ERROR) ||
		code == ERRCODE_LOCK_NOT_AVAILABLE ||
		must_wait(edata);
}

/*
 * Run fn(arg) as a role, in a subtransaction, with the role's session
 * settings contained: nothing it sets survives (a producer's trigger could
 * otherwise change the search_path the worker resolves names with).  Returns
 * whether it worked; an error that is not transient is returned in *error, a
 * transient one is raised (the group's attempt fails), and marked as the
 * view's (raised_in_view).  On a group's last attempt (last_attempt) only
 * waits are raised: every other error is returned, and its events set aside.
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

		(void) set_config_option("lock_timeout", VIEW_LOCK_TIMEOUT, PGC_SUSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
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
		if (last_attempt ? must_wait(edata) : transient_error(edata))
		{
			raised_in_view = true;
			PG_RE_THROW();
		}
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

/*
 * Why an event was set aside, for fs_stream_rejects.reason; on a group's
 * last attempt, with the number of attempts.
 */
static char *
reason_of(ErrorData *edata)
{
	char	   *reason;

	if (edata->detail)
		reason = psprintf("%s: %s (SQLSTATE %s)", edata->message, edata->detail,
						  unpack_sql_state(edata->sqlerrcode));
	else
		reason = psprintf("%s (SQLSTATE %s)", edata->message, unpack_sql_state(edata->sqlerrcode));
	if (last_attempt)
		reason = psprintf("%s; set aside after %d attempts", reason, fs_stream_max_attempts);
	return reason;
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
					"that queued the event cannot read%s", edata->message,
					unpack_sql_state(edata->sqlerrcode),
					last_attempt ? psprintf("; set aside after %d attempts", fs_stream_max_attempts) : "");
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
 * A group of events of one view that a flush claimed under one flush id.
 * The groups of 0.1.0's worker, if any are left, may hold several views:
 * they go as one group, under their first view.
 */
typedef struct FlushGroup
{
	int64		flush_id;
	char	   *view;
} FlushGroup;

/*
 * A view whose group failed: when it is tried again, and how often the
 * view's table refused it.  Kept by the worker until the group is through.
 */
typedef struct ViewRetry
{
	char	   *view;			/* hash key, in TopMemoryContext */
	int			failures;		/* attempts that failed in a row: the wait */
	int			attempts;		/* of them, those the view refused */
	TimestampTz next_try;
} ViewRetry;

static HTAB *retries = NULL;

/* A view's retry state; NULL if it has none and !create. */
static ViewRetry *
view_retry(const char *view, bool create)
{
	ViewRetry  *vr;
	bool		found;

	if (retries == NULL)
		retries = fs_string_table("fs_stream retries", 16, sizeof(ViewRetry), TopMemoryContext);
	vr = hash_search(retries, &view, create ? HASH_ENTER : HASH_FIND, &found);
	if (create && !found)
	{
		vr->view = MemoryContextStrdup(TopMemoryContext, view);
		vr->failures = 0;
		vr->attempts = 0;
		vr->next_try = 0;
	}
	return vr;
}

/* A view's group went through: forget its failures. */
static void
view_done(const char *view)
{
	ViewRetry  *vr = view_retry(view, false);
	char	   *key;

	if (vr == NULL)
		return;
	key = vr->view;
	hash_search(retries, &view, HASH_REMOVE, NULL);
	pfree(key);
}

/*
 * Claim the next groups: the groups claimed before and not through (they
 * are retried as they were, with the same events and flush id), then the
 * oldest unclaimed events of the views that have none, a new group per
 * view.  A view's events wait while it has a group, so that its groups go
 * in order.  A flush id never goes back, even if the sequence does (the
 * extension made again, a restore): it is at least the time in
 * milliseconds, so that the seqs of adds keep growing on a store that
 * outlives the database.  *full: the new groups took a whole batch.
 */
static FlushGroup *
claim(const char *schema, int *ngroups, bool *full)
{
	const char *q = quote_identifier(schema);
	char	   *query;
	int			ret;
	bool		isnull;
	Oid			seqid;
	Oid			argtypes[2] = {OIDOID, TEXTARRAYOID};
	Datum		args[2];
	FlushGroup *groups;
	int			n = 0;
	int			nold;
	int64		nclaimed = 0;

	*full = false;
	query = psprintf("SELECT flush_id, pg_catalog.min(feature_view) FROM %s.fs_stream_queue "
					 "WHERE flush_id IS NOT NULL GROUP BY flush_id ORDER BY flush_id", q);
	ret = SPI_execute(query, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the stream queue: %s", SPI_result_code_string(ret));
	nold = (int) SPI_processed;
	/* In the flush's memory: they outlive the claim's SPI connection. */
	groups = MemoryContextAlloc(flush_cxt, sizeof(FlushGroup) * (nold + fs_stream_batch_size));
	for (int i = 0; i < nold; i++)
	{
		groups[n].flush_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		groups[n].view = MemoryContextStrdup(flush_cxt, SPI_getvalue(SPI_tuptable->vals[i],
																 SPI_tuptable->tupdesc, 2));
		n++;
	}

	query = psprintf("SELECT 1 FROM %s.fs_stream_queue WHERE flush_id IS NULL LIMIT 1", q);
	ret = SPI_execute(query, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the stream queue: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
	{
		*ngroups = n;
		return groups;
	}

	seqid = get_relname_relid("fs_stream_flush_seq", get_namespace_oid(schema, false));
	if (!OidIsValid(seqid))
		elog(ERROR, "sequence fs_stream_flush_seq of extension feature_store is missing");
	args[0] = ObjectIdGetDatum(seqid);

	/*
	 * The views with events in flight wait (every view of a group, as 0.1.0
	 * made groups of several): their list is read first, from the index of
	 * flush_id, and given to the pick as a value, so that it is planned as a
	 * walk of the queue's primary key in id order that stops at the batch;
	 * the update probes the same key for the ids picked.  As NOT EXISTS per
	 * event, and a join with the picked rows, each claim read the whole
	 * queue (sequential scans, a sort, a hash of it): the longer the queue,
	 * the slower the worker drained it.
	 */
	query = psprintf("SELECT COALESCE(pg_catalog.array_agg(DISTINCT feature_view), '{}') "
					 "FROM %s.fs_stream_queue WHERE flush_id IS NOT NULL", q);
	ret = SPI_execute(query, true, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the stream queue: %s", SPI_result_code_string(ret));
	args[1] = datumCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull),
						false, -1);
	ret = SPI_execute_with_args("SELECT pg_catalog.setval($1::pg_catalog.regclass, "
								"GREATEST(pg_catalog.nextval($1::pg_catalog.regclass), "
								"(pg_catalog.date_part('epoch', pg_catalog.clock_timestamp()) "
								"OPERATOR(pg_catalog.*) 1000)::pg_catalog.int8))",
								1, argtypes, args, NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not number a flush: %s", SPI_result_code_string(ret));
	query = psprintf("WITH pick AS ("
					 "  SELECT e.id, e.feature_view FROM %1$s.fs_stream_queue e"
					 "   WHERE e.flush_id IS NULL"
					 "     AND e.feature_view OPERATOR(pg_catalog.<>) ALL ($2::pg_catalog.text[])"
					 "   ORDER BY e.id LIMIT %2$d FOR UPDATE SKIP LOCKED), "
					 "ids AS ("
					 "  SELECT v.feature_view, pg_catalog.nextval($1::pg_catalog.regclass) AS flush_id"
					 "    FROM (SELECT DISTINCT p.feature_view FROM pick p) v), "
					 "u AS ("
					 "  UPDATE %1$s.fs_stream_queue e SET flush_id = i.flush_id FROM ids i"
					 "   WHERE e.id OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT p.id FROM pick p))"
					 "     AND i.feature_view OPERATOR(pg_catalog.=) e.feature_view"
					 "  RETURNING e.flush_id, e.feature_view) "
					 "SELECT u.flush_id, pg_catalog.min(u.feature_view), pg_catalog.count(*)"
					 "  FROM u GROUP BY u.flush_id ORDER BY u.flush_id",
					 q, fs_stream_batch_size);
	ret = SPI_execute_with_args(query, 2, argtypes, args, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not claim stream events: %s", SPI_result_code_string(ret));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		groups[n].flush_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		groups[n].view = MemoryContextStrdup(flush_cxt, SPI_getvalue(SPI_tuptable->vals[i],
																 SPI_tuptable->tupdesc, 2));
		nclaimed += DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, &isnull));
		n++;
	}
	*full = nclaimed >= fs_stream_batch_size;
	*ngroups = n;
	return groups;
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
 * Whether the queue calls a worker when events are committed (its trigger
 * fs_stream_queue_wake).  A queue of 0.1.0, before ALTER EXTENSION UPDATE,
 * does not: its worker stays.
 */
static bool
queue_calls_back(Oid schema_oid)
{
	Oid			queue = get_relname_relid("fs_stream_queue", schema_oid);
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1];
	int			ret;

	if (!OidIsValid(queue))
		return false;
	args[0] = ObjectIdGetDatum(queue);
	ret = SPI_execute_with_args("SELECT 1 FROM pg_catalog.pg_trigger "
								"WHERE tgrelid OPERATOR(pg_catalog.=) $1 "
								"AND tgname OPERATOR(pg_catalog.=) 'fs_stream_queue_wake'",
								1, argtypes, args, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the queue's triggers: %s", SPI_result_code_string(ret));
	return SPI_processed > 0;
}

/* The relation of a view, InvalidOid if there is none. */
static Oid
view_relid(const char *schema, const char *view)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	bool		isnull;
	int			ret;

	args[0] = CStringGetTextDatum(view);
	ret = SPI_execute_with_args(psprintf("SELECT v.relation FROM %s.fs_feature_view v "
										 "WHERE v.name OPERATOR(pg_catalog.=) $1",
										 quote_identifier(schema)),
								1, argtypes, args, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not find feature view \"%s\": %s", view, SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return InvalidOid;
	return DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * Flush a group in a transaction of its own: check, merge, write, set
 * aside, delete, commit.  *relid gets the view's relation, for its errors.
 */
static void
flush_group(const char *schema, FlushGroup *g, Oid *relid)
{
	Event	   *events;
	int			nevents;
	int			nrejected = 0;
	int64		stale = 0;
	char	   *query;
	int			ret;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "feature_store stream flush");
	*relid = view_relid(schema, g->view);
	events = read_events(schema, g->flush_id, &nevents);
	check_flush(events, nevents);

	/* Per view (one but in 0.1.0's groups), in the order of their first event. */
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
			stale += write_events(schema, events[i].view, members, nmembers, g->flush_id);
		}
	}

	for (int i = 0; i < nevents; i++)
		if (events[i].reason != NULL)
			nrejected++;
	if (nrejected > 0)
		set_aside(schema, events, nevents);

	query = psprintf("DELETE FROM %s.fs_stream_queue WHERE flush_id OPERATOR(pg_catalog.=) %lld",
					 quote_identifier(schema), (long long) g->flush_id);
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
						(long long) g->flush_id, injected_failures, fs_stream_fail_after_write)));
	}

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	fs_stream_note_flush(my_db, nevents - nrejected, stale, nrejected);
}

/*
 * Run fn(arg) in the flush's memory; on an error, log it, roll back, and
 * return it in *error.
 */
static bool
guarded(void (*fn) (void *), void *arg, ErrorData **error)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool ok = true;

	PG_TRY();
	{
		fn(arg);
	}
	PG_CATCH();
	{
		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(cxt);
		*error = CopyErrorData();
		EmitErrorReport();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		RESUME_INTERRUPTS();
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/* An error's text for fs_stream_status. */
static char *
error_text(ErrorData *edata)
{
	return edata->detail ? psprintf("%s: %s", edata->message, edata->detail) : pstrdup(edata->message);
}

/* What a pass claims, and what became of it. */
typedef struct Pass
{
	char	   *schema;			/* NULL: the extension is not installed */
	FlushGroup *groups;
	int			ngroups;
	bool		full;			/* the claim took a whole batch */
	int			flushed;		/* groups that went through */
	bool		pending;		/* a group waits for its retry */
} Pass;

/* Claim the groups of a pass, and commit the claim. */
static void
claim_pass(void *arg)
{
	Pass	   *pass = (Pass *) arg;
	Oid			schema_oid;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "feature_store stream claim");
	schema_oid = fs_extension_schema(true);
	if (OidIsValid(schema_oid))
	{
		pass->schema = MemoryContextStrdup(flush_cxt, get_namespace_name(schema_oid));
		pass->groups = claim(pass->schema, &pass->ngroups, &pass->full);
		if (pass->ngroups == 0)
			calls_back = queue_calls_back(schema_oid);
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
}

/* A group to flush, for guarded(). */
typedef struct GroupArg
{
	const char *schema;
	FlushGroup *group;
	Oid			relid;
} GroupArg;

static void
flush_group_arg(void *arg)
{
	GroupArg   *ga = (GroupArg *) arg;

	flush_group(ga->schema, ga->group, &ga->relid);
}

/*
 * A group failed: its view waits, longer after each failure (up to 5 s),
 * and the error is kept, as the view's if the view's table, its triggers or
 * the checks raised it (only those who may read the view see it).  Such an
 * error counts as an attempt, unless it is a wait (a lock, the store away),
 * which is tried for as long as it takes.
 */
static void
group_failed(GroupArg *ga, ErrorData *edata)
{
	ViewRetry  *vr = view_retry(ga->group->view, true);

	vr->failures++;
	if (raised_in_view && !must_wait(edata))
		vr->attempts++;
	vr->next_try = GetCurrentTimestamp() +
		Min((int64) fs_stream_flush_interval_ms << Min(vr->failures, 10), MAX_BACKOFF_MS) * 1000;
	if (raised_in_view)
		fs_stream_note_view_error(my_db, ga->group->view, ga->relid, error_text(edata));
	else
		fs_stream_note_error(my_db, error_text(edata));
}

/*
 * One pass: claim, then flush each group whose view does not wait, each on
 * its own, so that one view's failure delays only that view.  A group whose
 * view's table refused it stream_max_attempts times goes one last time,
 * setting aside the events that still fail.  Returns the groups flushed,
 * -1 if the extension is not installed in the database; *failed if the
 * claim failed; *full if the claim took a whole batch; *pending if a group
 * waits for its retry.
 */
static int
flush_pass(bool *failed, bool *full, bool *pending)
{
	Pass		pass;
	ErrorData  *edata = NULL;
	TimestampTz now;

	memset(&pass, 0, sizeof(pass));
	*failed = *full = *pending = false;
	if (!guarded(claim_pass, &pass, &edata))
	{
		fs_stream_note_error(my_db, error_text(edata));
		*failed = true;
		return 0;
	}
	if (pass.schema == NULL)
		return -1;
	*full = pass.full;

	now = GetCurrentTimestamp();
	for (int i = 0; i < pass.ngroups; i++)
	{
		GroupArg	ga;
		ViewRetry  *vr = view_retry(pass.groups[i].view, false);

		if (vr != NULL && vr->next_try > now)
		{
			*pending = true;
			continue;
		}
		ga.schema = pass.schema;
		ga.group = &pass.groups[i];
		ga.relid = InvalidOid;
		last_attempt = vr != NULL && vr->attempts >= fs_stream_max_attempts;
		raised_in_view = false;
		if (guarded(flush_group_arg, &ga, &edata))
		{
			view_done(ga.group->view);
			pass.flushed++;
		}
		else
		{
			group_failed(&ga, edata);
			*pending = true;
		}
		last_attempt = false;
	}
	return pass.flushed;
}

/*
 * The worker exits.  If it did not leave by itself (an error, a
 * termination), its events may wait: the launcher starts another.
 */
static void
worker_gone(int code, Datum arg)
{
	Latch	   *latch = NULL;

	if (my_db == NULL)
		return;
	LWLockAcquire(fs_stream_shared->lock, LW_EXCLUSIVE);
	if (my_db->pid == MyProcPid)
	{
		my_db->pid = 0;
		my_db->latch = NULL;
		if (code != 0)
		{
			my_db->wake = true;
			my_db->not_before = GetCurrentTimestamp() + RESTART_DELAY_MS * INT64CONST(1000);
		}
		latch = fs_stream_shared->launcher_latch;
	}
	LWLockRelease(fs_stream_shared->lock);
	ConditionVariableBroadcast(&my_db->gone);
	if (latch != NULL)
		SetLatch(latch);
}

/*
 * Take the database's slot; false if a command holds the database (DROP
 * DATABASE ...) or another worker has it.
 */
static bool
attach(Oid dboid)
{
	FsStreamDb *db;

	LWLockAcquire(fs_stream_shared->lock, LW_EXCLUSIVE);
	db = fs_stream_slot(dboid, true);
	if (db != NULL && db->hold == 0 && db->pid == 0)
	{
		db->pid = MyProcPid;
		db->latch = MyLatch;
		db->started_at = GetCurrentTimestamp();
		db->last_used = db->started_at;
		my_db = db;
	}
	LWLockRelease(fs_stream_shared->lock);
	return my_db != NULL;
}

/*
 * Whether to go on with the next pass: not if a command holds the
 * database, nor if the worker may leave (idle) and no event came since its
 * last pass, nor if it yields its slot to databases that wait (its events
 * then stay called for, so that the launcher brings a worker back in turn).
 * Otherwise the wake-up is taken: events committed after this call wake the
 * worker again.
 */
static bool
stay(bool may_leave, bool yield)
{
	bool		go_on = true;

	LWLockAcquire(fs_stream_shared->lock, LW_EXCLUSIVE);
	if (my_db->hold > 0 || yield || (may_leave && !my_db->wake))
	{
		go_on = false;
		my_db->pid = 0;
		my_db->latch = NULL;
	}
	my_db->wake = yield;
	LWLockRelease(fs_stream_shared->lock);
	if (!go_on)
		ConditionVariableBroadcast(&my_db->gone);
	return go_on;
}

/*
 * The worker's entry point: connect to the database the launcher gives,
 * flush until its queue has stayed empty for a while (a probe: until it is
 * empty), or until told to stop.
 */
void
fs_stream_worker_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	bool		probe = MyBgworkerEntry->bgw_extra[0] != 0;
	MemoryContext cxt;
	TimestampTz idle_since = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	before_shmem_exit(worker_gone, (Datum) 0);
	if (!attach(dboid))
		proc_exit(0);
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	pgstat_report_appname("feature_store stream worker");

	/*
	 * The worker's own queries name everything with its schema; no one
	 * else's objects may stand in.  Its own statements on the queue wait at
	 * most 5 s for a lock, then the pass goes again later; a view's checks
	 * and writes wait far less (VIEW_LOCK_TIMEOUT).
	 */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("lock_timeout", "5000", PGC_SUSET, PGC_S_OVERRIDE);

	cxt = AllocSetContextCreate(TopMemoryContext, "feature_store stream flush",
								ALLOCSET_DEFAULT_SIZES);
	flush_cxt = cxt;
	for (;;)
	{
		bool		failed;
		bool		full;
		bool		pending;
		bool		may_leave = false;
		int			n;
		long		wait;

		/* A cancel between flushes has nothing to cancel: ignore it. */
		QueryCancelPending = false;
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		/*
		 * Leave an idle queue: at once if probing or if other databases wait
		 * for a worker, else after stream_idle_timeout_ms.
		 */
		if (idle_since != 0 && calls_back)
			may_leave = probe || fs_stream_shared->starved ||
				TimestampDifferenceExceeds(idle_since, GetCurrentTimestamp(),
										   fs_stream_idle_timeout_ms);

		/*
		 * A busy worker (or one whose store is down) yields its slot after
		 * its turn when other databases wait for one: else a few busy
		 * queues, which any role may keep busy by inserting, would keep
		 * every other database from being drained.
		 */
		if (!stay(may_leave, idle_since == 0 && fs_stream_shared->starved &&
				  TimestampDifferenceExceeds(my_db->started_at, GetCurrentTimestamp(),
											 WORKER_TURN_MS)))
			proc_exit(0);

		MemoryContextReset(cxt);
		MemoryContextSwitchTo(cxt);
		n = flush_pass(&failed, &full, &pending);
		MemoryContextSwitchTo(TopMemoryContext);
		if (n < 0)
			proc_exit(0);		/* no extension here (any more): nothing to drain */
		if (failed)
		{
			idle_since = 0;
			flush_failures++;
			wait = Min((long) fs_stream_flush_interval_ms << Min(flush_failures, 10), MAX_BACKOFF_MS);
		}
		else
		{
			flush_failures = 0;
			if (n > 0 || pending)
				idle_since = 0;
			else if (idle_since == 0)
				idle_since = GetCurrentTimestamp();
			if (full)
				continue;
			wait = fs_stream_flush_interval_ms;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 wait, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
