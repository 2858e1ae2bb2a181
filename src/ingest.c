/*-------------------------------------------------------------------------
 *
 * ingest.c
 *	  Batch ingestion, silver step: cast, validate and deduplicate a source.
 *
 * fs_ingest_silver reads the source in one pass, every column as text:
 * straight from the heap of a plain table whose columns are text (as a
 * staging table's are) and to which no row-level security applies, else
 * through a cursor whose rows it takes as the executor hands them over.  It
 * converts each value
 * with the input function of the
 * matching column of the silver table (a temporary table with the view's
 * join key, event time and the features the source carries, as the view's
 * relation has them, plus fs_row, the row's ordinal in the source as read):
 * a source may carry a subset of the view's features, and the run writes
 * only those.  A row with a value its type refuses, no entity id, no event
 * time, or a NULL where the column is NOT NULL goes to fs_ingest_rejects,
 * one reject for each bad value, with the row's ordinal, and is skipped; the
 * run goes on.  Of the rows of one entity, the one with the newest event
 * time is kept (on a tie, the later row of the source); the others count as
 * stale.
 *
 * Entities are told apart by the join key type's equality (entity_key.h):
 * '1' and '1.0' of a numeric key are one entity, as they are one row of the
 * view's table.
 *
 * Change detection happens here too, in the same pass: the view's rows of
 * fs_ingest_state (the digest and event time of what earlier runs wrote) are
 * loaded into the hash table of entities first, and each kept row is
 * classified as stale (older than the stored event time), unchanged (same
 * digest) or changed.  Only changed rows are inserted into the silver table,
 * with their digest, so that the SQL that writes them (gold) handles what
 * changed, not the whole source, and with the entity_id and entity_hash its
 * state is kept under (fs_entity, fs_entity_hash: an entity's existing row's,
 * else the key's text form).  A snapshot run also lists every entity the
 * source has in a second temporary table, for the deletes; on the embedded
 * store it forgets here the state of the entities the source no longer
 * names, which the hash table knows already.
 *
 * The digest is a 128-bit hash of the source's text of the feature values,
 * seeded with the features' names and types: those of the silver table, so
 * that a source carrying other features never matches the digest a run of
 * another subset stored.  The key and the event time of
 * every row are converted; the features only when the digest differs from
 * the state's (a row written exactly as before was valid then and holds the
 * same values).  Rows go straight into the heap of the caller's own
 * temporary tables, which have no indexes or triggers.
 *
 * Memory is bounded by maintenance_work_mem, not by the number of entities.
 * When the entities expected (the larger of the source's and the state's
 * row counts, as the planner's statistics or the relation's size say) take
 * more than that, the run works in parts by the entities' hash: the first
 * reading of the state and of the source keeps the entities of the first
 * part in memory and writes the rows of the others to temporary files (a
 * BufFile per part and side, within temp_file_limit); each other part is
 * then read back and handled as the first was.  An entity is in one part
 * only, so each part decides alone; rows of a part are read back in source
 * order, so the later row of the source still wins a tie.  The state rows
 * of a part are those whose entity_id hashes into it, by the key type's
 * hash, not by the entity_hash they hold.  From a table read from its heap,
 * while most rows of the first part are unchanged, a row of another part
 * goes to its file as a reference (its place in the heap, key, event time
 * and digest: SPILL_REF), and is fetched again only if its digest differs
 * from its entity's state.
 *
 * A foreign table of file_fdw over a file is read from the file with COPY's
 * parser (ingest_file.h), its rows handled as a heap's but never spilled as
 * references.  A table read from its heap or file may be read by two
 * processes (want_parallel): the run's own and a parallel worker
 * (ingest_parallel.h).  The hash space is halved (one part bit more), and
 * each process reads every row of the table, in the order stored, so that
 * both number rows alike (each checks that a file is the one the run
 * started with, and the leader that the worker read as many rows), but keeps only
 * the rows of its half's entities (row_is_mine; a row without a valid key
 * is the leader's, which rejects it), and handles its own parts as above.
 * Each reads the state rows of its half by their stored entity_hash; one
 * whose key is of the other half (a wrong stored hash) ends the parallel
 * part, in a subtransaction, and the run starts again alone
 * (silver_read_parallel).
 * Nothing may write through SPI while the worker runs: the leader appends
 * its rejects and state writes to a temporary file (wlog); the worker sends
 * the rows it keeps, its seen keys, rejects, state writes, superseded rows
 * and counts as messages, and the leader inserts the rows and keys into its
 * scratch tables as they come (a heap_insert is allowed in the leader) and
 * appends the rest to wlog.  Once the worker is done and parallel mode is
 * over, wlog is applied, in order.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/parallel.h"
#include "access/tableam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/paths.h"
#include "optimizer/plancat.h"
#include "utils/array.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "storage/buffile.h"
#include "tcop/pquery.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "entity_key.h"
#include "utils.h"
#include "ingest.h"
#include "ingest_file.h"
#include "ingest_parallel.h"
#include "ingest_state.h"
#include "value.h"

PG_FUNCTION_INFO_V1(fs_ingest_silver);

/* Source rows fetched from the cursor at a time. */
#define FETCH_ROWS 10000

/* Rows between the leader's looks at what a parallel worker sent. */
#define POLL_ROWS 256

/*
 * At most 2^MAX_PART_BITS parts (one bit more with a parallel worker, whose
 * parts are half-size): beyond, a part outgrows memory anyway.
 */
#define MAX_PART_BITS 10

/*
 * Kinds of spilled source rows: a row to handle; a rejected row's entity; a
 * row of a table read from its heap, as its place in the heap, its key,
 * event time and digest (SpilledRef), whose whole row is fetched again only
 * if the digest differs from its entity's state.
 */
#define SPILL_ROW 'r'
#define SPILL_NAMED 'n'
#define SPILL_REF 'c'

/*
 * Rows of the first part a run looks at before it decides whether the rest
 * go to files as references (most rows unchanged) or whole (most changed,
 * as in a first load, when fetching each again would cost more).
 */
#define REF_PROBE_ROWS 1000
#define REF_MAX_CHANGED 0.1

/* A SPILL_REF row in its file, after its kind; its key's bytes follow. */
typedef struct SpilledRef
{
	int64		row;			/* its ordinal in the source */
	TimestampTz event_time;
	ItemPointerData tid;		/* its place in the source's heap */
	int32		hash;
	uint32		keylen;
	uint8		digest[FS_DIGEST_LEN];
} SpilledRef;

/* One column of the silver table and how to fill it from the source. */
typedef struct SilverColumn
{
	char	   *name;
	bool		in_source;		/* else: the run's default event time */
	AttrNumber	src_attno;		/* its column in the source, if in_source */
	FmgrInfo	input;
	Oid			ioparam;
	int32		typmod;
	bool		notnull;
	bool		safe;			/* built-in input: no subtransaction to catch */
	bool		float8;			/* a float8: fs_float8_fast reads it first */
} SilverColumn;

/* An entity: what earlier runs wrote, and the row of this run kept for it. */
typedef struct EntityEntry
{
	Datum		key;			/* the join key, by its type's equality */
	Datum		entity;			/* text: its state's entity_id; 0 until needed */
	uint32		hash;			/* the key type's hash: its state's entity_hash */
	char		status;			/* the hash table's */
	bool		has_state;
	bool		digest_known;	/* the state's digest can be trusted */
	bool		state_has_time;
	bool		seen;			/* a row of this run's source is kept for it */
	bool		named;			/* the source names it (kept or rejected) */
	bool		rehashed;		/* its first state row gets its right hash */
	char		class;			/* of the kept row: 's'tale, 'u'nchanged, 'w'rite */
	uint8		state_digest[FS_DIGEST_LEN];
	TimestampTz state_time;
	TimestampTz event_time;		/* of the kept row */
	int64		row;			/* its fs_row */
} EntityEntry;

/*
 * The entities of a run: an open-addressing table (lib/simplehash.h) keyed by
 * the join key's value, with its type (an FsKeyType) as the table's private
 * data.  An entry is found in one probe of one array, where a chained table
 * takes two random reads: with a million entities each is a cache miss.
 * Entries move when another is added: no pointer to one is kept across an
 * insert.
 */
#define SH_PREFIX entities
#define SH_ELEMENT_TYPE EntityEntry
#define SH_KEY_TYPE Datum
#define SH_KEY key
#define SH_HASH_KEY(tb, k) ((uint32) fs_key_hash((const FsKeyType *) (tb)->private_data, k))
#define SH_EQUAL(tb, a, b) fs_key_equal((const FsKeyType *) (tb)->private_data, a, b)
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a) ((a)->hash)
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* A run of fs_ingest_silver: the silver table, the entities, the current row. */
typedef struct SilverRun
{
	int64		run_id;
	Oid			schema;			/* feature_store's */
	char	   *view;
	TimestampTz default_ts;		/* for a source without an event-time column */

	/* the silver table, and the seen keys of a snapshot (else NULL) */
	Relation	rel;
	Relation	keyrel;
	TupleDesc	desc;
	int			natts;
	SilverColumn *cols;
	bool	   *is_feature;
	int			key_col;
	int			ts_col;
	int			row_col;
	int			digest_col;
	int			entity_col;
	int			hash_col;
	FsKeyType	key_type;
	bool		key_is_text;
	bool		hashed;			/* the state has entity_hash (not 0.1.0's) */
	bool		forget_absent;	/* a snapshot into a table: forget the state
								 * of entities the source does not name */
	uint64		signature;		/* of the features' types */
	char	   *query;			/* reads the source, every column as text */

	/* entities, and where rows go */
	entities_hash *entities;
	MemoryContext fncxt;
	MemoryContext keycxt;
	MemoryContext rowcxt;
	BulkInsertState bistate;
	BulkInsertState keybistate;
	CommandId	cid;

	/* the current row */
	Datum	   *values;
	bool	   *nulls;
	char	  **raw;			/* its text as C strings, made on demand */
	text	  **txt;
	const char **why;			/* per column: why its value is refused, or NULL */
	int			nrefused;		/* columns of the current row refused */
	text	   *last_ts_raw;	/* the previous row's event time, as text */
	TimestampTz last_ts;
	StringInfoData digestbuf;
	bytea	   *digest_datum;

	/* rows a newer row of the same entity superseded (their fs_row) */
	int64	   *losers;
	int			nlosers;
	int			maxlosers;

	/* parts by the entities' hash (see the top of the file) */
	int			part_bits;		/* 2^part_bits parts; 0: one, all in memory */
	int			cur_part;		/* the part whose entities are in memory */
	long		part_entities;	/* what a part's table is sized for */
	BufFile   **state_spill;	/* per part: its state rows, else NULL */
	BufFile   **source_spill;	/* per part: its source rows, else NULL */
	TupleDesc	source_desc;	/* of the source rows as read */
	bool		direct;			/* read from the source's heap, not by SPI */
	ResourceOwner owner;		/* the run's (not the cursor's portal's) */
	AttrNumber *row_attno;		/* per silver column: its column in a row
								 * as read (0: NULL) */
	Datum	   *srcvalues;		/* a row as read */
	bool	   *srcnulls;
	int64		cur_row;		/* the current row's ordinal in the source */
	char	   *spillbuf;		/* a row read back */
	Size		spillbuf_size;
	Relation	srel;			/* the source, when read from its heap or file */
	Snapshot	snapshot;		/* what it is read with */
	bool		file;			/* read from a file_fdw table's file (ingest_file.h) */
	FsFileIdentity file_id;		/* which file, as the run found it */
	List	   *file_columns;	/* the names of the columns read (String) */
	int			file_encoding;	/* read in, unless the table says */
	MemoryContext filecxt;		/* a row read from the file */
	int64		first_rows;		/* rows of the first part handled */
	int64		first_changed;	/* of which not unchanged by their digest */

	/*
	 * A parallel run: each process keeps the entities of half the hash
	 * space, parts first_part to end_part - 1, and reads every row of the
	 * source, so that both number them alike.  While the worker runs, no
	 * command may write: the leader's writes through SPI, and the worker's,
	 * which it sends as messages, wait in wlog for parallel mode to end.
	 */
	int			first_part;
	int			end_part;
	bool		worker;			/* this process is the worker */
	bool		deferred;		/* writes through SPI go to wlog or the leader */
	FsSilverChannel *chan;		/* the leader's, while the worker runs */
	bool		worker_done;	/* its last message arrived */
	BufFile    *wlog;			/* the leader's deferred writes */
	StringInfoData msg;			/* a deferred write being built */
	MemoryContext msgcxt;

	int64		rows_read;
	int64		rows_rejected;
	int64		rows_superseded;
	int64		counts[3];		/* kept rows: stale, unchanged, changed */
	int64		worker_rows_read;	/* the worker's rows_read, once done */
} SilverRun;

/*
 * Kinds of deferred writes and of the worker's messages.  A text in one is
 * its length (int32, -1 for NULL) and its bytes.
 */
#define MSG_REJECT 'R'			/* row (int64), entity, column, raw, reason */
#define MSG_STATE_DROP 'D'		/* hash (int32), entity */
#define MSG_STATE_FIX 'F'		/* old hash, new hash (int32), entity */
#define MSG_STATE_ADVANCE 'A'	/* hash (int32), event time, entity */
#define MSG_SILVER 'T'			/* a silver row, as a tuple's data */
#define MSG_KEY 'K'				/* a seen key's bytes (a Datum if by value) */
#define MSG_LOSERS 'L'			/* fs_row (int64) of superseded rows */
#define MSG_DONE 'C'			/* the worker's counts: 6 int64 */

/* What a parallel worker is told of the run; three strings follow. */
typedef struct SilverArgs
{
	int64		run_id;
	Oid			schema;
	Oid			source;
	Oid			silver;
	Oid			seen_keys;
	TimestampTz default_ts;
	int			part_bits;
	long		part_entities;
	bool		forget_absent;
	bool		file;			/* the leader reads the source's file: */
	FsFileIdentity file_id;		/* which, */
	int			file_encoding;	/* and in which encoding */
	int			key_off;		/* offsets in strings of the join key's name */
	int			ts_off;			/* and the event-time column's */
	char		strings[FLEXIBLE_ARRAY_MEMBER];	/* the view's name first */
} SilverArgs;

static void poll_worker(SilverRun *sr, bool wait);

/* The part of the entities of hash. */
static inline int
part_of(const SilverRun *sr, uint32 hash)
{
	return sr->part_bits == 0 ? 0 : (int) (hash >> (32 - sr->part_bits));
}

/* Whether this process keeps half the entities (a parallel run). */
static inline bool
halved(const SilverRun *sr)
{
	return sr->end_part - sr->first_part != (1 << sr->part_bits);
}

/*
 * A state row of a parallel run whose key is of the other process's half:
 * its stored entity_hash, by which the processes divide the state, is not
 * its key's.  The run starts again alone (fs_ingest_silver).
 */
#define ERRCODE_FS_STATE_MISPLACED MAKE_SQLSTATE('F','S','0','0','2')

/* The kept row's fate against what earlier runs wrote. */
static char
classify(EntityEntry *e, TimestampTz ts, const uint8 *digest)
{
	if (e->has_state && e->state_has_time && e->state_time > ts)
		return 's';
	if (e->has_state && e->digest_known && memcmp(e->state_digest, digest, FS_DIGEST_LEN) == 0)
		return 'u';
	return 'w';
}

/*
 * A hash of the types of the features (and their order): the seed of the
 * digests of source text, so that a digest stored before a column's type
 * changed never matches again.
 */
static uint64
type_signature(TupleDesc desc, const bool *is_feature)
{
	StringInfoData buf;
	uint64		h;

	initStringInfo(&buf);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!is_feature[i])
			continue;
		appendBinaryStringInfo(&buf, (char *) &att->atttypid, sizeof(Oid));
		appendBinaryStringInfo(&buf, (char *) &att->atttypmod, sizeof(int32));
		appendStringInfoString(&buf, NameStr(att->attname));
		appendStringInfoChar(&buf, '\0');
	}
	h = hash_bytes_extended((unsigned char *) buf.data, buf.len, 0x5eed0003);
	pfree(buf.data);
	return h;
}

/*
 * Hash the source text of a row's feature values (txt[i] NULL for a NULL),
 * seeded with the features' type signature.  What fs_ingest_state keeps.
 */
static void
text_digest(StringInfo buf, uint64 signature, int natts, const bool *is_feature,
			text **txt, uint8 *digest)
{
	uint64		h1;
	uint64		h2;
	int			need = 0;
	char	   *p;

	/*
	 * The bytes hashed: per feature 'n' for a NULL, else 'v', the length and
	 * the text.  Sized first, then copied without a call per piece: this
	 * runs for every row of the source.
	 */
	for (int i = 0; i < natts; i++)
		if (is_feature[i])
			need += 1 + (txt[i] == NULL ? 0 : sizeof(uint32) + VARSIZE_ANY_EXHDR(txt[i]));
	resetStringInfo(buf);
	enlargeStringInfo(buf, need);
	p = buf->data;
	for (int i = 0; i < natts; i++)
	{
		uint32		len;

		if (!is_feature[i])
			continue;
		if (txt[i] == NULL)
		{
			*p++ = 'n';
			continue;
		}
		len = VARSIZE_ANY_EXHDR(txt[i]);
		*p++ = 'v';
		memcpy(p, &len, sizeof(len));
		p += sizeof(len);
		memcpy(p, VARDATA_ANY(txt[i]), len);
		p += len;
	}
	buf->len = need;
	h1 = hash_bytes_extended((unsigned char *) buf->data, buf->len, signature ^ 0x5eed0001);
	h2 = hash_bytes_extended((unsigned char *) buf->data, buf->len, signature ^ 0x5eed0002);
	memcpy(digest, &h1, sizeof(h1));
	memcpy(digest + sizeof(h1), &h2, sizeof(h2));
}

static FsKeptPlan reject_plan;
static FsKeptPlan legacy_reject_plan;

/* A reject's statement and arguments, for insert_reject as the table's owner. */
typedef struct RejectWrite
{
	SPIPlanPtr	plan;
	Datum	   *values;
	char	   *nulls;
} RejectWrite;

static void
insert_reject(void *arg)
{
	RejectWrite *rw = arg;
	int			rc;

	rc = SPI_execute_plan(rw->plan, rw->values, rw->nulls, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not record a rejected row: %s", SPI_result_code_string(rc));
}

/*
 * Record a rejected value in fs_ingest_rejects (SPI connected), as the
 * table's owner: the step of the run checked with fs_ingest_check_run that
 * the run is the caller's.  source_row is the row's ordinal in the source
 * (0: unknown, stored as NULL); a table of 0.1.0, not yet updated, has no
 * column for it.
 */
void
fs_ingest_reject(Oid schema, int64 run_id, const char *entity_id,
				 const char *column, const char *raw, const char *reason,
				 int64 source_row)
{
	Oid			argtypes[6] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	RejectWrite rw;
	Oid			table = get_relname_relid("fs_ingest_rejects", schema);
	MemoryContext cxt = CurrentMemoryContext;

	values[0] = Int64GetDatum(run_id);
	values[1] = entity_id ? CStringGetTextDatum(entity_id) : (Datum) 0;
	nulls[1] = entity_id ? ' ' : 'n';
	values[2] = column ? CStringGetTextDatum(column) : (Datum) 0;
	nulls[2] = column ? ' ' : 'n';
	values[3] = raw ? CStringGetTextDatum(raw) : (Datum) 0;
	nulls[3] = raw ? ' ' : 'n';
	values[4] = CStringGetTextDatum(reason);
	values[5] = Int64GetDatum(source_row);
	nulls[5] = source_row > 0 ? ' ' : 'n';
	if (!OidIsValid(table))
		elog(ERROR, "table fs_ingest_rejects of extension feature_store is missing");
	if (get_attnum(table, "source_row") != InvalidAttrNumber)
		rw.plan = fs_schema_plan(&reject_plan, schema,
								 "INSERT INTO @extschema@.fs_ingest_rejects "
								 "(run_id, entity_id, \"column\", raw_value, reason, source_row) "
								 "VALUES ($1, $2, $3, $4, $5, $6)",
								 6, argtypes);
	else
		rw.plan = fs_schema_plan(&legacy_reject_plan, schema,
								 "INSERT INTO @extschema@.fs_ingest_rejects "
								 "(run_id, entity_id, \"column\", raw_value, reason) "
								 "VALUES ($1, $2, $3, $4, $5)",
								 5, argtypes);
	rw.values = values;
	rw.nulls = nulls;
	fs_run_as_owner(table, insert_reject, &rw);
	/* SPI leaves its procedure's context current: back to the row's. */
	MemoryContextSwitchTo(cxt);
}

/*
 * How many rows a relation has, as the planner would estimate it: its
 * statistics, or, never analyzed (as right after COPY), its size and the
 * width of its columns; for a relation without storage (a view, a foreign
 * table such as file_fdw's, a partitioned table), the rows the plan of a
 * query over it expects (SPI connected).
 */
static double
expected_rows(Oid relid)
{
	Relation	rel = relation_open(relid, AccessShareLock);
	BlockNumber pages = 0;
	double		tuples = 0;
	double		allvisfrac;
	/* A table with inheritance children: the plan counts theirs too. */
	bool		has_storage = RELKIND_HAS_TABLE_AM(rel->rd_rel->relkind) &&
		!rel->rd_rel->relhassubclass;

	if (has_storage)
		estimate_rel_size(rel, NULL, &pages, &tuples, &allvisfrac);
	relation_close(rel, AccessShareLock);
	if (!has_storage)
	{
		char	   *plan;
		char	   *rows;

		if (SPI_execute(psprintf("EXPLAIN (FORMAT JSON) SELECT * FROM %s",
								 quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
															get_rel_name(relid))),
						false, 0) != SPI_OK_UTILITY || SPI_processed != 1)
			return 0;
		plan = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		rows = plan ? strstr(plan, "\"Plan Rows\": ") : NULL;
		if (rows != NULL)
			tuples = strtod(rows + strlen("\"Plan Rows\": "), NULL);
	}
	return Max(tuples, 0.0);
}


/*-------------------------------------------------------------------------
 * Deferred writes (a parallel run)
 *-------------------------------------------------------------------------
 */

/* Start a deferred write, or a message of the worker's, of kind. */
static void
msg_begin(SilverRun *sr, char kind)
{
	resetStringInfo(&sr->msg);
	appendStringInfoChar(&sr->msg, kind);
}

static void
msg_add(SilverRun *sr, const void *data, int len)
{
	appendBinaryStringInfo(&sr->msg, data, len);
}

static void
msg_add_text(SilverRun *sr, const char *data, int len)
{
	int32		n = data == NULL ? -1 : len;

	msg_add(sr, &n, sizeof(n));
	if (data != NULL)
		msg_add(sr, data, len);
}

/* Append a deferred write to the leader's wlog: its length, then itself. */
static void
wlog_append(SilverRun *sr, const char *data, Size len)
{
	uint32		n = (uint32) len;

	if (sr->wlog == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(sr->fncxt);
		ResourceOwner oldowner = CurrentResourceOwner;

		/* The run's: it outlives the subtransaction of a parallel read. */
		CurrentResourceOwner = sr->owner;
		sr->wlog = BufFileCreateTemp(false);
		CurrentResourceOwner = oldowner;
		MemoryContextSwitchTo(old);
	}
	BufFileWrite(sr->wlog, &n, sizeof(n));
	BufFileWrite(sr->wlog, (void *) data, len);
}

/* The message built: to the leader from the worker, else into wlog. */
static void
msg_end(SilverRun *sr)
{
	if (sr->worker)
		fs_silver_channel_send(sr->msg.data, sr->msg.len);
	else
		wlog_append(sr, sr->msg.data, sr->msg.len);
}

/* Defer a write of state rows: kind, one or two hashes or a time, entity. */
static void
defer_state(SilverRun *sr, char kind, Datum entity, Datum hash, Datum more)
{
	text	   *t = DatumGetTextPP(entity);
	int32		h = DatumGetInt32(hash);

	msg_begin(sr, kind);
	msg_add(sr, &h, sizeof(h));
	if (kind == MSG_STATE_FIX)
	{
		int32		h2 = DatumGetInt32(more);

		msg_add(sr, &h2, sizeof(h2));
	}
	else if (kind == MSG_STATE_ADVANCE)
	{
		TimestampTz ts = DatumGetTimestampTz(more);

		msg_add(sr, &ts, sizeof(ts));
	}
	msg_add_text(sr, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	msg_end(sr);
}

/* Forget entities of the state, now or (deferred) later. */
static void
state_delete(SilverRun *sr, Datum *entities, Datum *hashes, int n)
{
	if (!sr->deferred)
	{
		fs_state_delete(sr->schema, sr->view, entities, hashes, n);
		return;
	}
	for (int i = 0; i < n; i++)
		defer_state(sr, MSG_STATE_DROP, entities[i], hashes[i], (Datum) 0);
}

/* Record a rejected value, now or (deferred) later. */
static void
reject(SilverRun *sr, const char *entity_id, const char *column, const char *raw,
	   const char *reason, int64 row)
{
	if (!sr->deferred)
	{
		fs_ingest_reject(sr->schema, sr->run_id, entity_id, column, raw, reason, row);
		return;
	}
	msg_begin(sr, MSG_REJECT);
	msg_add(sr, &row, sizeof(row));
	msg_add_text(sr, entity_id, entity_id ? strlen(entity_id) : 0);
	msg_add_text(sr, column, column ? strlen(column) : 0);
	msg_add_text(sr, raw, raw ? strlen(raw) : 0);
	msg_add_text(sr, reason, strlen(reason));
	msg_end(sr);
}

/* What load_state puts right in a batch of state rows. */
typedef struct StateFixes
{
	Datum	   *drop_entities;
	Datum	   *drop_hashes;
	Datum	   *fix_entities;
	Datum	   *fix_old;
	Datum	   *fix_new;
	int			ndrop;
	int			nfix;
} StateFixes;

static void
state_fixes_init(StateFixes *f, int n)
{
	f->drop_entities = palloc(sizeof(Datum) * n);
	f->drop_hashes = palloc(sizeof(Datum) * n);
	f->fix_entities = palloc(sizeof(Datum) * n);
	f->fix_old = palloc(sizeof(Datum) * n);
	f->fix_new = palloc(sizeof(Datum) * n);
	f->ndrop = f->nfix = 0;
}

static void
state_fixes_apply(SilverRun *sr, StateFixes *f)
{
	state_delete(sr, f->drop_entities, f->drop_hashes, f->ndrop);
	if (!sr->deferred)
		fs_state_rehash(sr->schema, sr->view, f->fix_entities, f->fix_old, f->fix_new, f->nfix,
						true);
	else
		for (int i = 0; i < f->nfix; i++)
			defer_state(sr, MSG_STATE_FIX, f->fix_entities[i], f->fix_old[i], f->fix_new[i]);
}

/*
 * One state row of an entity of the part in memory: its entry, or, for a
 * second row of one entity, a row to drop; a wrong entity_hash is a row to
 * fix.  entity is its entity_id (text), key its value, hash the key's.
 */
static void
state_row(SilverRun *sr, StateFixes *f, Datum entity, Datum key, int32 hash,
		  int32 stored_hash, const char *digest, int digest_len, bool ts_null,
		  TimestampTz ts)
{
	EntityEntry *e;
	bool		found;

	e = entities_insert_hash(sr->entities, key, (uint32) hash, &found);
	if (found)
	{
		/*
		 * A second row of the entity: dropped, unless it has the right hash
		 * and the first one is to get it.  That one's rehash then finds this
		 * row and drops itself instead (fs_state_rehash), whichever batch
		 * each is in, so that one row stays.
		 */
		if (!(e->rehashed && stored_hash == hash))
		{
			f->drop_entities[f->ndrop] = entity;
			f->drop_hashes[f->ndrop++] = Int32GetDatum(stored_hash);
		}
		e->digest_known = false;
		if (!ts_null && (!e->state_has_time || ts > e->state_time))
		{
			e->state_has_time = true;
			e->state_time = ts;
		}
		return;
	}
	e->key = fs_key_copy(&sr->key_type, key, sr->keycxt);
	/* A text key is its own text form: one copy for both. */
	if (sr->key_is_text)
		e->entity = e->key;
	else
	{
		MemoryContext kold = MemoryContextSwitchTo(sr->keycxt);

		e->entity = datumCopy(entity, false, -1);
		MemoryContextSwitchTo(kold);
	}
	e->hash = hash;
	e->has_state = true;
	e->digest_known = (hash == stored_hash);
	e->seen = false;
	e->named = false;
	memset(e->state_digest, 0, FS_DIGEST_LEN);
	if (digest_len == FS_DIGEST_LEN)
		memcpy(e->state_digest, digest, FS_DIGEST_LEN);
	else
		e->digest_known = false;
	e->state_has_time = !ts_null;
	e->state_time = ts_null ? 0 : ts;
	e->rehashed = hash != stored_hash;
	if (hash != stored_hash)
	{
		f->fix_entities[f->nfix] = entity;
		f->fix_old[f->nfix] = Int32GetDatum(stored_hash);
		f->fix_new[f->nfix++] = Int32GetDatum(hash);
	}
}

/*
 * The file of part p of a side, created when first needed, in the run's
 * memory (rows are handled in a context reset after each) and of the run's
 * resource owner (not a cursor's portal's, nor the subtransaction's of a
 * parallel read).
 */
static BufFile *
spill_file(SilverRun *sr, BufFile **files, int p)
{
	if (files[p] == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(sr->fncxt);
		ResourceOwner oldowner = CurrentResourceOwner;

		CurrentResourceOwner = sr->owner;
		files[p] = BufFileCreateTemp(false);
		CurrentResourceOwner = oldowner;
		MemoryContextSwitchTo(old);
	}
	return files[p];
}

/* A state row of another part in its file; its entity_id's bytes follow. */
typedef struct SpilledState
{
	TimestampTz event_time;
	int32		stored_hash;	/* its entity_hash as stored */
	uint32		entity_len;
	bool		has_time;
	uint8		digest_len;		/* FS_DIGEST_LEN, or 0: not a digest */
	uint8		digest[FS_DIGEST_LEN];
} SpilledState;

/* Write a state row of another part to its file. */
static void
spill_state(SilverRun *sr, int p, int32 stored_hash, bytea *digest, bool ts_null,
			TimestampTz ts, text *entity)
{
	BufFile    *f = spill_file(sr, sr->state_spill, p);
	SpilledState st;

	memset(&st, 0, sizeof(st));
	st.event_time = ts;
	st.stored_hash = stored_hash;
	st.entity_len = VARSIZE_ANY_EXHDR(entity);
	st.has_time = !ts_null;
	if (VARSIZE_ANY_EXHDR(digest) == FS_DIGEST_LEN)
	{
		st.digest_len = FS_DIGEST_LEN;
		memcpy(st.digest, VARDATA_ANY(digest), FS_DIGEST_LEN);
	}
	BufFileWrite(f, &st, sizeof(st));
	BufFileWrite(f, VARDATA_ANY(entity), st.entity_len);
}

/* Read exactly len bytes of a spill file; false at its end. */
static bool
spill_read(BufFile *f, void *ptr, size_t len, bool at_record_start)
{
	size_t		got = BufFileRead(f, ptr, len);

	if (got == len)
		return true;
	if (got == 0 && at_record_start)
		return false;
	ereport(ERROR,
			(errcode_for_file_access(),
			 errmsg("could not read fs_ingest's temporary file: read only %zu of %zu bytes",
					got, len)));
	return false;
}

/* Back to the start of a spill file, to read it. */
static void
spill_rewind(BufFile *f)
{
	if (BufFileSeek(f, 0, 0, SEEK_SET) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not rewind fs_ingest's temporary file")));
}

/*
 * Load the view's rows of fs_ingest_state into the hash table of entities,
 * and put right what the state holds wrongly: a row whose entity_id is no
 * key of the view's type (its type changed) is deleted; so is a second row
 * of one entity (written by text before 0.2.0); a row whose entity_hash is
 * not its key's (collation rules changed, a restore elsewhere) gets the
 * right one.  The digest of the entity of those last two cannot be trusted
 * (a direct write may have missed the row): the entity is compared afresh.
 * Rows of entities of another part go to that part's file, and are put
 * right when it is loaded (reload_state).
 */
static void
load_state(SilverRun *sr)
{
	Oid			argtypes[2] = {TEXTOID, BOOLOID};
	Datum		args[2];
	Portal		portal;
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "fs_ingest state rows",
											  ALLOCSET_DEFAULT_SIZES);

	/*
	 * Each process of a parallel run reads the state rows of its half by
	 * their stored entity_hash (the upper half: negative), which is their
	 * key's hash unless something changed it.
	 */
	args[0] = CStringGetTextDatum(sr->view);
	args[1] = BoolGetDatum(sr->worker);
	portal = SPI_cursor_open_with_args(NULL,
									   psprintf("SELECT entity_id, digest, event_time, %s "
												"FROM %s.fs_ingest_state "
												"WHERE feature_view OPERATOR(pg_catalog.=) $1%s",
												sr->hashed ? "entity_hash" : "NULL::pg_catalog.int4",
												quote_identifier(get_namespace_name(sr->schema)),
												halved(sr)
												? " AND (entity_hash OPERATOR(pg_catalog.<) 0) OPERATOR(pg_catalog.=) $2"
												: ""),
									   halved(sr) ? 2 : 1, argtypes, args, NULL, true, 0);
	for (;;)
	{
		SPITupleTable *tuptable;
		uint64		n;
		MemoryContext old;
		char	  **texts;
		Datum	   *keys;
		bool	   *ok;
		StateFixes	fixes;

		SPI_cursor_fetch(portal, true, FETCH_ROWS);
		tuptable = SPI_tuptable;
		n = SPI_processed;
		if (n == 0)
			break;
		MemoryContextReset(cxt);
		old = MemoryContextSwitchTo(cxt);
		texts = palloc(sizeof(char *) * n);
		keys = palloc(sizeof(Datum) * n);
		ok = palloc(sizeof(bool) * n);
		state_fixes_init(&fixes, (int) n);
		for (uint64 r = 0; r < n; r++)
			texts[r] = SPI_getvalue(tuptable->vals[r], tuptable->tupdesc, 1);
		fs_key_read(&sr->key_type, texts, (int) n, keys, ok);
		for (uint64 r = 0; r < n; r++)
		{
			HeapTuple	tup = tuptable->vals[r];
			TupleDesc	td = tuptable->tupdesc;
			bool		isnull;
			Datum		entity = SPI_getbinval(tup, td, 1, &isnull);
			bytea	   *digest = DatumGetByteaPP(SPI_getbinval(tup, td, 2, &isnull));
			Datum		ts = SPI_getbinval(tup, td, 3, &isnull);
			bool		ts_null = isnull;
			Datum		h = SPI_getbinval(tup, td, 4, &isnull);
			int32		stored_hash = isnull ? 0 : DatumGetInt32(h);
			int32		hash;
			int			p;

			if (!ok[r])
			{
				fixes.drop_entities[fixes.ndrop] = entity;
				fixes.drop_hashes[fixes.ndrop++] = Int32GetDatum(stored_hash);
				continue;
			}
			hash = fs_key_hash(&sr->key_type, keys[r]);
			if (!sr->hashed)
				stored_hash = hash; /* 0.1.0's rows are trusted as 0.1.0 did */
			p = part_of(sr, (uint32) hash);
			if (p < sr->first_part || p >= sr->end_part)
				ereport(ERROR,
						(errcode(ERRCODE_FS_STATE_MISPLACED),
						 errmsg("fs_ingest run %lld: a state row's entity_hash is not its key's",
								(long long) sr->run_id)));
			if (p != sr->cur_part)
			{
				spill_state(sr, p, stored_hash, digest, ts_null,
							ts_null ? 0 : DatumGetTimestampTz(ts), DatumGetTextPP(entity));
				continue;
			}
			state_row(sr, &fixes, entity, keys[r], hash, stored_hash, VARDATA_ANY(digest),
					  VARSIZE_ANY_EXHDR(digest), ts_null, ts_null ? 0 : DatumGetTimestampTz(ts));
		}
		state_fixes_apply(sr, &fixes);
		MemoryContextSwitchTo(old);
		SPI_freetuptable(tuptable);
		poll_worker(sr, false);
	}
	SPI_cursor_close(portal);
	MemoryContextDelete(cxt);
}

/* Load the state rows of part p, which load_state wrote to its file. */
static void
reload_state(SilverRun *sr, int p)
{
	BufFile    *f = sr->state_spill[p];
	MemoryContext cxt;
	bool		more = true;

	if (f == NULL)
		return;
	spill_rewind(f);
	cxt = AllocSetContextCreate(CurrentMemoryContext, "fs_ingest state rows",
								ALLOCSET_DEFAULT_SIZES);
	while (more)
	{
		MemoryContext old;
		SpilledState *rows;
		char	  **texts;
		Datum	   *entities;
		Datum	   *keys;
		bool	   *ok;
		StateFixes	fixes;
		int			n = 0;

		MemoryContextReset(cxt);
		old = MemoryContextSwitchTo(cxt);
		rows = palloc(sizeof(SpilledState) * FETCH_ROWS);
		texts = palloc(sizeof(char *) * FETCH_ROWS);
		entities = palloc(sizeof(Datum) * FETCH_ROWS);
		keys = palloc(sizeof(Datum) * FETCH_ROWS);
		ok = palloc(sizeof(bool) * FETCH_ROWS);
		state_fixes_init(&fixes, FETCH_ROWS);
		while (n < FETCH_ROWS)
		{
			text	   *entity;

			if (!spill_read(f, &rows[n], sizeof(SpilledState), true))
			{
				more = false;
				break;
			}
			entity = palloc(VARHDRSZ + rows[n].entity_len);
			SET_VARSIZE(entity, VARHDRSZ + rows[n].entity_len);
			spill_read(f, VARDATA(entity), rows[n].entity_len, false);
			entities[n] = PointerGetDatum(entity);
			texts[n] = text_to_cstring(entity);
			n++;
		}
		fs_key_read(&sr->key_type, texts, n, keys, ok);
		for (int r = 0; r < n; r++)
		{
			if (!ok[r])
			{
				fixes.drop_entities[fixes.ndrop] = entities[r];
				fixes.drop_hashes[fixes.ndrop++] = Int32GetDatum(rows[r].stored_hash);
				continue;
			}
			state_row(sr, &fixes, entities[r], keys[r], fs_key_hash(&sr->key_type, keys[r]),
					  rows[r].stored_hash, (const char *) rows[r].digest, rows[r].digest_len,
					  !rows[r].has_time, rows[r].event_time);
		}
		state_fixes_apply(sr, &fixes);
		MemoryContextSwitchTo(old);
		poll_worker(sr, false);
	}
	MemoryContextDelete(cxt);
	BufFileClose(f);
	sr->state_spill[p] = NULL;
}

/*
 * fs_ingest_silver inserts into its tables directly, bypassing permissions,
 * constraints and indexes: only the caller's own scratch tables qualify, as
 * fs_ingest creates them (temporary, plain, no indexes, triggers or rules).
 */
void
fs_ingest_check_scratch_table(Relation rel)
{
	Form_pg_class form = rel->rd_rel;

	if (form->relkind != RELKIND_RELATION ||
		!isTempNamespace(RelationGetNamespace(rel)) ||
		form->relowner != GetUserId() ||
		form->relhasindex || form->relhastriggers || form->relhasrules)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s is not a scratch table of this session",
						RelationGetRelationName(rel)),
				 errdetail("fs_ingest_silver writes only to temporary tables of the current role "
						   "without indexes, triggers or rules; fs_ingest creates them.")));
}

/* Check the type of one of fs_ingest's own columns of a scratch table. */
void
fs_ingest_check_scratch_column(Relation rel, int i, Oid type)
{
	Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), i);

	if (att->atttypid != type)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of %s must be of type %s, not %s",
						NameStr(att->attname), RelationGetRelationName(rel),
						format_type_be(type), format_type_be(att->atttypid))));
}

/* The source's text of column i of the current row, as a C string (made once). */
static inline char *
raw_text(SilverRun *sr, int i)
{
	if (sr->raw[i] == NULL)
		sr->raw[i] = text_to_cstring(sr->txt[i]);
	return sr->raw[i];
}

/*-------------------------------------------------------------------------
 * Column mapping
 *-------------------------------------------------------------------------
 */

/*
 * Map the silver table's columns to the source's, by name: the join key,
 * the event time (which the source may lack: the run's default), fs_row,
 * fs_digest, and the features, each with its input function; and build the
 * query that reads the source, every column as text.
 */
static void
map_columns(SilverRun *sr, Oid source, const char *join_key, const char *ts_column)
{
	StringInfoData query;
	Form_pg_attribute katt;

	sr->desc = RelationGetDescr(sr->rel);
	sr->natts = sr->desc->natts;
	sr->cols = palloc0(sizeof(SilverColumn) * sr->natts);
	sr->is_feature = palloc0(sizeof(bool) * sr->natts);
	sr->key_col = sr->ts_col = sr->row_col = sr->digest_col = sr->entity_col = sr->hash_col = -1;

	initStringInfo(&query);
	appendStringInfoString(&query, "SELECT ");
	for (int i = 0; i < sr->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(sr->desc, i);
		SilverColumn *c = &sr->cols[i];
		Oid			infunc;

		if (att->attisdropped)
			elog(ERROR, "silver table has a dropped column");
		c->name = pstrdup(NameStr(att->attname));
		if (strcmp(c->name, "fs_row") == 0 || strcmp(c->name, "fs_digest") == 0 ||
			strcmp(c->name, "fs_entity") == 0 || strcmp(c->name, "fs_entity_hash") == 0)
		{
			if (strcmp(c->name, "fs_row") == 0)
				sr->row_col = i;
			else if (strcmp(c->name, "fs_digest") == 0)
				sr->digest_col = i;
			else if (strcmp(c->name, "fs_entity") == 0)
				sr->entity_col = i;
			else
				sr->hash_col = i;
			appendStringInfo(&query, "%sNULL", i > 0 ? ", " : "");
			continue;
		}
		if (strcmp(c->name, join_key) == 0)
			sr->key_col = i;
		else if (strcmp(c->name, ts_column) == 0)
			sr->ts_col = i;
		else
			sr->is_feature[i] = true;
		c->src_attno = get_attnum(source, c->name);
		c->in_source = c->src_attno != InvalidAttrNumber;
		if (!c->in_source && i != sr->ts_col)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("source %s has no column \"%s\"",
							get_rel_name(source), c->name)));
		getTypeInputInfo(att->atttypid, &infunc, &c->ioparam);
		fmgr_info(infunc, &c->input);
		c->typmod = att->atttypmod;
		c->notnull = att->attnotnull;
		c->safe = fs_type_is_builtin(att->atttypid, true);
		c->float8 = att->atttypid == FLOAT8OID;
		if (c->in_source)
			appendStringInfo(&query, "%s%s::pg_catalog.text", i > 0 ? ", " : "",
							 quote_identifier(c->name));
		else
			appendStringInfo(&query, "%sNULL", i > 0 ? ", " : "");
	}
	if (sr->key_col < 0 || sr->ts_col < 0 || sr->row_col < 0 || sr->digest_col < 0 ||
		(sr->hashed && (sr->entity_col < 0 || sr->hash_col < 0)))
		elog(ERROR, "silver table lacks the join key, event-time, fs_row, fs_digest, fs_entity or fs_entity_hash column");
	/* They are written as Datums of these types. */
	fs_ingest_check_scratch_column(sr->rel, sr->row_col, INT8OID);
	fs_ingest_check_scratch_column(sr->rel, sr->digest_col, BYTEAOID);
	if (sr->entity_col >= 0)
		fs_ingest_check_scratch_column(sr->rel, sr->entity_col, TEXTOID);
	if (sr->hash_col >= 0)
		fs_ingest_check_scratch_column(sr->rel, sr->hash_col, INT4OID);
	/* Keys are written as one-column tuples of the key's own type. */
	if (sr->keyrel != NULL &&
		(RelationGetDescr(sr->keyrel)->natts != 1 ||
		 TupleDescAttr(RelationGetDescr(sr->keyrel), 0)->atttypid != TupleDescAttr(sr->desc, sr->key_col)->atttypid ||
		 TupleDescAttr(RelationGetDescr(sr->keyrel), 0)->atttypmod != TupleDescAttr(sr->desc, sr->key_col)->atttypmod))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("key table %s must have exactly one column, of the join key's type",
						RelationGetRelationName(sr->keyrel))));
	appendStringInfo(&query, " FROM %s",
					 quote_qualified_identifier(get_namespace_name(get_rel_namespace(source)),
												get_rel_name(source)));
	sr->query = query.data;

	katt = TupleDescAttr(sr->desc, sr->key_col);
	fs_key_type_init(&sr->key_type, katt->atttypid, katt->atttypmod, katt->attcollation);
	sr->key_is_text = katt->atttypid == TEXTOID;
	sr->signature = type_signature(sr->desc, sr->is_feature);
}

/*-------------------------------------------------------------------------
 * The row loop
 *-------------------------------------------------------------------------
 */

/* Note why column i of the current row is refused (its first reason). */
static inline void
refuse(SilverRun *sr, int i, const char *reason)
{
	if (sr->why[i] != NULL)
		return;
	sr->why[i] = reason;
	sr->nrefused++;
}

/*
 * The value of column i of the current row (sr->txt[i], not NULL) from its
 * source text; false, and why, if its type refuses it.
 */
static bool
convert_value(SilverRun *sr, int i, Datum *value, char **reason)
{
	double		d;

	if (sr->cols[i].float8 &&
		fs_float8_fast(VARDATA_ANY(sr->txt[i]), VARSIZE_ANY_EXHDR(sr->txt[i]), &d))
	{
		*value = Float8GetDatum(d);
		return true;
	}
	return fs_value_input_reason(&sr->cols[i].input, raw_text(sr, i), sr->cols[i].ioparam,
								 sr->cols[i].typmod, sr->cols[i].safe, value, reason);
}

/* Convert column i of the current row from its source text; false if refused. */
static bool
convert_column(SilverRun *sr, int i)
{
	char	   *reason;

	sr->nulls[i] = false;
	if (convert_value(sr, i, &sr->values[i], &reason))
		return true;
	refuse(sr, i, reason);
	return false;
}

/*
 * Convert the current row's key and event time, which find its entity and
 * tell a stale row, and check its NOT NULL features; what is wrong is
 * noted with refuse().  *key_ok says whether the key converted.
 */
static void
convert_key_and_time(SilverRun *sr, bool *key_ok)
{
	int			k = sr->key_col;
	int			t = sr->ts_col;

	if (sr->txt[k] == NULL || VARSIZE_ANY_EXHDR(sr->txt[k]) == 0)
		refuse(sr, k, "missing entity id");
	else
		*key_ok = convert_column(sr, k);

	sr->nulls[t] = false;
	if (!sr->cols[t].in_source)
		sr->values[t] = TimestampTzGetDatum(sr->default_ts);
	else if (sr->txt[t] == NULL)
	{
		sr->nulls[t] = true;
		refuse(sr, t, "missing event time");
	}
	else if (sr->last_ts_raw != NULL &&
			 VARSIZE_ANY_EXHDR(sr->txt[t]) == VARSIZE_ANY_EXHDR(sr->last_ts_raw) &&
			 memcmp(VARDATA_ANY(sr->txt[t]), VARDATA_ANY(sr->last_ts_raw),
					VARSIZE_ANY_EXHDR(sr->last_ts_raw)) == 0)
		sr->values[t] = TimestampTzGetDatum(sr->last_ts);	/* as the row before */
	else if (convert_column(sr, t))
	{
		sr->last_ts = DatumGetTimestampTz(sr->values[t]);
		if (sr->last_ts_raw)
			pfree(sr->last_ts_raw);
		sr->last_ts_raw = (text *) MemoryContextAlloc(sr->fncxt, VARSIZE_ANY(sr->txt[t]));
		memcpy(sr->last_ts_raw, sr->txt[t], VARSIZE_ANY(sr->txt[t]));
	}
	/* As every lane: a value at infinity would make every later write stale. */
	if (sr->why[t] == NULL && TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(sr->values[t])))
		refuse(sr, t, "event time must be finite");

	for (int i = 0; i < sr->natts; i++)
		if (sr->is_feature[i] && sr->txt[i] == NULL && sr->cols[i].notnull)
			refuse(sr, i, "null value in a NOT NULL column");
}

/*
 * Convert every feature of the current row, noting each one refused: a
 * reject lists every bad value of its row, not the first only.
 */
static void
convert_features(SilverRun *sr)
{
	for (int i = 0; i < sr->natts; i++)
	{
		if (!sr->is_feature[i])
			continue;
		if (sr->txt[i] == NULL)
		{
			sr->values[i] = (Datum) 0;
			sr->nulls[i] = true;
			continue;
		}
		(void) convert_column(sr, i);
	}
}

/* Add the current row's key to the seen keys of a snapshot. */
static void
note_seen_key(SilverRun *sr)
{
	bool		keynull = false;
	Datum		key = sr->values[sr->key_col];

	if (sr->worker)
	{
		msg_begin(sr, MSG_KEY);
		if (sr->key_type.typbyval)
			msg_add(sr, &key, sizeof(Datum));
		else
			msg_add(sr, DatumGetPointer(key), datumGetSize(key, false, sr->key_type.typlen));
		msg_end(sr);
		return;
	}
	heap_insert(sr->keyrel, heap_form_tuple(RelationGetDescr(sr->keyrel), &key, &keynull),
				sr->cid, 0, sr->keybistate);
}

/* Note a silver row that a newer row of its entity superseded. */
static void
add_loser(SilverRun *sr, int64 row)
{
	if (sr->nlosers == sr->maxlosers)
	{
		sr->maxlosers = sr->maxlosers ? sr->maxlosers * 2 : 64;
		sr->losers = sr->losers
			? repalloc(sr->losers, sizeof(int64) * sr->maxlosers)
			: MemoryContextAlloc(sr->fncxt, sizeof(int64) * sr->maxlosers);
	}
	sr->losers[sr->nlosers++] = row;
}

/*
 * Keep the current row as its entity's newest (on a tie, the later row
 * wins), or count it as superseded; a kept row that changed goes into the
 * silver table.
 */
static void
keep_row(SilverRun *sr, EntityEntry *entry, const uint8 *digest)
{
	TimestampTz ts = DatumGetTimestampTz(sr->values[sr->ts_col]);

	if (!entry->seen)
	{
		entry->seen = true;
		entry->named = true;
		if (sr->keyrel)
			note_seen_key(sr);
	}
	else
	{
		sr->rows_superseded++;
		if (ts < entry->event_time)
			return;
		if (entry->class == 'w')
			add_loser(sr, entry->row);
	}
	entry->class = classify(entry, ts, digest);
	entry->event_time = ts;
	entry->row = sr->cur_row;

	/* Only what changed goes on to be written, with the state it is kept under. */
	if (entry->class == 'w' && sr->entity_col >= 0)
	{
		if (entry->entity == (Datum) 0)
		{
			MemoryContext old = MemoryContextSwitchTo(sr->keycxt);

			entry->entity = sr->key_is_text ? entry->key
				: CStringGetTextDatum(OutputFunctionCall(&sr->key_type.output, entry->key));
			MemoryContextSwitchTo(old);
		}
		sr->values[sr->entity_col] = entry->entity;
		sr->nulls[sr->entity_col] = false;
		sr->values[sr->hash_col] = Int32GetDatum((int32) entry->hash);
		sr->nulls[sr->hash_col] = false;
	}
	if (entry->class == 'w')
	{
		HeapTuple	tup = heap_form_tuple(sr->desc, sr->values, sr->nulls);

		if (sr->worker)
		{
			msg_begin(sr, MSG_SILVER);
			msg_add(sr, tup->t_data, tup->t_len);
			msg_end(sr);
		}
		else
			heap_insert(sr->rel, tup, sr->cid, 0, sr->bistate);
	}
}

/*
 * Write a source row of another part to its file: its kind, its ordinal in
 * the source and the tuple as read.
 */
static void
spill_source(SilverRun *sr, int p, char kind, HeapTuple tup, TupleDesc desc)
{
	BufFile    *f = spill_file(sr, sr->source_spill, p);
	uint32		len;

	if (tup == NULL)
		tup = heap_form_tuple(desc, sr->srcvalues, sr->srcnulls);
	len = tup->t_len;

	BufFileWrite(f, &kind, 1);
	BufFileWrite(f, &sr->cur_row, sizeof(sr->cur_row));
	BufFileWrite(f, &len, sizeof(len));
	BufFileWrite(f, tup->t_data, len);
}

/*
 * Whether a row of another part goes to its file as a reference: the
 * source is read from its heap, and the first part's rows so far were
 * mostly unchanged.
 */
static inline bool
spill_as_ref(SilverRun *sr)
{
	return sr->direct && sr->cur_part == sr->first_part &&
		(sr->first_rows < REF_PROBE_ROWS ||
		 sr->first_changed <= REF_MAX_CHANGED * sr->first_rows);
}

/*
 * Write a row of another part to its file as a reference: its ordinal, its
 * place in the heap, its hash, event time and digest, and its key's bytes.
 */
static void
spill_ref(SilverRun *sr, int p, HeapTuple tup, int32 hash, const uint8 *digest)
{
	BufFile    *f = spill_file(sr, sr->source_spill, p);
	char		rec[1 + sizeof(SpilledRef)];
	SpilledRef	ref;
	Datum		key = sr->values[sr->key_col];

	ref.row = sr->cur_row;
	ref.event_time = DatumGetTimestampTz(sr->values[sr->ts_col]);
	ref.tid = tup->t_self;
	ref.hash = hash;
	ref.keylen = sr->key_type.typbyval ? sizeof(Datum)
		: (uint32) datumGetSize(key, false, sr->key_type.typlen);
	memcpy(ref.digest, digest, FS_DIGEST_LEN);
	rec[0] = SPILL_REF;
	memcpy(rec + 1, &ref, sizeof(ref));
	BufFileWrite(f, rec, sizeof(rec));
	BufFileWrite(f, sr->key_type.typbyval ? (void *) &key : DatumGetPointer(key), ref.keylen);
}

/*
 * One source row: convert it, find its entity, compare, and keep it or
 * reject it.  Change detection works on the source's text: a row whose
 * features are written exactly as in the last write of its entity (with
 * the same column types) was valid then and has the same values now, so its
 * features are not converted again.  A row of an entity of another part
 * goes to that part's file, once its key and event time are known to be
 * valid: a row they make a reject is rejected now, and the entity of a
 * snapshot's rejected row is noted in its part's file (kind SPILL_NAMED).
 * tup is the row as read, of tupdesc; NULL: the row is in sr->srcvalues and
 * sr->srcnulls already (as the executor handed it over), and becomes a tuple
 * only if it goes to a file.
 */
static void
silver_row(SilverRun *sr, HeapTuple tup, TupleDesc tupdesc, char kind)
{
	uint8	   *digest = (uint8 *) VARDATA(sr->digest_datum);
	bool		key_ok = false;
	EntityEntry *entry = NULL;

	if (tup != NULL)
		heap_deform_tuple(tup, tupdesc, sr->srcvalues, sr->srcnulls);
	for (int i = 0; i < sr->natts; i++)
	{
		AttrNumber	a = sr->row_attno[i];

		sr->values[i] = a > 0 ? sr->srcvalues[a - 1] : (Datum) 0;
		sr->nulls[i] = a > 0 ? sr->srcnulls[a - 1] : true;
		sr->txt[i] = sr->nulls[i] ? NULL
			: (text *) pg_detoast_datum_packed((struct varlena *) DatumGetPointer(sr->values[i]));
		sr->raw[i] = NULL;
	}
	if (kind == SPILL_NAMED)
	{
		/* The entity of a rejected row of a snapshot, noted already. */
		if (convert_column(sr, sr->key_col))
		{
			entry = entities_lookup(sr->entities, sr->values[sr->key_col]);
			if (entry != NULL)
				entry->named = true;
		}
		sr->why[sr->key_col] = NULL;
		sr->nrefused = 0;
		return;
	}
	sr->values[sr->row_col] = Int64GetDatum(sr->cur_row);
	sr->nulls[sr->row_col] = false;
	sr->values[sr->digest_col] = PointerGetDatum(sr->digest_datum);
	sr->nulls[sr->digest_col] = false;

	convert_key_and_time(sr, &key_ok);
	if (sr->nrefused == 0)
	{
		Datum		key = sr->values[sr->key_col];
		int32		hash;
		int			p;
		bool		found;

		hash = fs_key_hash(&sr->key_type, key);
		p = part_of(sr, (uint32) hash);
		if (p < sr->first_part || p >= sr->end_part)
			elog(ERROR, "fs_ingest: row " INT64_FORMAT " is of the other process's entities",
				 sr->cur_row);
		if (p != sr->cur_part)
		{
			if (tup != NULL && spill_as_ref(sr))
			{
				text_digest(&sr->digestbuf, sr->signature, sr->natts, sr->is_feature, sr->txt, digest);
				spill_ref(sr, p, tup, hash, digest);
			}
			else
				spill_source(sr, p, SPILL_ROW, tup, tupdesc);
			return;
		}
		text_digest(&sr->digestbuf, sr->signature, sr->natts, sr->is_feature, sr->txt, digest);
		entry = entities_insert_hash(sr->entities, key, (uint32) hash, &found);
		if (!found)
		{
			entry->key = fs_key_copy(&sr->key_type, key, sr->keycxt);
			entry->entity = (Datum) 0;
			entry->hash = hash;
			entry->has_state = false;
			entry->digest_known = false;
			entry->seen = false;
			entry->named = false;
			entry->rehashed = false;
		}
		if (sr->cur_part == sr->first_part)
			sr->first_rows++;
		if (!entry->has_state || !entry->digest_known ||
			memcmp(entry->state_digest, digest, FS_DIGEST_LEN) != 0)
		{
			if (sr->cur_part == sr->first_part)
				sr->first_changed++;
			convert_features(sr);
		}
	}
	else
		convert_features(sr);	/* a rejected row's every bad value */

	if (sr->nrefused > 0)
	{
		/* One reject per refused value, in column order; the row counts once. */
		sr->rows_rejected++;
		for (int i = 0; i < sr->natts; i++)
		{
			if (sr->why[i] == NULL)
				continue;
			reject(sr, sr->txt[sr->key_col] ? raw_text(sr, sr->key_col) : NULL,
				   sr->cols[i].name, sr->txt[i] ? raw_text(sr, i) : NULL, sr->why[i],
				   sr->cur_row);
			sr->why[i] = NULL;
		}
		sr->nrefused = 0;
		/* A snapshot keeps the entity of a rejected row whose key is valid. */
		if (sr->keyrel != NULL && key_ok)
		{
			Datum		key = sr->values[sr->key_col];
			uint32		hash = (uint32) fs_key_hash(&sr->key_type, key);

			note_seen_key(sr);
			if (part_of(sr, hash) != sr->cur_part)
				spill_source(sr, part_of(sr, hash), SPILL_NAMED, tup, tupdesc);
			else
			{
				if (entry == NULL)
					entry = entities_lookup(sr->entities, key);
				if (entry != NULL)
					entry->named = true;
			}
		}
		return;
	}
	keep_row(sr, entry, digest);
}

/*-------------------------------------------------------------------------
 * After the loop
 *-------------------------------------------------------------------------
 */

/* Delete the silver rows a newer row of the same entity superseded. */
static void
drop_superseded(SilverRun *sr)
{
	Datum	   *elems;
	Oid			argtypes[1] = {INT8ARRAYOID};
	Datum		args[1];
	int			rc;

	if (sr->nlosers == 0)
		return;
	elems = palloc(sizeof(Datum) * sr->nlosers);
	for (int i = 0; i < sr->nlosers; i++)
		elems[i] = Int64GetDatum(sr->losers[i]);
	args[0] = PointerGetDatum(construct_array(elems, sr->nlosers, INT8OID, 8,
											  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	CommandCounterIncrement();
	rc = SPI_execute_with_args(psprintf("DELETE FROM %s WHERE fs_row OPERATOR(pg_catalog.=) ANY ($1)",
										quote_qualified_identifier(get_namespace_name(RelationGetNamespace(sr->rel)),
																   RelationGetRelationName(sr->rel))),
							   1, argtypes, args, NULL, false, 0);
	if (rc != SPI_OK_DELETE)
		elog(ERROR, "could not remove superseded rows: %s", SPI_result_code_string(rc));
}

/*
 * Count the kept rows by their fate.  An unchanged row with a newer event
 * time is not written, but its state's time advances, so that a later row
 * older than it is stale and never replaces the newer values.
 */
static void
count_kept(SilverRun *sr)
{
	entities_iterator it;
	EntityEntry *entry;
	int			nadv = 0;
	int			maxadv = 0;
	Datum	   *adv_keys = NULL;
	Datum	   *adv_hashes = NULL;
	Datum	   *adv_times = NULL;

	entities_start_iterate(sr->entities, &it);
	while ((entry = entities_iterate(sr->entities, &it)) != NULL)
	{
		if (!entry->seen)
			continue;
		sr->counts[entry->class == 's' ? 0 : entry->class == 'u' ? 1 : 2]++;
		if (entry->class == 'u' &&
			(!entry->state_has_time || entry->state_time < entry->event_time))
		{
			if (nadv == maxadv)
			{
				maxadv = maxadv ? maxadv * 2 : 64;
				adv_keys = adv_keys ? repalloc(adv_keys, sizeof(Datum) * maxadv)
					: MemoryContextAlloc(sr->fncxt, sizeof(Datum) * maxadv);
				adv_hashes = adv_hashes ? repalloc(adv_hashes, sizeof(Datum) * maxadv)
					: MemoryContextAlloc(sr->fncxt, sizeof(Datum) * maxadv);
				adv_times = adv_times ? repalloc(adv_times, sizeof(Datum) * maxadv)
					: MemoryContextAlloc(sr->fncxt, sizeof(Datum) * maxadv);
			}
			adv_keys[nadv] = entry->entity;
			adv_hashes[nadv] = Int32GetDatum((int32) entry->hash);
			adv_times[nadv] = TimestampTzGetDatum(entry->event_time);
			nadv++;
		}
	}
	if (!sr->deferred)
		fs_state_advance_times(sr->schema, sr->view, adv_keys, adv_hashes, adv_times, nadv);
	else
		for (int i = 0; i < nadv; i++)
			defer_state(sr, MSG_STATE_ADVANCE, adv_keys[i], adv_hashes[i], adv_times[i]);
	if (adv_keys != NULL)
	{
		pfree(adv_keys);
		pfree(adv_hashes);
		pfree(adv_times);
	}
}

/*
 * A snapshot into a table: forget the state of the entities the source no
 * longer names (by the key type's equality; a rejected row names its
 * entity too), a chunk at a time.  The table's rows of those entities are
 * deleted after gold, from the seen keys.  On fs_dynamodb the state goes
 * only with the acknowledged deletes (fs_ingest_remote).
 */
static void
forget_absent(SilverRun *sr)
{
	entities_iterator it;
	EntityEntry *entry;
	Datum	   *entities = palloc(sizeof(Datum) * FETCH_ROWS);
	Datum	   *hashes = palloc(sizeof(Datum) * FETCH_ROWS);
	int			n = 0;

	entities_start_iterate(sr->entities, &it);
	while ((entry = entities_iterate(sr->entities, &it)) != NULL)
	{
		if (!entry->has_state || entry->named)
			continue;
		entities[n] = entry->entity;
		hashes[n] = Int32GetDatum((int32) entry->hash);
		if (++n == FETCH_ROWS)
		{
			state_delete(sr, entities, hashes, n);
			n = 0;
		}
	}
	state_delete(sr, entities, hashes, n);
	pfree(entities);
	pfree(hashes);
}

/*
 * Whether to read the source straight from its heap or file instead of
 * through a cursor: a plain heap table without inheritance children (whose
 * rows the cursor's query reads too) and without row-level security, or a
 * foreign table of file_fdw over a file (ingest_file.h), which the caller
 * may read as a whole, whose columns the run reads are text or varchar
 * (their text is their value, as the cursor's ::text would give it).  Else,
 * and for a view or another foreign table, the cursor.  Sets what reading
 * needs either way.
 */
static void
choose_reader(SilverRun *sr, Oid source)
{
	Relation	rel = relation_open(source, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	bool		readable = pg_class_aclcheck(source, GetUserId(), ACL_SELECT) == ACLCHECK_OK;

	sr->direct = rel->rd_rel->relkind == RELKIND_RELATION &&
		rel->rd_rel->relam == HEAP_TABLE_AM_OID &&
		!rel->rd_rel->relhassubclass &&
		!rel->rd_rel->relrowsecurity && readable;
	sr->file = readable && fs_file_source(rel, &sr->file_id);
	for (int i = 0; i < sr->natts && (sr->direct || sr->file); i++)
	{
		Oid			type;

		if (!sr->cols[i].in_source || sr->cols[i].src_attno <= 0)
			continue;
		type = TupleDescAttr(desc, sr->cols[i].src_attno - 1)->atttypid;
		if (type != TEXTOID && type != VARCHAROID)
			sr->direct = sr->file = false;
		else if (sr->file)
			sr->file_columns = lappend(sr->file_columns,
									   makeString(pstrdup(NameStr(TupleDescAttr(desc, sr->cols[i].src_attno - 1)->attname))));
	}
	sr->file_encoding = pg_get_client_encoding();
	sr->row_attno = palloc0(sizeof(AttrNumber) * sr->natts);
	for (int i = 0; i < sr->natts; i++)
	{
		if (!sr->direct && !sr->file)
			sr->row_attno[i] = i + 1;	/* the cursor reads the silver layout */
		else if (sr->cols[i].in_source && i != sr->row_col && i != sr->digest_col &&
				 i != sr->entity_col && i != sr->hash_col)
			sr->row_attno[i] = sr->cols[i].src_attno;
	}
	if (sr->direct || sr->file)
	{
		sr->source_desc = CreateTupleDescCopy(desc);
		sr->srcvalues = palloc(sizeof(Datum) * desc->natts);
		sr->srcnulls = palloc(sizeof(bool) * desc->natts);
	}
	else
	{
		sr->srcvalues = palloc(sizeof(Datum) * sr->natts);
		sr->srcnulls = palloc(sizeof(bool) * sr->natts);
	}
	relation_close(rel, AccessShareLock);
}

/*-------------------------------------------------------------------------
 * A parallel run: the leader's side of the channel
 *-------------------------------------------------------------------------
 */

/* Read a text of a message (msg_add_text): a C string, or NULL. */
static const char *
msg_text(const char **p, int32 *len)
{
	const char *s;

	memcpy(len, *p, sizeof(int32));
	*p += sizeof(int32);
	if (*len < 0)
		return NULL;
	s = *p;
	*p += *len;
	return s;
}

/* Handle one message of the worker's. */
static void
worker_message(SilverRun *sr, const char *data, Size len)
{
	const char *p = data + 1;

	switch (data[0])
	{
		case MSG_SILVER:
			{
				HeapTupleData tup;

				/* heap_insert sets the header: a copy, not the queue's bytes. */
				tup.t_len = len - 1;
				tup.t_data = (HeapTupleHeader) palloc(tup.t_len);
				memcpy(tup.t_data, p, tup.t_len);
				ItemPointerSetInvalid(&tup.t_self);
				tup.t_tableOid = InvalidOid;
				heap_insert(sr->rel, &tup, sr->cid, 0, sr->bistate);
				break;
			}
		case MSG_KEY:
			{
				bool		keynull = false;
				Datum		key;

				if (sr->key_type.typbyval)
					memcpy(&key, p, sizeof(Datum));
				else
				{
					char	   *copy = palloc(len - 1);

					memcpy(copy, p, len - 1);
					key = PointerGetDatum(copy);
				}
				heap_insert(sr->keyrel, heap_form_tuple(RelationGetDescr(sr->keyrel), &key, &keynull),
							sr->cid, 0, sr->keybistate);
				break;
			}
		case MSG_LOSERS:
			for (Size off = 1; off + sizeof(int64) <= len; off += sizeof(int64))
			{
				int64		row;

				memcpy(&row, data + off, sizeof(int64));
				add_loser(sr, row);
			}
			break;
		case MSG_DONE:
			{
				int64		c[6];

				memcpy(c, p, sizeof(c));
				sr->rows_rejected += c[0];
				sr->rows_superseded += c[1];
				for (int i = 0; i < 3; i++)
					sr->counts[i] += c[2 + i];
				sr->worker_rows_read = c[5];
				sr->worker_done = true;
				break;
			}
		case MSG_REJECT:
		case MSG_STATE_DROP:
		case MSG_STATE_FIX:
		case MSG_STATE_ADVANCE:
			wlog_append(sr, data, len);
			break;
		default:
			elog(ERROR, "fs_ingest's parallel worker sent a message of unknown kind %d", data[0]);
	}
}

/*
 * Handle what the worker has sent; with wait, everything until it is done.
 * The rows it kept go into the silver table as they come, so that the
 * queue never holds back the worker for long.
 */
static void
poll_worker(SilverRun *sr, bool wait)
{
	MemoryContext old;

	if (sr->chan == NULL)
		return;
	old = MemoryContextSwitchTo(sr->msgcxt);
	for (;;)
	{
		const char *data;
		Size		len;
		FsSilverReceive r = fs_silver_channel_receive(sr->chan, wait, &data, &len);

		if (r == FS_SILVER_NOTHING)
			break;
		if (r == FS_SILVER_DETACHED)
		{
			/* Raises the worker's error, if it failed. */
			fs_silver_channel_finish(sr->chan);
			sr->chan = NULL;
			if (!sr->worker_done)
				elog(ERROR, "fs_ingest's parallel worker stopped before its end");
			break;
		}
		worker_message(sr, data, len);
		MemoryContextReset(sr->msgcxt);
	}
	MemoryContextSwitchTo(old);
}

/*
 * The deferred writes of both processes, once parallel mode is over, in
 * their order: rejects one at a time, the state's rows in batches.
 */
static void
apply_wlog(SilverRun *sr)
{
	Datum	   *entities;
	Datum	   *a;
	Datum	   *b;
	int			n = 0;
	char		batch = 0;
	char	   *buf = NULL;
	uint32		bufsize = 0;
	MemoryContext cxt;
	MemoryContext old;

	if (sr->wlog == NULL)
		return;
	spill_rewind(sr->wlog);
	cxt = AllocSetContextCreate(CurrentMemoryContext, "fs_ingest deferred writes",
								ALLOCSET_DEFAULT_SIZES);
	entities = palloc(sizeof(Datum) * FETCH_ROWS);
	a = palloc(sizeof(Datum) * FETCH_ROWS);
	b = palloc(sizeof(Datum) * FETCH_ROWS);
	old = MemoryContextSwitchTo(cxt);
	for (;;)
	{
		uint32		len = 0;
		bool		more = spill_read(sr->wlog, &len, sizeof(len), true);
		const char *p;

		if (more)
		{
			if (len > bufsize)
			{
				bufsize = Max(len, 2 * bufsize);
				buf = buf ? repalloc(buf, bufsize) : MemoryContextAlloc(sr->fncxt, bufsize);
			}
			spill_read(sr->wlog, buf, len, false);
		}
		/* A batch of state rows ends with another kind, when full, or at the end. */
		if (n > 0 && (!more || buf[0] != batch || n == FETCH_ROWS))
		{
			if (batch == MSG_STATE_DROP)
				fs_state_delete(sr->schema, sr->view, entities, a, n);
			else if (batch == MSG_STATE_FIX)
				fs_state_rehash(sr->schema, sr->view, entities, a, b, n, true);
			else
				fs_state_advance_times(sr->schema, sr->view, entities, a, b, n);
			n = 0;
			MemoryContextSwitchTo(old);
			MemoryContextReset(cxt);
			MemoryContextSwitchTo(cxt);
		}
		if (!more)
			break;
		CHECK_FOR_INTERRUPTS();
		p = buf + 1;
		if (buf[0] == MSG_REJECT)
		{
			int64		row;
			const char *s[4];
			int32		l[4];

			memcpy(&row, p, sizeof(row));
			p += sizeof(row);
			for (int i = 0; i < 4; i++)
			{
				const char *t = msg_text(&p, &l[i]);

				s[i] = t ? pnstrdup(t, l[i]) : NULL;
			}
			fs_ingest_reject(sr->schema, sr->run_id, s[0], s[1], s[2], s[3], row);
			MemoryContextSwitchTo(old);
			MemoryContextReset(cxt);
			MemoryContextSwitchTo(cxt);
			continue;
		}
		else
		{
			int32		h;
			int32		h2 = 0;
			TimestampTz ts = 0;
			const char *t;
			int32		l;

			memcpy(&h, p, sizeof(h));
			p += sizeof(h);
			if (buf[0] == MSG_STATE_FIX)
			{
				memcpy(&h2, p, sizeof(h2));
				p += sizeof(h2);
			}
			else if (buf[0] == MSG_STATE_ADVANCE)
			{
				memcpy(&ts, p, sizeof(ts));
				p += sizeof(ts);
			}
			t = msg_text(&p, &l);
			batch = buf[0];
			entities[n] = PointerGetDatum(cstring_to_text_with_len(t, l));
			a[n] = Int32GetDatum(h);
			b[n] = buf[0] == MSG_STATE_FIX ? Int32GetDatum(h2) : TimestampTzGetDatum(ts);
			n++;
		}
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	pfree(entities);
	pfree(a);
	pfree(b);
	if (buf)
		pfree(buf);
	BufFileClose(sr->wlog);
	sr->wlog = NULL;
}

/*
 * Whether a row of the source as read is this process's in a parallel run:
 * its key's entity is in this process's half; a row without a valid key is
 * the leader's, to reject.
 */
static bool
row_is_mine(SilverRun *sr, HeapTuple tup, TupleDesc desc)
{
	int			k = sr->key_col;
	bool		isnull;
	Datum		d;
	Datum		key;
	char	   *reason;
	int			p;

	if (tup != NULL)
		d = heap_getattr(tup, sr->cols[k].src_attno, desc, &isnull);
	else
	{
		d = sr->srcvalues[sr->row_attno[k] - 1];
		isnull = sr->srcnulls[sr->row_attno[k] - 1];
	}
	if (isnull)
		return !sr->worker;
	/* As silver_row converts it (it sets txt and raw again). */
	sr->txt[k] = (text *) pg_detoast_datum_packed((struct varlena *) DatumGetPointer(d));
	sr->raw[k] = NULL;
	if (VARSIZE_ANY_EXHDR(sr->txt[k]) == 0 || !convert_value(sr, k, &key, &reason))
		return !sr->worker;
	p = part_of(sr, (uint32) fs_key_hash(&sr->key_type, key));
	return p >= sr->first_part && p < sr->end_part;
}

/*
 * One row of the source as read, in the order read: tup, or (NULL) the row
 * in sr->srcvalues and sr->srcnulls.  Each process of a parallel run counts
 * every row, and handles its own.
 */
static void
read_row(SilverRun *sr, HeapTuple tup, TupleDesc desc)
{
	MemoryContext oldcxt;

	CHECK_FOR_INTERRUPTS();
	sr->rows_read++;
	sr->cur_row = sr->rows_read;
	if (sr->rows_read % FS_INGEST_PROGRESS_ROWS == 0 && !sr->worker)
		ereport(NOTICE,
				(errmsg("fs_ingest run %lld: " INT64_FORMAT " rows read, "
						INT64_FORMAT " rejected",
						(long long) sr->run_id, sr->rows_read, sr->rows_rejected)));
	if (sr->chan != NULL && sr->rows_read % POLL_ROWS == 0)
		poll_worker(sr, false);
	MemoryContextReset(sr->rowcxt);
	oldcxt = MemoryContextSwitchTo(sr->rowcxt);
	if (!halved(sr) || row_is_mine(sr, tup, desc))
		silver_row(sr, tup, desc, SPILL_ROW);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * The receiver of the cursor's rows: each is handled as the executor hands
 * it over, without the copy SPI_cursor_fetch would make of it.
 */
typedef struct SilverDest
{
	DestReceiver pub;
	SilverRun  *sr;
} SilverDest;

static bool
silver_receive(TupleTableSlot *slot, DestReceiver *self)
{
	SilverRun  *sr = ((SilverDest *) self)->sr;
	TupleDesc	desc = slot->tts_tupleDescriptor;

	ResourceOwner portal_owner = CurrentResourceOwner;

	slot_getallattrs(slot);
	memcpy(sr->srcvalues, slot->tts_values, sizeof(Datum) * desc->natts);
	memcpy(sr->srcnulls, slot->tts_isnull, sizeof(bool) * desc->natts);

	/*
	 * What the row leaves behind (the silver table's pinned buffer, the
	 * parts' files) belongs to the run, not to the cursor's portal, which
	 * releases its own when it closes.
	 */
	CurrentResourceOwner = sr->owner;
	read_row(sr, NULL, desc);
	CurrentResourceOwner = portal_owner;
	return true;
}

static void
silver_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	SilverRun  *sr = ((SilverDest *) self)->sr;

	if (typeinfo->natts != sr->natts)
		elog(ERROR, "the source's query returns %d columns, not %d", typeinfo->natts, sr->natts);
	if (sr->source_desc == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(sr->fncxt);

		sr->source_desc = CreateTupleDescCopy(typeinfo);
		MemoryContextSwitchTo(old);
	}
}

static void
silver_shutdown(DestReceiver *self)
{
}

static void
silver_destroy(DestReceiver *self)
{
}

/*
 * How many parts the run needs: the entities expected (the larger of the
 * source's rows and the state's rows, all views', as their statistics or
 * sizes say) against maintenance_work_mem, at the memory an entity takes
 * in the hash table (its entry, the table's free slots, a copy of a key
 * passed by reference).  0.1.0's state, without entity_hash, is read in
 * one part.
 */
static void
plan_parts(SilverRun *sr, Oid source)
{
	double		n = (double) expected_rows(source);
	double		per_entity = sizeof(EntityEntry) * 2.0 +
		(sr->key_type.typbyval ? 0 : 32 + (sr->key_is_text ? 0 : 16));
	double		budget = (double) maintenance_work_mem * 1024.0;
	Oid			state = get_relname_relid("fs_ingest_state", sr->schema);

	if (OidIsValid(state))
		n = Max(n, (double) expected_rows(state));
	sr->part_bits = 0;
	if (sr->hashed)
		while (sr->part_bits < MAX_PART_BITS &&
			   n * per_entity / (double) (1 << sr->part_bits) > budget)
			sr->part_bits++;
	sr->part_entities = (long) Max(1024.0, Min(n / (double) (1 << sr->part_bits),
											   budget / per_entity));
	if (sr->part_bits > 0)
		ereport(NOTICE,
				(errmsg("fs_ingest run %lld: more entities than maintenance_work_mem holds, "
						"working in parts through temporary files",
						(long long) sr->run_id),
				 errdetail("About %.0f entities, in %d parts.", n, 1 << sr->part_bits)));
}

/* The parts this process handles, and their files. */
static void
set_parts(SilverRun *sr, int part_bits, int first_part, int end_part)
{
	sr->part_bits = part_bits;
	sr->first_part = first_part;
	sr->end_part = end_part;
	sr->cur_part = first_part;
	sr->state_spill = palloc0(sizeof(BufFile *) << part_bits);
	sr->source_spill = palloc0(sizeof(BufFile *) << part_bits);
}

/*
 * A row of part p written as a reference: its entity's digest decides.  An
 * unchanged (or stale) row needs nothing more than its entity, event time
 * and ordinal; any other is fetched again from the heap, as read, and
 * handled whole.
 */
static void
replay_ref(SilverRun *sr, BufFile *f)
{
	SpilledRef	ref;
	uint8	   *digest = (uint8 *) VARDATA(sr->digest_datum);
	Datum		key;
	EntityEntry *entry;

	spill_read(f, &ref, sizeof(ref), false);
	sr->cur_row = ref.row;
	memcpy(digest, ref.digest, FS_DIGEST_LEN);
	if (sr->key_type.typbyval)
		spill_read(f, &key, sizeof(Datum), false);
	else
	{
		char	   *buf = palloc(ref.keylen);

		spill_read(f, buf, ref.keylen, false);
		key = PointerGetDatum(buf);
	}

	entry = entities_lookup(sr->entities, key);
	if (entry == NULL || !entry->has_state || !entry->digest_known ||
		memcmp(entry->state_digest, digest, FS_DIGEST_LEN) != 0)
	{
		HeapTupleData tup;
		Buffer		buf;

		tup.t_self = ref.tid;
		if (!heap_fetch(sr->srel, sr->snapshot, &tup, &buf, false))
			elog(ERROR, "row (%u,%u) of the source is no longer visible",
				 ItemPointerGetBlockNumber(&ref.tid), ItemPointerGetOffsetNumber(&ref.tid));
		silver_row(sr, &tup, RelationGetDescr(sr->srel), SPILL_ROW);
		ReleaseBuffer(buf);
		return;
	}
	sr->values[sr->key_col] = key;
	sr->nulls[sr->key_col] = false;
	sr->values[sr->ts_col] = TimestampTzGetDatum(ref.event_time);
	sr->nulls[sr->ts_col] = false;
	keep_row(sr, entry, digest);
}

/* Handle the source rows of part p, which the first reading wrote to its file. */
static void
replay_source(SilverRun *sr, int p)
{
	BufFile    *f = sr->source_spill[p];
	uint64		polls = 0;

	if (f == NULL)
		return;
	spill_rewind(f);
	for (;;)
	{
		char		kind;
		uint32		len;
		HeapTupleData tup;
		MemoryContext oldcxt;

		if (!spill_read(f, &kind, 1, true))
			break;
		CHECK_FOR_INTERRUPTS();
		if (sr->chan != NULL && ++polls % POLL_ROWS == 0)
			poll_worker(sr, false);
		MemoryContextReset(sr->rowcxt);
		oldcxt = MemoryContextSwitchTo(sr->rowcxt);
		if (kind == SPILL_REF)
		{
			replay_ref(sr, f);
			MemoryContextSwitchTo(oldcxt);
			continue;
		}
		spill_read(f, &sr->cur_row, sizeof(sr->cur_row), false);
		spill_read(f, &len, sizeof(len), false);
		if (len > sr->spillbuf_size)
		{
			sr->spillbuf_size = Max(len, 2 * sr->spillbuf_size);
			sr->spillbuf = sr->spillbuf ? repalloc(sr->spillbuf, sr->spillbuf_size)
				: MemoryContextAlloc(sr->fncxt, sr->spillbuf_size);
		}
		spill_read(f, sr->spillbuf, len, false);
		tup.t_len = len;
		tup.t_data = (HeapTupleHeader) sr->spillbuf;
		ItemPointerSetInvalid(&tup.t_self);
		tup.t_tableOid = InvalidOid;

		/*
		 * A row of a table read from its heap or file is read back with the
		 * table's own descriptor: a row stored before ADD COLUMN ... DEFAULT
		 * lacks that column, whose value is in the descriptor
		 * (attmissingval).
		 */
		silver_row(sr, &tup, sr->srel != NULL ? RelationGetDescr(sr->srel) : sr->source_desc, kind);
		MemoryContextSwitchTo(oldcxt);
	}
	BufFileClose(f);
	sr->source_spill[p] = NULL;
}

/* The hash table of the entities of the part in memory, empty. */
static void
new_part_table(SilverRun *sr)
{
	MemoryContextReset(sr->keycxt);
	sr->entities = entities_create(sr->keycxt, (uint32) sr->part_entities, &sr->key_type);
}

/* Done with the part in memory: count its entities, forget the absent. */
static void
finish_part(SilverRun *sr)
{
	count_kept(sr);
	if (sr->forget_absent)
		forget_absent(sr);
}

/*-------------------------------------------------------------------------
 * The run
 *-------------------------------------------------------------------------
 */

/*
 * Whether a join key's input gives the same value in every process of a
 * run, whatever commits meanwhile: a built-in type whose input reads no
 * catalog (an enum's or a reg* type's does, with a snapshot of its own), so
 * that both processes agree on the half each row is in.
 */
static bool
key_input_is_pure(Oid type)
{
	switch (type)
	{
		case BOOLOID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case NAMEOID:
		case BYTEAOID:
		case UUIDOID:
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return true;
		default:
			return false;
	}
}

/*
 * Whether the run can have a parallel worker: the source is read from its
 * heap (a table in shared buffers, not a temporary one), of at least
 * min_parallel_table_scan_size, every value it converts has a built-in
 * input function (no subtransaction to catch a refusal, which a parallel
 * worker cannot start), the join key's type hashes and reads alike in both
 * processes, the state has entity_hash (not 0.1.0's),
 * max_parallel_maintenance_workers allows one, and the transaction is not
 * serializable.
 */
static bool
want_parallel(SilverRun *sr)
{
	if ((!sr->direct && !sr->file) || !sr->hashed || max_parallel_maintenance_workers < 1 ||
		!sr->key_type.hashable || !key_input_is_pure(sr->key_type.type) ||
		IsInParallelMode() || IsolationIsSerializable())
		return false;
	if (sr->direct &&
		(sr->srel->rd_rel->relpersistence == RELPERSISTENCE_TEMP ||
		 RelationGetNumberOfBlocks(sr->srel) < (BlockNumber) min_parallel_table_scan_size))
		return false;
	if (sr->file && sr->file_id.size < (int64) min_parallel_table_scan_size * BLCKSZ)
		return false;
	for (int i = 0; i < sr->natts; i++)
		if (sr->cols[i].in_source && (i == sr->key_col || i == sr->ts_col || sr->is_feature[i]) &&
			!sr->cols[i].safe)
			return false;
	return sr->key_type.input_safe;
}

/*
 * Start the run's parallel worker, which keeps the upper half of the hash
 * space.  The parts are twice as many as memory asks for, so that the two
 * processes, each holding one of its own at a time, hold no more than a run
 * alone; without a worker, the run reads alone.
 */
static void
start_parallel(SilverRun *sr, Oid source, Oid silver, Oid seen_keys, const char *join_key,
			   const char *ts_column)
{
	int			bits = sr->part_bits + 1;
	Size		vlen = strlen(sr->view) + 1;
	Size		klen = strlen(join_key) + 1;
	Size		len = offsetof(SilverArgs, strings) + vlen + klen + strlen(ts_column) + 1;
	SilverArgs *args = palloc0(len);

	args->run_id = sr->run_id;
	args->schema = sr->schema;
	args->source = source;
	args->silver = silver;
	args->seen_keys = seen_keys;
	args->default_ts = sr->default_ts;
	args->part_bits = bits;
	args->part_entities = Max(1024L, sr->part_entities / 2);
	args->forget_absent = sr->forget_absent;
	args->file = sr->file;
	args->file_id = sr->file_id;
	args->file_encoding = sr->file_encoding;
	args->key_off = vlen;
	args->ts_off = vlen + klen;
	strcpy(args->strings, sr->view);
	strcpy(args->strings + args->key_off, join_key);
	strcpy(args->strings + args->ts_off, ts_column);

	sr->chan = fs_silver_channel_start(args, len);
	if (sr->chan == NULL)
		return;
	sr->part_entities = args->part_entities;
	sr->deferred = true;
	set_parts(sr, bits, 0, 1 << (bits - 1));
}

/*
 * Read the state and the source, and handle every part of this process:
 * the first from the first reading, the others from their files.
 */
static void
silver_read(SilverRun *sr)
{
	new_part_table(sr);
	load_state(sr);

	/*
	 * A row's ordinal (fs_row, a reject's source_row) is its position in the
	 * source as stored: a synchronized scan of a large table would start
	 * where another scan is, and number the rows from there.
	 */
	if (sr->direct)
	{
		TableScanDesc scan;
		HeapTuple	tup;

		sr->snapshot = GetActiveSnapshot();
		scan = table_beginscan_strat(sr->srel, sr->snapshot, 0, NULL, true, false);
		while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
			read_row(sr, tup, RelationGetDescr(sr->srel));
		table_endscan(scan);
	}
	else if (sr->file)
	{
		FsFileReader *r = fs_file_begin(sr->srel, &sr->file_id, sr->file_columns,
										sr->file_encoding);

		for (;;)
		{
			MemoryContext oldcxt;
			bool		found;

			MemoryContextReset(sr->filecxt);
			oldcxt = MemoryContextSwitchTo(sr->filecxt);
			found = fs_file_next(r, sr->srcvalues, sr->srcnulls);
			MemoryContextSwitchTo(oldcxt);
			if (!found)
				break;
			read_row(sr, NULL, RelationGetDescr(sr->srel));
		}
		fs_file_end(r);
	}
	else
	{
		int			nest = NewGUCNestLevel();
		Portal		portal;
		SilverDest	dest;

		(void) set_config_option("synchronize_seqscans", "off", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		portal = SPI_cursor_open_with_args(NULL, sr->query, 0, NULL, NULL, NULL, true, 0);
		memset(&dest, 0, sizeof(dest));
		dest.pub.receiveSlot = silver_receive;
		dest.pub.rStartup = silver_startup;
		dest.pub.rShutdown = silver_shutdown;
		dest.pub.rDestroy = silver_destroy;
		dest.pub.mydest = DestNone;
		dest.sr = sr;

		/*
		 * Rows are handled inside the fetch, as a function of the query's
		 * select list would be: rejects run their statements from there.
		 */
		while (PortalRunFetch(portal, FETCH_FORWARD, FETCH_ROWS, (DestReceiver *) &dest) > 0)
			;
		SPI_cursor_close(portal);
		AtEOXact_GUC(true, nest);
	}

	/* The other parts, one at a time, from their files. */
	finish_part(sr);
	for (int p = sr->first_part + 1; p < sr->end_part; p++)
	{
		sr->cur_part = p;
		new_part_table(sr);
		reload_state(sr, p);
		replay_source(sr, p);
		finish_part(sr);
	}
}

/*
 * Read with a parallel worker (the run's part in parallel mode, in a
 * subtransaction), then apply the writes that waited for its end; false if
 * the run must read alone: no worker could be started, or a state row's
 * stored entity_hash put it in the wrong process's half (the subtransaction
 * undoes what the run did, and it starts again from its setup).
 */
static bool
silver_read_parallel(SilverRun *sr, Oid source, Oid silver, Oid seen_keys,
					 const char *join_key, const char *ts_column)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	int			bits = sr->part_bits;
	long		entities = sr->part_entities;
	volatile bool done = false;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		start_parallel(sr, source, silver, seen_keys, join_key, ts_column);
		if (sr->chan != NULL)
		{
			ereport(NOTICE,
					(errmsg("fs_ingest run %lld: reading the source with a parallel worker",
							(long long) sr->run_id),
					 errdetail("Each process keeps the entities of half the hash space.")));
			sr->bistate = GetBulkInsertState();
			if (sr->keyrel)
				sr->keybistate = GetBulkInsertState();
			silver_read(sr);
			/* The worker's last rows, until it is done. */
			poll_worker(sr, true);
			/* Both numbered the same rows (the file checks say so too). */
			if (sr->worker_rows_read != sr->rows_read)
				elog(ERROR, "fs_ingest's parallel worker read " INT64_FORMAT " rows of the source, not " INT64_FORMAT,
					 sr->worker_rows_read, sr->rows_read);
			FreeBulkInsertState(sr->bistate);
			if (sr->keybistate)
				FreeBulkInsertState(sr->keybistate);
			done = true;
		}
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		/* Ends parallel mode, and releases the worker and what it pinned. */
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (edata->sqlerrcode != ERRCODE_FS_STATE_MISPLACED)
			ReThrowError(edata);
		ereport(NOTICE,
				(errmsg("fs_ingest run %lld: reading the source again, alone",
						(long long) sr->run_id),
				 errdetail("A state row's stored entity_hash is not its key's hash: "
						   "the two processes cannot divide the state by it.")));

		/* Back to what the setup left: the run's files go. */
		for (int p = 0; p < (1 << sr->part_bits); p++)
		{
			if (sr->state_spill[p] != NULL)
				BufFileClose(sr->state_spill[p]);
			if (sr->source_spill[p] != NULL)
				BufFileClose(sr->source_spill[p]);
		}
		if (sr->wlog != NULL)
			BufFileClose(sr->wlog);
		sr->chan = NULL;
		sr->deferred = false;
		sr->worker_done = false;
		sr->wlog = NULL;
		sr->bistate = sr->keybistate = NULL;
		sr->part_bits = bits;
		sr->part_entities = entities;
		sr->nlosers = 0;
		sr->first_rows = sr->first_changed = 0;
		sr->rows_read = sr->rows_rejected = sr->rows_superseded = 0;
		memset(sr->counts, 0, sizeof(sr->counts));
		MemoryContextReset(sr->rowcxt);
		MemoryContextReset(sr->msgcxt);
	}
	PG_END_TRY();
	if (!done)
		return false;
	/* The writes that waited for the worker's end. */
	sr->deferred = false;
	apply_wlog(sr);
	return true;
}

/* What both processes of a run set up once the silver table is open. */
static void
silver_setup(SilverRun *sr, Oid source, const char *join_key, const char *ts_column)
{
	map_columns(sr, source, join_key, ts_column);
	sr->keycxt = AllocSetContextCreate(sr->fncxt, "fs_ingest entities", ALLOCSET_DEFAULT_SIZES);
	sr->rowcxt = AllocSetContextCreate(sr->fncxt, "fs_ingest row", ALLOCSET_DEFAULT_SIZES);
	sr->msgcxt = AllocSetContextCreate(sr->fncxt, "fs_ingest messages", ALLOCSET_DEFAULT_SIZES);
	sr->values = palloc(sizeof(Datum) * sr->natts);
	sr->nulls = palloc(sizeof(bool) * sr->natts);
	sr->raw = palloc(sizeof(char *) * sr->natts);
	sr->txt = palloc(sizeof(text *) * sr->natts);
	sr->why = palloc0(sizeof(char *) * sr->natts);
	initStringInfo(&sr->digestbuf);
	initStringInfo(&sr->msg);
	sr->digest_datum = palloc(VARHDRSZ + FS_DIGEST_LEN);
	SET_VARSIZE(sr->digest_datum, VARHDRSZ + FS_DIGEST_LEN);
	choose_reader(sr, source);
	if (sr->direct || sr->file)
		sr->srel = table_open(source, AccessShareLock);
	if (sr->file)
		sr->filecxt = AllocSetContextCreate(sr->fncxt, "fs_ingest file row", ALLOCSET_DEFAULT_SIZES);
}

/* The end of both processes' setup. */
static void
silver_teardown(SilverRun *sr)
{
	if (sr->srel != NULL)
		table_close(sr->srel, NoLock);
	MemoryContextDelete(sr->keycxt);
	MemoryContextDelete(sr->rowcxt);
	MemoryContextDelete(sr->msgcxt);
	if (sr->filecxt)
		MemoryContextDelete(sr->filecxt);
}

/*
 * The parallel worker's part of a run (ingest_parallel.h): the upper half
 * of the hash space.  Every write goes to the leader as a message, and its
 * counts last.
 */
void
fs_ingest_silver_worker_main(const void *argp, Size len)
{
	const SilverArgs *args = argp;
	SilverRun	sr;
	int64		counts[6];

	memset(&sr, 0, sizeof(sr));
	sr.run_id = args->run_id;
	sr.schema = args->schema;
	sr.view = pstrdup(args->strings);
	sr.default_ts = args->default_ts;
	sr.hashed = true;
	sr.worker = true;
	sr.deferred = true;
	sr.forget_absent = args->forget_absent;
	sr.fncxt = CurrentMemoryContext;
	sr.owner = CurrentResourceOwner;
	sr.rel = table_open(args->silver, AccessShareLock);
	if (OidIsValid(args->seen_keys))
		sr.keyrel = table_open(args->seen_keys, AccessShareLock);
	silver_setup(&sr, args->source, args->strings + args->key_off, args->strings + args->ts_off);
	/* The file the leader reads (else an error when reading starts), as it reads it. */
	if (args->file && !sr.file)
		fs_file_changed(relation_open(args->source, AccessShareLock));
	if (!sr.direct && !sr.file)
		elog(ERROR, "fs_ingest's parallel worker cannot read the source from its heap or file");
	sr.file_id = args->file_id;
	sr.file_encoding = args->file_encoding;
	sr.part_entities = args->part_entities;
	set_parts(&sr, args->part_bits, 1 << (args->part_bits - 1), 1 << args->part_bits);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	silver_read(&sr);
	SPI_finish();

	for (int i = 0; i < sr.nlosers; i += FETCH_ROWS)
	{
		msg_begin(&sr, MSG_LOSERS);
		msg_add(&sr, &sr.losers[i], sizeof(int64) * Min(FETCH_ROWS, sr.nlosers - i));
		msg_end(&sr);
	}
	counts[0] = sr.rows_rejected;
	counts[1] = sr.rows_superseded;
	memcpy(&counts[2], sr.counts, sizeof(sr.counts));
	counts[5] = sr.rows_read;
	msg_begin(&sr, MSG_DONE);
	msg_add(&sr, counts, sizeof(counts));
	msg_end(&sr);

	silver_teardown(&sr);
	table_close(sr.rel, NoLock);
	if (sr.keyrel)
		table_close(sr.keyrel, NoLock);
}

/*
 * fs_ingest_silver(run_id, feature_view, source, silver, seen_keys, join_key,
 *                  event_time_column, default_event_time)
 *   -> (rows_read, rows_rejected, rows_stale, rows_unchanged, rows_changed)
 *
 * silver has the view's join key, event time and the features the source
 * carries, plus fs_row bigint, fs_digest bytea, fs_entity text and
 * fs_entity_hash integer; seen_keys (NULL unless a
 * snapshot) has one column of the join key's type.  The caller must own the
 * view's table: the state is written too (event times advanced, wrong rows
 * put right, and for a snapshot into a table the entities the source no
 * longer names forgotten).
 */
Datum
fs_ingest_silver(PG_FUNCTION_ARGS)
{
	Oid			source = PG_GETARG_OID(2);
	Oid			silver = PG_GETARG_OID(3);
	Oid			seen_keys = PG_ARGISNULL(4) ? InvalidOid : PG_GETARG_OID(4);
	char	   *join_key = text_to_cstring(PG_GETARG_TEXT_PP(5));
	char	   *ts_column = text_to_cstring(PG_GETARG_TEXT_PP(6));
	SilverRun	sr;
	TupleDesc	result_desc;
	Datum		result[5];
	bool		result_nulls[5] = {false, false, false, false, false};

	if (get_call_result_type(fcinfo, NULL, &result_desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	memset(&sr, 0, sizeof(sr));
	sr.run_id = PG_GETARG_INT64(0);
	sr.view = text_to_cstring(PG_GETARG_TEXT_PP(1));
	sr.default_ts = PG_GETARG_TIMESTAMPTZ(7);
	sr.schema = get_func_namespace(fcinfo->flinfo->fn_oid);
	sr.hashed = fs_state_hashed(sr.schema);
	sr.fncxt = CurrentMemoryContext;
	sr.owner = CurrentResourceOwner;

	sr.rel = table_open(silver, RowExclusiveLock);
	fs_ingest_check_scratch_table(sr.rel);
	if (OidIsValid(seen_keys))
	{
		sr.keyrel = table_open(seen_keys, RowExclusiveLock);
		fs_ingest_check_scratch_table(sr.keyrel);
	}
	silver_setup(&sr, source, join_key, ts_column);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	sr.forget_absent = sr.keyrel != NULL &&
		get_rel_relkind(fs_state_check_owner(sr.schema, sr.view, false)) == RELKIND_RELATION;
	fs_ingest_check_run(sr.schema, sr.run_id, sr.view);
	plan_parts(&sr, source);
	/* What the leader writes in parallel mode needs its command id now. */
	sr.cid = GetCurrentCommandId(true);
	if (!want_parallel(&sr) ||
		!silver_read_parallel(&sr, source, silver, seen_keys, join_key, ts_column))
	{
		set_parts(&sr, sr.part_bits, 0, 1 << sr.part_bits);
		sr.bistate = GetBulkInsertState();
		if (sr.keyrel)
			sr.keybistate = GetBulkInsertState();
		silver_read(&sr);
		FreeBulkInsertState(sr.bistate);
		if (sr.keybistate)
			FreeBulkInsertState(sr.keybistate);
	}
	drop_superseded(&sr);

	SPI_finish();
	silver_teardown(&sr);
	table_close(sr.rel, NoLock);
	if (sr.keyrel)
		table_close(sr.keyrel, NoLock);

	result[0] = Int64GetDatum(sr.rows_read);
	result[1] = Int64GetDatum(sr.rows_rejected);
	result[2] = Int64GetDatum(sr.counts[0] + sr.rows_superseded);
	result[3] = Int64GetDatum(sr.counts[1]);
	result[4] = Int64GetDatum(sr.counts[2]);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(result_desc),
													  result, result_nulls)));
}
