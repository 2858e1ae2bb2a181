/*-------------------------------------------------------------------------
 *
 * store_local.c
 *	  The embedded store: feature views backed by plain tables.
 *
 * A lookup is one pass over the batch of keys with a single index scan,
 * rescanned per key: no SQL, no plan, no executor per entity.  Values are
 * copied out of the buffer before the next probe releases it.
 *
 * A write is one INSERT ... ON CONFLICT DO UPDATE per entity whose WHERE
 * keeps a newer stored event time; the statement is prepared once per table
 * and set of columns and kept until a relcache invalidation of the table
 * (or a change of any schema) makes it stale.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/sortsupport.h"
#include "utils/syscache.h"

#include "history.h"
#include "store.h"
#include "utils.h"

/* Cached INSERT plans beyond this many are all dropped. */
#define MAX_CACHED_PLANS 256

/* A cached INSERT ... ON CONFLICT of one table and set of columns. */
typedef struct PlanEntry
{
	char	   *sig;			/* hash key: "relid:attnum[+],..." */
	Oid			relid;
	SPIPlanPtr	plan;
	bool		valid;			/* cleared when the table (or any schema) changes */
} PlanEntry;

static HTAB *plan_cache = NULL;
static MemoryContext plan_cxt = NULL;
static bool callbacks_registered = false;

/*
 * Copy a value out of a buffer page.  A toasted value stays toasted (an
 * external one is a small pointer, valid under the statement's snapshot) and
 * is detoasted row by row while rows are built, so memory does not grow with
 * the size of the values.
 */
static Datum
copy_value(Datum value, int16 typlen, bool typbyval)
{
	if (typbyval)
		return value;
	return datumCopy(value, false, typlen);
}

/*
 * What sorting keys in index order needs: the index's sort support, whose
 * comparator (for text in the C collation, a memcmp) costs a fraction of a
 * call of the btree order function through fmgr.
 */
typedef struct KeyOrder
{
	Datum	   *keys;
	SortSupportData ssup;
} KeyOrder;

/* qsort_arg comparator: keys in the index's order. */
static int
key_order_cmp(const void *a, const void *b, void *arg)
{
	KeyOrder   *ko = arg;

	return ApplySortComparator(ko->keys[*(const int *) a], false,
							   ko->keys[*(const int *) b], false, &ko->ssup);
}

/*
 * Answer a lookup from the view's table by probing its unique index, in
 * index order: neighbouring probes then share the upper levels of the tree
 * in the CPU's caches, as a scan for key = ANY(array) does.
 */
void
fs_local_lookup(FsLookup *lookup)
{
	FsView	   *view = lookup->view;
	Relation	heap;
	Relation	index;
	TupleTableSlot *slot;
	IndexScanDesc scan;
	ScanKeyData skey;
	AttrNumber	maxatt = view->ts_attnum;
	int			nfeat = lookup->nfeat;
	int		   *order;
	int			norder = 0;
	KeyOrder	ko;

	for (int f = 0; f < nfeat; f++)
		maxatt = Max(maxatt, lookup->feat[f]->attnum);

	heap = table_open(view->relid, AccessShareLock);
	index = index_open(view->key_index, AccessShareLock);
	slot = table_slot_create(heap, NULL);
	scan = index_beginscan(heap, index, GetActiveSnapshot(), 1, 0);

	order = palloc(sizeof(int) * Max(lookup->nkeys, 1));
	for (int k = 0; k < lookup->nkeys; k++)
	{
		lookup->found[k] = false;
		if (!lookup->keynull[k])
			order[norder++] = k;
	}
	ko.keys = lookup->keys;
	memset(&ko.ssup, 0, sizeof(ko.ssup));
	ko.ssup.ssup_cxt = CurrentMemoryContext;
	ko.ssup.ssup_collation = index->rd_indcollation[0];
	ko.ssup.ssup_nulls_first = false;
	ko.ssup.ssup_attno = 1;
	ko.ssup.abbreviate = false;
	PrepareSortSupportFromIndexRel(index, BTLessStrategyNumber, &ko.ssup);
	qsort_arg(order, norder, sizeof(int), key_order_cmp, &ko);

	for (int o = 0; o < norder; o++)
	{
		int			k = order[o];

		CHECK_FOR_INTERRUPTS();

		/* Ids that differ as text can be one key ('7' and '007'): probe it once. */
		if (o > 0 && key_order_cmp(&order[o - 1], &order[o], &ko) == 0)
		{
			int			prev = order[o - 1];

			lookup->found[k] = lookup->found[prev];
			lookup->event_time[k] = lookup->event_time[prev];
			lookup->event_time_null[k] = lookup->event_time_null[prev];
			memcpy(&lookup->values[k * nfeat], &lookup->values[prev * nfeat],
				   sizeof(Datum) * nfeat);
			memcpy(&lookup->nulls[k * nfeat], &lookup->nulls[prev * nfeat],
				   sizeof(bool) * nfeat);
			continue;
		}

		ScanKeyEntryInitialize(&skey, 0, 1, BTEqualStrategyNumber, InvalidOid,
							   view->key_collation, view->key_eqproc, lookup->keys[k]);
		index_rescan(scan, &skey, 1, NULL, 0);
		if (!index_getnext_slot(scan, ForwardScanDirection, slot))
			continue;

		slot_getsomeattrs(slot, maxatt);
		lookup->found[k] = true;
		lookup->event_time_null[k] = slot->tts_isnull[view->ts_attnum - 1];
		lookup->event_time[k] = slot->tts_values[view->ts_attnum - 1];

		for (int f = 0; f < nfeat; f++)
		{
			FsFeature  *feat = lookup->feat[f];
			int			i = k * nfeat + f;

			lookup->nulls[i] = slot->tts_isnull[feat->attnum - 1];
			if (!lookup->nulls[i])
				lookup->values[i] = copy_value(slot->tts_values[feat->attnum - 1],
											   feat->codec.typlen, feat->codec.typbyval);
		}
	}

	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, NoLock);
	table_close(heap, NoLock);
}

/*-------------------------------------------------------------------------
 * Writes
 *-------------------------------------------------------------------------
 */

/* Relcache callback: plans of a changed table (or of every table) go stale. */
static void
plan_relcache_cb(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	PlanEntry  *e;

	if (plan_cache == NULL)
		return;
	hash_seq_init(&status, plan_cache);
	while ((e = hash_seq_search(&status)) != NULL)
		if (!OidIsValid(relid) || e->relid == relid)
			e->valid = false;
}

/* Syscache callback on schemas: a renamed schema makes every plan stale. */
static void
plan_syscache_cb(Datum arg, int cacheid, uint32 hashvalue)
{
	plan_relcache_cb(arg, InvalidOid);
}

/* The plan cache, created (or emptied, when too big) on demand. */
static void
plan_cache_ready(void)
{

	if (!callbacks_registered)
	{
		CacheRegisterRelcacheCallback(plan_relcache_cb, (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACEOID, plan_syscache_cb, (Datum) 0);
		callbacks_registered = true;
	}
	if (plan_cache != NULL && hash_get_num_entries(plan_cache) < MAX_CACHED_PLANS)
		return;
	if (plan_cache != NULL)
	{
		HASH_SEQ_STATUS status;
		PlanEntry  *e;

		hash_seq_init(&status, plan_cache);
		while ((e = hash_seq_search(&status)) != NULL)
			SPI_freeplan(e->plan);
		MemoryContextDelete(plan_cxt);
		plan_cache = NULL;
	}
	plan_cxt = AllocSetContextCreate(CacheMemoryContext, "feature_store write plans",
									 ALLOCSET_SMALL_SIZES);
	plan_cache = fs_string_table("feature_store write plans", 64, sizeof(PlanEntry), plan_cxt);
}

/*
 * The upsert of a write's columns:
 *
 *	INSERT INTO tbl AS t (key, et, f1, c2) VALUES ($1, $2, $3, $4)
 *	ON CONFLICT (key) DO UPDATE SET et = $2, f1 = $3,
 *		c2 = CASE WHEN t.c2 IS NULL THEN $4 ELSE t.c2 + $4 END
 *	WHERE t.et IS NULL OR t.et <= $5 RETURNING 1
 *
 * where the last parameter is the write's oldest event time (its event time
 * unless it was merged from events of several times).
 *
 * It returns a row when written, none when a newer event time is stored.
 * A write that only adds has no WHERE, and sets et = greatest(t.et, $2).
 * The parameters, not EXCLUDED, carry the values: reading EXCLUDED.f would
 * need SELECT on f.
 */
static SPIPlanPtr
local_plan(FsView *view, Relation rel, FsPrepared *p)
{
	TupleDesc	desc = RelationGetDescr(rel);
	StringInfoData sig;
	char	   *sigp;
	PlanEntry  *e;
	bool		found;
	StringInfoData sql;
	Oid		   *argtypes;
	const char *key = quote_identifier(view->join_key);
	const char *ts = quote_identifier(NameStr(TupleDescAttr(desc, view->ts_attnum - 1)->attname));
	SPIPlanPtr	plan;

	plan_cache_ready();
	initStringInfo(&sig);
	appendStringInfo(&sig, "%u:", view->relid);
	for (int c = 0; c < p->ncols; c++)
		appendStringInfo(&sig, "%d%s,", view->features[p->cols[c].feat].attnum,
						 p->cols[c].add ? "+" : "");
	if (fs_write_add_only(p))
		appendStringInfoChar(&sig, 'A');
	sigp = sig.data;
	e = hash_search(plan_cache, &sigp, HASH_ENTER, &found);
	if (found && e->valid)
		return e->plan;
	if (found)
		SPI_freeplan(e->plan);
	else
		e->sig = MemoryContextStrdup(plan_cxt, sig.data);
	/* Until it is prepared, the entry holds no plan. */
	e->relid = view->relid;
	e->valid = false;
	e->plan = NULL;

	argtypes = palloc(sizeof(Oid) * (p->ncols + 3));
	argtypes[0] = view->key_type;
	argtypes[1] = TIMESTAMPTZOID;
	argtypes[p->ncols + 2] = TIMESTAMPTZOID;	/* the condition's time */
	initStringInfo(&sql);
	appendStringInfo(&sql, "INSERT INTO %s AS t (%s, %s",
					 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												RelationGetRelationName(rel)),
					 key, ts);
	for (int c = 0; c < p->ncols; c++)
		appendStringInfo(&sql, ", %s", quote_identifier(view->features[p->cols[c].feat].name));
	appendStringInfoString(&sql, ") VALUES ($1, $2");
	for (int c = 0; c < p->ncols; c++)
	{
		appendStringInfo(&sql, ", $%d", c + 3);
		argtypes[c + 2] = view->features[p->cols[c].feat].typid;
	}
	if (fs_write_add_only(p))
		appendStringInfo(&sql, ") ON CONFLICT (%s) DO UPDATE SET %s = GREATEST(t.%s, $2)",
						 key, ts, ts);
	else
		appendStringInfo(&sql, ") ON CONFLICT (%s) DO UPDATE SET %s = $2", key, ts);
	for (int c = 0; c < p->ncols; c++)
	{
		const char *f = quote_identifier(view->features[p->cols[c].feat].name);

		if (p->cols[c].add)
			appendStringInfo(&sql,
							 ", %s = CASE WHEN t.%s IS NULL THEN $%d ELSE t.%s OPERATOR(pg_catalog.+) $%d END",
							 f, f, c + 3, f, c + 3);
		else
			appendStringInfo(&sql, ", %s = $%d", f, c + 3);
	}
	if (fs_write_add_only(p))
		appendStringInfoString(&sql, " RETURNING 1");
	else
		appendStringInfo(&sql, " WHERE t.%s IS NULL OR t.%s OPERATOR(pg_catalog.<=) $%d RETURNING 1",
						 ts, ts, p->ncols + 3);

	plan = SPI_prepare_cursor(sql.data, p->ncols + 3, argtypes, CURSOR_OPT_GENERIC_PLAN);
	if (plan == NULL)
		elog(ERROR, "could not prepare the write of feature view \"%s\": %s", view->name,
			 SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "could not keep the plan of a write");
	e->plan = plan;
	e->valid = true;
	return plan;
}

/* errcontext of a write to the embedded store. */
static void
local_write_context(void *arg)
{
	FsPrepared *p = (FsPrepared *) arg;

	errcontext("writing entity \"%s\"", p->w->entity_id);
}

static void write_all(FsView *view, Relation rel, FsPrepared *ps, int n, Datum *args,
					  char *nulls, ErrorContextCallback *errcb);

/*
 * Write to the embedded store: one upsert per write, in order; then, for a
 * view that keeps history, one statement records the rows written (its
 * triggers stay quiet meanwhile).
 */
void
fs_local_write(FsView *view, Relation rel, FsPrepared *ps, int n)
{
	int			maxcols = 0;
	Datum	   *args;
	char	   *nulls;
	ErrorContextCallback errcb;
	Oid			quiet;
	Datum	   *keys;
	int			nkeys = 0;

	for (int i = 0; i < n; i++)
		maxcols = Max(maxcols, ps[i].ncols);
	args = palloc(sizeof(Datum) * (maxcols + 3));
	nulls = palloc(maxcols + 3);

	errcb.callback = local_write_context;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	quiet = fs_history_quiet(RelationGetRelid(rel));
	PG_TRY();
	{
		write_all(view, rel, ps, n, args, nulls, &errcb);
	}
	PG_FINALLY();
	{
		fs_history_quiet(quiet);
	}
	PG_END_TRY();
	error_context_stack = errcb.previous;

	/* The history, if the view keeps one: the rows written, at once. */
	keys = palloc(sizeof(Datum) * Max(n, 1));
	for (int i = 0; i < n; i++)
		if (ps[i].w->status == FS_WRITE_WRITTEN)
			keys[nkeys++] = ps[i].key;
	fs_history_local(fs_extension_schema(false), view, rel, keys, nkeys);
}

/* The upserts of fs_local_write, in order, each setting its write's status. */
static void
write_all(FsView *view, Relation rel, FsPrepared *ps, int n, Datum *args, char *nulls,
		  ErrorContextCallback *errcb)
{
	for (int i = 0; i < n; i++)
	{
		FsPrepared *p = &ps[i];
		SPIPlanPtr	plan;
		int			ret;

		CHECK_FOR_INTERRUPTS();
		errcb->arg = p;
		plan = local_plan(view, rel, p);
		args[0] = p->key;
		nulls[0] = ' ';
		args[1] = TimestampTzGetDatum(p->w->event_time);
		nulls[1] = ' ';
		for (int c = 0; c < p->ncols; c++)
		{
			args[c + 2] = p->cols[c].value;
			nulls[c + 2] = p->cols[c].isnull ? 'n' : ' ';
		}
		args[p->ncols + 2] = TimestampTzGetDatum(fs_write_condition_time(p->w));
		nulls[p->ncols + 2] = ' ';
		ret = SPI_execute_plan(plan, args, nulls, false, 0);
		if (ret != SPI_OK_INSERT_RETURNING)
			elog(ERROR, "could not write feature view \"%s\": %s", view->name,
				 SPI_result_code_string(ret));
		p->w->status = SPI_processed > 0 ? FS_WRITE_WRITTEN : FS_WRITE_STALE;
		SPI_freetuptable(SPI_tuptable);
	}
}
