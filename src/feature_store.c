/*-------------------------------------------------------------------------
 *
 * feature_store.c
 *	  Module entry point: _PG_init and the general settings.
 *
 * _PG_init registers the settings below, has the streaming lane register its
 * own and its launcher (stream.c) and the statistics theirs (stats.c),
 * reserves the prefix, and sets up the
 * catalog cache's invalidation (registry.c) and libcurl (ddb_client.c).  As
 * in PostgreSQL's guc_tables.c, the general settings' variables live with
 * the code that reads them and are declared in its header (store.h,
 * ddb_client.h): no file depends on this one.  Everything else lives in one
 * file per responsibility; docs/architecture.md lists them by layer:
 *
 *	registry.c		the catalog cache and reference resolution
 *	serving.c		fs_get_features, fs_get_feature_vectors, fs_get_feature_matrix
 *	stats.c			serving statistics in shared memory (fs_stats, fs_metrics)
 *	write.c			fs_write_features: checked writes, handed to a store
 *	stream.c		fs_push, the stream settings, wake-ups and figures
 *	stream_launcher.c	the launcher starting a worker per database
 *	stream_worker.c	a database's worker draining its fs_stream_queue
 *	ingest.c		fs_ingest's silver step; ingest_state.c fs_ingest_state
 *	store.h			what a store does: lookups and writes
 *	store_local.c	the embedded store
 *	ddb_*.c			the DynamoDB-compatible store (ddb.h lists its files)
 *	value.c			feature values between Datums and JSON
 *	utils.c			helpers every part shares
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "cache.h"
#include "ddb_client.h"
#include "registry.h"
#include "store.h"
#include "stats.h"
#include "stream.h"

PG_MODULE_MAGIC;

static const struct config_enum_entry on_store_error_options[] = {
	{"error", FS_ON_STORE_ERROR_ERROR, false},
	{"unavailable", FS_ON_STORE_ERROR_UNAVAILABLE, false},
	{NULL, 0, false}
};

void		_PG_init(void);

/* Define settings and register cache invalidation callbacks. */
void
_PG_init(void)
{
	DefineCustomEnumVariable("feature_store.on_store_error",
							 "What serving does when an online store cannot answer.",
							 "'error' raises an error; 'unavailable' returns UNAVAILABLE rows "
							 "for that store's features and a WARNING.",
							 &fs_on_store_error,
							 FS_ON_STORE_ERROR_ERROR,
							 on_store_error_options,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("feature_store.connect_timeout_ms",
							"How long to wait for a TCP connection to a DynamoDB-compatible store.",
							"A store that cannot be reached should fail a serving call fast.",
							&fs_connect_timeout_ms,
							1000, 1, 600000,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("feature_store.request_timeout_ms",
							"How long one HTTP request to a DynamoDB-compatible store may take.",
							"Each retry gets the full time again; statement_timeout bounds the whole call.",
							&fs_request_timeout_ms,
							2000, 1, 3600000,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("feature_store.max_retries",
							"How often a throttled, failed (5xx) or partly answered request is retried.",
							"Retries wait with exponential backoff and full jitter.",
							&fs_max_retries,
							8, 0, 100,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("feature_store.max_connections",
							"How many requests may be in flight at once to one store from one backend.",
							"HTTP/1.1 has no multiplexing: concurrency means connections.",
							&fs_max_connections,
							16, 1, 256,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("feature_store.max_write_connections",
							"How many write requests may be in flight at once to one store from one backend.",
							"Used when every request of a batch is a write (PutItem, UpdateItem, DeleteItem, "
							"BatchWriteItem): their answers are tiny, so more of them in flight costs "
							"connections, not memory, and hides the store's latency.",
							&fs_max_write_connections,
							256, 1, FS_MAX_WRITE_CONNECTIONS_LIMIT,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("feature_store.max_response_size",
							"The largest answer accepted from a DynamoDB-compatible store.",
							"A larger answer is an error (54000) instead of a backend that runs out of "
							"memory: DynamoDB answers at most 16 MB of data per call.",
							&fs_max_response_size,
							32 * 1024, 64, 1024 * 1024 - 1,	/* below MaxAllocSize */
							PGC_USERSET, GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("feature_store.store_deadline_ms",
							"How long the remote part of one serving call may take; 0 means no limit.",
							"Keys a DynamoDB-compatible store has not answered by then are UNAVAILABLE "
							"with on_store_error = 'unavailable', an error otherwise; local features "
							"are served as usual.",
							&fs_store_deadline_ms,
							0, 0, 3600000,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);

	fs_stream_init();
	fs_stats_init();
	fs_cache_init();

	MarkGUCPrefixReserved("feature_store");

	fs_registry_init();
	fs_ddb_init();
}
