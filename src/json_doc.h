/*-------------------------------------------------------------------------
 *
 * json_doc.h
 *	  Read-only JSON documents parsed by simdjson, for C.
 *
 * The store's answers are read, never changed, and most of their bytes are
 * item attributes decoded once into Datums.  simdjson parses a document into
 * one flat tape, with no allocation per value, at a cost close to that of
 * reading the bytes; jansson (ddb_json.h) builds a tree of malloc'd nodes,
 * which dominated serving's profile.  Requests are still built with jansson.
 *
 * json_doc.cpp is the only C++ in the extension: this header is plain C
 * (no PostgreSQL headers, so the C++ side never sees them), and nothing here
 * raises or throws.  A value (FsJv) and an iterator (FsJIter) are copies of
 * simdjson's own small value types, valid while the parser that produced
 * them is not used again or released.
 *
 * Buffers given to fs_jparse must stay readable for FS_JSON_PADDING bytes
 * past their length (simdjson reads ahead in 64-byte blocks).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FS_JSON_DOC_H
#define FS_JSON_DOC_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C"
{
#endif

/* Readable bytes a parsed buffer must have past its end. */
#define FS_JSON_PADDING 64

/* Nesting accepted, as jansson's default. */
#define FS_JSON_MAX_DEPTH 2048

/* A parser (its document, once parsed). */
typedef struct FsJParser FsJParser;

/* A value in a parsed document: a copy of simdjson's dom::element. */
typedef struct FsJv
{
	const void *doc;
	size_t		index;
} FsJv;

/* Where an iteration over an array or object stands. */
typedef struct FsJIter
{
	FsJv		cur;
	FsJv		end;
} FsJIter;

typedef enum FsJType
{
	FSJ_NULL,
	FSJ_TRUE,
	FSJ_FALSE,
	FSJ_NUMBER,
	FSJ_STRING,
	FSJ_ARRAY,
	FSJ_OBJECT
} FsJType;

/* A parser from this backend's pool, or a new one; NULL when out of memory. */
extern FsJParser *fs_jparser_acquire(void);

/* Give a parser back: its document's values are no longer valid. */
extern void fs_jparser_release(FsJParser *p);

/*
 * Parse len bytes at buf (FS_JSON_PADDING more readable) into the parser's
 * document.  Returns true and sets *root, or false with a static message in
 * *error ("out of memory" is reported as *oom).
 */
extern bool fs_jparse(FsJParser *p, const char *buf, size_t len, FsJv *root,
					  const char **error, bool *oom);

extern FsJType fs_jtype(const FsJv *v);

/*
 * A string's bytes and length.  NUL-terminated, as every string and key of
 * the document is (simdjson's DOM keeps a NUL after each), but it may also
 * hold NULs ("\u0000"): the length is the string's.
 */
extern const char *fs_jstr(const FsJv *v, size_t *len);

/* The number of elements or members of an array or object, else 0. */
extern size_t fs_jsize(const FsJv *v);

/*
 * The one member of an object that has exactly one (a DynamoDB
 * AttributeValue): its key, the key's length, its value and the value's
 * type.  False for anything else.
 */
extern bool fs_jsingle(const FsJv *obj, const char **key, size_t *keylen, FsJv *val,
					   FsJType *valtype);

/*
 * The member of an object named key (keylen bytes), the last one if the name
 * repeats; false if none.
 */
extern bool fs_jget(const FsJv *obj, const char *key, size_t keylen, FsJv *out);

/* Start iterating an array or an object (nothing for other values). */
extern void fs_jiter(const FsJv *container, FsJIter *it);

/* The next element of an array; false at the end. */
extern bool fs_jnext(FsJIter *it, FsJv *out);

/* The next member of an object, its key and length; false at the end. */
extern bool fs_jnext_member(FsJIter *it, const char **key, size_t *keylen, FsJv *out);

/* A number as a double (integers converted); false if not a number. */
extern bool fs_jdouble(const FsJv *v, double *out);

/*
 * The value as minified JSON text, written to buf if it fits in cap bytes:
 * returns its length (which may exceed cap: nothing is written then), or 0
 * when it could not be written.
 */
extern size_t fs_jminify(const FsJv *v, char *buf, size_t cap);

/* A number as an int64; false if it is not one that fits. */
extern bool fs_jint64(const FsJv *v, long long *out);

#ifdef __cplusplus
}
#endif

#endif							/* FS_JSON_DOC_H */
