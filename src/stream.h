/*-------------------------------------------------------------------------
 *
 * stream.h
 *	  The streaming lane: fs_push and the worker's figures (stream.c), the
 *	  queue's background worker (stream_worker.c), and their settings.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FS_STREAM_H
#define FS_STREAM_H

#include "postgres.h"

/* The worker's settings: defined and registered by stream.c, read by the worker. */
extern char *fs_stream_database;
extern int	fs_stream_flush_interval_ms;
extern int	fs_stream_batch_size;
extern int	fs_stream_fail_after_write;

/*
 * Define the stream settings; when loaded by shared_preload_libraries, also
 * reserve the worker's shared memory and register the worker.
 */
extern void fs_stream_init(void);

/* stream.c: the worker reports into shared memory, for fs_stream_status. */
extern void fs_stream_note_worker(pid_t pid);	/* started; 0: gone */
extern void fs_stream_note_flush(int64 events, int64 stale, int64 rejected);
extern void fs_stream_note_error(const char *message);

/* stream_worker.c: the background worker's entry point. */
PGDLLEXPORT void fs_stream_worker_main(Datum arg);

#endif							/* FS_STREAM_H */
