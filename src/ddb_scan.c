/*-------------------------------------------------------------------------
 *
 * ddb_scan.c
 *	  fs_dynamodb: planning and scans.
 *
 * Reads: a restriction "key = value", "key = ANY(array)" or "key = $n" on
 * the partition key becomes one batch read of the distinct keys
 * (fs_ddb_batch_get); anything else is a paginated Scan.  Either way only
 * the needed columns' attributes are asked for (ProjectionExpression), and
 * every qual is also checked locally.
 * Here: planning (sizes, paths, the plan), the scan callbacks and EXPLAIN
 * of scans.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "ddb.h"

#include "access/sysattr.h"
#include "access/table.h"
#include "commands/defrem.h"
#include "executor/executor.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "ddb_fdw.h"

/*
 * Planner estimates: a Scan is a sequence of 1 MB pages, a key lookup one
 * round trip; decoding a JSON item is the per-row work.
 */
#define DDB_REQUEST_COST	25.0
#define DDB_ROW_COST		0.1
#define DDB_DEFAULT_ROWS	10000.0

/*-------------------------------------------------------------------------
 * Scan state
 *-------------------------------------------------------------------------
 */

typedef enum FsAccess
{
	FS_ACCESS_SCAN,
	FS_ACCESS_BATCHGET
} FsAccess;

/* Indexes of the ForeignScan's fdw_private list. */
enum FsScanPrivate
{
	FS_PRIV_ACCESS,				/* Integer: FsAccess */
	FS_PRIV_TABLE,				/* String: the remote table */
	FS_PRIV_ATTNUMS,			/* List of Integer: the projected columns */
	FS_PRIV_NKEYS,				/* Integer: keys known at plan time, or -1 */
	FS_PRIV_KEY_ARRAY			/* Integer: 1 if the key expression is an array */
};

/* An item decoded: the projected columns' values, in proj order. */
typedef struct FsScanRow
{
	Datum	   *values;
	bool	   *nulls;
} FsScanRow;

typedef struct FsScanState
{
	FsDdbTable *tbl;
	FsDdbEndpoint *ep;
	FsAccess	access;
	ExprState  *key_expr;		/* BatchGetItem: the key value(s) */
	bool		key_is_array;
	Oid			key_type;		/* type of one key value */
	int			nproj;
	AttrNumber *proj;			/* projected columns, in attnum order */
	json_t	   *names;			/* ExpressionAttributeNames of the projection */
	char	   *projection;		/* ProjectionExpression */
	FsJsonHold *keep;			/* holds 'names' for the scan's lifetime */

	TupleDesc	desc;
	int			key_index;		/* the key column's index in proj */
	FsItemAttrs *item_attrs;	/* the projected columns' attributes */
	FsJv	   *item_slots;		/* [nproj]: an item's values */
	const FsJv **item_vals;		/* [nproj] */

	MemoryContext batch_cxt;	/* the current fetch: keys, decoded rows */
	FsJsonHold *hold;			/* requests of the current fetch */
	HTAB	   *asked;			/* BatchGetItem: the keys asked for (FsBytesKey) */
	FsScanRow  *rows;			/* items decoded as they arrive */
	int			nrows;
	int			maxrows;
	int			next;
	bool		fetched;		/* the keys were fetched / the Scan began */
	bool		scan_done;		/* Scan: no LastEvaluatedKey on the last page */
	json_t	   *start_key;		/* Scan: LastEvaluatedKey (in 'keep') */

	int64		requests;		/* for EXPLAIN ANALYZE */
	int64		retries;
	int64		throttles;

	/* The cache (cache.h), for key lookups of a table with cache_ttl_ms. */
	bool		cached;
	FsCacheScope scope;
	HTAB	   *answers;		/* the current fetch: key text -> the item the
								 * store answered, as JSON text */
	bool		from_cache;		/* scan_keep_item reads the cache's items */
	int64		cache_hits;		/* for EXPLAIN ANALYZE */
	int64		cache_misses;
} FsScanState;

/* An item the store answered for a key, kept for the cache. */
typedef struct FsAnswer
{
	FsBytesKey	key;			/* hash key: the key's text as asked */
	char	   *item;
	int			len;
} FsAnswer;

/*-------------------------------------------------------------------------
 * Planning
 *-------------------------------------------------------------------------
 */

/* What the planner keeps of a foreign table between callbacks. */
typedef struct FsPlanInfo
{
	FsDdbTable *tbl;
	Oid			key_collation;
} FsPlanInfo;

/* The key column under any RelabelType, or NULL. */
static bool
is_key_var(Node *node, RelOptInfo *baserel, FsPlanInfo *pi)
{
	while (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	return node && IsA(node, Var) &&
		((Var *) node)->varno == baserel->relid &&
		((Var *) node)->varattno == pi->tbl->key_attnum &&
		((Var *) node)->varlevelsup == 0;
}

/* Whether opno is an equality that means key equality in the store. */
static bool
is_key_equality(Oid opno, Oid inputcollid, Oid lefttype, Oid righttype)
{
	char	   *name = get_opname(opno);

	if (name == NULL || strcmp(name, "=") != 0)
		return false;
	if (!op_mergejoinable(opno, lefttype) && !op_hashjoinable(opno, lefttype))
		return false;
	if (fs_key_kind(lefttype) == '\0' || fs_key_kind(righttype) == '\0' ||
		fs_key_kind(lefttype) != fs_key_kind(righttype))
		return false;
	if (OidIsValid(inputcollid) && !get_collation_isdeterministic(inputcollid))
		return false;
	return true;
}

/*
 * If clause restricts the key to values computable before the scan, return
 * the value expression (*is_array for "= ANY").
 */
static Expr *
key_clause_value(PlannerInfo *root, RelOptInfo *baserel, FsPlanInfo *pi,
				 Expr *clause, bool *is_array)
{
	Expr	   *value = NULL;

	if (IsA(clause, OpExpr))
	{
		OpExpr	   *op = (OpExpr *) clause;
		Node	   *l,
				   *r;

		if (list_length(op->args) != 2)
			return NULL;
		l = linitial(op->args);
		r = lsecond(op->args);
		if (is_key_var(l, baserel, pi))
			value = (Expr *) r;
		else if (is_key_var(r, baserel, pi))
			value = (Expr *) l;
		else
			return NULL;
		if (!is_key_equality(op->opno, op->inputcollid,
							 exprType(l), exprType(r)))
			return NULL;
		*is_array = false;
	}
	else if (IsA(clause, ScalarArrayOpExpr))
	{
		ScalarArrayOpExpr *sa = (ScalarArrayOpExpr *) clause;
		Oid			elemtype;

		if (!sa->useOr || list_length(sa->args) != 2 ||
			!is_key_var(linitial(sa->args), baserel, pi))
			return NULL;
		value = (Expr *) lsecond(sa->args);
		elemtype = get_base_element_type(exprType((Node *) value));
		if (!OidIsValid(elemtype) ||
			!is_key_equality(sa->opno, sa->inputcollid,
							 exprType(linitial(sa->args)), elemtype))
			return NULL;
		*is_array = true;
	}
	else
		return NULL;

	if (bms_is_member(baserel->relid, pull_varnos(root, (Node *) value)) ||
		contain_volatile_functions((Node *) value) ||
		contain_subplans((Node *) value))
		return NULL;
	return value;
}

/* Find the first key clause among restrictinfos (and its RestrictInfo). */
static Expr *
find_key_clause(PlannerInfo *root, RelOptInfo *baserel, FsPlanInfo *pi,
				List *rinfos, bool *is_array, RestrictInfo **rinfo)
{
	ListCell   *lc;

	foreach(lc, rinfos)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		Expr	   *value;

		if (ri->pseudoconstant)
			continue;
		value = key_clause_value(root, baserel, pi, ri->clause, is_array);
		if (value)
		{
			if (rinfo)
				*rinfo = ri;
			return value;
		}
	}
	return NULL;
}

/* Keys known at plan time: the number of non-null values, else -1. */
static int
known_keys(Expr *value, bool is_array)
{
	if (!is_array)
	{
		if (IsA(value, Const) && ((Const *) value)->constisnull)
			return 0;
		return 1;
	}
	if (IsA(value, Const))
	{
		Const	   *c = (Const *) value;
		ArrayType  *arr;
		Datum	   *elems;
		bool	   *nulls;
		int			n,
					count = 0;
		int16		typlen;
		bool		typbyval;
		char		typalign;

		if (c->constisnull)
			return 0;
		arr = DatumGetArrayTypeP(c->constvalue);
		get_typlenbyvalalign(ARR_ELEMTYPE(arr), &typlen, &typbyval, &typalign);
		deconstruct_array(arr, ARR_ELEMTYPE(arr), typlen, typbyval, typalign,
						  &elems, &nulls, &n);
		for (int i = 0; i < n; i++)
			if (!nulls[i])
				count++;
		return count;
	}
	if (IsA(value, ArrayExpr))
		return list_length(((ArrayExpr *) value)->elements);
	return -1;
}

/* EquivalenceClass member callback: the key column of this rel. */
static bool
ec_member_is_key(PlannerInfo *root, RelOptInfo *rel, EquivalenceClass *ec,
				 EquivalenceMember *em, void *arg)
{
	return is_key_var((Node *) em->em_expr, rel, (FsPlanInfo *) arg);
}

/* Estimate rows: keys for lookups, a default for Scans. */
void
fsGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	FsPlanInfo *pi = palloc0(sizeof(FsPlanInfo));
	Relation	rel = table_open(foreigntableid, NoLock);
	bool		is_array;
	Expr	   *value;
	double		rows;

	pi->tbl = fs_ddb_table(rel);
	table_close(rel, NoLock);
	baserel->fdw_private = pi;

	value = find_key_clause(root, baserel, pi, baserel->baserestrictinfo, &is_array, NULL);
	if (value)
	{
		int			n = known_keys(value, is_array);

		rows = n >= 0 ? n : 10;
	}
	else
	{
		rows = baserel->tuples > 0 ? baserel->tuples : DDB_DEFAULT_ROWS;
		rows *= clauselist_selectivity(root, baserel->baserestrictinfo, 0,
									   JOIN_INNER, NULL);
	}
	baserel->rows = clamp_row_est(rows);
}

/* Paths: a lookup or a Scan, plus lookups parameterized by join clauses. */
void
fsGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	FsPlanInfo *pi = (FsPlanInfo *) baserel->fdw_private;
	bool		is_array;
	Expr	   *value;
	Cost		total;
	List	   *candidates = NIL;
	ListCell   *lc;

	value = find_key_clause(root, baserel, pi, baserel->baserestrictinfo, &is_array, NULL);
	if (value)
		total = DDB_REQUEST_COST + baserel->rows * DDB_ROW_COST;
	else
		total = DDB_REQUEST_COST * (1 + (baserel->tuples > 0 ? baserel->tuples : DDB_DEFAULT_ROWS) / 1000) +
			(baserel->tuples > 0 ? baserel->tuples : DDB_DEFAULT_ROWS) * DDB_ROW_COST;
	add_path(baserel, (Path *)
			 create_foreignscan_path(root, baserel, NULL, baserel->rows,
									 DDB_REQUEST_COST, total, NIL,
									 baserel->lateral_relids, NULL, NIL));

	/* Join clauses on the key make lookups parameterized by other rels. */
	foreach(lc, baserel->joininfo)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);

		if (join_clause_is_movable_to(ri, baserel) &&
			key_clause_value(root, baserel, pi, ri->clause, &is_array))
			candidates = lappend(candidates, ri);
	}
	if (baserel->has_eclass_joins)
		candidates = list_concat(candidates,
								 generate_implied_equalities_for_column(root, baserel,
																		ec_member_is_key,
																		pi,
																		baserel->lateral_referencers));

	foreach(lc, candidates)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		Relids		required_outer;
		ParamPathInfo *ppi;

		if (!join_clause_is_movable_to(ri, baserel))
			continue;
		required_outer = bms_union(ri->clause_relids, baserel->lateral_relids);
		required_outer = bms_del_member(required_outer, baserel->relid);
		if (bms_is_empty(required_outer))
			continue;
		ppi = get_baserel_parampathinfo(root, baserel, required_outer);
		add_path(baserel, (Path *)
				 create_foreignscan_path(root, baserel, NULL, ppi->ppi_rows,
										 DDB_REQUEST_COST,
										 DDB_REQUEST_COST + ppi->ppi_rows * DDB_ROW_COST,
										 NIL, required_outer, NULL, NIL));
	}
}

/* The plan: BatchGetItem if a key clause is at hand, else Scan. */
ForeignScan *
fsGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
				 ForeignPath *best_path, List *tlist, List *scan_clauses,
				 Plan *outer_plan)
{
	FsPlanInfo *pi = (FsPlanInfo *) baserel->fdw_private;
	FsDdbTable *tbl = pi->tbl;
	List	   *local_quals;
	RestrictInfo *key_rinfo = NULL;
	Bitmapset  *attrs = NULL;
	List	   *attnums = NIL;
	List	   *fdw_exprs = NIL;
	FsAccess	access = FS_ACCESS_SCAN;
	int			nkeys = -1;
	bool		is_array = false;
	Expr	   *value;
	ListCell   *lc;
	bool		whole_row;

	value = find_key_clause(root, baserel, pi, scan_clauses, &is_array, &key_rinfo);
	if (value)
	{
		access = FS_ACCESS_BATCHGET;
		nkeys = known_keys(value, is_array);
		fdw_exprs = list_make1(value);
	}

	/*
	 * The key clause is not checked again here: the store answers exactly
	 * the keys asked for (the scan drops any other item), and the key's
	 * equality is the store's (is_key_equality).  Checking "key = ANY($1)"
	 * on every row costs as many comparisons as rows times keys.
	 */
	local_quals = extract_actual_clauses(key_rinfo ? list_delete_ptr(list_copy(scan_clauses), key_rinfo)
										 : scan_clauses, false);

	/* Columns needed above the scan and by the local quals; the key always. */
	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid, &attrs);
	foreach(lc, local_quals)
		pull_varattnos((Node *) lfirst(lc), baserel->relid, &attrs);
	whole_row = bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, attrs);
	for (int i = 1; i <= tbl->natts; i++)
	{
		if (tbl->attr_names[i - 1] == NULL)
			continue;
		if (whole_row || i == tbl->key_attnum ||
			bms_is_member(i - FirstLowInvalidHeapAttributeNumber, attrs))
			attnums = lappend_int(attnums, i);
	}

	return make_foreignscan(tlist, local_quals, baserel->relid, fdw_exprs,
							list_make5(makeInteger(access),
									   makeString(tbl->table),
									   attnums,
									   makeInteger(nkeys),
									   makeInteger(is_array ? 1 : 0)),
							NIL, NIL, outer_plan);
}

/*-------------------------------------------------------------------------
 * Scanning
 *-------------------------------------------------------------------------
 */

/* Set up the scan; nothing is sent before the first row is asked for. */
void
fsBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	Relation	rel = node->ss.ss_currentRelation;
	RangeTblEntry *rte;
	Oid			userid;
	FsScanState *st;
	List	   *attnums;
	ListCell   *lc;
	StringInfoData proj;
	int			i;

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	st = palloc0(sizeof(FsScanState));
	node->fdw_state = st;

	rte = exec_rt_fetch(plan->scan.scanrelid, estate);
	userid = OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
	st->tbl = fs_ddb_table(rel);
	st->ep = fs_ddb_endpoint(st->tbl->serverid, userid);
	st->access = (FsAccess) intVal(list_nth(plan->fdw_private, FS_PRIV_ACCESS));
	st->key_is_array = intVal(list_nth(plan->fdw_private, FS_PRIV_KEY_ARRAY)) != 0;
	if (st->access == FS_ACCESS_BATCHGET)
	{
		Expr	   *value = (Expr *) linitial(plan->fdw_exprs);

		st->key_expr = ExecInitExpr(value, (PlanState *) node);
		st->key_type = exprType((Node *) value);
		if (st->key_is_array)
			st->key_type = get_base_element_type(st->key_type);
	}

	/* The projection: #a0, #a1, ... so reserved words are no trouble. */
	attnums = (List *) list_nth(plan->fdw_private, FS_PRIV_ATTNUMS);
	st->nproj = list_length(attnums);
	st->proj = palloc(sizeof(AttrNumber) * Max(st->nproj, 1));
	st->keep = fs_json_hold_create(CurrentMemoryContext);
	st->names = fs_held_object(st->keep);
	initStringInfo(&proj);
	i = 0;
	foreach(lc, attnums)
	{
		AttrNumber	attnum = lfirst_int(lc);
		char		alias[16];

		st->proj[i] = attnum;
		snprintf(alias, sizeof(alias), "#a%d", i);
		fs_obj_set_new(st->names, alias, json_string(st->tbl->attr_names[attnum - 1]));
		appendStringInfo(&proj, "%s%s", i > 0 ? ", " : "", alias);
		i++;
	}
	st->projection = proj.data;
	st->desc = RelationGetDescr(rel);
	{
		const char **attrs = palloc(sizeof(char *) * Max(st->nproj, 1));

		for (i = 0; i < st->nproj; i++)
		{
			attrs[i] = st->tbl->attr_names[st->proj[i] - 1];
			if (st->proj[i] == st->tbl->key_attnum)
				st->key_index = i;
		}
		st->item_attrs = fs_item_attrs_create(attrs, st->nproj);
		st->item_slots = palloc(sizeof(FsJv) * Max(st->nproj, 1));
		st->item_vals = palloc(sizeof(FsJv *) * Max(st->nproj, 1));
		/*
		 * Only a plain SELECT reads through the cache: an UPDATE or DELETE
		 * (or SELECT ... FOR UPDATE) computes its writes from what it reads,
		 * which must be the store's.
		 */
		if (st->access == FS_ACCESS_BATCHGET &&
			estate->es_plannedstmt->commandType == CMD_SELECT &&
			estate->es_plannedstmt->rowMarks == NIL)
			st->cached = fs_ddb_cache_scope(&st->scope, st->ep, st->tbl, attrs, st->nproj);
	}

	st->batch_cxt = AllocSetContextCreate(estate->es_query_cxt,
										  "fs_dynamodb scan",
										  ALLOCSET_DEFAULT_SIZES);
}

/* Drop the previous fetch and start a new one. */
static void
scan_reset_batch(FsScanState *st)
{
	MemoryContextReset(st->batch_cxt);
	st->hold = fs_json_hold_create(st->batch_cxt);
	st->maxrows = 64;
	st->rows = MemoryContextAlloc(st->batch_cxt, sizeof(FsScanRow) * st->maxrows);
	st->nrows = 0;
	st->next = 0;
	st->start_key = NULL;
	st->asked = NULL;
}

/*
 * Whether a BatchGetItem item's key is one asked for: the plan does not
 * check the key clause again.  A number the store writes in another form
 * ("1E+2") is compared as the key column's value encoded as we send it.
 */
static FsBytesKey *
scan_asked_for(FsScanState *st, const FsJv *key_av, Datum key, bool key_null)
{
	FsBytesKey	kt;
	FsBytesKey *asked;
	bool		is_n;
	Form_pg_attribute att;
	json_t	   *again;

	if (!fs_answer_key_text(key_av, &kt, &is_n))
		return NULL;
	asked = hash_search(st->asked, &kt, HASH_FIND, NULL);
	if (asked != NULL || !is_n || key_null)
		return asked;
	att = TupleDescAttr(st->desc, st->tbl->key_attnum - 1);
	again = fs_json_hold(st->hold, fs_ddb_encode(key, att->atttypid, false,
												 NameStr(att->attname), NULL));
	return fs_request_key_text(again, &kt) ? hash_search(st->asked, &kt, HASH_FIND, NULL) : NULL;
}

/* Keep the store's answer for an asked key as JSON text, for the cache. */
static void
keep_answer(FsScanState *st, const FsBytesKey *asked, const FsJv *item)
{
	FsAnswer   *a = hash_search(st->answers, asked, HASH_ENTER, NULL);

	/* An item too large for an entry is not cached (len -1), nor taken for none. */
	if (!fs_json_cached_text(item, &a->item, &a->len))
	{
		a->item = NULL;
		a->len = -1;
	}
}

/*
 * Decode an item of an answer into the scan's rows (in the current memory
 * context, the fetch's): the answer goes as soon as its items are read.
 */
static void
scan_keep_item(FsScanState *st, const FsJv *item)
{
	FsScanRow  *row;
	const FsJv **vals = st->item_vals;

	if (st->nrows == st->maxrows)
	{
		st->maxrows *= 2;
		st->rows = repalloc(st->rows, sizeof(FsScanRow) * st->maxrows);
	}
	row = &st->rows[st->nrows];
	row->values = palloc(sizeof(Datum) * Max(st->nproj, 1));
	row->nulls = palloc(sizeof(bool) * Max(st->nproj, 1));
	fs_item_attrs_find(st->item_attrs, item, st->item_slots, vals);
	for (int i = 0; i < st->nproj; i++)
	{
		Form_pg_attribute att = TupleDescAttr(st->desc, st->proj[i] - 1);

		row->values[i] = fs_ddb_decode(vals[i], att->atttypid, att->atttypmod,
									   att->attnum == st->tbl->event_time_attnum,
									   st->item_attrs->names[i], &row->nulls[i]);
	}
	if (st->asked != NULL)
	{
		FsBytesKey *asked = scan_asked_for(st, vals[st->key_index], row->values[st->key_index],
										   row->nulls[st->key_index]);

		if (asked == NULL)
			return;				/* not a key asked for */
		if (st->cached && !st->from_cache)
			keep_answer(st, asked, item);
	}
	st->nrows++;
}

/* Add the items of a Scan page (an array of objects) to the scan's rows. */
static void
scan_add_items(FsScanState *st, FsDdbCall *call, const FsJv *items)
{
	FsJIter		it;
	FsJv		item;

	if (fs_jtype(items) != FSJ_ARRAY)
		fs_bad_shape(call, st->tbl->table, "\"Items\" is not an array");
	fs_jiter(items, &it);
	while (fs_jnext(&it, &item))
	{
		if (fs_jtype(&item) != FSJ_OBJECT)
			fs_bad_shape(call, st->tbl->table, "an item of \"Items\" is not an object");
		scan_keep_item(st, &item);
	}
}

/* Send calls and count requests, retries and throttles for EXPLAIN ANALYZE. */
static void
scan_run(FsScanState *st, FsDdbCall **calls, int ncalls)
{
	FsDdbStats	before = fs_ddb_stats;

	fs_ddb_run(st->ep, calls, ncalls);
	st->requests += fs_ddb_stats.requests - before.requests;
	st->retries += fs_ddb_stats.retries - before.retries;
	st->throttles += fs_ddb_stats.throttles - before.throttles;
	for (int i = 0; i < ncalls; i++)
		if (calls[i]->status != FS_DDB_OK)
			fs_raise_call(calls[i], st->tbl->table);
}

/* A held key-value AttributeValue for the key column, or NULL for NULL. */
static json_t *
encode_key(FsJsonHold *h, FsDdbTable *tbl, Datum value, bool isnull, Oid typid)
{
	json_t	   *av;

	if (isnull)
		return NULL;
	av = fs_ddb_encode(value, typid, false, tbl->attr_names[tbl->key_attnum - 1], NULL);
	return av ? fs_json_hold(h, av) : NULL;
}

/* A key AttributeValue with its canonical text, for deduplication. */
typedef struct FsKey
{
	json_t	   *av;
	char	   *text;
} FsKey;

/* qsort comparator: FsKeys by canonical text. */
static int
fskey_cmp(const void *a, const void *b)
{
	return strcmp(((const FsKey *) a)->text, ((const FsKey *) b)->text);
}

/* Evaluate the key expression: distinct, non-null key AttributeValues. */
static FsKey *
scan_eval_keys(ForeignScanState *node, FsScanState *st, int *nkeys)
{
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	MemoryContext old;
	Datum		value;
	bool		isnull;
	FsKey	   *keys;
	int			n = 0;

	old = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
	value = ExecEvalExpr(st->key_expr, econtext, &isnull);
	MemoryContextSwitchTo(st->batch_cxt);

	if (isnull)
		keys = palloc(sizeof(FsKey));
	else if (!st->key_is_array)
	{
		keys = palloc(sizeof(FsKey));
		keys[n++].av = encode_key(st->hold, st->tbl, value, false, st->key_type);
	}
	else
	{
		ArrayType  *arr = DatumGetArrayTypeP(value);
		Datum	   *elems;
		bool	   *nulls;
		int			nelems;
		int16		typlen;
		bool		typbyval;
		char		typalign;

		get_typlenbyvalalign(ARR_ELEMTYPE(arr), &typlen, &typbyval, &typalign);
		deconstruct_array(arr, ARR_ELEMTYPE(arr), typlen, typbyval, typalign,
						  &elems, &nulls, &nelems);
		keys = palloc(sizeof(FsKey) * Max(nelems, 1));
		for (int i = 0; i < nelems; i++)
			if (!nulls[i])
				keys[n++].av = encode_key(st->hold, st->tbl, elems[i], false, st->key_type);
	}

	/* Duplicate keys are a ValidationException: send each once. */
	for (int i = 0; i < n; i++)
		keys[i].text = fs_json_to_cstring(keys[i].av, JSON_SORT_KEYS);
	if (n > 1)
	{
		int			m = 1;

		qsort(keys, n, sizeof(FsKey), fskey_cmp);
		for (int i = 1; i < n; i++)
			if (strcmp(keys[i].text, keys[m - 1].text) != 0)
				keys[m++] = keys[i];
		n = m;
	}
	MemoryContextSwitchTo(old);
	*nkeys = n;
	return keys;
}

/* An item of a key lookup: decode it for the scan to return. */
static void
scan_take_item(FsDdbGet *get, const FsJv *item)
{
	scan_keep_item((FsScanState *) get->arg, item);
}

/* An item the cache answered, kept as the store's are. */
static void
scan_cached_item(void *arg, const FsJv *item)
{
	scan_keep_item((FsScanState *) arg, item);
}

/*
 * After a key lookup through the cache: read the items it answered as the
 * store's are read, then put what the store answered for the keys it was
 * asked (an item, or that there is none).
 */
static void
scan_cache_finish(FsScanState *st, StringInfo hits, int nhits, FsBytesKey *missed, int nmissed,
				  uint64 seq)
{
	if (nhits > 0)
	{
		st->from_cache = true;
		fs_json_each_cached(hits, scan_cached_item, st,
							psprintf("remote table \"%s\"", st->tbl->table));
		st->from_cache = false;
	}
	for (int i = 0; i < nmissed; i++)
	{
		FsAnswer   *a = hash_search(st->answers, &missed[i], HASH_FIND, NULL);

		if (a == NULL)
			fs_cache_put(&st->scope, seq, missed[i].ptr, missed[i].len, NULL, 0);
		else if (a->len >= 0)
			fs_cache_put(&st->scope, seq, missed[i].ptr, missed[i].len, a->item, a->len);
	}
}

/* Fetch every key, in one batch read (fs_ddb_batch_get), through the cache if it has one. */
static void
scan_batch_get(ForeignScanState *node, FsScanState *st)
{
	MemoryContext old;
	FsKey	   *keys;
	int			nkeys;
	FsDdbGet	get;
	FsDdbGet   *gets[1] = {&get};
	StringInfoData hits;
	int			nhits = 0;
	FsBytesKey *missed = NULL;
	int			nmissed = 0;
	uint64		seq;

	scan_reset_batch(st);
	keys = scan_eval_keys(node, st, &nkeys);
	if (nkeys == 0)
		return;

	old = MemoryContextSwitchTo(st->batch_cxt);
	memset(&get, 0, sizeof(get));
	get.table = st->tbl->table;
	get.keys = palloc(sizeof(json_t *) * nkeys);
	st->asked = fs_bytes_table("fs_dynamodb scan keys", nkeys, sizeof(FsBytesKey), st->batch_cxt);
	if (st->cached)
	{
		/* A rescan, or a cursor's fetch, is a new read: entries' age from now. */
		st->scope.now = GetCurrentTimestamp();
		st->answers = fs_bytes_table("fs_dynamodb scan answers", nkeys, sizeof(FsAnswer),
									 st->batch_cxt);
		missed = palloc(sizeof(FsBytesKey) * nkeys);
		initStringInfo(&hits);
		appendStringInfoChar(&hits, '[');
	}
	for (int i = 0; i < nkeys; i++)
	{
		FsBytesKey	kt;

		if (!fs_request_key_text(keys[i].av, &kt))
			elog(ERROR, "key of foreign table \"%s\" is not S, N or B", st->tbl->table);
		hash_search(st->asked, &kt, HASH_ENTER, NULL);
		if (st->cached)
		{
			int			mark = hits.len;
			FsCacheResult r;

			if (nhits > 0)
				appendStringInfoChar(&hits, ',');
			r = fs_cache_get(&st->scope, kt.ptr, kt.len, &hits);
			if (r == FS_CACHE_ITEM)
				nhits++;
			else
			{
				hits.len = mark;
				hits.data[mark] = '\0';
			}
			if (r != FS_CACHE_MISS)
			{
				st->cache_hits++;
				continue;
			}
			st->cache_misses++;
			missed[nmissed++] = kt;
		}
		get.keys[get.nkeys] = fs_held_object(st->hold);
		fs_obj_set(get.keys[get.nkeys++], st->tbl->key_attr, keys[i].av);
	}
	get.projection = st->projection;
	get.names = st->names;
	get.consistent_read = st->ep->consistent_read;
	get.on_item = scan_take_item;
	get.arg = st;
	seq = st->cached ? fs_cache_seq() : 0;
	if (get.nkeys > 0)
		fs_ddb_batch_get(st->ep, gets, 1);
	st->requests += get.requests;
	st->retries += get.retries;
	st->throttles += get.throttles;
	if (st->cached)
		scan_cache_finish(st, &hits, nhits, missed, nmissed, seq);
	MemoryContextSwitchTo(old);
}

/* Fetch the next page of a Scan. */
static void
scan_next_page(FsScanState *st)
{
	MemoryContext old = MemoryContextSwitchTo(st->batch_cxt);
	json_t	   *body = fs_held_object(st->hold);
	char	   *text;
	FsDdbCall  *call;
	FsJsonDoc  *doc;
	FsJv		root;
	FsJv		items;
	FsJv		lek;

	/* Serialise before the reset drops the previous page's LastEvaluatedKey. */
	fs_obj_set_new(body, "TableName", json_string(st->tbl->table));
	fs_obj_set_new(body, "ProjectionExpression", json_string(st->projection));
	fs_obj_set_new(body, "ExpressionAttributeNames", json_incref(st->names));
	fs_obj_set_new(body, "ConsistentRead", json_boolean(st->ep->consistent_read));
	if (st->start_key)
		fs_obj_set_new(body, "ExclusiveStartKey", json_incref(st->start_key));
	text = MemoryContextStrdup(GetMemoryChunkContext(st), fs_json_to_cstring(body, 0));

	scan_reset_batch(st);
	call = palloc0(sizeof(FsDdbCall));
	call->operation = "Scan";
	call->body = text;
	call->body_len = strlen(text);
	scan_run(st, &call, 1);
	pfree(text);
	call->body = NULL;

	doc = fs_parse_answer(call, st->tbl->table, &root);
	if (!fs_jget(&root, "Items", 5, &items))
		fs_bad_shape(call, st->tbl->table, "no \"Items\"");
	scan_add_items(st, call, &items);
	st->start_key = NULL;
	if (!fs_jget(&root, "LastEvaluatedKey", 16, &lek) || fs_jtype(&lek) == FSJ_NULL)
		st->scan_done = true;
	else if (fs_jtype(&lek) != FSJ_OBJECT)
		fs_bad_shape(call, st->tbl->table, "\"LastEvaluatedKey\" is not an object");
	else
		st->start_key = fs_json_hold(st->keep, fs_jv_to_json(&lek));	/* for the next page */
	fs_json_doc_release(doc);
	MemoryContextSwitchTo(old);
}

/* Return the next row. */
TupleTableSlot *
fsIterateForeignScan(ForeignScanState *node)
{
	FsScanState *st = (FsScanState *) node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	TupleDesc	desc = slot->tts_tupleDescriptor;
	FsScanRow  *row;
	FsCallContext cc;
	ErrorContextCallback errcb;

	fs_push_call_context(&errcb, &cc, st->tbl->table,
						 RelationGetRelationName(node->ss.ss_currentRelation));

	if (!st->fetched)
	{
		st->fetched = true;
		if (st->access == FS_ACCESS_BATCHGET)
			scan_batch_get(node, st);
		else
		{
			scan_reset_batch(st);
			st->scan_done = false;
			scan_next_page(st);
		}
	}
	while (st->access == FS_ACCESS_SCAN && st->next >= st->nrows && !st->scan_done)
		scan_next_page(st);

	ExecClearTuple(slot);
	if (st->next >= st->nrows)
	{
		error_context_stack = errcb.previous;
		return slot;
	}
	row = &st->rows[st->next++];

	/* The values stay in the fetch's memory until the next fetch. */
	memset(slot->tts_isnull, true, sizeof(bool) * desc->natts);
	for (int i = 0; i < st->nproj; i++)
	{
		slot->tts_values[st->proj[i] - 1] = row->values[i];
		slot->tts_isnull[st->proj[i] - 1] = row->nulls[i];
	}
	ExecStoreVirtualTuple(slot);

	error_context_stack = errcb.previous;
	return slot;
}

/* Start over; lookups whose keys did not change are answered from memory. */
void
fsReScanForeignScan(ForeignScanState *node)
{
	FsScanState *st = (FsScanState *) node->fdw_state;

	if (st->access == FS_ACCESS_BATCHGET && st->fetched && node->ss.ps.chgParam == NULL)
	{
		st->next = 0;
		return;
	}
	st->fetched = false;
	st->scan_done = false;
	st->start_key = NULL;
	MemoryContextReset(st->batch_cxt);
	st->hold = NULL;
	st->rows = NULL;
	st->nrows = st->next = 0;
}

/* Release the responses now rather than at the end of the query. */
void
fsEndForeignScan(ForeignScanState *node)
{
	FsScanState *st = (FsScanState *) node->fdw_state;

	if (st == NULL)
		return;
	MemoryContextDelete(st->batch_cxt);
	st->batch_cxt = NULL;
}

/* EXPLAIN: the access path, keys, remote table and projection. */
void
fsExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	List	   *priv = plan->fdw_private;
	FsAccess	access = (FsAccess) intVal(list_nth(priv, FS_PRIV_ACCESS));
	int			nkeys = intVal(list_nth(priv, FS_PRIV_NKEYS));
	List	   *attnums = (List *) list_nth(priv, FS_PRIV_ATTNUMS);
	Relation	rel = node->ss.ss_currentRelation;
	StringInfoData proj;
	ListCell   *lc;

	ExplainPropertyText("DynamoDB Access",
						access == FS_ACCESS_BATCHGET ? "BatchGetItem" : "Scan", es);
	if (access == FS_ACCESS_BATCHGET)
	{
		if (nkeys >= 0)
			ExplainPropertyInteger("Keys", NULL, nkeys, es);
		else
			ExplainPropertyText("Keys", "from parameter", es);
	}
	ExplainPropertyText("Remote Table", strVal(list_nth(priv, FS_PRIV_TABLE)), es);

	initStringInfo(&proj);
	foreach(lc, attnums)
	{
		AttrNumber	attnum = lfirst_int(lc);
		char	   *attr = fs_column_attribute(RelationGetRelid(rel),
												 TupleDescAttr(RelationGetDescr(rel), attnum - 1));

		appendStringInfo(&proj, "%s%s", proj.len > 0 ? ", " : "", attr);
	}
	ExplainPropertyText("Projection", proj.data, es);

	if (es->analyze && node->fdw_state)
	{
		FsScanState *st = (FsScanState *) node->fdw_state;

		if (es->format == EXPLAIN_FORMAT_TEXT)
		{
			appendStringInfoSpaces(es->str, es->indent * 2);
			appendStringInfo(es->str, "Requests: " INT64_FORMAT "  Retries: " INT64_FORMAT
							 "  Throttles: " INT64_FORMAT,
							 st->requests, st->retries, st->throttles);
			if (st->cached)
				appendStringInfo(es->str, "  Cache Hits: " INT64_FORMAT "  Cache Misses: " INT64_FORMAT,
								 st->cache_hits, st->cache_misses);
			appendStringInfoChar(es->str, '\n');
		}
		else
		{
			ExplainPropertyInteger("Requests", NULL, st->requests, es);
			ExplainPropertyInteger("Retries", NULL, st->retries, es);
			ExplainPropertyInteger("Throttles", NULL, st->throttles, es);
			if (st->cached)
			{
				ExplainPropertyInteger("Cache Hits", NULL, st->cache_hits, es);
				ExplainPropertyInteger("Cache Misses", NULL, st->cache_misses, es);
			}
		}
	}
}

