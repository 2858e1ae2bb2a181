/*-------------------------------------------------------------------------
 *
 * utils.h
 *	  Helpers that every part of feature_store shares: hash tables of
 *	  strings, the extension's schema, statements kept across calls,
 *	  writes as a catalog's owner, and errors raised again without the
 *	  extension's internals.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FS_UTILS_H
#define FS_UTILS_H

#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "utils/hsearch.h"

/*
 * A hash table whose entries start with a char * key, hashed and compared
 * by the string it points to (which must outlive the entry).
 */
extern HTAB *fs_string_table(const char *name, long size, Size entrysize, MemoryContext cxt);

/* A run of bytes used as a hash key (a text's data, a JSON string's). */
typedef struct FsBytesKey
{
	const char *ptr;
	size_t		len;
} FsBytesKey;

/*
 * A hash table whose entries start with an FsBytesKey, hashed and compared
 * by the bytes it points to (which must outlive the entry).
 */
extern HTAB *fs_bytes_table(const char *name, long size, Size entrysize, MemoryContext cxt);

/*
 * The schema feature_store is installed in, from the catalog; InvalidOid if
 * it is not installed in this database and missing_ok, else an error (42704).
 */
extern Oid	fs_extension_schema(bool missing_ok);

/* A relation's schema-qualified, quoted name (for hints to paste, and SQL). */
extern char *fs_qualified_relation_name(Oid relid);

/* sql with every @extschema@ replaced by the schema's quoted name (palloc'd). */
extern char *fs_schema_sql(Oid schema, const char *sql);

/*
 * Run fn(arg) with the current user switched to the owner of relation relid
 * (a catalog table of the extension), and switched back however fn ends.
 * Callers check, as the calling role, that the write fn does is allowed: the
 * catalog grants PUBLIC only SELECT, so that no role can lock it against the
 * extension's own work, and its writes go through the extension's code.
 */
extern void fs_run_as_owner(Oid relid, void (*fn) (void *arg), void *arg);

/*
 * A statement prepared once per backend and kept (SPI_keepplan) for one
 * schema, the extension's: asked for another schema, it is prepared again.
 *
 *		static FsKeptPlan insert_plan;
 *		Oid			argtypes[1] = {TEXTOID};
 *
 *		plan = fs_schema_plan(&insert_plan, schema,
 *							  "INSERT INTO @extschema@.t VALUES ($1)", 1, argtypes);
 */
typedef struct FsKeptPlan
{
	SPIPlanPtr	plan;
	Oid			schema;
} FsKeptPlan;

/*
 * The plan of sql kept in kp for schema; prepared first (SPI connected) with
 * every @extschema@ in sql replaced by the schema's quoted name, as in the
 * extension's own scripts.
 */
extern SPIPlanPtr fs_schema_plan(FsKeptPlan *kp, Oid schema, const char *sql, int nargs,
								 Oid *argtypes);

/*
 * In PG_CATCH, raise the error being handled again (copied into cxt, the
 * memory context of the PG_TRY) as the user should see it: without the context lines and internal
 * query gathered inside the extension's own SQL and PL/pgSQL (the internal
 * functions named fs_check_*, fs_ingest_run and fs_create_staging_table_run),
 * keeping the lines of the
 * user's own functions (a trigger, a domain check) and, recomputed, the
 * context of whoever called us.  Call it at once in PG_CATCH: nothing may
 * run between the catch and this, as no subtransaction was rolled back.
 */
extern void fs_rethrow_without_internals(MemoryContext cxt) pg_attribute_noreturn();

/*
 * Call name, a function of the extension's schema (the schema of the C
 * function fcinfo calls) with that function's argument types, with the
 * caller's arguments, collation, context and result info (so a set-returning
 * function returns its set to the caller's query), and raise its errors
 * again with fs_rethrow_without_internals.  For a C function of the
 * interface whose work is an internal PL/pgSQL function of the same
 * arguments and result (fs_ingest calls fs_ingest_run):
 *
 *		PG_RETURN_DATUM(fs_call_internal(fcinfo, "fs_ingest_run"));
 */
extern Datum fs_call_internal(FunctionCallInfo fcinfo, const char *name);

#endif							/* FS_UTILS_H */
