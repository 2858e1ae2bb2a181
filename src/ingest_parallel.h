/*-------------------------------------------------------------------------
 *
 * ingest_parallel.h
 *	  A second process for fs_ingest's silver step, and its channel.
 *
 * A parallel worker reads the source with the run's own process, and each
 * keeps the entities of one half of the hash space (ingest.c).  PostgreSQL
 * 15's parallel workers cannot write, and the leader cannot run a command
 * that writes while they run: the worker sends every write it would make to
 * the leader as a message over one shm_mq, which the leader reads between
 * its own rows.  A message is a kind (one byte) and what that kind carries;
 * ingest.c decides both.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FS_INGEST_PARALLEL_H
#define FS_INGEST_PARALLEL_H

#include "postgres.h"

typedef struct FsSilverChannel FsSilverChannel;

/* What fs_silver_channel_receive found. */
typedef enum FsSilverReceive
{
	FS_SILVER_MESSAGE,			/* *data, *len: valid until the next call */
	FS_SILVER_NOTHING,			/* nothing yet (without wait) */
	FS_SILVER_DETACHED			/* the worker is gone: nothing more will come */
} FsSilverReceive;

/*
 * The leader: enter parallel mode and start one worker with a copy of args,
 * which it reads with fs_ingest_silver_worker_main.  NULL if no worker could
 * be started: parallel mode is left, and the run goes on alone.
 */
extern FsSilverChannel *fs_silver_channel_start(const void *args, Size len);

/* The leader: the worker's next message, waiting for it if wait. */
extern FsSilverReceive fs_silver_channel_receive(FsSilverChannel *ch, bool wait,
												 const char **data, Size *len);

/*
 * The leader, once the worker detached: wait for it to exit (raising its
 * error, if it failed), and leave parallel mode.
 */
extern void fs_silver_channel_finish(FsSilverChannel *ch);

/* The worker: send a message to the leader (waiting while the queue is full). */
extern void fs_silver_channel_send(const void *data, Size len);

/* The worker's part of the run, in ingest.c. */
extern void fs_ingest_silver_worker_main(const void *args, Size len);

#endif							/* FS_INGEST_PARALLEL_H */
