/*-------------------------------------------------------------------------
 *
 * ingest_state.h
 *	  fs_ingest_state: what the batch lane knows it wrote.
 *
 * One row per feature view and entity: the digest of the feature values a
 * run wrote and their event time.  Change detection (ingest.c) compares a
 * source with it; a snapshot deletes the entities it knows that the source
 * no longer has.
 *
 * An entity is identified by its join key type's equality (entity_key.h),
 * not by text: entity_id is the text form under which the entity was first
 * recorded, entity_hash the key type's hash of it.  Rows are found by
 * (feature_view, entity_hash), the head of the primary key, and told apart
 * by the key type's equality, so that '1.0' finds the state of '1' of a
 * numeric key and 'bob' that of 'Bob' of a citext key.  Writers keep one row
 * per entity: they write under the entity_id a row already has.
 *
 * PUBLIC may only read the table (as the policy fs_ingest_state_read says):
 * every write goes through the functions below, which run their one fixed
 * statement as the table's owner (fs_run_as_owner).  Their callers check
 * first, as the caller, what the write needs: fs_state_check_owner for the
 * batch lane's writes; the privileges of a direct write for
 * fs_state_forget_digests.  Key text is only ever read as the caller: a
 * domain's CHECK may run any SQL.  SPI must be connected.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FS_INGEST_STATE_H
#define FS_INGEST_STATE_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/hsearch.h"

#include "entity_key.h"

/* Bytes of the digest of an entity's feature values. */
#define FS_DIGEST_LEN 16

/*
 * Whether the state has entity_hash.  A database still on 0.1.0 (this
 * library serves it until ALTER EXTENSION feature_store UPDATE) has not: its
 * rows are found by their text, as 0.1.0 did, and the functions below do so.
 */
extern bool fs_state_hashed(Oid schema);

/*
 * Check that the current user owns the relation of feature view view (is a
 * member of its owner), as the state's write policies say; 42704 if there is
 * no such view, 42501 if not.  A view whose relation is gone counts as owned
 * when if_missing (its state may be removed).  Returns the relation, or
 * InvalidOid if it is gone.
 */
extern Oid	fs_state_check_owner(Oid schema, const char *view, bool if_missing);

/*
 * Record entities as written: their entity_id (text), entity_hash (int4),
 * digest (bytea) and event time, inserted or updated by (entity_hash,
 * entity_id).
 */
extern void fs_state_record(Oid schema, const char *view, Datum *entities, Datum *hashes,
							Datum *digests, Datum *times, int n);

/* Move the event time of entities forward (never back). */
extern void fs_state_advance_times(Oid schema, const char *view, Datum *entities,
								   Datum *hashes, Datum *times, int n);

/* Forget entities (rows by entity_id and entity_hash); how many were. */
extern uint64 fs_state_delete(Oid schema, const char *view, Datum *entities, Datum *hashes, int n);

/*
 * Forget every entity of a view, as fs_forget_ingest_state(view) does: the
 * next run compares every row afresh.  The caller checked that the current
 * user owns the view (fs_state_check_owner); how many rows were forgotten.
 */
extern uint64 fs_state_forget_all(Oid schema, const char *view);

/*
 * Give rows their right entity_hash (new_hashes), where it differs from
 * what they hold (old_hashes); with forget, their digests are emptied too.
 */
extern void fs_state_rehash(Oid schema, const char *view, Datum *entities, Datum *old_hashes,
							Datum *new_hashes, int n, bool forget);

/*
 * Empty the digests of the entities of keys (of key type kt), which another
 * lane wrote, so that the next run compares them afresh; their rows stay, so
 * a snapshot still knows them.  The caller may write the view, and need not
 * own it.
 */
extern void fs_state_forget_digests(Oid schema, const char *view, const FsKeyType *kt,
									Datum *keys, int n);

/* A row of the state a snapshot's source no longer has (fs_state_absent). */
typedef struct FsStateRow
{
	char	   *entity;			/* entity_id */
	int32		hash;			/* entity_hash */
	bool		has_key;		/* entity_id is a key of the view's type */
	Datum		key;
	bool		has_time;
	TimestampTz event_time;
} FsStateRow;

/*
 * Read the view's state as the caller and hand fn its rows whose entity is
 * not in present (an fs_key_table of keys of type kt), or whose entity_id is
 * no key of that type, up to chunk rows at a time, in a memory context
 * reset after each call.  Only the entities of part part of nparts (by
 * fs_key_hash % nparts) are looked at, and the rows that are no key in part
 * 0 only: present need hold only that part's keys.
 */
/* The part of nparts an entity's key falls in, for fs_state_absent's callers. */
static inline int
fs_state_part(const FsKeyType *kt, Datum key, int nparts)
{
	return nparts > 1 ? (int) ((uint32) fs_key_hash(kt, key) % (uint32) nparts) : 0;
}

extern void fs_state_absent(Oid schema, const char *view, const FsKeyType *kt, HTAB *present,
							int nparts, int part, int chunk,
							void (*fn) (void *arg, FsStateRow *rows, int n), void *arg);

#endif							/* FS_INGEST_STATE_H */
