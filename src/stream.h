/*-------------------------------------------------------------------------
 *
 * stream.h
 *	  The streaming lane: fs_push, the wake-ups and the figures in shared
 *	  memory (stream.c), the launcher that starts a worker per database
 *	  (stream_launcher.c), the worker that drains a database's queue
 *	  (stream_worker.c), and their settings.
 *
 * Shared memory holds one slot per database the launcher has heard of: its
 * worker, whether events wait for one, whether a DROP DATABASE (or another
 * command that needs the database to itself) keeps workers away, and the
 * figures fs_stream_status shows.  One LWLock guards the slots.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FS_STREAM_H
#define FS_STREAM_H

#include "postgres.h"

#include "storage/condition_variable.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "utils/timestamp.h"

/* The settings: defined and registered by stream.c, read by the workers. */
extern char *fs_stream_database;	/* obsolete, ignored */
extern int	fs_stream_flush_interval_ms;
extern int	fs_stream_batch_size;
extern int	fs_stream_fail_after_write;
extern int	fs_stream_max_workers;
extern int	fs_stream_idle_timeout_ms;
extern int	fs_stream_max_attempts;

/* Seconds of history behind events_per_second. */
#define FS_STREAM_RATE_WINDOW 10

/* Databases whose slots are kept at once (figures, wake-ups, holds). */
#define FS_STREAM_SLOTS 128

/* Views whose last errors a database's slot keeps. */
#define FS_STREAM_VIEW_ERRORS 8

/*
 * The last error of a view's group: shown only to roles that may read the
 * view's relation, since its message may hold the table's values.
 */
typedef struct FsStreamViewError
{
	Oid			relid;			/* the view's relation; InvalidOid: none */
	TimestampTz at;				/* 0: a free entry */
	char		view[NAMEDATALEN];
	char		message[512];
} FsStreamViewError;

/* One database's stream: its worker, what it waits for, its figures. */
typedef struct FsStreamDb
{
	Oid			dboid;			/* InvalidOid: a free slot */
	pid_t		pid;			/* its worker's, 0 while none is connected */
	Latch	   *latch;			/* its worker's */
	bool		wake;			/* events were committed since its worker last
								 * looked: a worker is wanted */
	bool		launching;		/* the launcher started a worker that has not
								 * ended yet */
	TimestampTz not_before;		/* a worker failed: the next starts then */
	int			hold;			/* commands that need the database to
								 * themselves (DROP DATABASE, ...) under way:
								 * no worker may stay or come */
	TimestampTz last_used;		/* the slot of the database used longest ago
								 * is reused first */
	ConditionVariable gone;		/* broadcast when its worker leaves */

	/* The figures of fs_stream_status, since the server started. */
	TimestampTz started_at;		/* its current worker's start */
	TimestampTz last_flush;		/* the last flush that succeeded */
	int64		last_flush_events;
	int64		events;			/* events flushed */
	int64		stale;			/* of them, set events a newer value beat */
	int64		rejected;		/* events set aside in fs_stream_rejects */
	int64		flushes;
	int64		failed_flushes;
	TimestampTz last_error_at;	/* the worker's own last error (the queue's, ...) */
	char		last_error[512];
	FsStreamViewError view_errors[FS_STREAM_VIEW_ERRORS];	/* the views' */
	int64		rate_sec[FS_STREAM_RATE_WINDOW];	/* per second (epoch seconds) ... */
	int64		rate_events[FS_STREAM_RATE_WINDOW]; /* ... events flushed */
} FsStreamDb;

typedef struct FsStreamShared
{
	LWLock	   *lock;			/* guards everything below */
	pid_t		launcher_pid;	/* 0 while the launcher does not run */
	Latch	   *launcher_latch;
	bool		probe_all;		/* a wake-up found no free slot: the launcher
								 * looks into every database */
	bool		starved;		/* a database waits for a worker and none is
								 * free: idle workers leave at once */
	FsStreamDb	dbs[FS_STREAM_SLOTS];
} FsStreamShared;

/* NULL unless feature_store is in shared_preload_libraries. */
extern FsStreamShared *fs_stream_shared;

/*
 * Define the stream settings; when loaded by shared_preload_libraries, also
 * reserve the shared memory, register the launcher and install the hooks.
 */
extern void fs_stream_init(void);

/*
 * The slot of a database (lock held exclusively): found, or taken from a
 * free or idle one if create; NULL if none.
 */
extern FsStreamDb *fs_stream_slot(Oid dboid, bool create);

/* Call the launcher: events were committed in the database (lock not held). */
extern void fs_stream_wake(Oid dboid);

/* The same, when the current transaction commits. */
extern void fs_stream_wake_at_commit(Oid dboid);

/* stream.c: a worker reports into its slot, for fs_stream_status. */
extern void fs_stream_note_flush(FsStreamDb *db, int64 events, int64 stale, int64 rejected);
extern void fs_stream_note_error(FsStreamDb *db, const char *message);
extern void fs_stream_note_view_error(FsStreamDb *db, const char *view, Oid relid,
									  const char *message);

/*
 * stream_launcher.c: install the hook by which commands that need a
 * database to themselves (DROP DATABASE, CREATE DATABASE ... TEMPLATE, ...)
 * have its worker leave first.
 */
extern void fs_stream_launcher_init(void);

/* The background workers' entry points. */
PGDLLEXPORT void fs_stream_launcher_main(Datum arg);
PGDLLEXPORT void fs_stream_worker_main(Datum arg);

#endif							/* FS_STREAM_H */
