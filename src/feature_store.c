/*-------------------------------------------------------------------------
 *
 * feature_store.c
 *	  Module entry point: settings and the hooks that keep caches honest.
 *
 * Everything else lives in one file per responsibility: registry.c (the
 * catalog cache and reference resolution), serving.c (fs_get_features and
 * fs_get_feature_vectors), store_local.c (the embedded store), value.c
 * (feature values as jsonb).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "dynamodb_client.h"
#include "feature_store.h"
#include "registry.h"

PG_MODULE_MAGIC;

int			fs_on_store_error = FS_ON_STORE_ERROR_ERROR;

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

	MarkGUCPrefixReserved("feature_store");

	fs_registry_init();
	fs_ddb_init();
}
