/*-------------------------------------------------------------------------
 *
 * entity_key.c
 *	  Which entity a key names: the join key type's own equality
 *	  (entity_key.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

#include "entity_key.h"
#include "value.h"

/* Set up kt for keys of type with typmod, compared under collation. */
void
fs_key_type_init(FsKeyType *kt, Oid type, int32 typmod, Oid collation)
{
	TypeCacheEntry *tc = lookup_type_cache(type, TYPECACHE_EQ_OPR_FINFO |
										   TYPECACHE_HASH_PROC_FINFO);
	Oid			func;
	bool		isvarlena;

	if (!OidIsValid(tc->eq_opr_finfo.fn_oid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("could not identify an equality operator for type %s", format_type_be(type)),
				 errdetail("The join key's type says which ids name one entity.")));
	memset(kt, 0, sizeof(FsKeyType));
	kt->type = type;
	kt->typmod = typmod;
	kt->collation = collation;
	kt->typlen = tc->typlen;
	kt->typbyval = tc->typbyval;
	fmgr_info_copy(&kt->eq, &tc->eq_opr_finfo, CurrentMemoryContext);
	kt->hashable = OidIsValid(tc->hash_proc_finfo.fn_oid);
	if (kt->hashable)
		fmgr_info_copy(&kt->hash, &tc->hash_proc_finfo, CurrentMemoryContext);
	getTypeInputInfo(type, &func, &kt->ioparam);
	fmgr_info(func, &kt->input);
	kt->input_safe = fs_type_is_builtin(type, true);
	getTypeOutputInfo(type, &func, &isvarlena);
	fmgr_info(func, &kt->output);
}

/* Set up kt for the join key of relation relid (attribute attnum). */
void
fs_key_type_of(FsKeyType *kt, Oid relid, AttrNumber attnum)
{
	Oid			type;
	int32		typmod;
	Oid			collation;

	get_atttypetypmodcoll(relid, attnum, &type, &typmod, &collation);
	fs_key_type_init(kt, type, typmod, collation);
}

/* The hash of a key (what fs_ingest_state.entity_hash holds). */
int32
fs_key_hash(const FsKeyType *kt, Datum key)
{
	if (!kt->hashable)
		return 0;
	return DatumGetInt32(FunctionCall1Coll((FmgrInfo *) &kt->hash, kt->collation, key));
}

/* Whether two keys name one entity. */
bool
fs_key_equal(const FsKeyType *kt, Datum a, Datum b)
{
	return DatumGetBool(FunctionCall2Coll((FmgrInfo *) &kt->eq, kt->collation, a, b));
}

/* Keys to read, for fs_catch_data_error. */
typedef struct ReadCall
{
	const FsKeyType *kt;
	char	  **texts;
	int			n;
	Datum	   *keys;
} ReadCall;

/* Read every key of rc; the first refusal raises. */
static void
read_all(void *arg)
{
	ReadCall   *rc = (ReadCall *) arg;

	for (int i = 0; i < rc->n; i++)
		rc->keys[i] = InputFunctionCall((FmgrInfo *) &rc->kt->input, rc->texts[i],
										rc->kt->ioparam, rc->kt->typmod);
}

/* Read keys from their text forms (entity_key.h). */
void
fs_key_read(const FsKeyType *kt, char **texts, int n, Datum *keys, bool *ok)
{
	ReadCall	rc;
	char	   *message;

	if (n == 0)
		return;
	rc.kt = kt;
	rc.texts = texts;
	rc.n = n;
	rc.keys = keys;
	if (fs_catch_data_error(read_all, &rc, kt->input_safe) == NULL)
	{
		memset(ok, true, sizeof(bool) * n);
		return;
	}
	for (int i = 0; i < n; i++)
		ok[i] = fs_value_input((FmgrInfo *) &kt->input, texts[i], kt->ioparam, kt->typmod,
							   kt->input_safe, &keys[i], &message);
}

/* Hash of an FsKey. */
static uint32
key_hash(const void *key, Size keysize)
{
	const FsKey *k = key;

	return (uint32) fs_key_hash(k->type, k->value);
}

/* Match of two FsKeys: 0 when they name one entity. */
static int
key_match(const void *a, const void *b, Size keysize)
{
	const FsKey *x = a;
	const FsKey *y = b;

	return fs_key_equal(x->type, x->value, y->value) ? 0 : 1;
}

/* A hash table whose entries start with an FsKey, by the key type's equality. */
HTAB *
fs_key_table(const char *name, long size, Size entrysize, MemoryContext cxt)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(FsKey);
	ctl.entrysize = entrysize;
	ctl.hash = key_hash;
	ctl.match = key_match;
	ctl.hcxt = cxt;
	return hash_create(name, size, &ctl, HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
}

/* A copy of a key's value in cxt. */
Datum
fs_key_copy(const FsKeyType *kt, Datum key, MemoryContext cxt)
{
	MemoryContext old;
	Datum		copy;

	if (kt->typbyval)
		return key;
	old = MemoryContextSwitchTo(cxt);
	copy = datumCopy(key, false, kt->typlen);
	MemoryContextSwitchTo(old);
	return copy;
}
