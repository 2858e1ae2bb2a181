/*-------------------------------------------------------------------------
 *
 * utils.h
 *	  Helpers that every part of feature_store shares: hash tables of
 *	  strings, the extension's schema, statements kept across calls.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FS_UTILS_H
#define FS_UTILS_H

#include "postgres.h"

#include "executor/spi.h"
#include "utils/hsearch.h"

/*
 * A hash table whose entries start with a char * key, hashed and compared
 * by the string it points to (which must outlive the entry).
 */
extern HTAB *fs_string_table(const char *name, long size, Size entrysize, MemoryContext cxt);

/*
 * The schema feature_store is installed in, from the catalog; InvalidOid if
 * it is not installed in this database and missing_ok, else an error (42704).
 */
extern Oid	fs_extension_schema(bool missing_ok);

/*
 * A statement prepared once per backend and kept (SPI_keepplan) for one
 * key, usually the extension's schema: asked for another key, it is
 * prepared again.
 *
 *		static FsKeptPlan insert_plan;
 *
 *		plan = fs_kept_plan(&insert_plan, schema);
 *		if (plan == NULL)
 *			plan = fs_keep_plan(&insert_plan, schema, psprintf(...), nargs, argtypes);
 */
typedef struct FsKeptPlan
{
	SPIPlanPtr	plan;
	Oid			key;
} FsKeptPlan;

/* The plan kept for key, or NULL. */
extern SPIPlanPtr fs_kept_plan(FsKeptPlan *kp, Oid key);

/* Prepare sql (SPI connected), keep it for key in place of what kp held. */
extern SPIPlanPtr fs_keep_plan(FsKeptPlan *kp, Oid key, const char *sql, int nargs,
							   Oid *argtypes);

#endif							/* FS_UTILS_H */
