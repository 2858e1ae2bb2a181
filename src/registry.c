/*-------------------------------------------------------------------------
 *
 * registry.c
 *	  The catalog cache and reference resolution.
 *
 * The registry functions themselves are SQL (sql/feature_store--*.sql); this
 * file is the C side that serving needs: the catalog read once per backend,
 * each view resolved against its relation (columns, join key, unique index)
 * on first use, and references ('view:feature', 'view:*', service names)
 * expanded and checked.
 *
 * Invalidation: a statement trigger on each catalog table sends a relcache
 * invalidation of that table at commit; ALTER TABLE on a view's relation
 * sends one of the relation.  The callback only sets flags.  Resolution takes
 * the relation locks first (which is when invalidations arrive), then checks
 * the flags and starts over if anything it holds went stale.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/nbtree.h"
#include "access/relation.h"
#include "access/stratnum.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "registry.h"

/* How many names a hint lists before it stops. */
#define HINT_MAX_NAMES 20

/* A registered feature service. */
typedef struct FsService
{
	char		name[NAMEDATALEN];	/* hash key */
	int			nrefs;
	char	  **refs;
} FsService;

static MemoryContext registry_cxt = NULL;
static HTAB *views_htab = NULL;
static HTAB *services_htab = NULL;
static bool registry_valid = false;
static uint64 registry_inval_count = 0;	/* catalog invalidations seen */
static Oid	registry_schema = InvalidOid;
static Oid	catalog_relids[3];

/* Set when a view went unresolved after resolution of a call began. */
static bool view_invalidated = false;

/*
 * Calls in progress that hold pointers into the cache.  User code can run in
 * the middle of a call (a domain's CHECK on the join key, an opclass support
 * function) and re-enter resolution; while the cache is pinned, a reload or
 * re-resolution builds new memory and retires the old until the last unpin.
 */
static int	registry_pins = 0;
static List *registry_retired = NIL;	/* MemoryContexts, in TopMemoryContext */

PG_FUNCTION_INFO_V1(fs_registry_changed);
PG_FUNCTION_INFO_V1(fs_resolve_refs);

/* Relcache callback: flag what went stale; never free here. */
static void
registry_relcache_cb(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	FsView	   *view;
	bool		catalog = !OidIsValid(relid);

	for (int i = 0; i < lengthof(catalog_relids); i++)
		catalog |= (relid == catalog_relids[i]);
	if (catalog)
	{
		registry_valid = false;
		registry_inval_count++;
		return;
	}
	if (!registry_valid)
		return;

	hash_seq_init(&status, views_htab);
	while ((view = hash_seq_search(&status)) != NULL)
	{
		if (view->relid == relid && view->resolved)
		{
			view->resolved = false;
			view_invalidated = true;
		}
	}
}

/* Free the given context now, or when no call holds the cache any more. */
static void
retire_context(MemoryContext cxt)
{
	MemoryContext oldcxt;

	if (registry_pins == 0)
	{
		MemoryContextDelete(cxt);
		return;
	}
	MemoryContextSetParent(cxt, CacheMemoryContext);
	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	registry_retired = lappend(registry_retired, cxt);
	MemoryContextSwitchTo(oldcxt);
}

/* Memory-context callback: a call that pinned the cache is over. */
static void
registry_unpin(void *arg)
{
	ListCell   *lc;

	if (--registry_pins > 0)
		return;
	foreach(lc, registry_retired)
		MemoryContextDelete((MemoryContext) lfirst(lc));
	list_free(registry_retired);
	registry_retired = NIL;
}

/* Keep the cache's memory alive until the current memory context goes. */
static void
registry_pin(void)
{
	MemoryContextCallback *cb = palloc(sizeof(MemoryContextCallback));

	cb->func = registry_unpin;
	cb->arg = NULL;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
	registry_pins++;
}

/* Register the invalidation callback; called from _PG_init. */
void
fs_registry_init(void)
{
	CacheRegisterRelcacheCallback(registry_relcache_cb, (Datum) 0);
}

/* Trigger on the catalog tables: every backend re-reads the catalog. */
Datum
fs_registry_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("fs_registry_changed() must be called as a trigger")));

	CacheInvalidateRelcache(trigdata->tg_relation);
	PG_RETURN_POINTER(NULL);
}

/*
 * Run a catalog query under the latest snapshot, as PostgreSQL reads its own
 * catalogs: the transaction's snapshot may predate the very commit whose
 * invalidation triggered this load, and the cache outlives the transaction.
 */
static bool
read_catalog(const char *sql)
{
	SPIPlanPtr	plan = SPI_prepare(sql, 0, NULL);

	if (plan == NULL)
		return false;
	return SPI_execute_snapshot(plan, NULL, NULL, GetLatestSnapshot(), InvalidSnapshot,
								true, false, 0) == SPI_OK_SELECT;
}

/* Read the catalog into a fresh cache. */
static void
registry_load(Oid schema)
{
	const char *catalog_names[] = {"fs_entity", "fs_feature_view", "fs_feature_service"};
	char	   *nspname = get_namespace_name(schema);
	const char *qnsp;
	StringInfoData sql;
	HASHCTL		ctl;
	MemoryContext oldcxt;
	uint64		inval_count;
	HeapTuple	tup;
	Oid			owner;
	Oid			save_userid;
	int			save_sec_context;

	if (registry_cxt != NULL)
		retire_context(registry_cxt);
	registry_cxt = AllocSetContextCreate(CacheMemoryContext, "feature_store registry",
										 ALLOCSET_DEFAULT_SIZES);
	views_htab = NULL;
	services_htab = NULL;

	if (nspname == NULL)
		elog(ERROR, "schema %u of feature_store does not exist", schema);
	qnsp = quote_identifier(nspname);
	for (int i = 0; i < lengthof(catalog_names); i++)
	{
		catalog_relids[i] = get_relname_relid(catalog_names[i], schema);
		if (!OidIsValid(catalog_relids[i]))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("feature_store catalog table %s.%s does not exist",
							qnsp, catalog_names[i])));
	}
	registry_schema = schema;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = NAMEDATALEN;
	ctl.entrysize = sizeof(FsView);
	ctl.hcxt = registry_cxt;
	views_htab = hash_create("feature_store views", 64, &ctl,
							 HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	ctl.entrysize = sizeof(FsService);
	services_htab = hash_create("feature_store services", 16, &ctl,
								HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	/* An invalidation arriving mid-load, or an error, makes the next use reload. */
	registry_valid = false;
	inval_count = registry_inval_count;

	/*
	 * Read as the catalog's owner: the cache serves every role, so what it
	 * holds must not depend on the row security or grants of whoever
	 * happened to fill it.
	 */
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(catalog_relids[1]));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", catalog_relids[1]);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "SELECT v.name, v.relation::pg_catalog.oid, v.entity, e.join_key::pg_catalog.text,"
					 " v.ttl, v.event_time_column::pg_catalog.text"
					 " FROM %s.fs_feature_view v JOIN %s.fs_entity e"
					 " ON e.name OPERATOR(pg_catalog.=) v.entity",
					 qnsp, qnsp);
	if (!read_catalog(sql.data))
		elog(ERROR, "could not read the feature view catalog");

	oldcxt = MemoryContextSwitchTo(registry_cxt);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *name = SPI_getvalue(tup, desc, 1);
		bool		isnull;
		bool		found;
		FsView	   *view;
		Datum		ttl;

		view = hash_search(views_htab, name, HASH_ENTER, &found);
		memset(((char *) view) + NAMEDATALEN, 0, sizeof(FsView) - NAMEDATALEN);
		view->relid = DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull));
		view->entity = SPI_getvalue(tup, desc, 3);
		view->join_key = SPI_getvalue(tup, desc, 4);
		ttl = SPI_getbinval(tup, desc, 5, &isnull);
		view->has_ttl = !isnull;
		if (!isnull)
			view->ttl = *DatumGetIntervalP(ttl);
		view->event_time_column = SPI_getvalue(tup, desc, 6);
		view->resolved = false;
		view->mcxt = NULL;
	}
	MemoryContextSwitchTo(oldcxt);

	resetStringInfo(&sql);
	appendStringInfo(&sql, "SELECT name, feature_refs FROM %s.fs_feature_service", qnsp);
	if (!read_catalog(sql.data))
		elog(ERROR, "could not read the feature service catalog");

	oldcxt = MemoryContextSwitchTo(registry_cxt);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *name = SPI_getvalue(tup, desc, 1);
		bool		isnull;
		bool		found;
		FsService  *svc;
		Datum		refs;
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		svc = hash_search(services_htab, name, HASH_ENTER, &found);
		refs = SPI_getbinval(tup, desc, 2, &isnull);
		deconstruct_array(DatumGetArrayTypeP(refs), TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, &nulls, &n);
		svc->nrefs = n;
		svc->refs = palloc(sizeof(char *) * Max(n, 1));
		for (int i = 0; i < n; i++)
			svc->refs[i] = nulls[i] ? pstrdup("") : TextDatumGetCString(elems[i]);
	}
	MemoryContextSwitchTo(oldcxt);

	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec_context);
	registry_valid = (inval_count == registry_inval_count);
}

/* Make sure the cache holds the current catalog of the given schema. */
static void
registry_ensure(Oid schema)
{
	if (registry_valid && registry_schema != schema)
		registry_valid = false;
	while (!registry_valid)
		registry_load(schema);
}

/* Sort comparator for a List of C strings. */
static int
name_cmp(const ListCell *a, const ListCell *b)
{
	return strcmp((char *) lfirst(a), (char *) lfirst(b));
}

/* Names of a hash table's entries, sorted, as a hint-sized list. */
static char *
hint_names(HTAB *htab)
{
	HASH_SEQ_STATUS status;
	char	   *entry;
	List	   *names = NIL;
	StringInfoData buf;
	int			i = 0;
	ListCell   *lc;

	hash_seq_init(&status, htab);
	while ((entry = hash_seq_search(&status)) != NULL)
		names = lappend(names, entry);	/* the key comes first */
	if (names == NIL)
		return NULL;
	list_sort(names, name_cmp);

	initStringInfo(&buf);
	foreach(lc, names)
	{
		if (i == HINT_MAX_NAMES)
		{
			appendStringInfo(&buf, ", ... (%d in all)", list_length(names));
			break;
		}
		appendStringInfo(&buf, "%s%s", i++ > 0 ? ", " : "", (char *) lfirst(lc));
	}
	return buf.data;
}

/* A view's features as a hint-sized list. */
static char *
hint_features(FsView *view)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < view->nfeatures; i++)
	{
		if (i == HINT_MAX_NAMES)
		{
			appendStringInfo(&buf, ", ... (%d in all)", view->nfeatures);
			break;
		}
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "", view->features[i].name);
	}
	return buf.data;
}

/* Find the unique single-column btree index on the join key. */
static void
resolve_key_index(FsView *view, Relation rel)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	Oid			best = InvalidOid;
	Oid			cmpproc;

	foreach(lc, indexes)
	{
		Oid			indexoid = lfirst_oid(lc);
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
		Form_pg_index idx;

		if (!HeapTupleIsValid(tup))
			continue;
		idx = (Form_pg_index) GETSTRUCT(tup);
		if (idx->indisunique && idx->indisvalid && idx->indnkeyatts == 1 &&
			idx->indkey.values[0] == view->key_attnum &&
			heap_attisnull(tup, Anum_pg_index_indexprs, NULL) &&
			heap_attisnull(tup, Anum_pg_index_indpred, NULL) &&
			(!OidIsValid(best) || idx->indisprimary))
			best = indexoid;
		ReleaseSysCache(tup);
	}

	if (OidIsValid(best))
	{
		Relation	irel = index_open(best, AccessShareLock);

		if (irel->rd_rel->relam == BTREE_AM_OID)
		{
			view->key_index = best;
			view->key_collation = irel->rd_indcollation[0];
			view->key_eqopr = get_opfamily_member(irel->rd_opfamily[0],
												  irel->rd_opcintype[0],
												  irel->rd_opcintype[0],
												  BTEqualStrategyNumber);
			view->key_eqproc = get_opcode(view->key_eqopr);
			cmpproc = get_opfamily_proc(irel->rd_opfamily[0], irel->rd_opcintype[0],
										irel->rd_opcintype[0], BTORDER_PROC);
			if (OidIsValid(cmpproc))
				fmgr_info_cxt(cmpproc, &view->key_cmp, view->mcxt);
			else
				view->key_eqproc = InvalidOid;
		}
		index_close(irel, NoLock);
	}

	if (!OidIsValid(view->key_index) || !OidIsValid(view->key_eqproc))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_COLUMN_REFERENCE),
				 errmsg("table %s of feature view \"%s\" has no unique index on its join key \"%s\"",
						get_rel_name(view->relid), view->name, view->join_key),
				 errhint("Add one: ALTER TABLE %s ADD PRIMARY KEY (%s).",
						 get_rel_name(view->relid), quote_identifier(view->join_key))));
}

/* Resolve a view against its relation: key, event time, features, index. */
static void
resolve_view(FsView *view)
{
	Relation	rel;
	TupleDesc	desc;
	MemoryContext oldcxt;
	Oid			infunc;
	int			n = 0;

	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(view->relid)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the relation of feature view \"%s\" no longer exists", view->name),
				 errhint("Drop the view with fs_drop_feature_view('%s').", view->name)));

	if (view->mcxt != NULL)
		retire_context(view->mcxt);
	view->mcxt = AllocSetContextCreate(registry_cxt, "feature_store view",
									   ALLOCSET_SMALL_SIZES);
	oldcxt = MemoryContextSwitchTo(view->mcxt);

	rel = relation_open(view->relid, NoLock);
	desc = RelationGetDescr(rel);

	/* Its registration would outlive it: a temporary table ends without sql_drop. */
	if (rel->rd_rel->relpersistence == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("the relation of feature view \"%s\" is a temporary table", view->name)));

	switch (rel->rd_rel->relkind)
	{
		case RELKIND_RELATION:
			view->store = FS_STORE_LOCAL;
			break;
		case RELKIND_FOREIGN_TABLE:
			{
				ForeignTable *ft = GetForeignTable(view->relid);
				ForeignServer *server = GetForeignServer(ft->serverid);
				ForeignDataWrapper *fdw = GetForeignDataWrapper(server->fdwid);

				if (strcmp(fdw->fdwname, "fs_dynamodb") != 0)
					ereport(ERROR,
							(errcode(ERRCODE_WRONG_OBJECT_TYPE),
							 errmsg("the relation of feature view \"%s\" is a foreign table of wrapper \"%s\", not fs_dynamodb",
									view->name, fdw->fdwname)));
				view->store = FS_STORE_DYNAMODB;
				view->serverid = ft->serverid;
			}
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("the relation of feature view \"%s\" is not a table", view->name)));
	}

	view->key_attnum = InvalidAttrNumber;
	view->ts_attnum = InvalidAttrNumber;
	view->key_index = InvalidOid;
	view->key_eqproc = InvalidOid;
	view->features = palloc(sizeof(FsFeature) * Max(desc->natts, 1));

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		if (strcmp(NameStr(att->attname), view->join_key) == 0)
		{
			view->key_attnum = att->attnum;
			view->key_type = att->atttypid;
			view->key_typmod = att->atttypmod;
		}
		else if (strcmp(NameStr(att->attname), view->event_time_column) == 0)
		{
			if (att->atttypid != TIMESTAMPTZOID)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("event-time column \"%s\" of feature view \"%s\" is of type %s, not timestamp with time zone",
								view->event_time_column, view->name,
								format_type_be(att->atttypid))));
			view->ts_attnum = att->attnum;
		}
		else
		{
			FsFeature  *f = &view->features[n++];

			f->name = pstrdup(NameStr(att->attname));
			f->attnum = att->attnum;
			f->typid = att->atttypid;
			f->typmod = att->atttypmod;
			fs_value_codec_init(&f->codec, att->atttypid, view->mcxt);
		}
	}
	view->nfeatures = n;

	if (view->key_attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("table %s of feature view \"%s\" has no column \"%s\", the entity's join key",
						RelationGetRelationName(rel), view->name, view->join_key)));
	if (view->ts_attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("table %s of feature view \"%s\" has no event-time column \"%s\"",
						RelationGetRelationName(rel), view->name, view->event_time_column)));

	getTypeInputInfo(view->key_type, &infunc, &view->key_ioparam);
	fmgr_info_cxt(infunc, &view->key_input, view->mcxt);
	view->key_input_safe = fs_type_is_builtin(view->key_type, true);

	if (view->store == FS_STORE_LOCAL)
		resolve_key_index(view, rel);

	relation_close(rel, NoLock);
	MemoryContextSwitchTo(oldcxt);
	view->resolved = true;
}

/*
 * Lock a view's relation and resolve it if needed.  False when the registry
 * itself went stale meanwhile and resolution must start over.
 */
static bool
view_ready(FsView *view)
{
	LockRelationOid(view->relid, AccessShareLock);
	if (!registry_valid)
		return false;
	if (!view->resolved)
		resolve_view(view);
	return true;
}

/* Report a malformed reference. */
static void
malformed_ref(const char *ref)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid feature reference \"%s\"", ref),
			 errdetail("A reference is 'view:feature', 'view:*' or the name of a feature service.")));
}

/* Find a view by name, with a hint naming the ones that exist. */
static FsView *
lookup_view(const char *name, const char *ref)
{
	FsView	   *view = NULL;

	if (strlen(name) < NAMEDATALEN)
		view = hash_search(views_htab, name, HASH_FIND, NULL);
	if (view == NULL)
	{
		char	   *known = hint_names(views_htab);

		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("feature view \"%s\" does not exist", name),
				 errdetail("In feature reference \"%s\".", ref),
				 known ? errhint("Registered feature views: %s.", known)
				 : errhint("No feature view is registered yet: call fs_register_feature_view first.")));
	}
	return view;
}

/* Accumulates the expansion of a reference list. */
typedef struct RefBuilder
{
	FsResolved *res;
	int			cap;
	int			views_cap;
} RefBuilder;

/* Append one resolved reference. */
static void
add_ref(RefBuilder *b, FsView *view, FsFeature *feature)
{
	FsResolved *res = b->res;
	FsRef	   *r;
	int			i;

	if (res->nrefs == b->cap)
	{
		b->cap *= 2;
		res->refs = repalloc(res->refs, sizeof(FsRef) * b->cap);
	}
	r = &res->refs[res->nrefs++];
	r->view = view;
	r->feature = feature;
	r->ref = psprintf("%s:%s", view->name, feature->name);

	for (i = 0; i < res->nviews; i++)
		if (res->views[i] == view)
			break;
	if (i == res->nviews)
	{
		if (res->nviews == b->views_cap)
		{
			b->views_cap *= 2;
			res->views = repalloc(res->views, sizeof(FsView *) * b->views_cap);
		}
		res->views[res->nviews++] = view;
	}
}

/*
 * Expand one 'view:feature' or 'view:*' reference.  False when resolution
 * must start over.
 */
static bool
expand_view_ref(RefBuilder *b, const char *ref, const char *colon)
{
	char	   *vname = pnstrdup(ref, colon - ref);
	const char *fname = colon + 1;
	FsView	   *view;

	if (vname[0] == '\0' || fname[0] == '\0')
		malformed_ref(ref);

	view = lookup_view(vname, ref);
	if (!view_ready(view) || view_invalidated)
		return false;

	if (b->res->entity == NULL)
		b->res->entity = view->entity;
	else if (strcmp(b->res->entity, view->entity) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("feature references span more than one entity"),
				 errdetail("\"%s\" is of entity \"%s\", an earlier reference of entity \"%s\".",
						   ref, view->entity, b->res->entity),
				 errhint("Fetch each entity's features in a call of its own.")));

	if (strcmp(fname, "*") == 0)
	{
		for (int i = 0; i < view->nfeatures; i++)
			add_ref(b, view, &view->features[i]);
		return true;
	}

	for (int i = 0; i < view->nfeatures; i++)
	{
		if (strcmp(view->features[i].name, fname) == 0)
		{
			add_ref(b, view, &view->features[i]);
			return true;
		}
	}

	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("feature view \"%s\" has no feature \"%s\"", view->name, fname),
			 view->nfeatures > 0
			 ? errhint("Its features: %s.", hint_features(view))
			 : errhint("It has no feature columns.")));
	return false;				/* keep compiler quiet */
}

/* Error context: which feature service a failing reference came from. */
static void
service_context(void *arg)
{
	errcontext("in feature service \"%s\"", (const char *) arg);
}

/* Expand a feature service's references; false when resolution must start over. */
static bool
expand_service(RefBuilder *b, FsService *svc)
{
	ErrorContextCallback errcb;
	bool		ok = true;

	errcb.callback = service_context;
	errcb.arg = svc->name;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	for (int j = 0; ok && j < svc->nrefs; j++)
	{
		char	   *sref = svc->refs[j];
		char	   *scolon = strchr(sref, ':');

		if (scolon == NULL)
			malformed_ref(sref);
		ok = expand_view_ref(b, sref, scolon);
	}

	error_context_stack = errcb.previous;
	return ok;
}

/* One pass of resolution; false when it must start over. */
static bool
resolve_once(RefBuilder *b, Datum *refs, bool *nulls, int nrefs)
{
	for (int i = 0; i < nrefs; i++)
	{
		char	   *ref;
		char	   *colon;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("feature reference must not be null")));
		ref = TextDatumGetCString(refs[i]);
		colon = strchr(ref, ':');

		if (colon != NULL)
		{
			if (!expand_view_ref(b, ref, colon))
				return false;
		}
		else
		{
			FsService  *svc = NULL;

			if (ref[0] == '\0')
				malformed_ref(ref);
			if (strlen(ref) < NAMEDATALEN)
				svc = hash_search(services_htab, ref, HASH_FIND, NULL);
			if (svc == NULL && strlen(ref) < NAMEDATALEN &&
				hash_search(views_htab, ref, HASH_FIND, NULL) != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_OBJECT),
						 errmsg("feature service \"%s\" does not exist", ref),
						 errdetail("A reference without a colon names a feature service; \"%s\" is a feature view.", ref),
						 errhint("Refer to every feature of the view as '%s:*', or to one as '%s:feature'.",
								 ref, ref)));
			if (svc == NULL)
			{
				char	   *known = hint_names(services_htab);

				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_OBJECT),
						 errmsg("feature service \"%s\" does not exist", ref),
						 errdetail("A reference without a colon names a feature service."),
						 known ? errhint("Registered feature services: %s.", known)
						 : errhint("No feature service is registered; refer to features as 'view:feature' or 'view:*'.")));
			}
			if (!expand_service(b, svc))
				return false;
		}
	}
	return true;
}

/*
 * Expand a list of references into features, in order, checking that every
 * one exists and that they share one entity.  The result is allocated in the
 * current memory context, and the views it points to stay valid as long as
 * that context: it pins the cache.
 */
FsResolved *
fs_resolve(Oid schema, Datum *refs, bool *nulls, int nrefs)
{
	registry_pin();
	for (;;)
	{
		RefBuilder	b;

		AcceptInvalidationMessages();
		registry_ensure(schema);
		view_invalidated = false;

		b.cap = Max(nrefs, 8);
		b.views_cap = 4;
		b.res = palloc0(sizeof(FsResolved));
		b.res->refs = palloc(sizeof(FsRef) * b.cap);
		b.res->views = palloc(sizeof(FsView *) * b.views_cap);

		if (resolve_once(&b, refs, nulls, nrefs) && registry_valid)
		{
			bool		all_resolved = true;

			for (int i = 0; i < b.res->nviews; i++)
				all_resolved &= b.res->views[i]->resolved;
			if (all_resolved)
				return b.res;
		}
		pfree(b.res->refs);
		pfree(b.res->views);
		pfree(b.res);
	}
}

/*
 * Resolve one feature view by name, as writes need it: its relation locked
 * (AccessShareLock) and resolved, even when it has no features.  Pins the
 * cache as fs_resolve does.
 */
FsView *
fs_resolve_view(Oid schema, const char *name)
{
	registry_pin();
	for (;;)
	{
		FsView	   *view = NULL;

		AcceptInvalidationMessages();
		registry_ensure(schema);
		view_invalidated = false;

		if (strlen(name) < NAMEDATALEN)
			view = hash_search(views_htab, name, HASH_FIND, NULL);
		if (view == NULL)
		{
			char	   *known = hint_names(views_htab);

			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("feature view \"%s\" does not exist", name),
					 known ? errhint("Registered feature views: %s.", known)
					 : errhint("No feature view is registered yet: call fs_register_feature_view first.")));
		}
		if (view_ready(view) && !view_invalidated && registry_valid && view->resolved)
			return view;
	}
}

/*
 * fs_resolve_refs(feature_refs text[]): what a list of references expands
 * to, with the errors serving would raise.
 */
Datum
fs_resolve_refs(PG_FUNCTION_ARGS)
{
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			schema = get_func_namespace(fcinfo->flinfo->fn_oid);
	Datum	   *refs;
	bool	   *nulls;
	int			nrefs;
	FsResolved *res;

	InitMaterializedSRF(fcinfo, 0);
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &refs, &nulls, &nrefs);
	res = fs_resolve(schema, refs, nulls, nrefs);

	for (int i = 0; i < res->nrefs; i++)
	{
		FsRef	   *r = &res->refs[i];
		Datum		values[5];
		bool		isnull[5] = {false, false, false, false, false};

		values[0] = CStringGetTextDatum(r->ref);
		values[1] = CStringGetTextDatum(r->view->name);
		values[2] = CStringGetTextDatum(r->feature->name);
		values[3] = CStringGetTextDatum(format_type_with_typemod(r->feature->typid,
																 r->feature->typmod));
		values[4] = CStringGetTextDatum(r->view->entity);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, isnull);
	}
	return (Datum) 0;
}
