/*-------------------------------------------------------------------------
 *
 * store.h
 *	  The lookup a store answers: one view, a batch of keys, some features.
 *
 * Serving builds one FsLookup per view of a call and hands each to its
 * store; the embedded store answers with one pass of index probes.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FS_STORE_H
#define FS_STORE_H

#include "postgres.h"

#include "registry.h"

typedef struct FsLookup
{
	FsView	   *view;
	int			nkeys;
	Datum	   *keys;			/* join-key values, in the key column's type */
	bool	   *keynull;		/* no key (a NULL id): not looked up */
	int			nfeat;			/* features asked of this view */
	FsFeature **feat;

	/* Filled by the store. */
	bool	   *found;			/* [key] */
	Datum	   *event_time;		/* [key] */
	bool	   *event_time_null;	/* [key] */
	Datum	   *values;			/* [key * nfeat + feature] */
	bool	   *nulls;			/* [key * nfeat + feature] */
	bool		unavailable;	/* the store could not answer */
} FsLookup;

/* store_local.c: the embedded store */
extern void fs_local_lookup(FsLookup *lookup);

/* ddb_lookup.c: every fs_dynamodb lookup of a call, in one wave per server */
extern void fs_ddb_lookup(FsLookup **lookups, int n);

#endif							/* FS_STORE_H */
