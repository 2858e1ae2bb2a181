/*-------------------------------------------------------------------------
 *
 * feature_store.c
 *	  Module entry point: settings and the hooks that keep caches honest.
 *
 * Everything else lives in one file per responsibility: registry.c (the
 * catalog cache and reference resolution), serving.c (fs_get_features and
 * fs_get_feature_vectors), store_local.c (the embedded store), value.c
 * (feature values as jsonb), stream.c (the streaming lane and its worker,
 * whose settings it defines).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "ddb_client.h"
#include "feature_store.h"
#include "registry.h"
#include "stream.h"

PG_MODULE_MAGIC;

int			fs_on_store_error = FS_ON_STORE_ERROR_ERROR;
int			fs_connect_timeout_ms = 1000;
int			fs_request_timeout_ms = 2000;
int			fs_max_retries = 8;
int			fs_max_connections = 16;

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

	fs_stream_init();

	MarkGUCPrefixReserved("feature_store");

	fs_registry_init();
	fs_ddb_init();
}
