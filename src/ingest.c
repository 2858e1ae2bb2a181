/*-------------------------------------------------------------------------
 *
 * ingest.c
 *	  Batch ingestion, silver step: cast, validate and deduplicate a source.
 *
 * fs_ingest_silver reads the source in one pass through an SPI cursor, every
 * column as text, and converts each value with the input function of the
 * matching column of the silver table (a temporary table shaped like the
 * view's relation, plus an fs_row ordinal).  A row with a value its type
 * refuses, no entity id, no event time, or a NULL where the column is NOT
 * NULL goes to fs_ingest_rejects and is skipped; the run goes on.  Of the
 * rows of one entity, the one with the newest event time is kept (on a tie,
 * the later row of the source); the others count as stale.
 *
 * Change detection happens here too, in the same pass: the view's rows of
 * fs_ingest_state (the digest and event time of what earlier runs wrote) are
 * loaded into the hash table of entities first, and each kept row is
 * classified as stale (older than the stored event time), unchanged (same
 * digest) or changed.  Only changed rows are inserted into the silver table,
 * with their digest, so that the SQL that writes them (gold) handles what
 * changed, not the whole source.  A snapshot run also lists every entity the
 * source has in a second temporary table, for the deletes.
 *
 * The digest is a 128-bit hash of the source's text of the feature values,
 * seeded with the features' names and types.  The key and the event time of
 * every row are converted; the features only when the digest differs from
 * the state's (a row written exactly as before was valid then and holds the
 * same values).  Rows go straight into the heap of the caller's own
 * temporary tables, which have no indexes or triggers.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "storage/bufmgr.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "feature_store.h"
#include "ingest.h"
#include "value.h"

PG_FUNCTION_INFO_V1(fs_ingest_silver);

/* The source's text of column i of the current row, as a C string (once). */
#define RAW(i) (raw[(i)] ? raw[(i)] : (raw[(i)] = text_to_cstring(txt[(i)])))

/* Source rows fetched from the cursor at a time. */
#define FETCH_ROWS 10000

/* One column of the silver table and how to fill it from the source. */
typedef struct SilverColumn
{
	char	   *name;
	bool		in_source;		/* else: the run's default event time */
	FmgrInfo	input;
	Oid			ioparam;
	int32		typmod;
	bool		notnull;
} SilverColumn;

/* An entity: what earlier runs wrote, and the row of this run kept for it. */
typedef struct EntityEntry
{
	char	   *key;			/* hash key: the join key's text form */
	bool		has_state;
	bool		state_has_time;
	bool		seen;			/* in this run's source */
	char		class;			/* of the kept row: 's'tale, 'u'nchanged, 'w'rite */
	uint8		state_digest[FS_DIGEST_LEN];
	TimestampTz state_time;
	TimestampTz event_time;		/* of the kept row */
	int64		row;			/* its fs_row */
} EntityEntry;

/* The kept row's fate against what earlier runs wrote. */
static char
classify(EntityEntry *e, TimestampTz ts, const uint8 *digest)
{
	if (e->has_state && e->state_has_time && e->state_time > ts)
		return 's';
	if (e->has_state && memcmp(e->state_digest, digest, FS_DIGEST_LEN) == 0)
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

	resetStringInfo(buf);
	for (int i = 0; i < natts; i++)
	{
		uint32		len;

		if (!is_feature[i])
			continue;
		if (txt[i] == NULL)
		{
			appendStringInfoChar(buf, 'n');
			continue;
		}
		len = VARSIZE_ANY_EXHDR(txt[i]);
		appendStringInfoChar(buf, 'v');
		appendBinaryStringInfo(buf, (char *) &len, sizeof(len));
		appendBinaryStringInfo(buf, VARDATA_ANY(txt[i]), len);
	}
	h1 = hash_bytes_extended((unsigned char *) buf->data, buf->len, signature ^ 0x5eed0001);
	h2 = hash_bytes_extended((unsigned char *) buf->data, buf->len, signature ^ 0x5eed0002);
	memcpy(digest, &h1, sizeof(h1));
	memcpy(digest + sizeof(h1), &h2, sizeof(h2));
}

/* Record a rejected row in fs_ingest_rejects. */
static void
reject(SPIPlanPtr plan, int64 run_id, const char *entity_id,
	   const char *column, const char *raw, const char *reason)
{
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	int			rc;

	values[0] = Int64GetDatum(run_id);
	values[1] = entity_id ? CStringGetTextDatum(entity_id) : (Datum) 0;
	nulls[1] = entity_id ? ' ' : 'n';
	values[2] = column ? CStringGetTextDatum(column) : (Datum) 0;
	nulls[2] = column ? ' ' : 'n';
	values[3] = raw ? CStringGetTextDatum(raw) : (Datum) 0;
	nulls[3] = raw ? ' ' : 'n';
	values[4] = CStringGetTextDatum(reason);
	rc = SPI_execute_plan(plan, values, nulls, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not record a rejected row: %s", SPI_result_code_string(rc));
}

/*
 * How many entities to size the hash table for: growing a table of a
 * million entries step by step costs more than the memory saved.
 */
static long
expected_entities(Oid source)
{
	Relation	rel = relation_open(source, AccessShareLock);
	double		n = rel->rd_rel->reltuples;

	/* Never analyzed, as right after COPY: guess from its size. */
	if (n < 0 && RELKIND_HAS_STORAGE(rel->rd_rel->relkind))
		n = (double) RelationGetNumberOfBlocks(rel) * (BLCKSZ / 128);
	relation_close(rel, AccessShareLock);
	return (long) Max(1024.0, Min(n, 16.0 * 1024 * 1024));
}

/* Load the view's rows of fs_ingest_state into the hash table of entities. */
static void
load_state(HTAB *entities, MemoryContext keycxt, const char *schema, const char *view)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	Portal		portal;

	args[0] = CStringGetTextDatum(view);
	portal = SPI_cursor_open_with_args(NULL,
									   psprintf("SELECT entity_id, digest, event_time FROM %s.fs_ingest_state "
												"WHERE feature_view OPERATOR(pg_catalog.=) $1",
												quote_identifier(schema)),
									   1, argtypes, args, NULL, true, 0);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, FETCH_ROWS);
		if (SPI_processed == 0)
			break;
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			TupleDesc	td = SPI_tuptable->tupdesc;
			bool		isnull;
			char	   *key = TextDatumGetCString(SPI_getbinval(tup, td, 1, &isnull));
			bytea	   *digest = DatumGetByteaPP(SPI_getbinval(tup, td, 2, &isnull));
			Datum		ts = SPI_getbinval(tup, td, 3, &isnull);
			EntityEntry *e;
			bool		found;

			e = hash_search(entities, &key, HASH_ENTER, &found);
			e->key = MemoryContextStrdup(keycxt, key);
			e->has_state = true;
			e->seen = false;
			memset(e->state_digest, 0, FS_DIGEST_LEN);
			if (VARSIZE_ANY_EXHDR(digest) == FS_DIGEST_LEN)
				memcpy(e->state_digest, VARDATA_ANY(digest), FS_DIGEST_LEN);
			e->state_has_time = !isnull;
			e->state_time = isnull ? 0 : DatumGetTimestampTz(ts);
			pfree(key);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
}

/*
 * fs_ingest_silver(run_id, feature_view, source, silver, seen_keys, join_key,
 *                  event_time_column, default_event_time)
 *   -> (rows_read, rows_rejected, rows_stale, rows_unchanged, rows_changed)
 *
 * silver is shaped like the view's relation plus fs_row bigint and
 * fs_digest bytea; seen_keys (NULL unless a snapshot) has one column of the
 * join key's type.
 */
/* Move the state's event time of unchanged entities forward (SPI is connected). */
static void
advance_state_times(const char *schema, const char *view, Datum *keys, Datum *times, int n)
{
	Oid			argtypes[3] = {TEXTOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID};
	Datum		args[3];
	int			rc;

	args[0] = CStringGetTextDatum(view);
	args[1] = PointerGetDatum(construct_array(keys, n, TEXTOID, -1, false, TYPALIGN_INT));
	args[2] = PointerGetDatum(construct_array(times, n, TIMESTAMPTZOID, 8,
											  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	rc = SPI_execute_with_args(psprintf("UPDATE %s.fs_ingest_state st SET event_time = u.t"
										" FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3)) AS u(k, t)"
										" WHERE st.feature_view OPERATOR(pg_catalog.=) $1"
										"   AND st.entity_id OPERATOR(pg_catalog.=) u.k"
										"   AND (st.event_time IS NULL"
										"        OR st.event_time OPERATOR(pg_catalog.<) u.t)",
										quote_identifier(schema)),
							   3, argtypes, args, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "could not advance the ingestion state: %s", SPI_result_code_string(rc));
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

Datum
fs_ingest_silver(PG_FUNCTION_ARGS)
{
	int64		run_id = PG_GETARG_INT64(0);
	char	   *view = text_to_cstring(PG_GETARG_TEXT_PP(1));
	Oid			source = PG_GETARG_OID(2);
	Oid			silver = PG_GETARG_OID(3);
	Oid			seen_keys = PG_ARGISNULL(4) ? InvalidOid : PG_GETARG_OID(4);
	char	   *join_key = text_to_cstring(PG_GETARG_TEXT_PP(5));
	char	   *ts_column = text_to_cstring(PG_GETARG_TEXT_PP(6));
	TimestampTz default_ts = PG_GETARG_TIMESTAMPTZ(7);
	char	   *schema = get_namespace_name(get_func_namespace(fcinfo->flinfo->fn_oid));
	TupleDesc	result_desc;
	Relation	rel;
	Relation	keyrel = NULL;
	TupleDesc	desc;
	int			natts;
	SilverColumn *cols;
	bool	   *is_feature;
	int			key_col = -1;
	int			ts_col = -1;
	int			row_col = -1;
	int			digest_col = -1;
	Oid			key_out;
	bool		key_varlena;
	FmgrInfo	key_output;
	bool		key_is_text;
	StringInfoData query;
	StringInfoData digestbuf;
	SPIPlanPtr	reject_plan;
	Portal		portal;
	HTAB	   *entities;
	HASH_SEQ_STATUS seq;
	EntityEntry *entry;
	MemoryContext fncxt = CurrentMemoryContext;
	MemoryContext keycxt;
	MemoryContext rowcxt;
	BulkInsertState bistate;
	BulkInsertState keybistate = NULL;
	CommandId	cid;
	Datum	   *values;
	bool	   *nulls;
	char	  **raw;
	text	  **txt;
	text	   *last_ts_raw = NULL;
	TimestampTz last_ts = 0;
	uint64		signature;
	bytea	   *digest_datum;
	int64	   *losers = NULL;
	int			nlosers = 0;
	int			maxlosers = 0;
	int64		rows_read = 0;
	int64		rows_rejected = 0;
	int64		rows_superseded = 0;
	int64		counts[3] = {0, 0, 0};	/* stale, unchanged, changed */
	Datum		result[5];
	bool		result_nulls[5] = {false, false, false, false, false};

	if (get_call_result_type(fcinfo, NULL, &result_desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	rel = table_open(silver, RowExclusiveLock);
	fs_ingest_check_scratch_table(rel);
	if (OidIsValid(seen_keys))
	{
		keyrel = table_open(seen_keys, RowExclusiveLock);
		fs_ingest_check_scratch_table(keyrel);
	}
	desc = RelationGetDescr(rel);
	natts = desc->natts;
	cols = palloc0(sizeof(SilverColumn) * natts);
	is_feature = palloc0(sizeof(bool) * natts);

	/* Map the silver table's columns to the source's, by name. */
	initStringInfo(&query);
	appendStringInfoString(&query, "SELECT ");
	for (int i = 0; i < natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		SilverColumn *c = &cols[i];
		Oid			infunc;

		if (att->attisdropped)
			elog(ERROR, "silver table has a dropped column");
		c->name = pstrdup(NameStr(att->attname));
		if (strcmp(c->name, "fs_row") == 0 || strcmp(c->name, "fs_digest") == 0)
		{
			if (c->name[3] == 'r')
				row_col = i;
			else
				digest_col = i;
			appendStringInfo(&query, "%sNULL", i > 0 ? ", " : "");
			continue;
		}
		if (strcmp(c->name, join_key) == 0)
			key_col = i;
		else if (strcmp(c->name, ts_column) == 0)
			ts_col = i;
		else
			is_feature[i] = true;
		c->in_source = get_attnum(source, c->name) != InvalidAttrNumber;
		if (!c->in_source && i != ts_col)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("source %s has no column \"%s\"",
							get_rel_name(source), c->name)));
		getTypeInputInfo(att->atttypid, &infunc, &c->ioparam);
		fmgr_info(infunc, &c->input);
		c->typmod = att->atttypmod;
		c->notnull = att->attnotnull;
		if (c->in_source)
			appendStringInfo(&query, "%s%s::pg_catalog.text", i > 0 ? ", " : "",
							 quote_identifier(c->name));
		else
			appendStringInfo(&query, "%sNULL", i > 0 ? ", " : "");
	}
	if (key_col < 0 || ts_col < 0 || row_col < 0 || digest_col < 0)
		elog(ERROR, "silver table lacks the join key, event-time, fs_row or fs_digest column");
	/* Keys are written as one-column tuples of the key's own type. */
	if (keyrel != NULL &&
		(RelationGetDescr(keyrel)->natts != 1 ||
		 TupleDescAttr(RelationGetDescr(keyrel), 0)->atttypid != TupleDescAttr(desc, key_col)->atttypid ||
		 TupleDescAttr(RelationGetDescr(keyrel), 0)->atttypmod != TupleDescAttr(desc, key_col)->atttypmod))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("key table %s must have exactly one column, of the join key's type",
						RelationGetRelationName(keyrel))));
	appendStringInfo(&query, " FROM %s",
					 quote_qualified_identifier(get_namespace_name(get_rel_namespace(source)),
												get_rel_name(source)));

	getTypeOutputInfo(TupleDescAttr(desc, key_col)->atttypid, &key_out, &key_varlena);
	fmgr_info(key_out, &key_output);
	key_is_text = TupleDescAttr(desc, key_col)->atttypid == TEXTOID;

	keycxt = AllocSetContextCreate(fncxt, "fs_ingest entities", ALLOCSET_DEFAULT_SIZES);
	rowcxt = AllocSetContextCreate(fncxt, "fs_ingest row", ALLOCSET_DEFAULT_SIZES);
	entities = fs_string_table("fs_ingest entities", expected_entities(source),
							   sizeof(EntityEntry), keycxt);

	values = palloc(sizeof(Datum) * natts);
	nulls = palloc(sizeof(bool) * natts);
	raw = palloc(sizeof(char *) * natts);
	txt = palloc(sizeof(text *) * natts);
	signature = type_signature(desc, is_feature);
	initStringInfo(&digestbuf);
	digest_datum = palloc(VARHDRSZ + FS_DIGEST_LEN);
	SET_VARSIZE(digest_datum, VARHDRSZ + FS_DIGEST_LEN);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	load_state(entities, keycxt, schema, view);
	{
		Oid			argtypes[5] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
		char	   *sql = psprintf("INSERT INTO %s.fs_ingest_rejects "
								   "(run_id, entity_id, \"column\", raw_value, reason) "
								   "VALUES ($1, $2, $3, $4, $5)",
								   quote_identifier(schema));

		reject_plan = SPI_prepare(sql, 5, argtypes);
		if (reject_plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(reject_plan);
	}
	portal = SPI_cursor_open_with_args(NULL, query.data, 0, NULL, NULL, NULL, true, 0);

	bistate = GetBulkInsertState();
	if (keyrel)
		keybistate = GetBulkInsertState();
	cid = GetCurrentCommandId(true);

	for (;;)
	{
		SPITupleTable *tuptable;
		uint64		nfetched;

		SPI_cursor_fetch(portal, true, FETCH_ROWS);
		tuptable = SPI_tuptable;
		nfetched = SPI_processed;
		if (nfetched == 0)
			break;

		for (uint64 r = 0; r < nfetched; r++)
		{
			MemoryContext oldcxt;
			int			cur = -1;
			const char *problem = NULL;
			bool		found;
			char	   *keystr;
			TimestampTz ts;
			uint8	   *digest = (uint8 *) VARDATA(digest_datum);
			char		class;
			bool		key_ok = false;

			CHECK_FOR_INTERRUPTS();
			MemoryContextReset(rowcxt);
			oldcxt = MemoryContextSwitchTo(rowcxt);
			rows_read++;
			if (rows_read % FS_INGEST_PROGRESS_ROWS == 0)
				ereport(NOTICE,
						(errmsg("fs_ingest run %lld: " INT64_FORMAT " rows read, "
								INT64_FORMAT " rejected",
								(long long) run_id, rows_read, rows_rejected)));

			heap_deform_tuple(tuptable->vals[r], tuptable->tupdesc, values, nulls);
			for (int i = 0; i < natts; i++)
			{
				txt[i] = nulls[i] ? NULL : (text *) pg_detoast_datum_packed((struct varlena *) DatumGetPointer(values[i]));
				raw[i] = NULL;
			}
			values[row_col] = Int64GetDatum(rows_read);
			nulls[row_col] = false;
			values[digest_col] = PointerGetDatum(digest_datum);
			nulls[digest_col] = false;

			/*
			 * The key and the event time first: they are needed to find the
			 * entity and to tell stale rows.
			 */
			if (txt[key_col] == NULL || VARSIZE_ANY_EXHDR(txt[key_col]) == 0)
			{
				cur = key_col;
				problem = "missing entity id";
			}
			else
			{
				char	   *message;

				cur = key_col;
				nulls[key_col] = false;
				if (fs_value_input(&cols[key_col].input, RAW(key_col), cols[key_col].ioparam,
								   cols[key_col].typmod, &values[key_col], &message))
					key_ok = true;
				else
					problem = message;
			}
			if (problem == NULL)
			{
				cur = ts_col;
				nulls[ts_col] = false;
				if (!cols[ts_col].in_source)
					values[ts_col] = TimestampTzGetDatum(default_ts);
				else if (txt[ts_col] == NULL)
				{
					nulls[ts_col] = true;
					problem = "missing event time";
				}
				else if (last_ts_raw != NULL &&
						 VARSIZE_ANY_EXHDR(txt[ts_col]) == VARSIZE_ANY_EXHDR(last_ts_raw) &&
						 memcmp(VARDATA_ANY(txt[ts_col]), VARDATA_ANY(last_ts_raw),
								VARSIZE_ANY_EXHDR(last_ts_raw)) == 0)
					values[ts_col] = TimestampTzGetDatum(last_ts);	/* as the row before */
				else
				{
					char	   *message;

					if (fs_value_input(&cols[ts_col].input, RAW(ts_col), cols[ts_col].ioparam,
									   cols[ts_col].typmod, &values[ts_col], &message))
					{
						last_ts = DatumGetTimestampTz(values[ts_col]);
						if (last_ts_raw)
							pfree(last_ts_raw);
						last_ts_raw = (text *) MemoryContextAlloc(fncxt, VARSIZE_ANY(txt[ts_col]));
						memcpy(last_ts_raw, txt[ts_col], VARSIZE_ANY(txt[ts_col]));
					}
					else
						problem = message;
				}
			}
			for (int i = 0; i < natts && problem == NULL; i++)
			{
				if (is_feature[i] && txt[i] == NULL && cols[i].notnull)
				{
					cur = i;
					problem = "null value in a NOT NULL column";
				}
			}

			/*
			 * Change detection on the source's text: a row whose features are
			 * written exactly as in the last write of its entity (and whose
			 * column types are the same) was valid then and has the same
			 * values now, so it is not converted again.
			 */
			if (problem == NULL)
			{
				keystr = key_is_text ? RAW(key_col)
					: OutputFunctionCall(&key_output, values[key_col]);
				text_digest(&digestbuf, signature, natts, is_feature, txt, digest);
				entry = hash_search(entities, &keystr, HASH_ENTER, &found);
				if (!found)
				{
					entry->key = MemoryContextStrdup(keycxt, keystr);
					entry->has_state = false;
					entry->seen = false;
				}
				if (!entry->has_state || memcmp(entry->state_digest, digest, FS_DIGEST_LEN) != 0)
				{
					/* Convert every feature; a value its type refuses rejects the row. */
					for (int i = 0; i < natts && problem == NULL; i++)
					{
						char	   *message;

						if (!is_feature[i])
							continue;
						cur = i;
						if (txt[i] == NULL)
						{
							values[i] = (Datum) 0;
							nulls[i] = true;
						}
						else
						{
							nulls[i] = false;
							if (!fs_value_input(&cols[i].input, RAW(i), cols[i].ioparam,
												cols[i].typmod, &values[i], &message))
								problem = message;
						}
					}
				}
			}

			if (problem != NULL)
			{
				rows_rejected++;
				reject(reject_plan, run_id, txt[key_col] ? RAW(key_col) : NULL, cols[cur].name,
					   txt[cur] ? RAW(cur) : NULL, problem);
				/* A snapshot keeps the entity of a rejected row whose key is valid. */
				if (keyrel != NULL && key_ok)
				{
					bool		keynull = false;

					heap_insert(keyrel, heap_form_tuple(RelationGetDescr(keyrel),
														&values[key_col], &keynull),
								cid, 0, keybistate);
				}
				MemoryContextSwitchTo(oldcxt);
				continue;
			}

			ts = DatumGetTimestampTz(values[ts_col]);

			if (!entry->seen)
			{
				entry->seen = true;
				if (keyrel)
				{
					bool		keynull = false;

					heap_insert(keyrel, heap_form_tuple(RelationGetDescr(keyrel),
														&values[key_col], &keynull),
								cid, 0, keybistate);
				}
			}
			else
			{
				/* Keep the newest row of each entity; on a tie, the later one. */
				rows_superseded++;
				if (ts < entry->event_time)
				{
					MemoryContextSwitchTo(oldcxt);
					continue;
				}
				if (entry->class == 'w')
				{
					if (nlosers == maxlosers)
					{
						maxlosers = maxlosers ? maxlosers * 2 : 64;
						losers = losers
							? repalloc(losers, sizeof(int64) * maxlosers)
							: MemoryContextAlloc(fncxt, sizeof(int64) * maxlosers);
					}
					losers[nlosers++] = entry->row;
				}
			}
			class = classify(entry, ts, digest);
			entry->class = class;
			entry->event_time = ts;
			entry->row = rows_read;

			/* Only what changed goes on to be written. */
			if (class == 'w')
				heap_insert(rel, heap_form_tuple(desc, values, nulls), cid, 0, bistate);
			MemoryContextSwitchTo(oldcxt);
		}
		SPI_freetuptable(tuptable);
	}
	SPI_cursor_close(portal);
	FreeBulkInsertState(bistate);
	if (keybistate)
		FreeBulkInsertState(keybistate);

	/* Remove the rows a newer row of the same entity superseded. */
	if (nlosers > 0)
	{
		Datum	   *elems = palloc(sizeof(Datum) * nlosers);
		Oid			argtypes[1] = {INT8ARRAYOID};
		Datum		args[1];
		int			rc;

		for (int i = 0; i < nlosers; i++)
			elems[i] = Int64GetDatum(losers[i]);
		args[0] = PointerGetDatum(construct_array(elems, nlosers, INT8OID, 8,
												  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		CommandCounterIncrement();
		rc = SPI_execute_with_args(psprintf("DELETE FROM %s WHERE fs_row OPERATOR(pg_catalog.=) ANY ($1)",
											quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
																	   RelationGetRelationName(rel))),
								   1, argtypes, args, NULL, false, 0);
		if (rc != SPI_OK_DELETE)
			elog(ERROR, "could not remove superseded rows: %s", SPI_result_code_string(rc));
	}

	/*
	 * Count the kept rows by their fate.  An unchanged row with a newer event
	 * time is not written, but its state's time advances, so that a later
	 * row older than it is stale and never replaces the newer values.
	 */
	{
		int			nadv = 0;
		int			maxadv = 0;
		Datum	   *adv_keys = NULL;
		Datum	   *adv_times = NULL;

		hash_seq_init(&seq, entities);
		while ((entry = hash_seq_search(&seq)) != NULL)
		{
			if (!entry->seen)
				continue;
			counts[entry->class == 's' ? 0 : entry->class == 'u' ? 1 : 2]++;
			if (entry->class == 'u' &&
				(!entry->state_has_time || entry->state_time < entry->event_time))
			{
				if (nadv == maxadv)
				{
					maxadv = maxadv ? maxadv * 2 : 64;
					adv_keys = adv_keys ? repalloc(adv_keys, sizeof(Datum) * maxadv)
						: MemoryContextAlloc(fncxt, sizeof(Datum) * maxadv);
					adv_times = adv_times ? repalloc(adv_times, sizeof(Datum) * maxadv)
						: MemoryContextAlloc(fncxt, sizeof(Datum) * maxadv);
				}
				adv_keys[nadv] = CStringGetTextDatum(entry->key);
				adv_times[nadv] = TimestampTzGetDatum(entry->event_time);
				nadv++;
			}
		}
		if (nadv > 0)
			advance_state_times(schema, view, adv_keys, adv_times, nadv);
	}

	SPI_freeplan(reject_plan);
	SPI_finish();
	table_close(rel, NoLock);
	if (keyrel)
		table_close(keyrel, NoLock);
	hash_destroy(entities);
	MemoryContextDelete(keycxt);
	MemoryContextDelete(rowcxt);

	result[0] = Int64GetDatum(rows_read);
	result[1] = Int64GetDatum(rows_rejected);
	result[2] = Int64GetDatum(counts[0] + rows_superseded);
	result[3] = Int64GetDatum(counts[1]);
	result[4] = Int64GetDatum(counts[2]);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(result_desc),
													  result, result_nulls)));
}
