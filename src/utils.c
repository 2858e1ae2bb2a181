/*-------------------------------------------------------------------------
 *
 * utils.c
 *	  Helpers that every part of feature_store shares (utils.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_class.h"
#include "catalog/pg_extension.h"
#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "utils.h"

/* Hash of a string key: the string pointed to. */
static uint32
string_key_hash(const void *key, Size keysize)
{
	const char *s = *(const char *const *) key;

	return hash_bytes((const unsigned char *) s, strlen(s));
}

/* Match of two string keys. */
static int
string_key_match(const void *a, const void *b, Size keysize)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* A hash table keyed by the strings its entries point to. */
HTAB *
fs_string_table(const char *name, long size, Size entrysize, MemoryContext cxt)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(char *);
	ctl.entrysize = entrysize;
	ctl.hash = string_key_hash;
	ctl.match = string_key_match;
	ctl.hcxt = cxt;
	return hash_create(name, size, &ctl, HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
}

/* Hash of a bytes key. */
static uint32
bytes_key_hash(const void *key, Size keysize)
{
	const FsBytesKey *k = key;

	return hash_bytes((const unsigned char *) k->ptr, (int) k->len);
}

/* Match of two bytes keys. */
static int
bytes_key_match(const void *a, const void *b, Size keysize)
{
	const FsBytesKey *x = a;
	const FsBytesKey *y = b;

	return (x->len == y->len && memcmp(x->ptr, y->ptr, x->len) == 0) ? 0 : 1;
}

/* A hash table keyed by the bytes its entries point to. */
HTAB *
fs_bytes_table(const char *name, long size, Size entrysize, MemoryContext cxt)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(FsBytesKey);
	ctl.entrysize = entrysize;
	ctl.hash = bytes_key_hash;
	ctl.match = bytes_key_match;
	ctl.hcxt = cxt;
	return hash_create(name, size, &ctl, HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
}

/* The schema feature_store is installed in, from pg_extension. */
Oid
fs_extension_schema(bool missing_ok)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			schema = InvalidOid;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("feature_store"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		schema = ((Form_pg_extension) GETSTRUCT(tup))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (!OidIsValid(schema) && !missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("extension \"feature_store\" is not installed in this database")));
	return schema;
}

/* A relation's schema-qualified, quoted name (for hints to paste, and SQL). */
char *
fs_qualified_relation_name(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

/* sql with every @extschema@ replaced by the schema's quoted name. */
char *
fs_schema_sql(Oid schema, const char *sql)
{
	const char *quoted = quote_identifier(get_namespace_name(schema));
	StringInfoData buf;
	const char *p;
	const char *at;

	initStringInfo(&buf);
	for (p = sql; (at = strstr(p, "@extschema@")) != NULL; p = at + strlen("@extschema@"))
	{
		appendBinaryStringInfo(&buf, p, at - p);
		appendStringInfoString(&buf, quoted);
	}
	appendStringInfoString(&buf, p);
	return buf.data;
}

/* The plan of sql for schema, prepared and kept on first use. */
SPIPlanPtr
fs_schema_plan(FsKeptPlan *kp, Oid schema, const char *sql, int nargs, Oid *argtypes)
{
	char	   *text;
	SPIPlanPtr	plan;

	if (kp->plan != NULL && kp->schema == schema)
		return kp->plan;
	if (kp->plan != NULL)
	{
		SPI_freeplan(kp->plan);
		kp->plan = NULL;
	}

	text = fs_schema_sql(schema, sql);
	plan = SPI_prepare(text, nargs, argtypes);
	if (plan == NULL)
		elog(ERROR, "could not prepare \"%s\": %s", text, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "could not keep the plan of \"%s\"", text);
	kp->plan = plan;
	kp->schema = schema;
	pfree(text);
	return plan;
}

/*
 * Run fn(arg) as the owner of relation relid.  The caller has checked, as
 * itself, that the write fn does is allowed: the owner's rights are for the
 * write alone, never for a check.  When relid is a user's table (to read
 * keys of a view's type as the view's owner), fn may run that owner's code
 * (a domain's CHECK): as a security-restricted operation, and with every
 * setting it makes undone on return, so that it cannot reach into the
 * session it runs in (a superuser's, during an update).
 */
void
fs_run_as_owner(Oid relid, void (*fn) (void *arg), void *arg)
{
	HeapTuple	tup;
	Oid			owner;
	Oid			save_userid;
	int			save_sec;
	int			nest;

	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	nest = NewGUCNestLevel();
	PG_TRY();
	{
		fn(arg);
	}
	PG_FINALLY();
	{
		/* On an error the (sub)transaction's abort undoes the settings. */
		SetUserIdAndSecContext(save_userid, save_sec);
	}
	PG_END_TRY();
	AtEOXact_GUC(false, nest);
}

/*
 * The internal PL/pgSQL functions that a C function of the same name without
 * "_run" calls through fs_call_internal; with the registry's checks
 * (fs_check_*), the functions whose errors fs_rethrow_without_internals
 * cleans.
 */
static const char *const internal_functions[] = {
	"fs_ingest_run",
	"fs_create_staging_table_run",
};

/* Whether a context line is one of the extension's internal PL/pgSQL functions'. */
static bool
internal_function_line(const char *line, size_t len)
{
	static const char prefix[] = "PL/pgSQL function ";
	const char *name;
	const char *paren;
	const char *dot;

	if (len < sizeof(prefix) - 1 || strncmp(line, prefix, sizeof(prefix) - 1) != 0)
		return false;
	name = line + sizeof(prefix) - 1;
	paren = memchr(name, '(', len - (name - line));
	if (paren == NULL)
		return false;
	/* The name after its schema, if qualified. */
	for (dot = paren; dot > name && dot[-1] != '.'; dot--)
		;
	for (int i = 0; i < lengthof(internal_functions); i++)
		if ((size_t) (paren - dot) == strlen(internal_functions[i]) &&
			strncmp(dot, internal_functions[i], paren - dot) == 0)
			return true;
	return paren - dot > 9 && strncmp(dot, "fs_check_", 9) == 0;
}

/*
 * Whether a context line is worth keeping from inside our implementation: a
 * line of a function's (the user's own: a trigger, a domain check's), the
 * remote table a store failure concerns, or the line of a source's file
 * that COPY's parser could not read ("COPY source, line 2: ...").  Statements (ours, which may
 * span several lines) and the rest of ours are not.
 */
static bool
kept_line(const char *line, size_t len)
{
	static const char *const prefixes[] = {"PL/", "SQL function ", "remote table \"", "COPY "};

	if (internal_function_line(line, len))
		return false;
	for (int i = 0; i < lengthof(prefixes); i++)
		if (len >= strlen(prefixes[i]) && strncmp(line, prefixes[i], strlen(prefixes[i])) == 0)
		{
			const char *space;

			if (i > 0)
				return true;
			/* "PL/<language> function ..." */
			space = memchr(line, ' ', len);
			return space != NULL && (size_t) (line + len - space) > 10 &&
				strncmp(space, " function ", 10) == 0;
		}
	return false;
}

/* See utils.h. */
void
fs_rethrow_without_internals(MemoryContext cxt)
{
	ErrorData  *edata;
	const char *ctx;
	const char *last_end = NULL;
	StringInfoData kept;

	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	FlushErrorState();
	ctx = edata->context;

	/*
	 * The context runs from the innermost line out.  Up to the outermost
	 * line of our internal functions, everything was gathered inside our
	 * implementation: keep only the lines of the user's functions and the
	 * remote table a store failure concerns.
	 * What lies beyond is the caller's, and errfinish recomputes it from the
	 * callbacks still on the stack, so it is dropped here.
	 */
	for (const char *p = ctx; p != NULL && *p != '\0';)
	{
		const char *nl = strchr(p, '\n');
		size_t		len = nl ? (size_t) (nl - p) : strlen(p);

		if (internal_function_line(p, len))
			last_end = p + len;
		p = nl ? nl + 1 : NULL;
	}
	initStringInfo(&kept);
	for (const char *p = ctx; p != NULL && p < last_end;)
	{
		const char *nl = strchr(p, '\n');
		size_t		len = nl ? (size_t) (nl - p) : strlen(p);

		if (kept_line(p, len))
		{
			if (kept.len > 0)
				appendStringInfoChar(&kept, '\n');
			appendBinaryStringInfo(&kept, p, len);
		}
		p = nl ? nl + 1 : NULL;
	}
	if (last_end == NULL)
	{
		/* Nothing of ours inside: the whole context is the caller's. */
		edata->context = NULL;
	}
	else
	{
		edata->context = kept.len > 0 ? kept.data : NULL;
		edata->internalquery = NULL;
		edata->internalpos = 0;
	}
	edata->elevel = ERROR;
	ThrowErrorData(edata);
	/* ThrowErrorData does not return for an ERROR. */
	pg_unreachable();
}

/* See utils.h. */
Datum
fs_call_internal(FunctionCallInfo fcinfo, const char *name)
{
	Oid			caller = fcinfo->flinfo->fn_oid;
	Oid		   *argtypes;
	int			nargs;
	Oid			fn;
	FmgrInfo   *flinfo = palloc0(sizeof(FmgrInfo));
	FunctionCallInfo cinfo;
	MemoryContext cxt = CurrentMemoryContext;
	volatile Datum result = (Datum) 0;

	get_func_signature(caller, &argtypes, &nargs);
	Assert(nargs == fcinfo->nargs);
	fn = LookupFuncName(list_make2(makeString(get_namespace_name(get_func_namespace(caller))),
								   makeString(pstrdup(name))),
						nargs, argtypes, false);
	fmgr_info(fn, flinfo);
	cinfo = palloc0(SizeForFunctionCallInfo(nargs));
	InitFunctionCallInfoData(*cinfo, flinfo, nargs, PG_GET_COLLATION(), fcinfo->context,
							 fcinfo->resultinfo);
	/* The arguments as given, NULLs included: the callers are not strict. */
	for (int i = 0; i < nargs; i++)
		cinfo->args[i] = fcinfo->args[i];

	PG_TRY();
	{
		result = FunctionCallInvoke(cinfo);
	}
	PG_CATCH();
	{
		/* Re-raised at once: the transaction's abort cleans up after the call. */
		fs_rethrow_without_internals(cxt);
	}
	PG_END_TRY();

	fcinfo->isnull = cinfo->isnull;
	return result;
}
