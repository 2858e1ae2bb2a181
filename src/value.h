/*-------------------------------------------------------------------------
 *
 * value.h
 *	  Feature values between Datums and JSON: the mapping every serving
 *	  path shares, and its inverse for writes.
 *
 * numbers -> JSON numbers (bigint exact), text -> strings, boolean ->
 * booleans, arrays -> arrays, timestamptz -> ISO 8601 strings in UTC,
 * bytea -> base64 strings, jsonb as is; anything else -> its text form.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FS_VALUE_H
#define FS_VALUE_H

#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/jsonb.h"

typedef enum FsValueKind
{
	FS_VALUE_INT2,				/* the numeric kinds come first (FS_VALUE_KIND_IS_NUMBER) */
	FS_VALUE_INT4,
	FS_VALUE_INT8,
	FS_VALUE_FLOAT4,
	FS_VALUE_FLOAT8,
	FS_VALUE_NUMERIC,
	FS_VALUE_BOOL,
	FS_VALUE_TEXT,				/* text, varchar, bpchar, name-like varlenas */
	FS_VALUE_JSONB,
	FS_VALUE_JSON,
	FS_VALUE_DATETIME,			/* timestamptz, timestamp, date, time, timetz */
	FS_VALUE_BYTEA,
	FS_VALUE_ARRAY,
	FS_VALUE_OTHER				/* through the type's output function */
} FsValueKind;

/* Whether a kind holds numbers (what mode 'add' adds, what a matrix takes). */
#define FS_VALUE_KIND_IS_NUMBER(kind) ((kind) <= FS_VALUE_NUMERIC)

/* How to turn Datums of one type into jsonb; built once per feature. */
typedef struct FsValueCodec
{
	FsValueKind kind;
	Oid			typid;
	Oid			basetypid;		/* typid, or the base type of a domain */
	int16		typlen;
	bool		typbyval;
	char		typalign;
	FmgrInfo	outfunc;		/* FS_VALUE_OTHER */
	struct FsValueCodec *elem;	/* FS_VALUE_ARRAY */
} FsValueCodec;

/* How to read values of one type from JSON; filled on first use. */
typedef struct FsValueInput
{
	bool		ready;
	bool		safe;			/* fs_type_is_builtin(typid, true) */
	FmgrInfo	in;
	Oid			ioparam;
	FmgrInfo	elem_in;		/* arrays: the element type's */
	Oid			elem_ioparam;
} FsValueInput;

/* A bytea's bytes as base64 (palloc'd, NUL-terminated); *len its length. */
extern char *fs_bytea_to_base64(bytea *b, int *len);

extern void fs_value_codec_init(FsValueCodec *codec, Oid typid, MemoryContext mcxt);
extern Jsonb *fs_value_to_jsonb(FsValueCodec *codec, Datum value);

/*
 * A jsonb object whose keys are the same for every row (serving's feature
 * vectors), written directly in jsonb's on-disk form rather than through
 * pushJsonbValue: keys are laid out once, each row appends its values.
 */
typedef struct FsJsonbObject
{
	int			nkeys;
	JEntry	   *key_entries;	/* the keys' JEntries, laid out once */
	StringInfoData key_data;	/* the keys' bytes, back to back */
	int			key_total;		/* their length */
	StringInfoData buf;			/* the row's document */
	int			jentries;		/* where its JEntries start in buf */
	int			totallen;		/* its children's lengths so far */
	int			next;			/* the next value's key */
} FsJsonbObject;

/*
 * Lay out the keys, which must be distinct and in jsonb's order (shorter
 * first, then bytewise), in mcxt.
 */
extern FsJsonbObject *fs_jsonb_object_begin(int nkeys, const char *const *keys,
											MemoryContext mcxt);
/* Start a row's document (the previous one is overwritten). */
extern void fs_jsonb_object_reset(FsJsonbObject *obj);
/* The next key's value (a feature value, or JSON null when isnull). */
extern void fs_jsonb_object_value(FsJsonbObject *obj, FsValueCodec *codec, Datum value,
								  bool isnull);
/* The row's document, valid until the next reset. */
extern Jsonb *fs_jsonb_object_end(FsJsonbObject *obj);
/*
 * A non-null JSON value as a Datum of codec's type with typmod (writes):
 * numbers, strings and booleans through the type's input function, JSON
 * arrays as arrays, jsonb as is, bytea from base64 or "\x..." hex.  Raises
 * what the type refuses.  input starts zeroed and is filled on first use.
 */
extern Datum fs_value_from_json(FsValueCodec *codec, FsValueInput *input, int32 typmod,
								JsonbValue *jv);

/*
 * Read a value with its type's input function: false and the type's message
 * when the type refuses it (a data error); other errors are raised.  safe:
 * the type is built in (fs_type_is_builtin), so no subtransaction is needed.
 */
extern bool fs_value_input(FmgrInfo *input, char *str, Oid ioparam, int32 typmod,
						   bool safe, Datum *value, char **message);

/* A float8 from the common forms of its text, as float8in gives it; else false. */
extern bool fs_float8_fast(const char *str, int len, double *result);

/*
 * As fs_value_input, with the error's detail after its message in *reason
 * (fs_error_reason): for rejects, which keep the whole of why.
 */
extern bool fs_value_input_reason(FmgrInfo *input, char *str, Oid ioparam, int32 typmod,
								  bool safe, Datum *value, char **reason);

/*
 * An error as one line: "message. Detail." when it has a detail, else its
 * message.
 */
extern char *fs_error_reason(ErrorData *edata);

/*
 * Whether converting values of typid (input: from text; else: to text) runs
 * only code built into PostgreSQL that leaves nothing behind when it raises
 * a data error: no domain with constraints (a CHECK may call any function),
 * no composite or range, and input and output functions of language
 * internal, for arrays their element type's too.
 */
extern bool fs_type_is_builtin(Oid typid, bool input);

/* Fill input for codec's type, if not done yet (fs_value_from_json does too). */
extern void fs_value_input_init(FsValueCodec *codec, FsValueInput *input);

/*
 * Run fn(arg); return the data error (SQLSTATE class 22 or 23) it raised, or
 * NULL.  Other errors are raised on.  Unless safe (fn runs only built-in
 * code that holds nothing a data error could leave behind, such as built-in
 * input functions), fn runs in a subtransaction, rolled back if it fails.
 */
extern ErrorData *fs_catch_data_error(void (*fn) (void *), void *arg, bool safe);

#endif							/* FS_VALUE_H */
