/*-------------------------------------------------------------------------
 *
 * stream_launcher.c
 *	  The stream launcher, which starts a stream worker in each database
 *	  whose queue has events, and the hook that keeps workers out of a
 *	  database that a command needs to itself.
 *
 * The launcher is a background worker connected to no database (it reads
 * pg_database only), started with the server when feature_store is in
 * shared_preload_libraries, and not on a standby: it starts when recovery
 * ends.  When it starts it looks into every database that takes
 * connections and is not a template, with a worker that leaves at once if
 * the extension or events are missing.  From then on it starts a worker in
 * a database when a transaction there commits events (stream.c wakes it),
 * at most feature_store.stream_max_workers at once; a worker leaves a
 * queue that stays empty (stream_worker.c), so that idle databases hold no
 * worker, and no connection.
 *
 * DROP DATABASE, CREATE DATABASE ... TEMPLATE, ALTER DATABASE ... RENAME
 * and ALTER DATABASE ... SET TABLESPACE fail while another session is
 * connected to the database.  Run by the database's owner (or a
 * superuser), the hook below holds the database: its worker leaves (asked,
 * then, after two seconds, terminated: a flush cut short is retried later
 * with the same events), and none comes back until the command has ended.
 * A worker still connecting meanwhile waits for the command's lock on the
 * database, as any session would.  COMMIT PREPARED may commit events: it
 * wakes the worker too.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "stream.h"

/* How long the launcher waits to try again when no worker could start. */
#define RETRY_MS 1000

/* How long a command waits for a worker to leave by itself, then in all. */
#define LEAVE_ASKED_MS 2000
#define LEAVE_MAX_MS 7000

/* A database a worker may go to. */
typedef struct LaunchDb
{
	Oid			oid;
	char		name[NAMEDATALEN];
} LaunchDb;

static ProcessUtility_hook_type prev_process_utility = NULL;

/* The launcher's workers, by slot (the launcher's own memory). */
static BackgroundWorkerHandle *handles[FS_STREAM_SLOTS];
static List *to_probe = NIL;	/* databases still to look into, after a start */
static bool warned_no_slot = false;

/*-------------------------------------------------------------------------
 * The launcher
 *-------------------------------------------------------------------------
 */

/* The databases workers may go to: not templates, taking connections. */
static List *
launch_databases(MemoryContext cxt)
{
	List	   *dbs = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database d = (Form_pg_database) GETSTRUCT(tup);
		MemoryContext old;
		LaunchDb   *db;

		if (d->datistemplate || !d->datallowconn || database_is_invalid_form(d))
			continue;
		old = MemoryContextSwitchTo(cxt);
		db = palloc(sizeof(LaunchDb));
		db->oid = d->oid;
		strlcpy(db->name, NameStr(d->datname), NAMEDATALEN);
		dbs = lappend(dbs, db);
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return dbs;
}

static LaunchDb *
find_database(List *dbs, Oid oid)
{
	ListCell   *lc;

	foreach(lc, dbs)
	{
		LaunchDb   *db = lfirst(lc);

		if (db->oid == oid)
			return db;
	}
	return NULL;
}

/*
 * Start a worker in a database (lock held).  A probe leaves as soon as the
 * queue is empty.  Returns false when no background worker slot is free.
 */
static bool
start_worker(FsStreamDb *slot, LaunchDb *db, bool probe)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "feature_store");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "fs_stream_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "feature_store stream worker for database %s", db->name);
	snprintf(worker.bgw_type, BGW_MAXLEN, "feature_store stream worker");
	worker.bgw_main_arg = ObjectIdGetDatum(db->oid);
	worker.bgw_extra[0] = probe ? 1 : 0;
	worker.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
	{
		if (!warned_no_slot)
			ereport(LOG,
					(errmsg("feature_store stream launcher: no background worker slot is free for database \"%s\"; waiting",
							db->name),
					 errhint("Raise max_worker_processes: the launcher and up to feature_store.stream_max_workers workers need one each.")));
		warned_no_slot = true;
		return false;
	}
	warned_no_slot = false;
	handles[slot - fs_stream_shared->dbs] = handle;
	slot->launching = true;
	slot->last_used = GetCurrentTimestamp();
	return true;
}

/*
 * One pass: forget the workers that ended, then start workers where events
 * wait (oldest wake-up first), then look into the databases still to probe,
 * as the budget allows.  Returns how long to wait before the next pass
 * unless woken (-1: until woken).
 */
static long
launch(MemoryContext cxt)
{
	List	   *dbs;
	TimestampTz now = GetCurrentTimestamp();
	int			running = 0;
	bool		waiting = false;
	long		wait = -1;

	for (int i = 0; i < FS_STREAM_SLOTS; i++)
	{
		pid_t		pid;

		if (handles[i] == NULL || GetBackgroundWorkerPid(handles[i], &pid) != BGWH_STOPPED)
			continue;
		pfree(handles[i]);
		handles[i] = NULL;
		LWLockAcquire(fs_stream_shared->lock, LW_EXCLUSIVE);
		fs_stream_shared->dbs[i].launching = false;
		LWLockRelease(fs_stream_shared->lock);
	}

	dbs = launch_databases(cxt);

	LWLockAcquire(fs_stream_shared->lock, LW_EXCLUSIVE);
	if (fs_stream_shared->probe_all)
	{
		ListCell   *lc;

		fs_stream_shared->probe_all = false;
		list_free(to_probe);
		to_probe = NIL;
		foreach(lc, dbs)
			to_probe = lappend_oid(to_probe, ((LaunchDb *) lfirst(lc))->oid);
	}

	for (int i = 0; i < FS_STREAM_SLOTS; i++)
	{
		FsStreamDb *slot = &fs_stream_shared->dbs[i];

		if (slot->dboid == InvalidOid)
			continue;
		if (slot->pid != 0 || slot->launching)
			running++;
		else if (slot->hold == 0 && find_database(dbs, slot->dboid) == NULL)
		{
			/* Dropped, a template, or closed to connections: forget it. */
			ConditionVariable gone = slot->gone;

			memset(slot, 0, sizeof(FsStreamDb));
			slot->gone = gone;
		}
	}

	for (;;)
	{
		FsStreamDb *next = NULL;
		long		delay;

		/* The database whose events wait longest. */
		for (int i = 0; i < FS_STREAM_SLOTS; i++)
		{
			FsStreamDb *slot = &fs_stream_shared->dbs[i];

			if (slot->dboid == InvalidOid || !slot->wake || slot->pid != 0 ||
				slot->launching || slot->hold > 0)
				continue;
			if (slot->not_before > now)
			{
				/* Its last worker failed: not again at once. */
				delay = (long) ((slot->not_before - now) / 1000) + 1;
				wait = wait < 0 ? delay : Min(wait, delay);
				continue;
			}
			if (next == NULL || slot->last_used < next->last_used)
				next = slot;
		}
		if (next == NULL)
			break;
		if (running >= fs_stream_max_workers ||
			!start_worker(next, find_database(dbs, next->dboid), false))
		{
			waiting = true;
			break;
		}
		running++;
	}

	while (!waiting && to_probe != NIL)
	{
		Oid			oid = linitial_oid(to_probe);
		LaunchDb   *db = find_database(dbs, oid);
		FsStreamDb *slot;

		if (running >= fs_stream_max_workers)
		{
			waiting = true;
			break;
		}
		if (db != NULL)
		{
			slot = fs_stream_slot(oid, true);
			if (slot == NULL)
			{
				waiting = true;
				break;
			}
			if (slot->pid == 0 && !slot->launching && slot->hold == 0)
			{
				if (!start_worker(slot, db, true))
				{
					waiting = true;
					break;
				}
				running++;
			}
		}
		to_probe = list_delete_first(to_probe);
	}

	/* Idle workers make room for databases whose events wait. */
	fs_stream_shared->starved = waiting;
	LWLockRelease(fs_stream_shared->lock);

	if (waiting)
		wait = wait < 0 ? RETRY_MS : Min(wait, RETRY_MS);
	return wait;
}

/* The launcher exits: wake-ups go nowhere until it starts again. */
static void
launcher_gone(int code, Datum arg)
{
	LWLockAcquire(fs_stream_shared->lock, LW_EXCLUSIVE);
	if (fs_stream_shared->launcher_pid == MyProcPid)
	{
		fs_stream_shared->launcher_pid = 0;
		fs_stream_shared->launcher_latch = NULL;
	}
	LWLockRelease(fs_stream_shared->lock);
}

/* Say once that feature_store.stream_database no longer means anything. */
static void
warn_stream_database(void)
{
	static bool warned = false;

	if (warned || fs_stream_database == NULL || fs_stream_database[0] == '\0')
		return;
	warned = true;
	ereport(WARNING,
			(errmsg("feature_store.stream_database is obsolete and ignored"),
			 errdetail("Every database where feature_store is installed has its stream queue drained."),
			 errhint("Remove the setting from the configuration.")));
}

/* The launcher's entry point. */
void
fs_stream_launcher_main(Datum arg)
{
	MemoryContext cxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	/*
	 * Workers started by a launcher before this one (it failed) run on, and
	 * are counted by their pid; the rest is looked into again.
	 */
	LWLockAcquire(fs_stream_shared->lock, LW_EXCLUSIVE);
	fs_stream_shared->launcher_pid = MyProcPid;
	fs_stream_shared->launcher_latch = MyLatch;
	fs_stream_shared->probe_all = true;
	for (int i = 0; i < FS_STREAM_SLOTS; i++)
		fs_stream_shared->dbs[i].launching = false;
	LWLockRelease(fs_stream_shared->lock);
	before_shmem_exit(launcher_gone, (Datum) 0);
	warn_stream_database();

	cxt = AllocSetContextCreate(TopMemoryContext, "feature_store stream launcher",
								ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		long		wait;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			warn_stream_database();
		}
		MemoryContextReset(cxt);
		wait = launch(cxt);
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | (wait >= 0 ? WL_TIMEOUT : 0),
						 wait, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*-------------------------------------------------------------------------
 * Commands that need a database to themselves
 *-------------------------------------------------------------------------
 */

/* The database a command needs to itself, if any (InvalidOid if none). */
static Oid
database_named(Node *stmt)
{
	ListCell   *lc;

	switch (nodeTag(stmt))
	{
		case T_DropdbStmt:
			return get_database_oid(((DropdbStmt *) stmt)->dbname, true);
		case T_CreatedbStmt:
			foreach(lc, ((CreatedbStmt *) stmt)->options)
			{
				DefElem    *opt = lfirst(lc);

				if (strcmp(opt->defname, "template") == 0 && opt->arg != NULL)
					return get_database_oid(defGetString(opt), true);
			}
			return get_database_oid("template1", true);
		case T_RenameStmt:
			if (((RenameStmt *) stmt)->renameType == OBJECT_DATABASE)
				return get_database_oid(((RenameStmt *) stmt)->subname, true);
			return InvalidOid;
		case T_AlterDatabaseStmt:
			foreach(lc, ((AlterDatabaseStmt *) stmt)->options)
			{
				DefElem    *opt = lfirst(lc);

				if (strcmp(opt->defname, "tablespace") == 0)
					return get_database_oid(((AlterDatabaseStmt *) stmt)->dbname, true);
			}
			return InvalidOid;
		default:
			return InvalidOid;
	}
}

/*
 * The database a command needs to itself, if the current role may run it
 * there (it owns the database): a role that may not would have the worker
 * of someone else's database leave over and over, with commands that fail.
 */
static Oid
database_needed(Node *stmt)
{
	Oid			dboid = database_named(stmt);

	if (OidIsValid(dboid) && !pg_database_ownercheck(dboid, GetUserId()))
		return InvalidOid;
	return dboid;
}

/*
 * Keep workers out of a database, and have its worker leave: asked first,
 * terminated if it has not left after LEAVE_ASKED_MS.  Returns whether a
 * worker was there (then it is called back afterwards).
 */
static bool
hold_database(Oid dboid)
{
	FsStreamDb *db;
	pid_t		pid = 0;
	Latch	   *latch = NULL;
	TimestampTz start = GetCurrentTimestamp();
	bool		terminated = false;

	LWLockAcquire(fs_stream_shared->lock, LW_EXCLUSIVE);
	db = fs_stream_slot(dboid, true);
	if (db != NULL)
	{
		db->hold++;
		pid = db->pid;
		latch = db->latch;
	}
	LWLockRelease(fs_stream_shared->lock);
	if (pid == 0)
		return false;

	SetLatch(latch);
	ConditionVariablePrepareToSleep(&db->gone);
	for (;;)
	{
		long		waited = (long) ((GetCurrentTimestamp() - start) / 1000);
		pid_t		now_pid;

		LWLockAcquire(fs_stream_shared->lock, LW_SHARED);
		now_pid = db->pid;
		LWLockRelease(fs_stream_shared->lock);
		if (now_pid != pid || waited >= LEAVE_MAX_MS)
			break;
		if (!terminated && waited >= LEAVE_ASKED_MS)
		{
			/* In a long flush (a store that times out): cut it short. */
			kill(pid, SIGTERM);
			terminated = true;
		}
		(void) ConditionVariableTimedSleep(&db->gone, 100, PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
	return true;
}

/*
 * Let workers into a database again.  Its worker comes back if it was
 * there (call_back) or events came meanwhile, unless the database is gone.
 */
static void
release_database(Oid dboid, bool call_back, bool dropped)
{
	FsStreamDb *db;
	Latch	   *latch = NULL;

	LWLockAcquire(fs_stream_shared->lock, LW_EXCLUSIVE);
	db = fs_stream_slot(dboid, false);
	if (db != NULL && db->hold > 0)
	{
		db->hold--;
		if (dropped)
			db->wake = false;
		else if (call_back)
			db->wake = true;
		if (db->hold == 0 && db->wake)
			latch = fs_stream_shared->launcher_latch;
	}
	LWLockRelease(fs_stream_shared->lock);
	if (latch != NULL)
		SetLatch(latch);
}

/* Run a utility command: the next hook, or PostgreSQL's own. */
static void
next_process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
					 ProcessUtilityContext context, ParamListInfo params,
					 QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context, params,
							 queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
}

/* Run a command with a database held, and let it go whatever happens. */
static void
process_utility_held(Oid held, PlannedStmt *pstmt, const char *queryString,
					 bool readOnlyTree, ProcessUtilityContext context,
					 ParamListInfo params, QueryEnvironment *queryEnv,
					 DestReceiver *dest, QueryCompletion *qc)
{
	volatile bool had_worker = false;

	PG_TRY();
	{
		had_worker = hold_database(held);
		next_process_utility(pstmt, queryString, readOnlyTree, context, params,
							 queryEnv, dest, qc);
	}
	PG_CATCH();
	{
		release_database(held, had_worker, false);
		PG_RE_THROW();
	}
	PG_END_TRY();
	release_database(held, had_worker, IsA(pstmt->utilityStmt, DropdbStmt));
}

/* ProcessUtility_hook: hold a database for the commands that need it alone. */
static void
stream_process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
					   ProcessUtilityContext context, ParamListInfo params,
					   QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *stmt = pstmt->utilityStmt;
	Oid			held = InvalidOid;

	if (fs_stream_shared != NULL)
		held = database_needed(stmt);
	if (OidIsValid(held))
		process_utility_held(held, pstmt, queryString, readOnlyTree, context, params,
							 queryEnv, dest, qc);
	else
		next_process_utility(pstmt, queryString, readOnlyTree, context, params,
							 queryEnv, dest, qc);

	if (fs_stream_shared == NULL)
		return;
	/* A new database may hold events (its template's): look into it. */
	if (IsA(stmt, CreatedbStmt))
	{
		Oid			created = get_database_oid(((CreatedbStmt *) stmt)->dbname, true);

		if (OidIsValid(created))
			fs_stream_wake_at_commit(created);
	}
	else if (IsA(stmt, TransactionStmt) &&
			 ((TransactionStmt *) stmt)->kind == TRANS_STMT_COMMIT_PREPARED)
		fs_stream_wake(MyDatabaseId);
}

/* Install the hook (shared_preload_libraries only). */
void
fs_stream_launcher_init(void)
{
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = stream_process_utility;
}
