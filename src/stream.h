/*-------------------------------------------------------------------------
 *
 * stream.h
 *	  The streaming lane: fs_push, the queue's background worker and its
 *	  settings (stream.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FS_STREAM_H
#define FS_STREAM_H

#include "postgres.h"

extern char *fs_stream_database;
extern int	fs_stream_flush_interval_ms;
extern int	fs_stream_batch_size;
extern int	fs_stream_fail_after_write;

/*
 * Define the stream settings; when loaded by shared_preload_libraries, also
 * reserve the worker's shared memory and register the worker.
 */
extern void fs_stream_init(void);

#endif							/* FS_STREAM_H */
