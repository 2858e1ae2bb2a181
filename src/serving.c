/*-------------------------------------------------------------------------
 *
 * serving.c
 *	  fs_get_features, fs_get_feature_vectors and fs_get_feature_matrix.
 *
 * A call flows: references -> resolved features (registry.c) -> access
 * checks as the calling user -> distinct entity ids -> one lookup per view,
 * each answered by its store in one pass -> rows, entity-major in input
 * order.  Values are kept as Datums until a row is built, so memory is
 * proportional to distinct entities times requested features, and the
 * result tuplestore spills to disk past work_mem.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/numeric.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rls.h"
#include "utils/timestamp.h"
#include "access/xact.h"
#include "portability/instr_time.h"

#include "history.h"
#include "registry.h"
#include "stats.h"
#include "store.h"
#include "utils.h"
#include "value.h"

PG_FUNCTION_INFO_V1(fs_get_features);
PG_FUNCTION_INFO_V1(fs_get_features_as_of);
PG_FUNCTION_INFO_V1(fs_get_feature_vectors);
PG_FUNCTION_INFO_V1(fs_get_feature_matrix);

/* What a (view, entity) pair yields, before per-feature NULL checks. */
typedef enum FsRowState
{
	FS_ROW_OK,
	FS_ROW_NOT_FOUND,
	FS_ROW_OUTSIDE_MAX_AGE,
	FS_ROW_UNAVAILABLE
} FsRowState;

typedef enum FsStatus
{
	FS_STATUS_PRESENT,
	FS_STATUS_NULL_VALUE,
	FS_STATUS_NOT_FOUND,
	FS_STATUS_OUTSIDE_MAX_AGE,
	FS_STATUS_UNAVAILABLE,
	FS_NUM_STATUSES
} FsStatus;

StaticAssertDecl(FS_NUM_STATUSES == FS_STATS_NSTATUS, "statistics count every status");

static const char *const status_names[FS_NUM_STATUSES] = {
	"PRESENT", "NULL_VALUE", "NOT_FOUND", "OUTSIDE_MAX_AGE", "UNAVAILABLE"
};

typedef struct IdEntry
{
	FsBytesKey		key;
	int			slot;
} IdEntry;

/* Everything one call has gathered before it builds rows. */
typedef struct FsServe
{
	FsResolved *resolved;
	int			nids;			/* input positions */
	Datum	   *ids;
	bool	   *idnulls;
	int		   *slot_of;		/* input position -> distinct slot, or -1 */
	int			nslots;			/* distinct non-null ids */
	Datum	   *slot_ids;		/* slot -> id text */
	FsLookup   *lookups;		/* one per view, as resolved->views */
	FsRowState **state;			/* [view][slot] */
	int		   *view_of_ref;	/* ref -> index in lookups */
	int		   *pos_of_ref;		/* ref -> feature position in its lookup */
} FsServe;

/* Map input positions to distinct ids: duplicates are looked up once. */
static void
dedup_ids(FsServe *s)
{
	HTAB	   *htab = fs_bytes_table("feature_store entity ids", Max(s->nids, 16),
									  sizeof(IdEntry), CurrentMemoryContext);

	s->slot_of = palloc(sizeof(int) * Max(s->nids, 1));
	s->slot_ids = palloc(sizeof(Datum) * Max(s->nids, 1));
	s->nslots = 0;
	for (int i = 0; i < s->nids; i++)
	{
		text	   *t;
		FsBytesKey		key;
		IdEntry    *entry;
		bool		found;

		if (s->idnulls[i])
		{
			s->slot_of[i] = -1;
			continue;
		}
		t = (text *) DatumGetPointer(s->ids[i]);
		key.ptr = VARDATA_ANY(t);
		key.len = VARSIZE_ANY_EXHDR(t);
		entry = hash_search(htab, &key, HASH_ENTER, &found);
		if (!found)
		{
			entry->slot = s->nslots;
			s->slot_ids[s->nslots++] = s->ids[i];
		}
		s->slot_of[i] = entry->slot;
	}
	hash_destroy(htab);
}

/*
 * The caller must be able to read what a view serves: USAGE on the schema
 * and SELECT on the table, or on each column the call reads.  Row security cannot be applied to index
 * probes, so a table under it is refused.
 */
static void
check_view_access(FsView *view, FsLookup *lookup)
{
	Oid			userid = GetUserId();
	Oid			nspid = get_rel_namespace(view->relid);
	bool		ok = true;

	if (pg_namespace_aclcheck(nspid, userid, ACL_USAGE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for schema %s", get_namespace_name(nspid)),
				 errdetail("Feature view \"%s\" reads table %s in that schema.",
						   view->name, get_rel_name(view->relid))));

	if (pg_class_aclcheck(view->relid, userid, ACL_SELECT) != ACLCHECK_OK)
	{
		/* The first column the call reads and the caller may not. */
		AttrNumber	denied = InvalidAttrNumber;

		if (pg_attribute_aclcheck(view->relid, view->key_attnum, userid, ACL_SELECT) != ACLCHECK_OK)
			denied = view->key_attnum;
		else if (pg_attribute_aclcheck(view->relid, view->ts_attnum, userid, ACL_SELECT) != ACLCHECK_OK)
			denied = view->ts_attnum;
		for (int f = 0; denied == InvalidAttrNumber && f < lookup->nfeat; f++)
			if (pg_attribute_aclcheck(view->relid, lookup->feat[f]->attnum, userid,
									  ACL_SELECT) != ACLCHECK_OK)
				denied = lookup->feat[f]->attnum;
		ok = (denied == InvalidAttrNumber);
		if (!ok && pg_attribute_aclcheck_all(view->relid, userid, ACL_SELECT, ACLMASK_ANY) == ACLCHECK_OK)
		{
			char	   *col = get_attname(view->relid, denied, false);

			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for column \"%s\" of table %s",
							col, get_rel_name(view->relid)),
					 denied == view->key_attnum
					 ? errdetail("Feature view \"%s\" reads it as the join key.", view->name)
					 : denied == view->ts_attnum
					 ? errdetail("Feature view \"%s\" reads it as the event time.", view->name)
					 : errdetail("Feature view \"%s\" serves it as feature \"%s:%s\".",
								 view->name, view->name, col),
					 errhint("The table's owner can grant it: GRANT SELECT (%s) ON %s TO %s;",
							 quote_identifier(col), fs_qualified_relation_name(view->relid),
							 quote_identifier(GetUserNameFromId(userid, false)))));
		}
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table %s", get_rel_name(view->relid)),
				 errdetail("Feature view \"%s\" reads that table.", view->name),
				 errhint("The table's owner can grant it: GRANT SELECT ON %s TO %s;",
						 fs_qualified_relation_name(view->relid),
						 quote_identifier(GetUserNameFromId(userid, false)))));

	if (check_enable_rls(view->relid, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot serve feature view \"%s\": table %s has row-level security enabled",
						view->name, get_rel_name(view->relid))));
}

/* Convert one entity id to the join key's type, naming it if that fails. */
static Datum
convert_key(FsView *view, Datum id)
{
	char	   *str = TextDatumGetCString(id);
	Datum		key;
	char	   *message;

	if (!fs_value_input(&view->key_input, str, view->key_ioparam, view->key_typmod,
						view->key_input_safe, &key, &message))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid entity id \"%s\" for join key \"%s\" of type %s",
						str, view->join_key, format_type_be(view->key_type)),
				 errdetail("%s", message),
				 errcontext("feature view \"%s\"", view->name)));
	return key;
}

/* Convert the distinct ids to the join key's type. */
static void
convert_keys(FsServe *s, FsLookup *lookup)
{
	FsView	   *view = lookup->view;

	for (int k = 0; k < s->nslots; k++)
	{
		lookup->keynull[k] = false;
		/* Text keys are the ids themselves. */
		if (view->key_type == TEXTOID)
			lookup->keys[k] = s->slot_ids[k];
		else
			lookup->keys[k] = convert_key(view, s->slot_ids[k]);
	}
}

/*
 * The oldest event time a ttl still serves.  A ttl reaching past the first
 * representable time serves everything.
 */
static TimestampTz
ttl_cutoff(TimestampTz now, Interval *ttl)
{
	MemoryContext cxt = CurrentMemoryContext;
	TimestampTz cutoff = DT_NOBEGIN;

	PG_TRY();
	{
		cutoff = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
														 TimestampTzGetDatum(now),
														 IntervalPGetDatum(ttl)));
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode != ERRCODE_DATETIME_VALUE_OUT_OF_RANGE)
			PG_RE_THROW();
		FlushErrorState();
		cutoff = DT_NOBEGIN;
	}
	PG_END_TRY();
	return cutoff;
}

/* A remote lookup's store figures, for the statistics. */
static FsViewCallStats *
store_stats(FsLookup *lk)
{
	static FsViewCallStats vs;

	memset(&vs, 0, sizeof(vs));
	vs.store_requests = lk->store_requests;
	vs.retries = lk->store_retries;
	vs.throttles = lk->store_throttles;
	vs.store_errors = (lk->store_failed || lk->unavailable || lk->key_unavailable != NULL) ? 1 : 0;
	vs.cache_hits = lk->cache_hits;
	vs.cache_misses = lk->cache_misses;
	return &vs;
}

/*
 * Gather ids, check access, look every view up, and judge each row: as
 * served now, or, given as_of, as of that time from the views' history.
 */
static FsServe *
serve_prepare(FunctionCallInfo fcinfo, ArrayType *ids_arr, ArrayType *refs_arr,
			  void (*check_refs) (FsResolved *res), const TimestampTz *as_of)
{
	FsServe    *s = palloc0(sizeof(FsServe));
	Oid			schema = get_func_namespace(fcinfo->flinfo->fn_oid);
	Datum	   *refs;
	bool	   *refnulls;
	int			nrefs;
	FsResolved *res;
	int			nviews;
	TimestampTz now = as_of ? *as_of : GetCurrentTransactionStartTimestamp();
	FsLookup  **remote;
	int			nremote = 0;

	deconstruct_array(refs_arr, TEXTOID, -1, false, TYPALIGN_INT, &refs, &refnulls, &nrefs);
	res = fs_resolve(schema, refs, refnulls, nrefs);
	s->resolved = res;
	if (check_refs != NULL)
		check_refs(res);
	nviews = res->nviews;

	deconstruct_array(ids_arr, TEXTOID, -1, false, TYPALIGN_INT, &s->ids, &s->idnulls, &s->nids);
	dedup_ids(s);

	/* Which features each view is asked for, and where each ref finds its value. */
	s->lookups = palloc0(sizeof(FsLookup) * Max(nviews, 1));
	s->view_of_ref = palloc(sizeof(int) * Max(res->nrefs, 1));
	s->pos_of_ref = palloc(sizeof(int) * Max(res->nrefs, 1));
	for (int v = 0; v < nviews; v++)
	{
		s->lookups[v].view = res->views[v];
		s->lookups[v].feat = palloc(sizeof(FsFeature *) * res->nrefs);
	}
	for (int r = 0; r < res->nrefs; r++)
	{
		FsRef	   *ref = &res->refs[r];
		FsLookup   *lk = NULL;
		int			v;
		int			f;

		for (v = 0; v < nviews; v++)
			if (s->lookups[v].view == ref->view)
				break;
		lk = &s->lookups[v];
		for (f = 0; f < lk->nfeat; f++)
			if (lk->feat[f] == ref->feature)
				break;
		if (f == lk->nfeat)
			lk->feat[lk->nfeat++] = ref->feature;
		s->view_of_ref[r] = v;
		s->pos_of_ref[r] = f;
	}

	for (int v = 0; v < nviews; v++)
		check_view_access(s->lookups[v].view, &s->lookups[v]);

	/* Every view's keys, in its join key's type. */
	for (int v = 0; v < nviews; v++)
	{
		FsLookup   *lk = &s->lookups[v];
		int			n = s->nslots;

		lk->nkeys = n;
		lk->keys = palloc(sizeof(Datum) * Max(n, 1));
		lk->keynull = palloc(sizeof(bool) * Max(n, 1));
		lk->found = palloc0(sizeof(bool) * Max(n, 1));
		lk->event_time = palloc(sizeof(Datum) * Max(n, 1));
		lk->event_time_null = palloc(sizeof(bool) * Max(n, 1));
		lk->values = palloc(sizeof(Datum) * Max((Size) n * lk->nfeat, 1));
		lk->nulls = palloc(sizeof(bool) * Max((Size) n * lk->nfeat, 1));
		convert_keys(s, lk);
	}

	/* Local views one index pass each; remote views together, in one wave. */
	remote = palloc(sizeof(FsLookup *) * Max(nviews, 1));
	for (int v = 0; v < nviews && s->nslots > 0; v++)
	{
		FsLookup   *lk = &s->lookups[v];

		if (as_of != NULL)
		{
			fs_history_lookup(lk, schema, *as_of);
			continue;
		}
		switch (lk->view->store)
		{
			case FS_STORE_LOCAL:
				fs_local_lookup(lk);
				break;
			case FS_STORE_DYNAMODB:
				remote[nremote++] = lk;
				break;
		}
	}
	if (nremote > 0)
	{
		PG_TRY();
		{
			fs_ddb_lookup(remote, nremote);
		}
		PG_CATCH();
		{
			/* The call raised: what it asked of its stores still counts. */
			for (int i = 0; i < nremote; i++)
				fs_stats_add(remote[i]->view->name, store_stats(remote[i]), false, 0);
			PG_RE_THROW();
		}
		PG_END_TRY();
	}

	s->state = palloc(sizeof(FsRowState *) * Max(nviews, 1));
	for (int v = 0; v < nviews; v++)
	{
		FsLookup   *lk = &s->lookups[v];
		FsView	   *view = lk->view;
		int			n = s->nslots;
		TimestampTz cutoff = 0;

		if (view->has_ttl)
			cutoff = ttl_cutoff(now, &view->ttl);
		s->state[v] = palloc(sizeof(FsRowState) * Max(n, 1));
		for (int k = 0; k < n; k++)
		{
			if (lk->unavailable || (lk->key_unavailable && lk->key_unavailable[k]))
				s->state[v][k] = FS_ROW_UNAVAILABLE;
			else if (!lk->found[k])
				s->state[v][k] = FS_ROW_NOT_FOUND;
			else if (view->has_ttl &&
					 (lk->event_time_null[k] ||
					  DatumGetTimestampTz(lk->event_time[k]) < cutoff))
				s->state[v][k] = FS_ROW_OUTSIDE_MAX_AGE;
			else
				s->state[v][k] = FS_ROW_OK;
		}
	}
	return s;
}

/*
 * Count a call that returned, per view: its values by status (one per
 * input position and reference, as served), its store figures and its whole
 * time, from start; then add them to the statistics.
 */
static void
serve_stats(FsServe *s, instr_time start)
{
	FsResolved *res = s->resolved;
	instr_time	elapsed;
	int		   *mult;
	int			nnull = 0;

	if (!fs_stats_enabled())
		return;
	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);

	/* How many input positions each distinct id stands for. */
	mult = palloc0(sizeof(int) * Max(s->nslots, 1));
	for (int i = 0; i < s->nids; i++)
	{
		if (s->slot_of[i] < 0)
			nnull++;
		else
			mult[s->slot_of[i]]++;
	}

	for (int v = 0; v < res->nviews; v++)
	{
		FsLookup   *lk = &s->lookups[v];
		FsViewCallStats vs = *store_stats(lk);
		int		   *refs_of_feat = palloc0(sizeof(int) * Max(lk->nfeat, 1));
		int			nrefs = 0;

		for (int r = 0; r < res->nrefs; r++)
			if (s->view_of_ref[r] == v)
			{
				refs_of_feat[s->pos_of_ref[r]]++;
				nrefs++;
			}
		vs.entities = s->nids;
		vs.values[FS_STATUS_NOT_FOUND] += (int64) nnull * nrefs;
		for (int k = 0; k < s->nslots; k++)
		{
			int64		m = mult[k];

			switch (s->state[v][k])
			{
				case FS_ROW_NOT_FOUND:
					vs.values[FS_STATUS_NOT_FOUND] += m * nrefs;
					break;
				case FS_ROW_UNAVAILABLE:
					vs.values[FS_STATUS_UNAVAILABLE] += m * nrefs;
					break;
				case FS_ROW_OUTSIDE_MAX_AGE:
					vs.values[FS_STATUS_OUTSIDE_MAX_AGE] += m * nrefs;
					break;
				case FS_ROW_OK:
					for (int f = 0; f < lk->nfeat; f++)
						vs.values[lk->nulls[k * lk->nfeat + f]
								  ? FS_STATUS_NULL_VALUE : FS_STATUS_PRESENT] += m * refs_of_feat[f];
					break;
			}
		}
		fs_stats_add(lk->view->name, &vs, true, INSTR_TIME_GET_MILLISEC(elapsed));
	}
	fs_stats_flush();
}

/* The status, value and event time of one reference for one entity slot. */
static FsStatus
judge(FsServe *s, int r, int slot, Datum *value, Datum *event_time, bool *event_time_null)
{
	int			v = s->view_of_ref[r];
	FsLookup   *lk = &s->lookups[v];
	int			i;

	*event_time_null = true;
	if (slot < 0)
		return FS_STATUS_NOT_FOUND;

	switch (s->state[v][slot])
	{
		case FS_ROW_NOT_FOUND:
			return FS_STATUS_NOT_FOUND;
		case FS_ROW_UNAVAILABLE:
			return FS_STATUS_UNAVAILABLE;
		case FS_ROW_OUTSIDE_MAX_AGE:
			*event_time = lk->event_time[slot];
			*event_time_null = lk->event_time_null[slot];
			return FS_STATUS_OUTSIDE_MAX_AGE;
		case FS_ROW_OK:
			break;
	}

	*event_time = lk->event_time[slot];
	*event_time_null = lk->event_time_null[slot];
	i = slot * lk->nfeat + s->pos_of_ref[r];
	if (lk->nulls[i])
		return FS_STATUS_NULL_VALUE;
	*value = lk->values[i];
	return FS_STATUS_PRESENT;
}

/* What is being turned into jsonb, for errors (a value jsonb cannot hold). */
typedef struct ValueContext
{
	Datum		entity;			/* text */
	const char *ref;			/* NULL: not converting a value */
} ValueContext;

/* errcontext callback: the entity and feature whose value is converted. */
static void
value_context(void *arg)
{
	ValueContext *vc = (ValueContext *) arg;

	if (vc->ref != NULL)
		errcontext("feature \"%s\" of entity \"%s\"", vc->ref,
				   text_to_cstring(DatumGetTextPP(vc->entity)));
}

/* Push value_context for a call's rows; pop with errcb->previous. */
static void
push_value_context(ErrorContextCallback *errcb, ValueContext *vc)
{
	vc->ref = NULL;
	errcb->callback = value_context;
	errcb->arg = vc;
	errcb->previous = error_context_stack;
	error_context_stack = errcb;
}

/*
 * The rows of fs_get_features: one per (entity, feature), entity-major in
 * input order; as of a time from history, given as_of (not counted in the
 * serving statistics).
 */
static Datum
get_features(FunctionCallInfo fcinfo, const TimestampTz *as_of)
{
	ArrayType  *ids_arr = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *refs_arr = PG_GETARG_ARRAYTYPE_P(1);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext callcxt;
	MemoryContext rowcxt;
	MemoryContext oldcxt;
	FsServe    *s;
	Datum		statuses[FS_NUM_STATUSES];
	Datum	   *ref_names;
	ErrorContextCallback errcb;
	ValueContext vc;
	instr_time	start;

	INSTR_TIME_SET_CURRENT(start);
	InitMaterializedSRF(fcinfo, 0);

	callcxt = AllocSetContextCreate(CurrentMemoryContext, "fs_get_features",
									ALLOCSET_DEFAULT_SIZES);
	rowcxt = AllocSetContextCreate(callcxt, "fs_get_features row", ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(callcxt);

	s = serve_prepare(fcinfo, ids_arr, refs_arr, NULL, as_of);

	for (int i = 0; i < FS_NUM_STATUSES; i++)
		statuses[i] = CStringGetTextDatum(status_names[i]);
	ref_names = palloc(sizeof(Datum) * Max(s->resolved->nrefs, 1));
	for (int r = 0; r < s->resolved->nrefs; r++)
		ref_names[r] = CStringGetTextDatum(s->resolved->refs[r].ref);

	push_value_context(&errcb, &vc);
	for (int i = 0; i < s->nids; i++)
	{
		int			slot = s->slot_of[i];

		CHECK_FOR_INTERRUPTS();
		MemoryContextSwitchTo(rowcxt);
		for (int r = 0; r < s->resolved->nrefs; r++)
		{
			Datum		values[5];
			bool		nulls[5] = {false, false, true, true, false};
			Datum		value = (Datum) 0;
			FsStatus	status;

			values[0] = s->ids[i];
			nulls[0] = s->idnulls[i];
			values[1] = ref_names[r];
			status = judge(s, r, slot, &value, &values[3], &nulls[3]);
			if (status == FS_STATUS_PRESENT)
			{
				vc.entity = s->ids[i];
				vc.ref = s->resolved->refs[r].ref;
				values[2] = JsonbPGetDatum(fs_value_to_jsonb(&s->resolved->refs[r].feature->codec,
															 value));
				vc.ref = NULL;
				nulls[2] = false;
			}
			values[4] = statuses[status];
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
		MemoryContextReset(rowcxt);
	}
	error_context_stack = errcb.previous;

	MemoryContextSwitchTo(callcxt);
	if (as_of == NULL)
		serve_stats(s, start);
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(callcxt);
	return (Datum) 0;
}

/* fs_get_features(entity_ids text[], feature_refs text[]) */
Datum
fs_get_features(PG_FUNCTION_ARGS)
{
	return get_features(fcinfo, NULL);
}

/*
 * fs_get_features_as_of(entity_ids text[], feature_refs text[], as_of
 * timestamptz): what fs_get_features would have served at as_of, by event
 * time, from the views' history.
 */
Datum
fs_get_features_as_of(PG_FUNCTION_ARGS)
{
	TimestampTz as_of = PG_GETARG_TIMESTAMPTZ(2);

	return get_features(fcinfo, &as_of);
}

/* jsonb's key order: shorter keys first, then bytewise. */
static int
jsonb_key_cmp(const void *a, const void *b, void *arg)
{
	FsResolved *res = arg;
	const char *ka = res->refs[*(const int *) a].ref;
	const char *kb = res->refs[*(const int *) b].ref;
	size_t		la = strlen(ka);
	size_t		lb = strlen(kb);

	if (la != lb)
		return la < lb ? -1 : 1;
	return memcmp(ka, kb, la);
}

/*
 * fs_get_feature_vectors(entity_ids text[], feature_refs text[]): one row per
 * input entity with {"view:feature": value-or-null, ...}.
 */
Datum
fs_get_feature_vectors(PG_FUNCTION_ARGS)
{
	ArrayType  *ids_arr = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *refs_arr = PG_GETARG_ARRAYTYPE_P(1);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext callcxt;
	MemoryContext rowcxt;
	MemoryContext oldcxt;
	FsServe    *s;
	int		   *key_order;
	const char **keys;
	int			nkeys = 0;
	FsJsonbObject *obj;
	ErrorContextCallback errcb;
	ValueContext vc;
	instr_time	start;

	INSTR_TIME_SET_CURRENT(start);
	InitMaterializedSRF(fcinfo, 0);

	callcxt = AllocSetContextCreate(CurrentMemoryContext, "fs_get_feature_vectors",
									ALLOCSET_DEFAULT_SIZES);
	rowcxt = AllocSetContextCreate(callcxt, "fs_get_feature_vectors row",
								   ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(callcxt);

	s = serve_prepare(fcinfo, ids_arr, refs_arr, NULL, NULL);

	/*
	 * The object's keys in jsonb's order, each once: a ref named twice (or
	 * by a service and by name) is one key, with one value.
	 */
	key_order = palloc(sizeof(int) * Max(s->resolved->nrefs, 1));
	for (int r = 0; r < s->resolved->nrefs; r++)
		key_order[r] = r;
	qsort_arg(key_order, s->resolved->nrefs, sizeof(int), jsonb_key_cmp, s->resolved);
	keys = palloc(sizeof(char *) * Max(s->resolved->nrefs, 1));
	for (int o = 0; o < s->resolved->nrefs; o++)
	{
		if (nkeys > 0 && jsonb_key_cmp(&key_order[nkeys - 1], &key_order[o], s->resolved) == 0)
			continue;
		key_order[nkeys] = key_order[o];
		keys[nkeys++] = s->resolved->refs[key_order[o]].ref;
	}
	obj = fs_jsonb_object_begin(nkeys, keys, callcxt);

	push_value_context(&errcb, &vc);
	for (int i = 0; i < s->nids; i++)
	{
		int			slot = s->slot_of[i];
		Datum		values[2];
		bool		nulls[2] = {false, false};

		CHECK_FOR_INTERRUPTS();
		MemoryContextSwitchTo(rowcxt);

		fs_jsonb_object_reset(obj);
		vc.entity = s->ids[i];
		for (int o = 0; o < nkeys; o++)
		{
			int			r = key_order[o];
			FsRef	   *ref = &s->resolved->refs[r];
			Datum		value = (Datum) 0;
			Datum		ts;
			bool		tsnull;
			bool		present = (judge(s, r, slot, &value, &ts, &tsnull) == FS_STATUS_PRESENT);

			vc.ref = present ? ref->ref : NULL;
			fs_jsonb_object_value(obj, &ref->feature->codec, value, !present);
			vc.ref = NULL;
		}

		values[0] = s->ids[i];
		nulls[0] = s->idnulls[i];
		values[1] = JsonbPGetDatum(fs_jsonb_object_end(obj));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		MemoryContextReset(rowcxt);
	}
	error_context_stack = errcb.previous;

	MemoryContextSwitchTo(callcxt);
	serve_stats(s, start);
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(callcxt);
	return (Datum) 0;
}

/* Refuse, before any lookup, a feature the matrix cannot hold as float8. */
static void
matrix_check_refs(FsResolved *res)
{
	for (int r = 0; r < res->nrefs; r++)
	{
		FsFeature  *feat = res->refs[r].feature;

		if (!FS_VALUE_KIND_IS_NUMBER(feat->codec.kind) && feat->codec.kind != FS_VALUE_BOOL)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("feature \"%s\" is of type %s, not a number or boolean",
							res->refs[r].ref, format_type_be(feat->typid)),
					 errdetail("fs_get_feature_matrix returns double precision values only."),
					 errhint("Use fs_get_features or fs_get_feature_vectors to read it.")));
	}
}

/*
 * One present value as float8: numbers converted, booleans 0 or 1.  A
 * numeric beyond double precision's range is an error naming the cell; one
 * too small to tell from zero is 0.
 */
static float8
matrix_cell(FsRef *ref, Datum value, Datum entity)
{
	switch (ref->feature->codec.kind)
	{
		case FS_VALUE_INT2:
			return (float8) DatumGetInt16(value);
		case FS_VALUE_INT4:
			return (float8) DatumGetInt32(value);
		case FS_VALUE_INT8:
			return (float8) DatumGetInt64(value);
		case FS_VALUE_FLOAT4:
			return (float8) DatumGetFloat4(value);
		case FS_VALUE_FLOAT8:
			return DatumGetFloat8(value);
		case FS_VALUE_BOOL:
			return DatumGetBool(value) ? 1.0 : 0.0;
		case FS_VALUE_NUMERIC:
			{
				Numeric		num = DatumGetNumeric(value);
				float8		result;

				result = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
															NumericGetDatum(num)));
				if (isinf(result) && !numeric_is_inf(num))
					ereport(ERROR,
							(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
							 errmsg("value of feature \"%s\" for entity \"%s\" is out of range for type double precision",
									ref->ref, text_to_cstring(DatumGetTextPP(entity))),
							 errhint("Use fs_get_features to read it as a JSON number.")));
				return result;
			}
		default:
			/* matrix_check_refs let no other kind through */
			elog(ERROR, "unexpected value kind %d", (int) ref->feature->codec.kind);
	}
	return 0.0;					/* keep the compiler quiet */
}

/*
 * fs_get_feature_matrix(entity_ids text[], feature_refs text[]): one float8
 * array [entity][feature], rows in input order, columns in expanded ref
 * order; every cell but a PRESENT one is NULL.  Values go from the stores'
 * Datums straight to float8, with no jsonb on the way.
 */
Datum
fs_get_feature_matrix(PG_FUNCTION_ARGS)
{
	ArrayType  *ids_arr = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *refs_arr = PG_GETARG_ARRAYTYPE_P(1);
	MemoryContext callcxt;
	MemoryContext oldcxt;
	FsServe    *s;
	int			nrefs;
	Size		ncells;
	Datum	   *cells;
	bool	   *nulls;
	int			dims[2];
	int			lbs[2] = {1, 1};
	ArrayType  *result;
	instr_time	start;

	INSTR_TIME_SET_CURRENT(start);
	callcxt = AllocSetContextCreate(CurrentMemoryContext, "fs_get_feature_matrix",
									ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(callcxt);

	s = serve_prepare(fcinfo, ids_arr, refs_arr, matrix_check_refs, NULL);
	nrefs = s->resolved->nrefs;

	/* No entity or no feature: no cell, and an array has no empty dimension. */
	if (s->nids == 0 || nrefs == 0)
	{
		serve_stats(s, start);
		MemoryContextSwitchTo(oldcxt);
		MemoryContextDelete(callcxt);
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(FLOAT8OID));
	}

	ncells = (Size) s->nids * nrefs;
	if (ncells > MaxArraySize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("feature matrix of %d entities by %d features exceeds the maximum array size (%d)",
						s->nids, nrefs, (int) MaxArraySize)));
	cells = palloc_extended(sizeof(Datum) * ncells, MCXT_ALLOC_HUGE);
	nulls = palloc_extended(sizeof(bool) * ncells, MCXT_ALLOC_HUGE);

	for (int i = 0; i < s->nids; i++)
	{
		int			slot = s->slot_of[i];

		CHECK_FOR_INTERRUPTS();
		for (int r = 0; r < nrefs; r++)
		{
			Size		c = (Size) i * nrefs + r;
			Datum		value = (Datum) 0;
			Datum		ts;
			bool		tsnull;

			if (judge(s, r, slot, &value, &ts, &tsnull) == FS_STATUS_PRESENT)
			{
				cells[c] = Float8GetDatum(matrix_cell(&s->resolved->refs[r], value, s->ids[i]));
				nulls[c] = false;
			}
			else
			{
				cells[c] = (Datum) 0;
				nulls[c] = true;
			}
		}
	}

	dims[0] = s->nids;
	dims[1] = nrefs;
	MemoryContextSwitchTo(oldcxt);
	result = construct_md_array(cells, nulls, 2, dims, lbs, FLOAT8OID,
								sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	MemoryContextSwitchTo(callcxt);
	serve_stats(s, start);
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(callcxt);
	PG_RETURN_ARRAYTYPE_P(result);
}
