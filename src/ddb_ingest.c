/*-------------------------------------------------------------------------
 *
 * ddb_ingest.c
 *	  Batch ingestion, gold step for feature views stored in fs_dynamodb.
 *
 * fs_ingest_remote writes the rows of the silver table (the changed rows,
 * see ingest.c) to the view's remote table, in chunks (chunk_rows: one
 * hundred rows per read connection, and at least enough writes to fill the
 * write connections several times over, so that a chunk's writes keep
 * max_write_connections in flight rather than wait for their last few):
 *
 *	1. one consistent batch read (fs_ddb_batch_get) of what the store holds
 *	   for the chunk's entities;
 *	2. an entity whose stored event time is newer is stale; one whose stored
 *	   event time and values of the features the source carries (the silver
 *	   table's) are the silver row's already is unchanged (an earlier run
 *	   wrote it, but its state was rolled back: cancelled, failed or rolled
 *	   back by the caller); every other row is written;
 *	3. one wave of concurrent UpdateItem requests that set the event time
 *	   and the carried features only (other lanes write the rest of the
 *	   item), each with the condition "absent, or stored event time <= this
 *	   one", so that a newer value another lane stores meanwhile is never
 *	   replaced (the write then counts as stale);
 *	4. the state (fs_ingest_state) advances for the acknowledged writes and
 *	   the unchanged rows, in the caller's transaction; so does the view's
 *	   history, if it keeps one (history.c reads those items back).
 *
 * So the state never claims a write the store did not acknowledge, and a
 * run after any failure writes exactly what the store is missing.  A store
 * error is raised (after the retries of ddb_client.c): the run's writes
 * so far stay in the store, everything in PostgreSQL rolls back.
 *
 * With a seen-keys table (a snapshot), every entity of the view's state (what
 * the batch lane wrote) that is not in the source (by the join key type's
 * equality; rejected rows' keys are in it too) is then deleted, the whole
 * item, as on the embedded store.  No Scan of the remote table: that would
 * read all of it on every run.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "ddb.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "entity_key.h"
#include "history.h"
#include "utils.h"
#include "ingest.h"
#include "ingest_state.h"
#include "value.h"

PG_FUNCTION_INFO_V1(fs_ingest_remote);

/*
 * A chunk holds at least this many writes per write connection: a chunk's
 * wave of writes keeps every connection busy until its tail, and the
 * chunk's read and state, done between waves, are paid per that many rows.
 */
#define FS_INGEST_WRITE_ROUNDS	8

/* What became of a silver row. */
typedef enum RowOutcome
{
	ROW_PENDING,
	ROW_INSERTED,
	ROW_UPDATED,
	ROW_STALE,
	ROW_UNCHANGED,
	ROW_REJECTED				/* a value the store cannot hold */
} RowOutcome;

typedef struct RemoteRow
{
	Datum	   *values;			/* the silver row */
	bool	   *nulls;
	char	   *entity;			/* the key's output text, for messages */
	Datum		state_entity;	/* text: the state's entity_id (silver's fs_entity) */
	Datum		state_hash;		/* int4: its entity_hash */
	json_t	   *key_av;			/* the key as an AttributeValue (held) */
	TimestampTz ts;
	const uint8 *digest;		/* the silver row's, for the state */
	json_t	   *item;			/* the row as an Item (held) */
	bool		stored;			/* the store has an item for the entity */
	RowOutcome	outcome;
} RemoteRow;

typedef struct KeyEntry
{
	char	   *key;			/* canonical JSON of the key's AttributeValue */
	int			row;
} KeyEntry;

/* Everything a run needs, and the chunk being written. */
typedef struct RemoteRun
{
	int64		run_id;
	char	   *view;
	Oid			schema_oid;		/* feature_store's */
	char	   *schema;
	Relation	rel;
	FsDdbTable *tbl;
	FsDdbEndpoint *ep;
	TupleDesc	sdesc;			/* the silver table's */
	int			skey;			/* silver column indexes (0-based) */
	int			sts;
	int			sdigest;
	int			sentity;
	int			shash;
	int			srow;			/* fs_row, the row's ordinal in the source; or -1 */
	bool	   *is_feature;		/* per silver column */
	int		   *fatt;			/* per silver column: foreign table column, or -1 */
	FmgrInfo	key_out;
	FmgrInfo  **eq;				/* per silver column: the type's equality, or NULL */
	bool		encode_safe;	/* every column's output is built in */
	MemoryContext chunk_cxt;
	FsJsonHold *hold;
	/* the chunk */
	RemoteRow  *rows;
	int			nrows;
	HTAB	   *keys;
	/* counts */
	int64		inserted;
	int64		updated;
	int64		stale;
	int64		unchanged;
	int64		rejected;
	int64		deleted;
	int64		done;
} RemoteRun;

/* The event time as it is stored, for conditions. */
static json_t *
ts_value(RemoteRun *rr, TimestampTz ts)
{
	Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rr->rel), rr->tbl->event_time_attnum - 1);

	return fs_json_hold(rr->hold, fs_ddb_encode(TimestampTzGetDatum(ts), att->atttypid, true,
												NameStr(att->attname), NULL));
}

/*-------------------------------------------------------------------------
 * Reading what the store holds
 *-------------------------------------------------------------------------
 */

/* Whether a jsonb value is the JSON null, which the store keeps as NULL. */
static bool
is_json_null(Datum value)
{
	Jsonb	   *jb = DatumGetJsonbP(value);
	JsonbValue	v;

	return JB_ROOT_IS_SCALAR(jb) && JsonbExtractScalar(&jb->root, &v) && v.type == jbvNull;
}

/*
 * Whether a stored value equals the silver row's, by the type's equality:
 * the store gives numbers back in its own form (1.50 as 1.5, -0 as 0).
 */
static bool
same_value(RemoteRun *rr, int i, Datum stored, bool stored_null, Datum value, bool value_null)
{
	Form_pg_attribute att = TupleDescAttr(rr->sdesc, i);

	if (stored_null || value_null)
	{
		if (stored_null && value_null)
			return true;
		return att->atttypid == JSONBOID && (stored_null ? is_json_null(value) : is_json_null(stored));
	}
	if (rr->eq[i] != NULL)
		return DatumGetBool(FunctionCall2Coll(rr->eq[i], att->attcollation, stored, value));
	return datumIsEqual(stored, value, att->attbyval, att->attlen);
}

/* Compare a stored item with the silver row of its entity. */
static void
take_item(RemoteRun *rr, const FsJv *item)
{
	TupleDesc	fdesc = RelationGetDescr(rr->rel);
	FsJv		key_av;
	char	   *keytext;
	KeyEntry   *e;
	RemoteRow  *row;
	Datum	   *values;
	bool	   *nulls;
	TimestampTz stored_ts = 0;
	bool		ts_null = true;

	if (!fs_jget(item, rr->tbl->key_attr, strlen(rr->tbl->key_attr), &key_av))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("invalid BatchGetItem response from DynamoDB for table \"%s\": an item lacks the key attribute \"%s\"",
						rr->tbl->table, rr->tbl->key_attr)));
	/* As the key was asked for: its canonical JSON. */
	keytext = fs_json_to_cstring(fs_json_hold(rr->hold, fs_jv_to_json(&key_av)), JSON_SORT_KEYS);
	e = hash_search(rr->keys, &keytext, HASH_FIND, NULL);
	if (e == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("invalid BatchGetItem response from DynamoDB for table \"%s\": an item with a key that was not asked for",
						rr->tbl->table),
				 errdetail("Key: %s.", keytext)));
	row = &rr->rows[e->row];
	row->stored = true;

	values = palloc(sizeof(Datum) * rr->sdesc->natts);
	nulls = palloc(sizeof(bool) * rr->sdesc->natts);
	for (int i = 0; i < rr->sdesc->natts; i++)
	{
		nulls[i] = true;
		values[i] = (Datum) 0;
		if (rr->fatt[i] < 0 || !(rr->is_feature[i] || i == rr->sts))
			continue;
		values[i] = fs_decode_column(rr->tbl, item, TupleDescAttr(fdesc, rr->fatt[i]), &nulls[i]);
	}
	if (!nulls[rr->sts])
	{
		ts_null = false;
		stored_ts = DatumGetTimestampTz(values[rr->sts]);
	}

	if (!ts_null && stored_ts > row->ts)
	{
		row->outcome = ROW_STALE;
		return;
	}
	if (ts_null || stored_ts != row->ts)
		return;
	for (int i = 0; i < rr->sdesc->natts; i++)
		if (rr->is_feature[i] &&
			!same_value(rr, i, values[i], nulls[i], row->values[i], row->nulls[i]))
			return;
	row->outcome = ROW_UNCHANGED;
}

/* A stored item of the chunk's entities: compare it with its silver row. */
static void
stored_item(FsDdbGet *get, const FsJv *item)
{
	take_item((RemoteRun *) get->arg, item);
}

/* Read the stored items of the chunk's entities, consistently. */
static void
read_stored(RemoteRun *rr)
{
	FsDdbGet	get;
	FsDdbGet   *gets[1] = {&get};

	memset(&get, 0, sizeof(get));
	get.table = rr->tbl->table;
	get.keys = palloc(sizeof(json_t *) * Max(rr->nrows, 1));
	for (int r = 0; r < rr->nrows; r++)
		if (rr->rows[r].outcome != ROW_REJECTED)
			get.keys[get.nkeys++] = fs_json_hold(rr->hold,
												 json_pack("{sO}", rr->tbl->key_attr,
														   rr->rows[r].key_av));
	get.consistent_read = true;
	get.on_item = stored_item;
	get.arg = rr;
	fs_ddb_batch_get(rr->ep, gets, 1);
}

/*
 * Rows of a chunk: one BatchGetItem per read connection reads the chunk in
 * one round, and the chunk's writes fill the write connections
 * FS_INGEST_WRITE_ROUNDS times or more.  Memory is bounded by this many
 * rows (their items and bodies) and by the reads' answers.
 */
static int
chunk_rows(FsDdbEndpoint *ep)
{
	return Max(FS_DDB_BATCH_GET_MAX * Max(ep->max_connections, 1),
			   FS_INGEST_WRITE_ROUNDS * Max(ep->max_write_connections, 1));
}

/*-------------------------------------------------------------------------
 * Writing
 *-------------------------------------------------------------------------
 */

/* The encoding of one row, for fs_catch_data_error. */
typedef struct RowItem
{
	RemoteRun  *rr;
	RemoteRow  *row;
	json_t	   *item;
	int			start;			/* the first column to encode */
	int			cur;			/* the column being encoded */
} RowItem;

/* Encode the columns of a row from ri->start on into its item. */
static void
encode_row(void *arg)
{
	RowItem    *ri = (RowItem *) arg;
	RemoteRun  *rr = ri->rr;
	TupleDesc	fdesc = RelationGetDescr(rr->rel);

	for (int i = ri->start; i < rr->sdesc->natts; i++)
	{
		Form_pg_attribute att;
		json_t	   *av;

		if (rr->fatt[i] < 0 || ri->row->nulls[i])
			continue;
		ri->cur = i;
		att = TupleDescAttr(fdesc, rr->fatt[i]);
		av = fs_ddb_encode(ri->row->values[i], att->atttypid,
						   rr->fatt[i] + 1 == rr->tbl->event_time_attnum,
						   NameStr(att->attname), ri->row->entity);
		if (av)
			fs_obj_set_new(ri->item, rr->tbl->attr_names[rr->fatt[i]], av);
	}
}

/* Record a value the store cannot hold in fs_ingest_rejects. */
static void
reject_value(RemoteRun *rr, RemoteRow *row, int col, const char *reason)
{
	Form_pg_attribute att = TupleDescAttr(rr->sdesc, col);
	Oid			typoutput;
	bool		isvarlena;

	getTypeOutputInfo(att->atttypid, &typoutput, &isvarlena);
	fs_ingest_reject(rr->schema_oid, rr->run_id, row->entity, NameStr(att->attname),
					 OidOutputFunctionCall(typoutput, row->values[col]), reason,
					 rr->srow >= 0 && !row->nulls[rr->srow]
					 ? DatumGetInt64(row->values[rr->srow]) : 0);
}

/*
 * The silver row as an Item, held; NULL if the store cannot hold one of its
 * values (NaN, a number out of DynamoDB's range), after recording a reject
 * for each such value: the encoding goes on after a refused column.  Only
 * those data errors are caught: the codec raises them before it changes
 * anything but its own JSON.
 */
static json_t *
row_item(RemoteRun *rr, RemoteRow *row)
{
	RowItem		ri;
	ErrorData  *refused;
	bool		rejected = false;

	ri.rr = rr;
	ri.row = row;
	ri.item = fs_held_object(rr->hold);
	ri.start = 0;
	for (;;)
	{
		ri.cur = -1;
		refused = fs_catch_data_error(encode_row, &ri, rr->encode_safe);
		if (refused == NULL)
			break;
		if (ri.cur < 0)
			ReThrowError(refused);
		reject_value(rr, row, ri.cur, fs_error_reason(refused));
		rejected = true;
		ri.start = ri.cur + 1;
	}
	return rejected ? NULL : ri.item;
}

/* A write's call knows its run and row. */
typedef struct WriteArg
{
	RemoteRun  *rr;
	int			row;
} WriteArg;

/* A conditional write's answer: acknowledged, or a newer value is stored. */
static void
write_done(FsDdbCall *call)
{
	WriteArg   *wa = (WriteArg *) call->arg;
	RemoteRow  *row = &wa->rr->rows[wa->row];

	if (call->status == FS_DDB_OK)
		row->outcome = row->stored ? ROW_UPDATED : ROW_INSERTED;
	else if (fs_condition_failed(call))
		row->outcome = ROW_STALE;
	else
		fs_raise_call(call, wa->rr->tbl->table);
}

/*
 * The UpdateItem of one row: the event time and the row's features, which
 * are the features its source carries, and nothing else, for other lanes
 * may have written the others (and fs_seq):
 *
 *	SET #t = :t, #f0 = :v0, ...  REMOVE #f1, ...
 *	if attribute_not_exists(#k) OR attribute_not_exists(#t) OR #t <= :t
 *
 * A NULL feature is an absent attribute, so it is removed.
 */
static json_t *
update_body(RemoteRun *rr, RemoteRow *row)
{
	json_t	   *body = fs_held_object(rr->hold);
	json_t	   *names = fs_json_object();
	json_t	   *values = fs_json_object();
	StringInfoData set;
	StringInfoData remove;
	int			n = 0;

	fs_obj_set_new(body, "TableName", json_string(rr->tbl->table));
	fs_obj_set_new(body, "Key", json_pack("{sO}", rr->tbl->key_attr, row->key_av));
	fs_obj_set_new(body, "ExpressionAttributeNames", names);
	fs_obj_set_new(body, "ExpressionAttributeValues", values);
	fs_obj_set_new(names, "#k", json_string(rr->tbl->key_attr));
	fs_obj_set_new(names, "#t", json_string(rr->tbl->attr_names[rr->tbl->event_time_attnum - 1]));
	fs_obj_set(values, ":t", ts_value(rr, row->ts));

	initStringInfo(&set);
	initStringInfo(&remove);
	appendStringInfoString(&set, "SET #t = :t");
	for (int i = 0; i < rr->sdesc->natts; i++)
	{
		const char *attr;
		json_t	   *av;
		char		name[16];
		char		value[16];

		if (!rr->is_feature[i] || rr->fatt[i] < 0)
			continue;
		attr = rr->tbl->attr_names[rr->fatt[i]];
		snprintf(name, sizeof(name), "#f%d", n);
		snprintf(value, sizeof(value), ":v%d", n);
		n++;
		fs_obj_set_new(names, name, json_string(attr));
		av = json_object_get(row->item, attr);
		if (av == NULL)
			appendStringInfo(&remove, "%s%s", remove.len > 0 ? ", " : " REMOVE ", name);
		else
		{
			fs_obj_set(values, value, av);
			appendStringInfo(&set, ", %s = %s", name, value);
		}
	}
	fs_obj_set_new(body, "UpdateExpression", json_string(psprintf("%s%s", set.data, remove.data)));
	fs_obj_set_new(body, "ConditionExpression",
				   json_string("attribute_not_exists(#k) OR attribute_not_exists(#t) OR #t <= :t"));
	return body;
}

/*
 * Write the chunk's rows that are still pending: one UpdateItem each, all
 * in one concurrent wave, none replacing a newer event time.
 */
static void
write_pending(RemoteRun *rr)
{
	FsDdbCall **calls = palloc(sizeof(FsDdbCall *) * Max(rr->nrows, 1));
	WriteArg   *args = palloc(sizeof(WriteArg) * Max(rr->nrows, 1));
	int			ncalls = 0;

	for (int r = 0; r < rr->nrows; r++)
	{
		RemoteRow  *row = &rr->rows[r];

		if (row->outcome != ROW_PENDING)
			continue;
		args[ncalls].rr = rr;
		args[ncalls].row = r;
		calls[ncalls] = fs_new_call("UpdateItem", update_body(rr, row));
		fs_call_forget(calls[ncalls], rr->tbl->table, row->key_av);
		calls[ncalls]->arg = &args[ncalls];
		calls[ncalls]->on_done = write_done;
		ncalls++;
	}
	if (ncalls > 0)
		fs_ddb_run(rr->ep, calls, ncalls);
}

/*
 * The view's history, in the transaction that advances the state: what the
 * store holds for the entities written, and for those an earlier run wrote
 * whose state was rolled back (unchanged here), which the history lacks.
 */
static void
record_history(RemoteRun *rr)
{
	Datum	   *keys = palloc(sizeof(Datum) * Max(rr->nrows, 1));
	int			n = 0;

	for (int r = 0; r < rr->nrows; r++)
	{
		RemoteRow  *row = &rr->rows[r];

		if ((row->outcome == ROW_INSERTED || row->outcome == ROW_UPDATED ||
			 row->outcome == ROW_UNCHANGED) && !row->nulls[rr->skey])
			keys[n++] = row->values[rr->skey];
	}
	fs_history_record_remote(rr->schema_oid, fs_resolve_view(rr->schema_oid, rr->view), keys, n);
}

/* Advance the state of the chunk's written and unchanged rows; count them. */
static void
record_chunk(RemoteRun *rr)
{
	Datum	   *entities = palloc(sizeof(Datum) * Max(rr->nrows, 1));
	Datum	   *hashes = palloc(sizeof(Datum) * Max(rr->nrows, 1));
	Datum	   *digests = palloc(sizeof(Datum) * Max(rr->nrows, 1));
	Datum	   *times = palloc(sizeof(Datum) * Max(rr->nrows, 1));
	int			n = 0;

	for (int r = 0; r < rr->nrows; r++)
	{
		RemoteRow  *row = &rr->rows[r];
		bytea	   *d;

		switch (row->outcome)
		{
			case ROW_INSERTED:
				rr->inserted++;
				break;
			case ROW_UPDATED:
				rr->updated++;
				break;
			case ROW_UNCHANGED:
				rr->unchanged++;
				break;
			case ROW_STALE:
				rr->stale++;
				continue;
			case ROW_REJECTED:
				rr->rejected++;
				continue;
			case ROW_PENDING:
				elog(ERROR, "row of entity \"%s\" was neither written nor skipped", row->entity);
		}
		d = palloc(VARHDRSZ + FS_DIGEST_LEN);
		SET_VARSIZE(d, VARHDRSZ + FS_DIGEST_LEN);
		memcpy(VARDATA(d), row->digest, FS_DIGEST_LEN);
		entities[n] = row->state_entity;
		hashes[n] = row->state_hash;
		digests[n] = PointerGetDatum(d);
		times[n] = TimestampTzGetDatum(row->ts);
		n++;
	}
	fs_state_record(rr->schema_oid, rr->view, entities, hashes, digests, times, n);
	record_history(rr);
	rr->done += rr->nrows;
}

/* Take the rows of a fetched silver chunk; read, compare, write, record. */
static void
write_chunk(RemoteRun *rr, SPITupleTable *tuptable, int ntuples)
{
	rr->rows = palloc0(sizeof(RemoteRow) * Max(ntuples, 1));
	rr->nrows = ntuples;
	rr->keys = fs_string_table("fs_ingest remote keys", ntuples, sizeof(KeyEntry), rr->chunk_cxt);

	for (int r = 0; r < ntuples; r++)
	{
		RemoteRow  *row = &rr->rows[r];
		TupleDesc	fdesc = RelationGetDescr(rr->rel);
		Form_pg_attribute katt = TupleDescAttr(fdesc, rr->tbl->key_attnum - 1);
		char	   *keytext;
		KeyEntry   *e;
		bool		found;

		row->values = palloc(sizeof(Datum) * rr->sdesc->natts);
		row->nulls = palloc(sizeof(bool) * rr->sdesc->natts);
		heap_deform_tuple(tuptable->vals[r], tuptable->tupdesc, row->values, row->nulls);
		if (row->nulls[rr->skey] || row->nulls[rr->sts] || row->nulls[rr->sdigest] ||
			(rr->sentity >= 0 && (row->nulls[rr->sentity] || row->nulls[rr->shash])))
			elog(ERROR, "silver row lacks its key, event time, digest or state entity");
		row->entity = OutputFunctionCall(&rr->key_out, row->values[rr->skey]);
		/* 0.1.0's silver has no state entity: its state is by text. */
		row->state_entity = rr->sentity >= 0 ? row->values[rr->sentity]
			: CStringGetTextDatum(row->entity);
		row->state_hash = rr->shash >= 0 ? row->values[rr->shash] : Int32GetDatum(0);
		row->key_av = fs_json_hold(rr->hold, fs_ddb_encode(row->values[rr->skey], katt->atttypid,
														   false, NameStr(katt->attname),
														   row->entity));
		row->ts = DatumGetTimestampTz(row->values[rr->sts]);
		{
			bytea	   *d = DatumGetByteaPP(row->values[rr->sdigest]);

			if (VARSIZE_ANY_EXHDR(d) != FS_DIGEST_LEN)
				elog(ERROR, "silver row has a digest of the wrong length");
			row->digest = (const uint8 *) VARDATA_ANY(d);
		}
		keytext = fs_json_to_cstring(row->key_av, JSON_SORT_KEYS);
		e = hash_search(rr->keys, &keytext, HASH_ENTER, &found);
		if (found)
			ereport(ERROR,
					(errcode(ERRCODE_UNIQUE_VIOLATION),
					 errmsg("entities \"%s\" and \"%s\" are the same key of remote table \"%s\"",
							rr->rows[e->row].entity, row->entity, rr->tbl->table),
					 errdetail("Both are stored under the key %s.", keytext)));
		e->row = r;
	}

	/* Rows with a value the store cannot hold are rejected, not sent. */
	for (int r = 0; r < ntuples; r++)
	{
		RemoteRow  *row = &rr->rows[r];

		row->item = row_item(rr, row);
		if (row->item == NULL)
			row->outcome = ROW_REJECTED;
	}
	read_stored(rr);
	write_pending(rr);
	record_chunk(rr);
}

/*-------------------------------------------------------------------------
 * Snapshot deletes
 *-------------------------------------------------------------------------
 */

typedef struct DeleteArg
{
	RemoteRun  *rr;
	FsStateRow *row;
	bool		acked;
} DeleteArg;

/* A DeleteItem's answer: acknowledged, or an error raised. */
static void
delete_done(FsDdbCall *call)
{
	DeleteArg  *da = (DeleteArg *) call->arg;

	if (call->status == FS_DDB_OK)
		da->acked = true;
	else
		fs_raise_call(call, da->rr->tbl->table);
}

/*
 * Delete the remote items of state rows the source does not have, for
 * fs_state_absent: one wave of DeleteItem requests, then forget them all.
 * A snapshot says which entities exist, so the whole item goes, whatever
 * its event time and whichever lane wrote its other attributes, as the
 * embedded store deletes the whole row.  A row whose entity_id is no key of
 * the view's type names no item: it is only forgotten.  A store error is
 * raised, and nothing forgotten.
 */
static void
delete_chunk(void *arg, FsStateRow *rows, int n)
{
	RemoteRun  *rr = (RemoteRun *) arg;
	TupleDesc	fdesc = RelationGetDescr(rr->rel);
	Form_pg_attribute katt = TupleDescAttr(fdesc, rr->tbl->key_attnum - 1);
	FsDdbCall **calls = palloc(sizeof(FsDdbCall *) * n);
	DeleteArg  *args = palloc(sizeof(DeleteArg) * n);
	Datum	   *forget = palloc(sizeof(Datum) * n);
	Datum	   *forget_hashes = palloc(sizeof(Datum) * n);
	Datum	   *deleted = palloc(sizeof(Datum) * n);
	int			ncalls = 0;
	int			nforget = 0;
	int			ndeleted = 0;

	rr->hold = fs_json_hold_create(CurrentMemoryContext);
	for (int r = 0; r < n; r++)
	{
		FsStateRow *row = &rows[r];
		json_t	   *body;

		CHECK_FOR_INTERRUPTS();
		if (!row->has_key)
		{
			forget[nforget] = CStringGetTextDatum(row->entity);
			forget_hashes[nforget++] = Int32GetDatum(row->hash);
			continue;
		}
		body = fs_held_object(rr->hold);
		fs_obj_set_new(body, "TableName", json_string(rr->tbl->table));
		fs_obj_set_new(body, "Key",
					   json_pack("{so}", rr->tbl->key_attr,
								 fs_ddb_encode(row->key, katt->atttypid, false,
											   NameStr(katt->attname), row->entity)));
		args[ncalls].rr = rr;
		args[ncalls].row = row;
		args[ncalls].acked = false;
		calls[ncalls] = fs_new_call("DeleteItem", body);
		fs_call_forget(calls[ncalls], rr->tbl->table,
					   json_object_get(json_object_get(body, "Key"), rr->tbl->key_attr));
		calls[ncalls]->arg = &args[ncalls];
		calls[ncalls]->on_done = delete_done;
		ncalls++;
	}
	if (ncalls > 0)
		fs_ddb_run(rr->ep, calls, ncalls);
	for (int c = 0; c < ncalls; c++)
	{
		forget[nforget] = CStringGetTextDatum(args[c].row->entity);
		forget_hashes[nforget++] = Int32GetDatum(args[c].row->hash);
		if (args[c].acked)
		{
			rr->deleted++;
			deleted[ndeleted++] = args[c].row->key;
		}
	}
	fs_state_delete(rr->schema_oid, rr->view, forget, forget_hashes, nforget);
	fs_history_record_remote(rr->schema_oid, fs_resolve_view(rr->schema_oid, rr->view),
							 deleted, ndeleted);
}

/*
 * Delete the entities the batch lane wrote (those of the view's state) that
 * are not among the source's keys (the table seen), in waves.  Not a Scan of
 * the remote table: that would read all of it every run.  The source's keys
 * are held in a hash table within maintenance_work_mem: when there are more,
 * in parts by the keys' hash, the table seen and the state read once a part.
 */
static void
delete_absent(RemoteRun *rr, Oid seen)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "fs_ingest snapshot keys",
											  ALLOCSET_DEFAULT_SIZES);
	FsKeyType	kt;
	char	   *seen_name = fs_qualified_relation_name(seen);
	char	   *query;
	double		per_key;
	double		nkeys;
	int			nparts;
	bool		isnull;

	fs_key_type_of(&kt, RelationGetRelid(rr->rel), rr->tbl->key_attnum);
	/* An entry, the table's free slots, a copy of a key passed by reference. */
	per_key = sizeof(FsKey) * 4.0 + (kt.typbyval ? 0 : 48);
	if (SPI_execute(psprintf("SELECT pg_catalog.count(*) FROM %s", seen_name), true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not count the keys of a snapshot's source");
	nkeys = (double) DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
												 &isnull));
	SPI_freetuptable(SPI_tuptable);
	nparts = (int) Min(1024.0, Max(1.0, ceil(nkeys * per_key /
											 ((double) maintenance_work_mem * 1024.0))));
	query = psprintf("SELECT s.%s FROM %s s",
					 quote_identifier(get_attname(seen, 1, false)), seen_name);
	for (int part = 0; part < nparts; part++)
	{
		HTAB	   *present;
		Portal		portal;

		MemoryContextReset(cxt);
		present = fs_key_table("fs_ingest snapshot keys", 1024, sizeof(FsKey), cxt);
		portal = SPI_cursor_open_with_args(NULL, query, 0, NULL, NULL, NULL, true, 0);
		for (;;)
		{
			SPI_cursor_fetch(portal, true, 10000);
			if (SPI_processed == 0)
				break;
			for (uint64 r = 0; r < SPI_processed; r++)
			{
				bool		found;
				FsKey		k;
				FsKey	   *e;

				k.value = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull);
				k.type = &kt;
				if (isnull || fs_state_part(&kt, k.value, nparts) != part)
					continue;
				e = hash_search(present, &k, HASH_ENTER, &found);
				if (!found)
					e->value = fs_key_copy(&kt, k.value, cxt);
			}
			SPI_freetuptable(SPI_tuptable);
		}
		SPI_cursor_close(portal);
		fs_state_absent(rr->schema_oid, rr->view, &kt, present, nparts, part,
						chunk_rows(rr->ep), delete_chunk, rr);
	}
	MemoryContextDelete(cxt);
}

/*-------------------------------------------------------------------------
 * fs_ingest_remote(run_id, feature_view, relation, silver, seen_keys)
 *-------------------------------------------------------------------------
 */
Datum
fs_ingest_remote(PG_FUNCTION_ARGS)
{
	RemoteRun	rr;
	Oid			relid = PG_GETARG_OID(2);
	Oid			silver = PG_GETARG_OID(3);
	Oid			seen = PG_ARGISNULL(4) ? InvalidOid : PG_GETARG_OID(4);
	Relation	srel;
	Relation	keyrel = NULL;
	TupleDesc	fdesc;
	TupleDesc	result_desc;
	Oid			typoutput;
	bool		isvarlena;
	Portal		portal;
	int			fetch;
	char	   *query;
	Datum		result[8];
	bool		result_nulls[8] = {false, false, false, false, false, false, false, false};
	FsDdbStats	stats_before = fs_ddb_stats;
	MemoryContext fncxt = CurrentMemoryContext;

	if (get_call_result_type(fcinfo, NULL, &result_desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	for (int i = 0; i < 4; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("fs_ingest_remote: only seen_keys may be null")));
	memset(&rr, 0, sizeof(rr));
	rr.run_id = PG_GETARG_INT64(0);
	rr.view = text_to_cstring(PG_GETARG_TEXT_PP(1));
	rr.schema_oid = get_func_namespace(fcinfo->flinfo->fn_oid);
	rr.schema = get_namespace_name(rr.schema_oid);

	rr.rel = table_open(relid, RowExclusiveLock);
	if (rr.rel->rd_rel->relkind != RELKIND_FOREIGN_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a foreign table", RelationGetRelationName(rr.rel))));
	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_FOREIGN_TABLE, RelationGetRelationName(rr.rel));
	rr.tbl = fs_ddb_table(rr.rel);
	if (rr.tbl->event_time_attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("foreign table \"%s\" has no event-time column", RelationGetRelationName(rr.rel))));
	rr.ep = fs_ddb_endpoint(rr.tbl->serverid, GetUserId());
	fdesc = RelationGetDescr(rr.rel);

	srel = table_open(silver, AccessShareLock);
	fs_ingest_check_scratch_table(srel);
	if (OidIsValid(seen))
	{
		keyrel = table_open(seen, AccessShareLock);
		fs_ingest_check_scratch_table(keyrel);
	}
	rr.sdesc = CreateTupleDescCopy(RelationGetDescr(srel));
	rr.is_feature = palloc0(sizeof(bool) * rr.sdesc->natts);
	rr.fatt = palloc(sizeof(int) * rr.sdesc->natts);
	rr.skey = rr.sts = rr.sdigest = rr.sentity = rr.shash = rr.srow = -1;
	for (int i = 0; i < rr.sdesc->natts; i++)
	{
		Form_pg_attribute satt = TupleDescAttr(rr.sdesc, i);
		const char *name = NameStr(satt->attname);

		rr.fatt[i] = -1;
		if (satt->attisdropped)
			continue;
		if (strcmp(name, "fs_digest") == 0)
		{
			rr.sdigest = i;
			continue;
		}
		if (strcmp(name, "fs_entity") == 0)
		{
			rr.sentity = i;
			continue;
		}
		if (strcmp(name, "fs_entity_hash") == 0)
		{
			rr.shash = i;
			continue;
		}
		if (strcmp(name, "fs_row") == 0)
		{
			rr.srow = i;
			continue;
		}
		for (int j = 0; j < fdesc->natts; j++)
		{
			Form_pg_attribute fatt = TupleDescAttr(fdesc, j);

			if (!fatt->attisdropped && strcmp(NameStr(fatt->attname), name) == 0)
			{
				if (fatt->atttypid != satt->atttypid)
					elog(ERROR, "silver column \"%s\" does not have the type of the view's column", name);
				rr.fatt[i] = j;
				break;
			}
		}
		if (rr.fatt[i] < 0)
			elog(ERROR, "silver column \"%s\" is not a column of \"%s\"", name,
				 RelationGetRelationName(rr.rel));
		if (rr.fatt[i] + 1 == rr.tbl->key_attnum)
			rr.skey = i;
		else if (rr.fatt[i] + 1 == rr.tbl->event_time_attnum)
			rr.sts = i;
		else
			rr.is_feature[i] = true;
	}
	if (rr.skey < 0 || rr.sts < 0 || rr.sdigest < 0 ||
		(fs_state_hashed(rr.schema_oid) && (rr.sentity < 0 || rr.shash < 0)))
		elog(ERROR, "silver table lacks the join key, event-time, fs_digest, fs_entity or fs_entity_hash column");
	/* They are read as Datums of these types. */
	fs_ingest_check_scratch_column(srel, rr.sdigest, BYTEAOID);
	if (rr.srow >= 0)
		fs_ingest_check_scratch_column(srel, rr.srow, INT8OID);
	if (rr.sentity >= 0)
		fs_ingest_check_scratch_column(srel, rr.sentity, TEXTOID);
	if (rr.shash >= 0)
		fs_ingest_check_scratch_column(srel, rr.shash, INT4OID);
	table_close(srel, NoLock);
	/* A type's own output function may run anything: then catch in a subtransaction. */
	rr.encode_safe = true;
	for (int i = 0; i < rr.sdesc->natts; i++)
		if (rr.fatt[i] >= 0 &&
			!fs_type_is_builtin(TupleDescAttr(fdesc, rr.fatt[i])->atttypid, false))
			rr.encode_safe = false;

	getTypeOutputInfo(TupleDescAttr(fdesc, rr.tbl->key_attnum - 1)->atttypid, &typoutput, &isvarlena);
	fmgr_info(typoutput, &rr.key_out);
	rr.eq = palloc0(sizeof(FmgrInfo *) * rr.sdesc->natts);
	for (int i = 0; i < rr.sdesc->natts; i++)
	{
		TypeCacheEntry *tc;

		if (!rr.is_feature[i])
			continue;
		tc = lookup_type_cache(TupleDescAttr(rr.sdesc, i)->atttypid, TYPECACHE_EQ_OPR_FINFO);
		if (OidIsValid(tc->eq_opr_finfo.fn_oid))
			rr.eq[i] = &tc->eq_opr_finfo;
	}
	rr.chunk_cxt = AllocSetContextCreate(fncxt, "fs_ingest remote chunk", ALLOCSET_DEFAULT_SIZES);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* The state written is that of the view whose table this is. */
	if (fs_state_check_owner(rr.schema_oid, rr.view, false) != relid)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is not the relation of feature view \"%s\"",
						RelationGetRelationName(rr.rel), rr.view)));
	fs_ingest_check_run(rr.schema_oid, rr.run_id, rr.view);
	/* Gold: the changed rows, a chunk at a time. */
	fetch = chunk_rows(rr.ep);
	query = psprintf("SELECT * FROM %s",
					 quote_qualified_identifier(get_namespace_name(get_rel_namespace(silver)),
												get_rel_name(silver)));
	portal = SPI_cursor_open_with_args(NULL, query, 0, NULL, NULL, NULL, true, 0);
	for (;;)
	{
		MemoryContext old;
		int64		before = rr.done;
		SPITupleTable *tuptable;

		SPI_cursor_fetch(portal, true, fetch);
		if (SPI_processed == 0)
			break;
		tuptable = SPI_tuptable;
		MemoryContextReset(rr.chunk_cxt);
		old = MemoryContextSwitchTo(rr.chunk_cxt);
		rr.hold = fs_json_hold_create(rr.chunk_cxt);
		write_chunk(&rr, tuptable, (int) SPI_processed);
		MemoryContextSwitchTo(old);
		SPI_freetuptable(tuptable);
		if (rr.done / FS_INGEST_PROGRESS_ROWS != before / FS_INGEST_PROGRESS_ROWS)
			ereport(NOTICE,
					(errmsg("fs_ingest run %lld: " INT64_FORMAT " changed rows sent to remote table \"%s\"",
							(long long) rr.run_id, rr.done, rr.tbl->table)));
	}
	SPI_cursor_close(portal);

	/* A snapshot: delete what the source no longer has. */
	if (OidIsValid(seen))
	{
		delete_absent(&rr, seen);
		table_close(keyrel, NoLock);
	}

	SPI_finish();
	table_close(rr.rel, NoLock);

	result[0] = Int64GetDatum(rr.inserted);
	result[1] = Int64GetDatum(rr.updated);
	result[2] = Int64GetDatum(rr.stale);
	result[3] = Int64GetDatum(rr.unchanged);
	result[4] = Int64GetDatum(rr.deleted);
	result[5] = Int64GetDatum(fs_ddb_stats.requests - stats_before.requests);
	result[6] = Float8GetDatum(fs_ddb_stats.wait_ms - stats_before.wait_ms);
	result[7] = Int64GetDatum(rr.rejected);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(result_desc, result, result_nulls)));
}
