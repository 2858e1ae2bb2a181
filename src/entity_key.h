/*-------------------------------------------------------------------------
 *
 * entity_key.h
 *	  Which entity a key names: the join key type's own equality.
 *
 * Two ids name one entity when their values are equal by the equality of
 * the join key type's default btree operator class, under the key column's
 * collation: '1' and '1.0' of a numeric key, 'Bob' and 'bob' of a citext
 * key.  That is what a unique index on the key says, and every lane must say
 * the same, or a batch holds "two" entities the table takes for one.  Text
 * forms cannot tell: numeric keeps its scale, citext its case.
 *
 * Keys are hashed with the hash function of the type's default hash operator
 * class, used only when its equality is that same equality (the type cache
 * checks); a type without one hashes every key to 0, which is correct but
 * makes a table of keys a list.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FS_ENTITY_KEY_H
#define FS_ENTITY_KEY_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/hsearch.h"

/* A join key type, its collation, and how to read, compare and hash keys. */
typedef struct FsKeyType
{
	Oid			type;
	int32		typmod;
	Oid			collation;
	int16		typlen;
	bool		typbyval;
	FmgrInfo	eq;
	FmgrInfo	hash;
	bool		hashable;
	FmgrInfo	input;
	Oid			ioparam;
	bool		input_safe;		/* built-in input: no subtransaction to catch */
	FmgrInfo	output;
} FsKeyType;

/* Set up kt for keys of type with typmod, compared under collation. */
extern void fs_key_type_init(FsKeyType *kt, Oid type, int32 typmod, Oid collation);

/* Set up kt for the join key of relation relid (attribute attnum). */
extern void fs_key_type_of(FsKeyType *kt, Oid relid, AttrNumber attnum);

/* The hash of a key (what fs_ingest_state.entity_hash holds). */
extern int32 fs_key_hash(const FsKeyType *kt, Datum key);

/* Whether two keys name one entity. */
extern bool fs_key_equal(const FsKeyType *kt, Datum a, Datum b);

/*
 * Read keys from their text forms, as the caller (a domain's CHECK may run
 * any SQL): ok[i] says whether texts[i] converted into keys[i].  All are read
 * in one subtransaction (none for built-in types), one by one only if one is
 * refused.
 */
extern void fs_key_read(const FsKeyType *kt, char **texts, int n, Datum *keys, bool *ok);

/*
 * A key as a hash table key: its value and its type.  The value must
 * outlive the entry: after HASH_ENTER of a new entry, copy it
 * (fs_key_copy) into memory of the table's lifetime.
 */
typedef struct FsKey
{
	Datum		value;
	const FsKeyType *type;
} FsKey;

/* A hash table whose entries start with an FsKey, by the key type's equality. */
extern HTAB *fs_key_table(const char *name, long size, Size entrysize, MemoryContext cxt);

/* A copy of a key's value in cxt. */
extern Datum fs_key_copy(const FsKeyType *kt, Datum key, MemoryContext cxt);

#endif							/* FS_ENTITY_KEY_H */
