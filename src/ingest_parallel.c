/*-------------------------------------------------------------------------
 *
 * ingest_parallel.c
 *	  A second process for fs_ingest's silver step, and its channel.
 *
 * The leader creates a parallel context with one worker, a copy of the
 * run's arguments and one shm_mq from the worker to the leader in its DSM
 * segment.  The worker attaches to the queue as its sender and runs its part
 * (fs_ingest_silver_worker_main, in ingest.c), in the leader's transaction
 * and snapshot, which the parallel machinery gives it.  Its error, if any,
 * reaches the leader as the error of the run.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "storage/shm_mq.h"
#include "storage/shm_toc.h"

#include "ingest_parallel.h"

/* Keys of the DSM segment's table of contents. */
#define SILVER_KEY_ARGS		UINT64CONST(0xF5A1000000000001)
#define SILVER_KEY_QUEUE	UINT64CONST(0xF5A1000000000002)

/* The queue from the worker: what it may send ahead of the leader. */
#define SILVER_QUEUE_SIZE	(4 * 1024 * 1024)

struct FsSilverChannel
{
	ParallelContext *pcxt;
	shm_mq_handle *mqh;
};

/* The worker's end of the queue. */
static shm_mq_handle *worker_mqh = NULL;

PGDLLEXPORT void fs_ingest_silver_worker(dsm_segment *seg, shm_toc *toc);

FsSilverChannel *
fs_silver_channel_start(const void *args, Size len)
{
	ParallelContext *pcxt;
	FsSilverChannel *ch;
	char	   *space;
	shm_mq	   *mq;

	/* What the leader writes needs its transaction id before parallel mode. */
	(void) GetCurrentTransactionId();
	EnterParallelMode();
	pcxt = CreateParallelContext("feature_store", "fs_ingest_silver_worker", 1);
	shm_toc_estimate_chunk(&pcxt->estimator, sizeof(Size) + len);
	shm_toc_estimate_chunk(&pcxt->estimator, SILVER_QUEUE_SIZE);
	shm_toc_estimate_keys(&pcxt->estimator, 2);
	InitializeParallelDSM(pcxt);
	if (pcxt->seg == NULL)
	{
		/* No dynamic shared memory to be had: alone. */
		DestroyParallelContext(pcxt);
		ExitParallelMode();
		return NULL;
	}

	space = shm_toc_allocate(pcxt->toc, sizeof(Size) + len);
	memcpy(space, &len, sizeof(Size));
	memcpy(space + sizeof(Size), args, len);
	shm_toc_insert(pcxt->toc, SILVER_KEY_ARGS, space);

	mq = shm_mq_create(shm_toc_allocate(pcxt->toc, SILVER_QUEUE_SIZE), SILVER_QUEUE_SIZE);
	shm_toc_insert(pcxt->toc, SILVER_KEY_QUEUE, mq);
	shm_mq_set_receiver(mq, MyProc);

	LaunchParallelWorkers(pcxt);
	if (pcxt->nworkers_launched == 0)
	{
		DestroyParallelContext(pcxt);
		ExitParallelMode();
		return NULL;
	}
	ch = palloc0(sizeof(FsSilverChannel));
	ch->pcxt = pcxt;
	ch->mqh = shm_mq_attach(mq, pcxt->seg, pcxt->worker[0].bgwhandle);
	return ch;
}

FsSilverReceive
fs_silver_channel_receive(FsSilverChannel *ch, bool wait, const char **data, Size *len)
{
	void	   *ptr;
	shm_mq_result res = shm_mq_receive(ch->mqh, len, &ptr, !wait);

	if (res == SHM_MQ_WOULD_BLOCK)
		return FS_SILVER_NOTHING;
	if (res == SHM_MQ_DETACHED)
		return FS_SILVER_DETACHED;
	*data = ptr;
	return FS_SILVER_MESSAGE;
}

void
fs_silver_channel_finish(FsSilverChannel *ch)
{
	WaitForParallelWorkersToFinish(ch->pcxt);
	shm_mq_detach(ch->mqh);
	DestroyParallelContext(ch->pcxt);
	ExitParallelMode();
	pfree(ch);
}

void
fs_silver_channel_send(const void *data, Size len)
{
	shm_mq_result res = shm_mq_send(worker_mqh, len, data, false, false);

	if (res != SHM_MQ_SUCCESS)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("fs_ingest's parallel worker lost its run's process")));
}

/* The worker's entry point (CreateParallelContext names it). */
void
fs_ingest_silver_worker(dsm_segment *seg, shm_toc *toc)
{
	char	   *space = shm_toc_lookup(toc, SILVER_KEY_ARGS, false);
	shm_mq	   *mq = shm_toc_lookup(toc, SILVER_KEY_QUEUE, false);
	Size		len;

	memcpy(&len, space, sizeof(Size));
	shm_mq_set_sender(mq, MyProc);
	worker_mqh = shm_mq_attach(mq, seg, NULL);
	fs_ingest_silver_worker_main(space + sizeof(Size), len);
	/* The leader knows the worker is done when the queue is detached. */
	shm_mq_detach(worker_mqh);
	worker_mqh = NULL;
}
