/*-------------------------------------------------------------------------
 *
 * history.h
 *	  Point-in-time reads of feature views' history tables.
 *
 * fs_enable_history (SQL) keeps every version of an embedded view's rows in
 * a history table beside it, indexed on (key, event time DESC, fs_version
 * DESC).  fs_get_features_as_of (serving.c) hands each view's lookup here
 * instead of to its store: one index probe per key finds the latest version
 * at or before the time asked.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FS_HISTORY_H
#define FS_HISTORY_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/relcache.h"

#include "store.h"

extern void fs_history_lookup(FsLookup *lookup, Oid schema, TimestampTz as_of);

/* Record what a remote view's store holds for keys just written. */
extern void fs_history_record_remote(Oid schema, FsView *view, Datum *keys, int nkeys);

/* The embedded store's writes: quiet a table's triggers, then record its rows. */
extern Oid	fs_history_quiet(Oid relid);
extern void fs_history_local(Oid schema, FsView *view, Relation rel, Datum *keys, int nkeys);

#endif							/* FS_HISTORY_H */
