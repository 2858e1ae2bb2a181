/*-------------------------------------------------------------------------
 *
 * registry.h
 *	  The catalog cache: feature views, services and reference resolution.
 *
 * The catalog tables (fs_entity, fs_feature_view, fs_feature_service) are
 * read once per backend and kept until a relcache invalidation says that a
 * catalog table or a view's relation changed.  Invalidation callbacks only
 * set flags; memory is released at the next resolution, and not before every
 * call that resolved references (and so pinned the cache) has ended, even
 * when user code re-enters resolution in the middle of a call.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FS_REGISTRY_H
#define FS_REGISTRY_H

#include "postgres.h"

#include "access/attnum.h"
#include "datatype/timestamp.h"
#include "fmgr.h"

#include "value.h"

typedef enum FsStoreKind
{
	FS_STORE_LOCAL,				/* a plain table with a unique index on the key */
	FS_STORE_DYNAMODB			/* a foreign table of fs_dynamodb */
} FsStoreKind;

/* One feature: a column of the view's relation. */
typedef struct FsFeature
{
	char	   *name;
	AttrNumber	attnum;
	Oid			typid;
	int32		typmod;
	FsValueCodec codec;
} FsFeature;

/* A registered feature view, resolved against its relation on first use. */
typedef struct FsView
{
	char		name[NAMEDATALEN];	/* hash key */
	Oid			relid;
	char	   *entity;
	char	   *join_key;
	char	   *event_time_column;
	bool		has_ttl;
	Interval	ttl;

	/* Below: valid while 'resolved'; rebuilt in 'mcxt' after invalidation. */
	bool		resolved;
	MemoryContext mcxt;
	FsStoreKind store;
	Oid			serverid;		/* the foreign server (fs_dynamodb) */
	AttrNumber	key_attnum;
	Oid			key_type;
	int32		key_typmod;
	FmgrInfo	key_input;
	bool		key_input_safe; /* built-in: no subtransaction to catch */
	Oid			key_ioparam;
	Oid			key_index;		/* unique index on the join key (local) */
	Oid			key_eqopr;		/* its equality operator */
	RegProcedure key_eqproc;
	FmgrInfo	key_cmp;		/* its btree order function */
	Oid			key_collation;
	AttrNumber	ts_attnum;
	int			nfeatures;		/* in column order */
	FsFeature  *features;
} FsView;

/* One expanded reference: a feature of a view. */
typedef struct FsRef
{
	FsView	   *view;
	FsFeature  *feature;
	char	   *ref;			/* "view:feature" */
} FsRef;

/* A list of references, expanded and checked. */
typedef struct FsResolved
{
	int			nrefs;
	FsRef	   *refs;
	int			nviews;			/* distinct views, in first-use order */
	FsView	  **views;
	const char *entity;
} FsResolved;

extern void fs_registry_init(void);
extern FsResolved *fs_resolve(Oid schema, Datum *refs, bool *nulls, int nrefs);
extern FsView *fs_resolve_view(Oid schema, const char *name);

#endif							/* FS_REGISTRY_H */
