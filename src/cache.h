/*-------------------------------------------------------------------------
 *
 * cache.h
 *	  The hot-entity cache: items read from DynamoDB-compatible stores, in
 *	  shared memory, served again for cache_ttl_ms.
 *
 * An entry belongs to a database, server, user mapping, remote table and
 * key, and holds the item as the store answered it (its JSON text, with the
 * names of the attributes that were asked for), or that the store has no
 * such item.  Serving asks the cache first and the store only for the rest;
 * it puts what the store answered, unless a write through the extension
 * invalidated the key after the read was sent.  Every write through the
 * extension invalidates its keys once the store has acknowledged it (or
 * failed), before it returns.  Needs shared_preload_libraries and
 * feature_store.cache_size > 0.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FS_CACHE_H
#define FS_CACHE_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "lib/stringinfo.h"

/* An entry (table name, key, attribute names and item) fits in this. */
#define FS_CACHE_ENTRY_BYTES 2048

/*
 * An eventually consistent read may return the value a write replaced for
 * about a second after the write: what such reads of a key answer is not
 * put for this long after the key was invalidated.
 */
#define FS_CACHE_EVENTUAL_MS 2000

extern int	fs_cache_size_kb;

/* What a read belongs to and accepts. */
typedef struct FsCacheScope
{
	Oid			serverid;
	Oid			umid;			/* the user mapping used; InvalidOid: none */
	const char *table;			/* the remote table */
	int			ttl_ms;			/* how old an entry it accepts; 0: none */
	bool		consistent;		/* reads are strongly consistent (ConsistentRead) */
	TimestampTz now;			/* when the call began */
	const char *attrs;			/* the attribute names asked for: sorted, */
	int			attrs_len;		/* each NUL-terminated */
} FsCacheScope;

typedef enum FsCacheResult
{
	FS_CACHE_MISS,
	FS_CACHE_ITEM,				/* the item's JSON text is appended */
	FS_CACHE_ABSENT				/* the store had no item */
} FsCacheResult;

/* From _PG_init: the setting, and shared memory when preloaded. */
extern void fs_cache_init(void);

/* Whether the cache exists (preloaded, cache_size > 0). */
extern bool fs_cache_enabled(void);

/* The invalidation counter: take it before sending a read whose answer is put. */
extern uint64 fs_cache_seq(void);

/* Look a key up; on FS_CACHE_ITEM the item's JSON is appended to item. */
extern FsCacheResult fs_cache_get(const FsCacheScope *scope, const char *key, int keylen,
								  StringInfo item);

/*
 * Put what the store answered for a key (item NULL: no item), unless the key
 * was invalidated since seq (fs_cache_seq before the read was sent), or, for
 * an eventually consistent read, less than FS_CACHE_EVENTUAL_MS ago.  An
 * entry too large for FS_CACHE_ENTRY_BYTES is not kept.
 */
extern void fs_cache_put(const FsCacheScope *scope, uint64 seq, const char *key, int keylen,
						 const char *item, int itemlen);

/* Forget a key of a remote table, for every user mapping: it was written. */
extern void fs_cache_invalidate(Oid serverid, const char *table, const char *key, int keylen);

#endif							/* FS_CACHE_H */
