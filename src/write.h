/*-------------------------------------------------------------------------
 *
 * write.h
 *	  Writing feature values of single entities: the direct lane
 *	  (fs_write_features) and the streaming worker's flushes.
 *
 * A write names some features of one entity of one view, with an event
 * time.  It replaces those features (leaving the view's others as they
 * are) and moves the entity's event time to its own, unless the stored
 * event time is newer: then it is STALE and changes nothing.  A write with
 * only adds (counters) is different: every event counts, so it adds
 * whatever the stored event time, and moves the event time forward only
 * (never back).  A write with both set and add is applied as its set part
 * then its add part.  On the embedded store that is one INSERT ... ON CONFLICT per
 * entity; on fs_dynamodb one UpdateItem per entity, all of a call in one
 * concurrent wave, each with a ConditionExpression on the event-time
 * attribute, so concurrent writers cannot race past it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FS_WRITE_H
#define FS_WRITE_H

#include "postgres.h"

#include "utils/jsonb.h"
#include "utils/timestamp.h"

typedef enum FsWriteStatus
{
	FS_WRITE_PENDING = 0,
	FS_WRITE_WRITTEN,			/* the store acknowledged it */
	FS_WRITE_STALE,				/* a newer event time is stored: nothing changed */
	FS_WRITE_DUPLICATE			/* remote: its seq was applied already (a retried batch) */
} FsWriteStatus;

typedef struct FsWrite
{
	const char *entity_id;		/* as given: converted to the join key's type */
	TimestampTz event_time;
	TimestampTz oldest_event_time;	/* 0: event_time.  A write merged from
									 * events of several times applies only if
									 * the stored event time is not after the
									 * oldest of them (else STALE), and stores
									 * event_time, the newest */
	Jsonb	   *set;			/* {"feature": value, ...}: replace; JSON null sets NULL.
								 * NULL: none */
	Jsonb	   *add;			/* {"feature": number, ...}: add to the stored value
								 * (NULL counts as 0); numeric features only.  NULL:
								 * none */
	int64		seq;			/* > 0: an id that grows with every write of the
								 * entity (the stream's queue id); on fs_dynamodb a
								 * write whose seq is not above the stored one is
								 * DUPLICATE, so a retried batch never adds twice.
								 * 0: none */
	FsWriteStatus status;		/* out */
} FsWrite;

/*
 * Check that a view exists and may be written by the current user, and that
 * set/add name its features with values their types accept (add: numeric
 * types only).  Errors name the view, the feature or the value: 42704
 * unknown view, 42703 unknown feature, 22023 a feature given twice or the
 * join key / event time given as a feature, 22P02 (or the type's own
 * SQLSTATE) a value that does not convert, 42804 add on a non-numeric
 * feature, 42501 no privilege.  Nothing is written.
 */
extern void fs_check_write(const char *view, FsWrite *w);

/*
 * Apply writes to one view, in order; each entity at most once per call
 * (callers merge).  Sets each write's status.  Store errors are raised.
 */
extern void fs_apply_writes(const char *view, FsWrite *writes, int nwrites);

#endif							/* FS_WRITE_H */
