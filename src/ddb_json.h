/*-------------------------------------------------------------------------
 *
 * ddb_json.h
 *	  jansson inside a backend: the name clash, and holders that release
 *	  JSON values with a memory context.
 *
 * PostgreSQL's utils/fmgrprotos.h declares the SQL functions json_object()
 * and json_typeof(), names that jansson.h takes too (a function and a
 * macro).  This header reads PostgreSQL's declarations under other names and
 * then jansson's, so include it right after postgres.h, before any header
 * that brings in fmgrprotos.h (utils/builtins.h does): the check below stops
 * a build that gets the order wrong.  Worse, the postgres executable exports
 * its json_object, and the dynamic linker binds a module's calls to
 * json_object() to it, not to jansson's: calling it crashes the backend.
 * Build objects with fs_json_object(), never json_object().
 *
 * jansson allocates with malloc, outside any memory context.  Every value we
 * create or parse is handed to an FsJsonHold, whose memory-context reset
 * callback drops the references, so nothing leaks when an error unwinds.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FS_DDB_JSON_H
#define FS_DDB_JSON_H

#include "postgres.h"

#ifdef FMGRPROTOS_H
#error "include ddb_json.h before utils/builtins.h and utils/fmgrprotos.h"
#endif
#define json_object pg_json_object_sql
#define json_typeof pg_json_typeof_sql
#include "utils/fmgrprotos.h"
#undef json_object
#undef json_typeof

#include <jansson.h>

#include "lib/stringinfo.h"

#include "json_doc.h"

/* References to jansson values, dropped when a memory context is reset. */
typedef struct FsJsonHold
{
	MemoryContextCallback cb;
	int			n;
	int			cap;
	json_t	  **refs;
} FsJsonHold;

/* jansson's json_object(): a new empty object, reached safely. */
extern json_t *fs_json_object(void);

/* A holder whose references are dropped when cxt is reset or deleted. */
extern FsJsonHold *fs_json_hold_create(MemoryContext cxt);

/* Hand a new reference to the holder (an error if j is NULL); returns j. */
extern json_t *fs_json_hold(FsJsonHold *h, json_t *j);

/* A new empty object, held. */
extern json_t *fs_held_object(FsJsonHold *h);

/* Set key to a new reference (taken), failing loudly on NULL or OOM. */
extern void fs_obj_set_new(json_t *obj, const char *key, json_t *value);

/* Set key to value, adding a reference (the caller keeps its own). */
extern void fs_obj_set(json_t *obj, const char *key, json_t *value);

/* Append a new reference (taken) to an array, failing loudly. */
extern void fs_arr_append_new(json_t *arr, json_t *value);

/* A JSON value as a palloc'd compact string; flags add to JSON_COMPACT. */
extern char *fs_json_to_cstring(json_t *j, size_t flags);

/*
 * An answer parsed by simdjson (json_doc.h): its values are valid until the
 * document is released, explicitly or when the memory context it was parsed
 * in is reset or deleted.
 */
typedef struct FsJsonDoc
{
	MemoryContextCallback cb;
	FsJParser  *parser;
	FsJv		root;
} FsJsonDoc;

/*
 * Parse len bytes at buf, which must be readable for FS_JSON_PADDING bytes
 * more (FsDdbCall.response is), into a document of the current memory
 * context.  NULL, with simdjson's reason in *error, if it is not JSON; out
 * of memory is an error.
 */
extern FsJsonDoc *fs_json_doc_parse(const char *buf, size_t len, const char **error);

/* Release a document now rather than with its memory context. */
extern void fs_json_doc_release(FsJsonDoc *doc);

/*
 * The items the cache answered, as the JSON array "[item,...]" whose text
 * buf holds (without its closing bracket, added here): hand each to fn.
 * what names the items in the error should the text not be JSON.
 */
extern void fs_json_each_cached(StringInfo buf, void (*fn) (void *arg, const FsJv *item),
								void *arg, const char *what);

/*
 * An item of an answer as the JSON text the cache keeps (palloc'd), or
 * false when it is too large for an entry.
 */
extern bool fs_json_cached_text(const FsJv *item, char **text, int *len);

/*
 * A value of a parsed answer as a new jansson value, for the few that go
 * back into requests (UnprocessedKeys, LastEvaluatedKey).  Failing loudly.
 */
extern json_t *fs_jv_to_json(const FsJv *v);

#endif							/* FS_DDB_JSON_H */
