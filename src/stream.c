/*-------------------------------------------------------------------------
 *
 * stream.c
 *	  The streaming lane, producer side: fs_push, the worker's settings and
 *	  registration, and its figures in shared memory (fs_stream_status).
 *
 * fs_push checks an event (view, features, values, mode) as its producer
 * (fs_check_write) and appends it to the queue table fs_stream_queue;
 * producers may also INSERT or COPY into the queue themselves.  The worker
 * that drains the queue is in stream_worker.c; it reports each flush here
 * (fs_stream_note_*), into shared memory that fs_stream_status reads.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "utils.h"
#include "stream.h"
#include "write.h"

/* The worker's settings (stream.h), registered here with the worker. */
char	   *fs_stream_database = NULL;
int			fs_stream_flush_interval_ms = 50;
int			fs_stream_batch_size = 1000;
int			fs_stream_fail_after_write = 0;

PG_FUNCTION_INFO_V1(fs_push);
PG_FUNCTION_INFO_V1(fs_stream_worker_status);

/* Seconds of history behind events_per_second. */
#define RATE_WINDOW 10

typedef struct FsStreamShared
{
	slock_t		mutex;
	pid_t		pid;			/* the worker's, 0 if none runs */
	TimestampTz started_at;
	TimestampTz last_flush;		/* the last flush that succeeded */
	int64		last_flush_events;
	int64		events;			/* events flushed since the worker started */
	int64		stale;			/* of them, set events a newer value beat */
	int64		rejected;		/* events set aside in fs_stream_rejects */
	int64		flushes;
	int64		failed_flushes;
	TimestampTz last_error_at;
	char		last_error[512];
	int64		rate_sec[RATE_WINDOW];	/* per second (epoch seconds) ... */
	int64		rate_events[RATE_WINDOW];	/* ... events flushed */
} FsStreamShared;

static FsStreamShared *stream_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/*-------------------------------------------------------------------------
 * Shared memory
 *-------------------------------------------------------------------------
 */

/* shmem_request_hook: the worker's figures. */
static void
stream_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(FsStreamShared)));
}

/* shmem_startup_hook: find or create the worker's figures. */
static void
stream_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	stream_shared = ShmemInitStruct("feature_store stream", sizeof(FsStreamShared), &found);
	if (!found)
	{
		memset(stream_shared, 0, sizeof(FsStreamShared));
		SpinLockInit(&stream_shared->mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Count a successful flush of the worker. */
void
fs_stream_note_flush(int64 events, int64 stale, int64 rejected)
{
	TimestampTz now = GetCurrentTimestamp();
	int64		sec = (int64) (now / USECS_PER_SEC);
	int			slot = (int) (sec % RATE_WINDOW);

	SpinLockAcquire(&stream_shared->mutex);
	stream_shared->last_flush = now;
	stream_shared->last_flush_events = events;
	stream_shared->events += events;
	stream_shared->stale += stale;
	stream_shared->rejected += rejected;
	stream_shared->flushes++;
	if (stream_shared->rate_sec[slot] != sec)
	{
		stream_shared->rate_sec[slot] = sec;
		stream_shared->rate_events[slot] = 0;
	}
	stream_shared->rate_events[slot] += events;
	SpinLockRelease(&stream_shared->mutex);
}

/* Keep the worker's last error. */
void
fs_stream_note_error(const char *message)
{
	SpinLockAcquire(&stream_shared->mutex);
	stream_shared->failed_flushes++;
	stream_shared->last_error_at = GetCurrentTimestamp();
	strlcpy(stream_shared->last_error, message, sizeof(stream_shared->last_error));
	SpinLockRelease(&stream_shared->mutex);
}

/* The worker starts (pid) or ends (0): fs_stream_status shows its pid. */
void
fs_stream_note_worker(pid_t pid)
{
	SpinLockAcquire(&stream_shared->mutex);
	if (pid != 0)
	{
		stream_shared->pid = pid;
		stream_shared->started_at = GetCurrentTimestamp();
	}
	else if (stream_shared->pid == MyProcPid)
		stream_shared->pid = 0;
	SpinLockRelease(&stream_shared->mutex);
}

/*-------------------------------------------------------------------------
 * Settings and the worker's registration
 *-------------------------------------------------------------------------
 */

/*
 * Define the stream settings; under shared_preload_libraries, also reserve
 * the worker's shared memory and register the worker.
 */
void
fs_stream_init(void)
{
	BackgroundWorker worker;

	/*
	 * Not PGC_POSTMASTER: that would make loading the library outside
	 * shared_preload_libraries fail.  The worker restarts itself to follow a
	 * change.
	 */
	DefineCustomStringVariable("feature_store.stream_database",
							   "The database whose stream queue the background worker drains.",
							   "The worker runs when feature_store is in shared_preload_libraries; "
							   "it reconnects when this changes.",
							   &fs_stream_database,
							   "postgres",
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

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "feature_store");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "fs_stream_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "feature_store stream worker");
	snprintf(worker.bgw_type, BGW_MAXLEN, "feature_store stream worker");
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
	PG_RETURN_INT64(id);
}

/*-------------------------------------------------------------------------
 * fs_stream_worker_status(): the worker's figures, for fs_stream_status
 *-------------------------------------------------------------------------
 */
Datum
fs_stream_worker_status(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[9];
	bool		nulls[9];
	FsStreamShared copy;
	int64		now_sec;
	int64		recent = 0;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	memset(nulls, true, sizeof(nulls));
	if (stream_shared == NULL)
		PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));

	SpinLockAcquire(&stream_shared->mutex);
	memcpy(&copy, stream_shared, sizeof(copy));
	SpinLockRelease(&stream_shared->mutex);

	/* Events flushed in the last RATE_WINDOW whole seconds. */
	now_sec = (int64) (GetCurrentTimestamp() / USECS_PER_SEC);
	for (int i = 0; i < RATE_WINDOW; i++)
		if (copy.rate_sec[i] < now_sec && copy.rate_sec[i] >= now_sec - RATE_WINDOW)
			recent += copy.rate_events[i];

	values[0] = Int32GetDatum(copy.pid);
	nulls[0] = copy.pid == 0;
	values[1] = Float8GetDatum((double) recent / RATE_WINDOW);
	nulls[1] = false;
	values[2] = TimestampTzGetDatum(copy.last_flush);
	nulls[2] = copy.last_flush == 0;
	values[3] = Int64GetDatum(copy.events);
	values[4] = Int64GetDatum(copy.stale);
	values[5] = Int64GetDatum(copy.rejected);
	values[6] = Int64GetDatum(copy.failed_flushes);
	nulls[3] = nulls[4] = nulls[5] = nulls[6] = false;
	values[7] = CStringGetTextDatum(copy.last_error);
	nulls[7] = copy.last_error[0] == '\0';
	values[8] = TimestampTzGetDatum(copy.last_error_at);
	nulls[8] = copy.last_error_at == 0;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}
