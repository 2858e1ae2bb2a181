/*-------------------------------------------------------------------------
 *
 * ddb_write.c
 *	  Direct and streamed writes into the DynamoDB-compatible store.
 *
 * A write of some features of one entity is one UpdateItem that sets (or
 * adds to, or removes) only those attributes, with a ConditionExpression on
 * the event-time attribute, so that a newer stored value is never replaced;
 * every write of a call goes out in one concurrent wave.  A streamed write
 * carries a seq (its queue id) that the item keeps in the attribute fs_seq:
 * a write whose seq is not above the stored one is a duplicate of one
 * already applied (a flush retried after its writes reached the store), so
 * streamed adds never count twice.  A failed condition is told apart
 * (stale, or duplicate) by a second wave of consistent GetItem.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "ddb.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/rel.h"

#include "store.h"
#include "utils.h"

/* The remote attribute holding the seq of the last streamed write. */
#define SEQ_ATTR "fs_seq"

/* One write to the remote store. */
typedef struct RemoteWrite
{
	struct RemoteCall *rc;
	FsPrepared *p;
	json_t	   *key;			/* the Key object (held) */
	char	   *keytext;		/* its canonical JSON */
	bool		ask_seq;		/* the condition failed: stale, or a duplicate? */
	bool		add_again;		/* an add older than the stored event time:
								 * add without moving the event time */
} RemoteWrite;

/* The writes of a call to one remote table. */
typedef struct RemoteCall
{
	FsView	   *view;
	FsDdbTable *tbl;
	FsDdbEndpoint *ep;
	FsJsonHold *hold;
	const char *ts_attr;
	bool		ts_is_event_time;	/* stored as epoch seconds (N) */
} RemoteCall;

/* An UpdateItem's answer: written, or the condition kept a newer value. */
static void
update_done(FsDdbCall *call)
{
	RemoteWrite *rw = (RemoteWrite *) call->arg;

	if (call->status == FS_DDB_OK)
		rw->p->w->status = FS_WRITE_WRITTEN;
	else if (fs_condition_failed(call))
	{
		if (rw->p->w->seq > 0)
			rw->ask_seq = true;
		else if (fs_write_add_only(rw->p))
			rw->add_again = true;
		else
			rw->p->w->status = FS_WRITE_STALE;
	}
	else
		fs_raise_call(call, rw->rc->tbl->table);
}

/*
 * A GetItem's answer after a failed condition with a seq: the stored seq is
 * this write's or a later one (DUPLICATE), or the stored event time is newer
 * (STALE).
 */
static void
seq_done(FsDdbCall *call)
{
	RemoteWrite *rw = (RemoteWrite *) call->arg;
	RemoteCall *rc = rw->rc;
	json_t	   *root;
	json_t	   *item;
	json_t	   *av;
	json_t	   *n;
	int64		stored = 0;

	if (call->status != FS_DDB_OK)
		fs_raise_call(call, rc->tbl->table);
	root = fs_parse_response(rc->hold, call, rc->tbl->table);
	item = json_object_get(root, "Item");
	if (item != NULL && !json_is_object(item))
		fs_bad_shape(call, rc->tbl->table, "\"Item\" is not an object");
	av = item ? json_object_get(item, SEQ_ATTR) : NULL;
	n = av && json_is_object(av) ? json_object_get(av, "N") : NULL;
	if (av != NULL && (n == NULL || !json_is_string(n)))
		fs_bad_shape(call, rc->tbl->table, "attribute \"" SEQ_ATTR "\" is not a number");
	if (n != NULL)
	{
		char	   *end;

		errno = 0;
		stored = strtoll(json_string_value(n), &end, 10);
		if (errno != 0 || *end != '\0')
			fs_bad_shape(call, rc->tbl->table, "attribute \"" SEQ_ATTR "\" is not an integer");
	}
	if (stored >= rw->p->w->seq)
		rw->p->w->status = FS_WRITE_DUPLICATE;
	else if (fs_write_add_only(rw->p))
		rw->add_again = true;
	else
		rw->p->w->status = FS_WRITE_STALE;
}

/*
 * The UpdateItem of one write:
 *
 *	SET #t = :t, #f0 = :v0, ... [, #s = :s]  ADD #f1 :v1, ...  REMOVE #f2, ...
 *	if attribute_not_exists(#k) OR attribute_not_exists(#t) OR #t <= :t
 *	   [AND (attribute_not_exists(#s) OR #s < :s)]
 */
static FsDdbCall *
update_call(RemoteCall *rc, RemoteWrite *rw, bool again)
{
	FsView	   *view = rc->view;
	FsPrepared *p = rw->p;
	json_t	   *body = fs_held_object(rc->hold);
	json_t	   *names = fs_json_object();
	json_t	   *values = fs_json_object();
	StringInfoData set;
	StringInfoData add;
	StringInfoData remove;
	StringInfoData cond;
	FsDdbCall  *call;

	fs_obj_set_new(body, "ExpressionAttributeNames", names);
	fs_obj_set_new(body, "ExpressionAttributeValues", values);
	fs_obj_set_new(body, "TableName", json_string(rc->tbl->table));
	fs_obj_set(body, "Key", rw->key);
	fs_obj_set_new(names, "#k", json_string(rc->tbl->key_attr));
	fs_obj_set_new(names, "#t", json_string(rc->ts_attr));
	fs_obj_set_new(values, ":t", fs_ddb_encode(TimestampTzGetDatum(p->w->event_time),
											   TIMESTAMPTZOID, rc->ts_is_event_time,
											   view->event_time_column, p->entity));

	initStringInfo(&set);
	initStringInfo(&add);
	initStringInfo(&remove);
	initStringInfo(&cond);
	/* Adding again (older than the stored event time): the event time stays. */
	if (!again)
		appendStringInfoString(&set, "SET #t = :t");
	if (fs_write_condition_time(p->w) != p->w->event_time && !again)
		fs_obj_set_new(values, ":m", fs_ddb_encode(TimestampTzGetDatum(fs_write_condition_time(p->w)),
												   TIMESTAMPTZOID, rc->ts_is_event_time,
												   view->event_time_column, p->entity));
	for (int c = 0; c < p->ncols; c++)
	{
		FsWriteCol *col = &p->cols[c];
		FsFeature  *feat = &view->features[col->feat];
		char		name[16];
		char		value[16];

		snprintf(name, sizeof(name), "#f%d", c);
		snprintf(value, sizeof(value), ":v%d", c);
		fs_obj_set_new(names, name, json_string(rc->tbl->attr_names[feat->attnum - 1]));
		if (col->isnull)
		{
			appendStringInfo(&remove, "%s%s", remove.len > 0 ? ", " : " REMOVE ", name);
			continue;
		}
		fs_obj_set_new(values, value, fs_ddb_encode(col->value, feat->typid, false,
													feat->name, p->entity));
		if (col->add)
			appendStringInfo(&add, "%s%s %s", add.len > 0 ? ", " : " ADD ", name, value);
		else
			appendStringInfo(&set, ", %s = %s", name, value);
	}
	if (again)
	{
		/* Only the seq guards it; #k and #t are not used. */
		json_object_del(names, "#k");
		json_object_del(names, "#t");
		json_object_del(values, ":t");
	}
	else
		appendStringInfoString(&cond,
							   fs_write_condition_time(p->w) != p->w->event_time
							   ? "(attribute_not_exists(#k) OR attribute_not_exists(#t) OR #t <= :m)"
							   : "(attribute_not_exists(#k) OR attribute_not_exists(#t) OR #t <= :t)");
	if (p->w->seq > 0)
	{
		fs_obj_set_new(names, "#s", json_string(SEQ_ATTR));
		fs_obj_set_new(values, ":s", json_pack("{ss}", "N",
											   psprintf(INT64_FORMAT, p->w->seq)));
		appendStringInfoString(&set, set.len > 0 ? ", #s = :s" : "SET #s = :s");
		appendStringInfoString(&cond, again ? "(attribute_not_exists(#s) OR #s < :s)"
							   : " AND (attribute_not_exists(#s) OR #s < :s)");
	}
	fs_obj_set_new(body, "UpdateExpression",
				   json_string(psprintf("%s%s%s", set.data, add.data, remove.data)));
	if (cond.len > 0)
		fs_obj_set_new(body, "ConditionExpression", json_string(cond.data));
	if (json_object_size(values) == 0)
		json_object_del(body, "ExpressionAttributeValues");

	call = fs_new_call("UpdateItem", body);
	call->arg = rw;
	call->on_done = update_done;
	fs_call_forget(call, rc->tbl->table, json_object_get(rw->key, rc->tbl->key_attr));
	return call;
}

/* A consistent GetItem of the stored seq of a write's entity. */
static FsDdbCall *
seq_call(RemoteCall *rc, RemoteWrite *rw)
{
	json_t	   *body = fs_held_object(rc->hold);
	FsDdbCall  *call;

	fs_obj_set_new(body, "TableName", json_string(rc->tbl->table));
	fs_obj_set(body, "Key", rw->key);
	fs_obj_set_new(body, "ConsistentRead", json_true());
	fs_obj_set_new(body, "ProjectionExpression", json_string("#s"));
	fs_obj_set_new(body, "ExpressionAttributeNames", json_pack("{ss}", "#s", SEQ_ATTR));
	call = fs_new_call("GetItem", body);
	call->arg = rw;
	call->on_done = seq_done;
	return call;
}

/* Send calls[0..n) at once, with the remote table in the error context. */
static void
run_wave(RemoteCall *rc, Relation rel, FsDdbCall **calls, int n)
{
	FsCallContext cc;
	ErrorContextCallback errcb;

	if (n == 0)
		return;
	fs_push_call_context(&errcb, &cc, rc->tbl->table, RelationGetRelationName(rel));
	fs_ddb_run(rc->ep, calls, n);
	error_context_stack = errcb.previous;
}

/* For the writes whose condition failed with a seq: one wave of GetItem. */
static void
ask_seqs(RemoteCall *rc, Relation rel, RemoteWrite *rws, int n, FsDdbCall **calls)
{
	int			ncalls = 0;

	for (int i = 0; i < n; i++)
		if (rws[i].ask_seq)
			calls[ncalls++] = seq_call(rc, &rws[i]);
	run_wave(rc, rel, calls, ncalls);
}

/* Refuse a value DynamoDB cannot hold (NaN, 1e300), naming feature and entity. */
void
fs_ddb_check_write(FsView *view, FsPrepared *p)
{
	for (int c = 0; c < p->ncols; c++)
		if (!p->cols[c].isnull)
		{
			FsFeature  *feat = &view->features[p->cols[c].feat];

			json_decref(fs_ddb_encode(p->cols[c].value, feat->typid, false, feat->name,
									  p->entity));
		}
}

/*
 * Write to the DynamoDB-compatible store: one UpdateItem per write, all in
 * one concurrent wave (a key written twice starts a new wave, so writes of
 * one entity apply in order); then, for the failed conditions of writes with
 * a seq, one wave of GetItem to tell stale from duplicate.
 */
void
fs_ddb_write(FsView *view, Relation rel, FsPrepared *ps, int n)
{
	RemoteCall	rc;
	RemoteWrite *rws = palloc0(sizeof(RemoteWrite) * Max(n, 1));
	FsDdbCall **calls = palloc(sizeof(FsDdbCall *) * Max(n, 1));
	HTAB	   *wave_keys;
	int			ncalls = 0;
	Form_pg_attribute katt = TupleDescAttr(RelationGetDescr(rel), view->key_attnum - 1);

	memset(&rc, 0, sizeof(rc));
	rc.view = view;
	rc.tbl = fs_ddb_table(rel);
	rc.hold = fs_json_hold_create(CurrentMemoryContext);
	if (rc.tbl->key_attnum != view->key_attnum)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("join key \"%s\" of feature view \"%s\" is not the partition key of remote table \"%s\"",
						view->join_key, view->name, rc.tbl->table),
				 errdetail("The partition key attribute is \"%s\".", rc.tbl->key_attr)));
	rc.ts_attr = rc.tbl->attr_names[view->ts_attnum - 1];
	rc.ts_is_event_time = (rc.tbl->event_time_attnum == view->ts_attnum);
	for (int i = 0; i < n; i++)
	{
		if (ps[i].w->seq <= 0)
			continue;
		for (int a = 0; a < rc.tbl->natts; a++)
			if (rc.tbl->attr_names[a] && strcmp(rc.tbl->attr_names[a], SEQ_ATTR) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("a column of foreign table \"%s\" is stored in attribute \"%s\"",
								RelationGetRelationName(rel), SEQ_ATTR),
						 errdetail("Streamed writes keep their sequence number in that attribute.")));
		break;
	}
	rc.ep = fs_ddb_endpoint(rc.tbl->serverid, GetUserId());

	wave_keys = fs_string_table("feature_store write keys", Max(n, 16), sizeof(char *),
								CurrentMemoryContext);

	for (int i = 0; i < n; i++)
	{
		RemoteWrite *rw = &rws[i];
		bool		found;

		CHECK_FOR_INTERRUPTS();
		rw->rc = &rc;
		rw->p = &ps[i];
		rw->key = fs_held_object(rc.hold);
		fs_obj_set_new(rw->key, rc.tbl->key_attr,
					   fs_ddb_encode(ps[i].key, katt->atttypid, false, view->join_key,
									 ps[i].entity));
		rw->keytext = fs_json_to_cstring(rw->key, JSON_SORT_KEYS);
		hash_search(wave_keys, &rw->keytext, HASH_ENTER, &found);
		if (found)
		{
			run_wave(&rc, rel, calls, ncalls);
			ncalls = 0;
			hash_destroy(wave_keys);
			wave_keys = fs_string_table("feature_store write keys", Max(n, 16), sizeof(char *),
										CurrentMemoryContext);
			hash_search(wave_keys, &rw->keytext, HASH_ENTER, NULL);
		}
		calls[ncalls++] = update_call(&rc, rw, false);
	}
	run_wave(&rc, rel, calls, ncalls);

	ask_seqs(&rc, rel, rws, n, calls);

	/*
	 * Adds older than the stored event time still count: add again, without
	 * the event time (a write of an entity at most once per call here).
	 */
	ncalls = 0;
	for (int i = 0; i < n; i++)
		if (rws[i].add_again)
		{
			rws[i].add_again = false;
			rws[i].ask_seq = false;
			calls[ncalls++] = update_call(&rc, &rws[i], true);
		}
	run_wave(&rc, rel, calls, ncalls);
	ask_seqs(&rc, rel, rws, n, calls);
}
