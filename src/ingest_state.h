/*-------------------------------------------------------------------------
 *
 * ingest_state.h
 *	  fs_ingest_state: what the batch lane knows it wrote.
 *
 * One row per feature view and entity: the digest of the feature values a
 * run wrote and their event time.  Change detection (ingest.c) compares a
 * source with it; a snapshot deletes the entities it knows that the source
 * no longer has.  Every write of the table from C goes through the
 * functions below (the PL/pgSQL of fs_ingest writes it for the embedded
 * store's gold step).  SPI must be connected; entities are the join key's
 * output text (Datums of type text).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FS_INGEST_STATE_H
#define FS_INGEST_STATE_H

#include "postgres.h"

/* Bytes of the digest of an entity's feature values. */
#define FS_DIGEST_LEN 16

/* Record entities as written: their digests (bytea) and event times. */
extern void fs_state_record(Oid schema, const char *view, Datum *entities, Datum *digests,
							Datum *times, int n);

/* Move the event time of entities forward (never back). */
extern void fs_state_advance_times(Oid schema, const char *view, Datum *entities,
								   Datum *times, int n);

/* Forget entities a snapshot deleted. */
extern void fs_state_delete(Oid schema, const char *view, Datum *entities, int n);

/*
 * Empty the digests of entities another lane wrote, so that the next run
 * compares them afresh; their rows stay, so a snapshot still knows them.
 * Runs as the state table's owner: its row security lets only a view's
 * owner update, and a writer need not own the view.
 */
extern void fs_state_forget_digests(Oid schema, const char *view, Datum *entities, int n);

#endif							/* FS_INGEST_STATE_H */
