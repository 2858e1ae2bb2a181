/*-------------------------------------------------------------------------
 *
 * stream.c
 *	  The streaming lane, producer side: fs_push, the wake-ups that call a
 *	  worker, the settings and the launcher's registration, and the shared
 *	  memory the workers report into (fs_stream_status).
 *
 * fs_push checks an event (view, features, values, mode) as its producer
 * (fs_check_write) and appends it to the queue table fs_stream_queue;
 * producers may also INSERT or COPY into the queue themselves.  Either way
 * the queue's row trigger (fs_stream_queue_stamp) refuses a bad row and
 * stamps a good one, and its statement trigger marks the transaction, and its commit wakes
 * the database's stream worker, or has the launcher (stream_launcher.c)
 * start one: a worker comes only where events wait, and leaves a queue
 * that stays empty (stream_worker.c).  Each database's worker reports its
 * flushes into the database's slot of shared memory, which
 * fs_stream_status reads.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "storage/lwlock.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "utils.h"
#include "stream.h"
#include "write.h"

/* The settings (stream.h), registered here. */
char	   *fs_stream_database = NULL;
int			fs_stream_flush_interval_ms = 50;
int			fs_stream_batch_size = 1000;
int			fs_stream_fail_after_write = 0;
int			fs_stream_max_workers = 4;
int			fs_stream_idle_timeout_ms = 10000;
int			fs_stream_max_attempts = 5;

PG_FUNCTION_INFO_V1(fs_push);
PG_FUNCTION_INFO_V1(fs_stream_queue_stamp);
PG_FUNCTION_INFO_V1(fs_stream_queue_wake);
PG_FUNCTION_INFO_V1(fs_stream_wake_workers);
PG_FUNCTION_INFO_V1(fs_stream_worker_status);
PG_FUNCTION_INFO_V1(fs_stream_requeue_rejects);
PG_FUNCTION_INFO_V1(fs_stream_discard_rejects);

FsStreamShared *fs_stream_shared = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* This transaction queued events: call a worker when it commits. */
static bool wake_at_commit = false;
static Oid	wake_other_at_commit = InvalidOid;	/* a database it created */
static bool warned_this_xact = false;
static bool xact_callback_registered = false;

/*-------------------------------------------------------------------------
 * Shared memory
 *-------------------------------------------------------------------------
 */

/* shmem_request_hook: the slots and their lock. */
static void
stream_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(FsStreamShared)));
	RequestNamedLWLockTranche("feature_store stream", 1);
}

/* shmem_startup_hook: find or create the slots. */
static void
stream_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	fs_stream_shared = ShmemInitStruct("feature_store stream", sizeof(FsStreamShared), &found);
	if (!found)
	{
		memset(fs_stream_shared, 0, sizeof(FsStreamShared));
		fs_stream_shared->lock = &(GetNamedLWLockTranche("feature_store stream"))->lock;
		for (int i = 0; i < FS_STREAM_SLOTS; i++)
			ConditionVariableInit(&fs_stream_shared->dbs[i].gone);
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * The slot of a database, with the lock held exclusively.  A new one takes
 * a free slot, else the one used longest ago among those no worker, wake-up
 * or command needs; its figures start again.
 */
FsStreamDb *
fs_stream_slot(Oid dboid, bool create)
{
	FsStreamDb *reuse = NULL;

	for (int i = 0; i < FS_STREAM_SLOTS; i++)
	{
		FsStreamDb *db = &fs_stream_shared->dbs[i];

		if (db->dboid == dboid)
			return db;
		if (!create || db->pid != 0 || db->wake || db->launching || db->hold > 0)
			continue;
		if (reuse == NULL || db->dboid == InvalidOid ||
			(reuse->dboid != InvalidOid && db->last_used < reuse->last_used))
			reuse = db;
	}
	if (reuse != NULL)
	{
		ConditionVariable gone = reuse->gone;

		memset(reuse, 0, sizeof(FsStreamDb));
		reuse->gone = gone;
		reuse->dboid = dboid;
		reuse->last_used = GetCurrentTimestamp();
	}
	return reuse;
}

/*
 * Events were committed in a database: have its worker come, or stay.  A
 * running worker finds them with its next flush; otherwise the launcher
 * starts one.
 */
void
fs_stream_wake(Oid dboid)
{
	FsStreamDb *db;
	Latch	   *latch = NULL;

	if (fs_stream_shared == NULL)
		return;
	LWLockAcquire(fs_stream_shared->lock, LW_EXCLUSIVE);
	db = fs_stream_slot(dboid, true);
	if (db != NULL)
	{
		db->wake = true;
		db->last_used = GetCurrentTimestamp();
		if (db->pid == 0)
			latch = fs_stream_shared->launcher_latch;
	}
	else
	{
		/* No slot: the launcher looks into every database instead. */
		fs_stream_shared->probe_all = true;
		latch = fs_stream_shared->launcher_latch;
	}
	LWLockRelease(fs_stream_shared->lock);
	if (latch != NULL)
		SetLatch(latch);
}

/* Count a successful flush of a database's worker. */
void
fs_stream_note_flush(FsStreamDb *db, int64 events, int64 stale, int64 rejected)
{
	TimestampTz now = GetCurrentTimestamp();
	int64		sec = (int64) (now / USECS_PER_SEC);
	int			slot = (int) (sec % FS_STREAM_RATE_WINDOW);

	LWLockAcquire(fs_stream_shared->lock, LW_EXCLUSIVE);
	db->last_flush = now;
	db->last_used = now;
	db->last_flush_events = events;
	db->events += events;
	db->stale += stale;
	db->rejected += rejected;
	db->flushes++;
	if (db->rate_sec[slot] != sec)
	{
		db->rate_sec[slot] = sec;
		db->rate_events[slot] = 0;
	}
	db->rate_events[slot] += events;
	LWLockRelease(fs_stream_shared->lock);
}

/* Keep a database's worker's last error of its own (not a view's). */
void
fs_stream_note_error(FsStreamDb *db, const char *message)
{
	LWLockAcquire(fs_stream_shared->lock, LW_EXCLUSIVE);
	db->failed_flushes++;
	db->last_error_at = GetCurrentTimestamp();
	strlcpy(db->last_error, message, sizeof(db->last_error));
	LWLockRelease(fs_stream_shared->lock);
}

/*
 * Keep the last error of a view's group: in the view's entry, else in the
 * oldest.
 */
void
fs_stream_note_view_error(FsStreamDb *db, const char *view, Oid relid, const char *message)
{
	FsStreamViewError *entry = NULL;

	LWLockAcquire(fs_stream_shared->lock, LW_EXCLUSIVE);
	db->failed_flushes++;
	for (int i = 0; i < FS_STREAM_VIEW_ERRORS; i++)
	{
		FsStreamViewError *e = &db->view_errors[i];

		if (e->at != 0 && strncmp(e->view, view, NAMEDATALEN - 1) == 0)
		{
			entry = e;
			break;
		}
		if (entry == NULL || e->at < entry->at)
			entry = e;
	}
	entry->relid = relid;
	entry->at = GetCurrentTimestamp();
	strlcpy(entry->view, view, sizeof(entry->view));
	snprintf(entry->message, sizeof(entry->message), "feature view \"%s\": %s", view, message);
	LWLockRelease(fs_stream_shared->lock);
}

/*
 * Whether the current role may see a view's error: it may read the view's
 * relation (a superuser, if the view had none).
 */
static bool
may_see(FsStreamViewError *e)
{
	bool		missing = false;

	if (!OidIsValid(e->relid))
		return superuser();
	return pg_class_aclcheck_ext(e->relid, GetUserId(), ACL_SELECT, &missing) == ACLCHECK_OK &&
		!missing;
}

/*-------------------------------------------------------------------------
 * Wake-ups: a transaction that queued events calls a worker as it commits
 *-------------------------------------------------------------------------
 */

/* At commit, call the database's worker if events were queued. */
static void
stream_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
			if (wake_at_commit)
				fs_stream_wake(MyDatabaseId);
			if (OidIsValid(wake_other_at_commit))
				fs_stream_wake(wake_other_at_commit);
			wake_at_commit = false;
			wake_other_at_commit = InvalidOid;
			warned_this_xact = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
			/* COMMIT PREPARED calls the worker (stream_launcher.c). */
			wake_at_commit = false;
			wake_other_at_commit = InvalidOid;
			warned_this_xact = false;
			break;
		default:
			break;
	}
}

/* Register the transaction callback, once per backend. */
static void
register_xact_callback(void)
{
	if (!xact_callback_registered)
	{
		RegisterXactCallback(stream_xact_callback, NULL);
		xact_callback_registered = true;
	}
}

/*
 * This transaction created a database, which may hold events (its
 * template's): look into it when the database exists, at commit.
 */
void
fs_stream_wake_at_commit(Oid dboid)
{
	register_xact_callback();
	wake_other_at_commit = dboid;
}

/*
 * This transaction queues events: call the worker when it commits.  Without
 * the preload no worker can come; say so (warn) once per transaction.
 */
static void
queue_events(bool warn)
{
	register_xact_callback();
	if (fs_stream_shared != NULL)
		wake_at_commit = true;
	else if (warn && !warned_this_xact)
	{
		warned_this_xact = true;
		ereport(WARNING,
				(errcode(ERRCODE_WARNING),
				 errmsg("no stream worker drains the queue of this database"),
				 errdetail("feature_store is not in shared_preload_libraries: the events wait in fs_stream_queue."),
				 errhint("Add feature_store to shared_preload_libraries and restart the server.")));
	}
}

/* A column of the queue, by name. */
static int
queue_column(TupleDesc tupdesc, const char *name)
{
	int			attnum = SPI_fnumber(tupdesc, name);

	if (attnum <= 0)
		elog(ERROR, "column \"%s\" of fs_stream_queue is missing", name);
	return attnum;
}

/*
 * The queue's row trigger (before INSERT or COPY, whoever queues): refuse a
 * row the table's constraints would refuse, saying what an event needs and
 * without the internal columns a constraint's detail would show (those
 * constraints stay, behind this); then number the event and record who
 * queued it and when, whatever the insert says, except a superuser's values
 * (a restore of a dump).
 */
Datum
fs_stream_queue_stamp(PG_FUNCTION_ARGS)
{
	static const char *const required[] = {"feature_view", "entity_id", "features",
	"event_time", "mode"};
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	tupdesc;
	HeapTuple	tuple;
	int			cols[4];
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	bool		isnull;
	int			mode_att;
	char	   *mode;
	int			id_att;
	int			pushed_by_att;
	int			enqueued_at_att;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) || !TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("fs_stream_queue_stamp() must be called as a trigger before INSERT for each row")));
	rel = trigdata->tg_relation;
	tupdesc = RelationGetDescr(rel);
	tuple = trigdata->tg_trigtuple;

	for (int i = 0; i < lengthof(required); i++)
	{
		(void) heap_getattr(tuple, queue_column(tupdesc, required[i]), tupdesc, &isnull);
		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_NOT_NULL_VIOLATION),
					 errmsg("null value in column \"%s\" of fs_stream_queue",
							required[i]),
					 i < 3 ? errhint("Every event needs feature_view, entity_id and features.") :
					 i == 3 ? errhint("Leave event_time out to queue the event at now().") :
					 errhint("Leave mode out to replace the features (mode 'set').")));
	}
	mode_att = queue_column(tupdesc, "mode");
	mode = TextDatumGetCString(heap_getattr(tuple, mode_att, tupdesc, &isnull));
	if (strcmp(mode, "set") != 0 && strcmp(mode, "add") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("invalid value \"%s\" in column \"mode\" of fs_stream_queue",
						mode),
				 errhint("The mode is 'set' (replace the features' values) or 'add' (add to numeric features).")));

	id_att = queue_column(tupdesc, "id");
	pushed_by_att = queue_column(tupdesc, "pushed_by");
	enqueued_at_att = queue_column(tupdesc, "enqueued_at");
	cols[0] = queue_column(tupdesc, "flush_id");
	nulls[0] = true;
	values[0] = (Datum) 0;
	if (!superuser() ||
		heap_attisnull(tuple, id_att, tupdesc) ||
		heap_attisnull(tuple, pushed_by_att, tupdesc) ||
		heap_attisnull(tuple, enqueued_at_att, tupdesc))
	{
		Oid			seqid = get_relname_relid("fs_stream_queue_id_seq", RelationGetNamespace(rel));
		Name		pushed_by = palloc0(NAMEDATALEN);

		if (!OidIsValid(seqid))
			elog(ERROR, "sequence fs_stream_queue_id_seq of extension feature_store is missing");
		namestrcpy(pushed_by, GetUserNameFromId(GetUserId(), false));
		cols[1] = id_att;
		values[1] = Int64GetDatum(nextval_internal(seqid, true));
		cols[2] = pushed_by_att;
		values[2] = NameGetDatum(pushed_by);
		cols[3] = enqueued_at_att;
		values[3] = TimestampTzGetDatum(GetCurrentTimestamp());
		return PointerGetDatum(heap_modify_tuple_by_cols(tuple, tupdesc, 4, cols, values, nulls));
	}
	return PointerGetDatum(heap_modify_tuple_by_cols(tuple, tupdesc, 1, cols, values, nulls));
}

/*
 * The queue's statement trigger (after INSERT or COPY, whoever queues):
 * call the worker at commit.
 */
Datum
fs_stream_queue_wake(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("fs_stream_queue_wake() must be called as a trigger")));
	queue_events(true);
	PG_RETURN_POINTER(NULL);
}

/*
 * fs_stream_wake_workers(): the extension's scripts call a worker into
 * this database at commit, so that events queued before an update (when
 * no trigger called one) are drained.
 */
Datum
fs_stream_wake_workers(PG_FUNCTION_ARGS)
{
	queue_events(false);
	PG_RETURN_VOID();
}

/*-------------------------------------------------------------------------
 * Settings and the launcher's registration
 *-------------------------------------------------------------------------
 */

/*
 * Define the stream settings; under shared_preload_libraries, also reserve
 * the shared memory and register the launcher, which starts the workers.
 */
void
fs_stream_init(void)
{
	BackgroundWorker worker;

	/*
	 * Kept, and ignored, so that a postgresql.conf of 0.1.0 that sets it
	 * still loads (the prefix is reserved: an unknown name would be refused
	 * on reload).  The launcher logs that it is ignored.
	 */
	DefineCustomStringVariable("feature_store.stream_database",
							   "Obsolete and ignored: every database with feature_store has a stream worker.",
							   "Until 0.2.0 the one database whose queue the worker drained.",
							   &fs_stream_database,
							   "",
							   PGC_SIGHUP, 0,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("feature_store.stream_flush_interval_ms",
							"How long the stream worker waits between flushes of a queue it emptied.",
							"While more than a batch is queued, flushes follow each other at once.",
							&fs_stream_flush_interval_ms,
							50, 1, 60000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("feature_store.stream_batch_size",
							"How many queued events one flush of the stream worker takes at most.",
							NULL,
							&fs_stream_batch_size,
							1000, 1, 100000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("feature_store.stream_max_workers",
							"How many databases may have a stream worker at once.",
							"Each is a background worker: max_worker_processes must leave room for them "
							"and for the launcher.",
							&fs_stream_max_workers,
							4, 1, FS_STREAM_SLOTS / 2,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("feature_store.stream_idle_timeout_ms",
							"How long a stream worker stays in a database whose queue is empty.",
							"Then it leaves, freeing its background worker; the next event queued calls one back.",
							&fs_stream_idle_timeout_ms,
							10000, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("feature_store.stream_max_attempts",
							"How often a view's events are tried before those its table refuses are set aside.",
							"Counts the errors of the view's table, its triggers and the checks that may pass "
							"(a serialization failure, ...); a lock held or the store away is waited for, "
							"however long.",
							&fs_stream_max_attempts,
							5, 1, 1000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("feature_store.stream_fail_after_write",
							"For testing: fail this many flushes after their writes, before they commit.",
							"Shows that a flush retried after its writes reached the store applies nothing twice.",
							&fs_stream_fail_after_write,
							0, 0, 1000,
							PGC_SIGHUP, GUC_NOT_IN_SAMPLE,
							NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = stream_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = stream_shmem_startup;
	fs_stream_launcher_init();

	/* Not on a standby: the launcher starts when recovery ends. */
	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "feature_store");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "fs_stream_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "feature_store stream launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "feature_store stream launcher");
	RegisterBackgroundWorker(&worker);
}

/*-------------------------------------------------------------------------
 * fs_push
 *-------------------------------------------------------------------------
 */

/* fs_push's statements, prepared once per backend and schema. */
static FsKeptPlan push_plan;
static FsKeptPlan currval_plan;

/*
 * fs_push(feature_view, entity_id, features, event_time, mode): check the
 * event as fs_write_features would, and queue it; returns its queue id.
 */
Datum
fs_push(PG_FUNCTION_ARGS)
{
	const char *names[5] = {"feature_view", "entity_id", "features", "event_time", "mode"};
	char	   *view;
	char	   *mode;
	FsWrite		w;
	Oid			schema_oid;
	SPIPlanPtr	insert;
	SPIPlanPtr	currval;
	Oid			seqtype = REGCLASSOID;
	Oid			seqid;
	Datum		seqarg;
	Datum		args[5];
	Oid			types[5] = {TEXTOID, TEXTOID, JSONBOID, TIMESTAMPTZOID, TEXTOID};
	int			ret;
	bool		isnull;
	int64		id;

	for (int i = 0; i < 5; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be null", names[i])));
	view = text_to_cstring(PG_GETARG_TEXT_PP(0));
	mode = text_to_cstring(PG_GETARG_TEXT_PP(4));
	memset(&w, 0, sizeof(w));
	w.entity_id = text_to_cstring(PG_GETARG_TEXT_PP(1));
	w.event_time = PG_GETARG_TIMESTAMPTZ(3);
	if (strcmp(mode, "set") == 0)
		w.set = PG_GETARG_JSONB_P(2);
	else if (strcmp(mode, "add") == 0)
		w.add = PG_GETARG_JSONB_P(2);
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid stream mode \"%s\"", mode),
				 errhint("The mode is 'set' (replace the features' values) or 'add' (add to numeric features).")));
	fs_check_write(view, &w);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	schema_oid = get_func_namespace(fcinfo->flinfo->fn_oid);
	insert = fs_schema_plan(&push_plan, schema_oid,
							"INSERT INTO @extschema@.fs_stream_queue (feature_view, entity_id, features, event_time, mode) "
							"VALUES ($1, $2, $3, $4, $5)",
							5, types);
	currval = fs_schema_plan(&currval_plan, schema_oid,
							 "SELECT pg_catalog.currval($1)", 1, &seqtype);
	seqid = get_relname_relid("fs_stream_queue_id_seq", schema_oid);
	if (!OidIsValid(seqid))
		elog(ERROR, "sequence fs_stream_queue_id_seq of extension feature_store is missing");
	for (int i = 0; i < 5; i++)
		args[i] = PG_GETARG_DATUM(i);
	/* No RETURNING: that would need SELECT on the queue, which only its owner has. */
	ret = SPI_execute_plan(insert, args, NULL, false, 0);
	if (ret != SPI_OK_INSERT || SPI_processed != 1)
		elog(ERROR, "could not queue the event: %s", SPI_result_code_string(ret));
	/* The id the queue's trigger took for it. */
	seqarg = ObjectIdGetDatum(seqid);
	ret = SPI_execute_plan(currval, &seqarg, NULL, true, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the event's id: %s", SPI_result_code_string(ret));
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	/* The queue's trigger does this too, but a queue of 0.1.0 has none. */
	queue_events(true);
	PG_RETURN_INT64(id);
}

/*-------------------------------------------------------------------------
 * fs_stream_requeue_rejects, fs_stream_discard_rejects
 *-------------------------------------------------------------------------
 */

/*
 * Requeue (or discard) the set-aside events the caller acts for, of a view
 * (NULL: any) and among ids (NULL: all).  The caller's rights choose the
 * events, as the table's policy does (fs_acts_for(pushed_by)); the owner
 * of fs_stream_rejects, whose table PUBLIC may only read, writes, for the
 * one statement.  A requeued event keeps the role that queued it (the
 * worker checks it as that role again) and gets a new id at the end of
 * the queue.  Returns how many events were requeued (discarded).
 */
static int64
rejects_apply(FunctionCallInfo fcinfo, bool requeue)
{
	Oid			schema_oid = get_func_namespace(fcinfo->flinfo->fn_oid);
	const char *schema = quote_identifier(get_namespace_name(schema_oid));
	Oid			relid = get_relname_relid("fs_stream_rejects", schema_oid);
	Oid			seqid = get_relname_relid("fs_stream_queue_id_seq", schema_oid);
	Oid			argtypes[2] = {TEXTOID, INT8ARRAYOID};
	Oid			writetypes[2] = {INT8ARRAYOID, OIDOID};
	Datum		args[2];
	char		nulls[2];
	Oid			owner;
	HeapTuple	tup;
	Datum		ids;
	bool		isnull;
	Oid			save_userid;
	int			save_sec_context;
	int			ret;
	int64		n;

	if (!OidIsValid(relid) || !OidIsValid(seqid))
		elog(ERROR, "table fs_stream_rejects or sequence fs_stream_queue_id_seq of extension feature_store is missing");
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	/* The queue keeps who queued an event only when a superuser inserts it. */
	if (requeue && !superuser_arg(owner))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot requeue stream events: the owner of fs_stream_rejects is not a superuser"),
				 errdetail("A requeued event must keep the role that queued it.")));

	args[0] = PG_ARGISNULL(0) ? (Datum) 0 : PG_GETARG_DATUM(0);
	args[1] = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
	nulls[0] = PG_ARGISNULL(0) ? 'n' : ' ';
	nulls[1] = PG_ARGISNULL(1) ? 'n' : ' ';

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* As the caller: which events are its own. */
	ret = SPI_execute_with_args(psprintf("SELECT pg_catalog.array_agg(r.id) FROM %1$s.fs_stream_rejects r "
										 "WHERE %1$s.fs_acts_for(r.pushed_by) "
										 "AND ($1 IS NULL OR r.feature_view OPERATOR(pg_catalog.=) $1) "
										 "AND ($2 IS NULL OR r.id OPERATOR(pg_catalog.=) ANY ($2))%2$s",
										 schema,
										 requeue ? " AND r.feature_view IS NOT NULL AND r.entity_id IS NOT NULL "
										 "AND r.features IS NOT NULL AND r.event_time IS NOT NULL "
										 "AND r.mode IS NOT NULL" : ""),
								2, argtypes, args, nulls, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read fs_stream_rejects: %s", SPI_result_code_string(ret));
	ids = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
	{
		SPI_finish();
		return 0;
	}

	/* As the owner, for this one statement. */
	args[0] = ids;
	args[1] = ObjectIdGetDatum(seqid);
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	if (requeue)
		ret = SPI_execute_with_args(psprintf("WITH d AS (DELETE FROM %1$s.fs_stream_rejects r "
											 "WHERE r.id OPERATOR(pg_catalog.=) ANY ($1) RETURNING r.*) "
											 "INSERT INTO %1$s.fs_stream_queue (id, feature_view, entity_id, "
											 "features, event_time, mode, pushed_by, enqueued_at) "
											 "SELECT pg_catalog.nextval($2::pg_catalog.regclass), "
											 "d.feature_view, d.entity_id, d.features, d.event_time, d.mode, "
											 "d.pushed_by, pg_catalog.clock_timestamp() FROM d ORDER BY d.id",
											 schema),
									2, writetypes, args, NULL, false, 0);
	else
		ret = SPI_execute_with_args(psprintf("DELETE FROM %s.fs_stream_rejects r "
											 "WHERE r.id OPERATOR(pg_catalog.=) ANY ($1)", schema),
									1, writetypes, args, NULL, false, 0);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	if (ret != (requeue ? SPI_OK_INSERT : SPI_OK_DELETE))
		elog(ERROR, "could not %s stream events: %s", requeue ? "requeue" : "discard",
			 SPI_result_code_string(ret));
	n = (int64) SPI_processed;
	SPI_finish();
	return n;
}

/*
 * fs_stream_requeue_rejects(feature_view text, ids bigint[]): put the
 * caller's set-aside events back in the queue.
 */
Datum
fs_stream_requeue_rejects(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(rejects_apply(fcinfo, true));
}

/*
 * fs_stream_discard_rejects(feature_view text, ids bigint[]): delete the
 * caller's set-aside events.
 */
Datum
fs_stream_discard_rejects(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(rejects_apply(fcinfo, false));
}

/*-------------------------------------------------------------------------
 * fs_stream_worker_status(): this database's worker and its figures, for
 * fs_stream_status
 *-------------------------------------------------------------------------
 */
Datum
fs_stream_worker_status(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[10];
	bool		nulls[10];
	FsStreamDb	copy;
	FsStreamDb *db;
	int64		now_sec;
	int64		recent = 0;
	const char *state;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	/* 0.1.0 declares the first nine columns only. */
	if (desc->natts > lengthof(values))
		elog(ERROR, "fs_stream_worker_status returns %d columns, not %d",
			 (int) lengthof(values), desc->natts);
	memset(nulls, true, sizeof(nulls));
	memset(&copy, 0, sizeof(copy));
	if (fs_stream_shared == NULL || RecoveryInProgress())
		state = "off";
	else
	{
		LWLockAcquire(fs_stream_shared->lock, LW_SHARED);
		db = fs_stream_slot(MyDatabaseId, false);
		if (db != NULL)
			memcpy(&copy, db, sizeof(copy));
		LWLockRelease(fs_stream_shared->lock);
		state = copy.pid != 0 ? "running" : "idle";

		/* Events flushed in the last RATE_WINDOW whole seconds. */
		now_sec = (int64) (GetCurrentTimestamp() / USECS_PER_SEC);
		for (int i = 0; i < FS_STREAM_RATE_WINDOW; i++)
			if (copy.rate_sec[i] < now_sec && copy.rate_sec[i] >= now_sec - FS_STREAM_RATE_WINDOW)
				recent += copy.rate_events[i];

		values[1] = Float8GetDatum((double) recent / FS_STREAM_RATE_WINDOW);
		values[3] = Int64GetDatum(copy.events);
		values[4] = Int64GetDatum(copy.stale);
		values[5] = Int64GetDatum(copy.rejected);
		values[6] = Int64GetDatum(copy.failed_flushes);
		nulls[1] = nulls[3] = nulls[4] = nulls[5] = nulls[6] = false;
	}

	values[0] = Int32GetDatum(copy.pid);
	nulls[0] = copy.pid == 0;
	values[2] = TimestampTzGetDatum(copy.last_flush);
	nulls[2] = copy.last_flush == 0;
	/* The last error the caller may see: the worker's own, or a view's it may read. */
	{
		const char *last_error = copy.last_error;
		TimestampTz last_error_at = copy.last_error_at;

		for (int i = 0; i < FS_STREAM_VIEW_ERRORS; i++)
		{
			FsStreamViewError *e = &copy.view_errors[i];

			if (e->at > last_error_at && may_see(e))
			{
				last_error = e->message;
				last_error_at = e->at;
			}
		}
		values[7] = CStringGetTextDatum(last_error);
		nulls[7] = last_error_at == 0;
		values[8] = TimestampTzGetDatum(last_error_at);
		nulls[8] = last_error_at == 0;
	}
	values[9] = CStringGetTextDatum(state);
	nulls[9] = false;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}
