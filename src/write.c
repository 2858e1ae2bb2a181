/*-------------------------------------------------------------------------
 *
 * write.c
 *	  Writing feature values of single entities: fs_write_features (the
 *	  direct lane), and fs_check_write / fs_apply_writes, which the streaming
 *	  worker uses too.
 *
 * A write names some features of one entity with JSON values.  Here each
 * write is checked (the view, its features, the caller's privileges) and
 * each value becomes a Datum of its column's type (fs_value_from_json, the
 * inverse of what serving shows; JSON null is SQL NULL), once; then the
 * view's store applies the writes (store.h: fs_local_write, fs_ddb_write).
 * An entity written is forgotten by batch change detection (its
 * fs_ingest_state digest is emptied, found by the join key type's equality:
 * a write of '1.0' forgets the state of '1' of a numeric key): the digest
 * there no longer describes what the store holds.
 *
 * fs_write_features checks and applies in one pass.  The stream worker needs
 * the two steps apart: fs_push checks as the producer (fs_check_write), the
 * worker applies as the view's owner (fs_apply_writes).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/timestamp.h"

#include "entity_key.h"
#include "ingest_state.h"
#include "history.h"
#include "registry.h"
#include "store.h"
#include "utils.h"
#include "value.h"
#include "write.h"

PG_FUNCTION_INFO_V1(fs_write_features);

/* Values shown in error messages are cut to this many bytes. */
#define MAX_SHOWN_VALUE 100

/* What the writes of one call to one view share. */
typedef struct WriteCall
{
	Oid			schema;			/* feature_store's */
	FsView	   *view;
	Relation	rel;
	FmgrInfo	key_out;
	FsValueInput *type_in;		/* [view->nfeatures] */
} WriteCall;

/*-------------------------------------------------------------------------
 * Names and checks
 *-------------------------------------------------------------------------
 */

/* A view's features as a hint-sized list. */
static char *
feature_names(FsView *view)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < view->nfeatures; i++)
	{
		if (i == 20)
		{
			appendStringInfo(&buf, ", ... (%d in all)", view->nfeatures);
			break;
		}
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "", view->features[i].name);
	}
	return buf.data;
}

/* A JSON value as text for a message, cut to a readable length. */
static char *
shown_value(JsonbValue *jv)
{
	Jsonb	   *jb = JsonbValueToJsonb(jv);
	char	   *s = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
	int			len = strlen(s);

	if (len > MAX_SHOWN_VALUE)
	{
		len = pg_mbcliplen(s, len, MAX_SHOWN_VALUE);
		s = psprintf("%.*s...", len, s);
	}
	return s;
}

/* Take the features of one object of a write (set, or add) into p->cols. */
static void
take_features(WriteCall *wc, FsPrepared *p, Jsonb *obj, bool add)
{
	FsView	   *view = wc->view;
	TupleDesc	desc = RelationGetDescr(wc->rel);
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	v;
	char	   *name = NULL;

	if (obj == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(obj))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("features must be a JSON object"),
				 errhint("Name each feature with its value: {\"clicks\": 3, \"segment\": \"b\"}.")));

	it = JsonbIteratorInit(&obj->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		int			f;

		if (tok == WJB_KEY)
		{
			name = pnstrdup(v.val.string.val, v.val.string.len);
			continue;
		}
		if (tok != WJB_VALUE)
			continue;

		if (strcmp(name, view->join_key) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"%s\" is the join key of feature view \"%s\", not a feature",
							name, view->name),
					 errhint("The entity id says which row is written.")));
		if (strcmp(name, view->event_time_column) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"%s\" is the event-time column of feature view \"%s\", not a feature",
							name, view->name),
					 errhint("Pass the event time as event_time.")));
		for (f = 0; f < view->nfeatures; f++)
			if (strcmp(view->features[f].name, name) == 0)
				break;
		if (f == view->nfeatures)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("feature view \"%s\" has no feature \"%s\"", view->name, name),
					 view->nfeatures > 0
					 ? errhint("Its features: %s.", feature_names(view))
					 : errhint("It has no feature columns.")));
		for (int c = 0; c < p->ncols; c++)
			if (p->cols[c].feat == f)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("feature \"%s\" is given twice", name),
						 errdetail("A write either sets a feature or adds to it.")));
		if (TupleDescAttr(desc, view->features[f].attnum - 1)->attgenerated)
			ereport(ERROR,
					(errcode(ERRCODE_GENERATED_ALWAYS),
					 errmsg("feature \"%s\" of feature view \"%s\" is a generated column",
							name, view->name),
					 errdetail("Its table computes it from the other columns.")));
		if (add && !FS_VALUE_KIND_IS_NUMBER(view->features[f].codec.kind))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("cannot add to feature \"%s\" of type %s",
							name, format_type_be(view->features[f].typid)),
					 errhint("Only numeric features (smallint, integer, bigint, real, double precision, numeric) count.")));
		if (add && v.type != jbvNumeric)
			ereport(ERROR,
					(errcode(v.type == jbvNull ? ERRCODE_NULL_VALUE_NOT_ALLOWED
							 : ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid value to add to feature \"%s\": %s", name, shown_value(&v)),
					 errdetail("An amount to add is a JSON number.")));

		p->cols[p->ncols].feat = f;
		p->cols[p->ncols].add = add;
		p->cols[p->ncols].json = v;
		p->ncols++;
	}
}

/* Order a write's columns as the table's. */
static int
col_cmp(const void *a, const void *b)
{
	int			fa = ((const FsWriteCol *) a)->feat;
	int			fb = ((const FsWriteCol *) b)->feat;

	return (fa > fb) - (fa < fb);
}

/*
 * Check a write's features and event time (not its values yet): every name
 * a feature of the view, none twice, at least one.
 */
static void
take_write(WriteCall *wc, FsWrite *w, FsPrepared *p)
{
	int			n = 0;

	memset(p, 0, sizeof(FsPrepared));
	p->w = w;
	if (w->set && JB_ROOT_IS_OBJECT(w->set))
		n += JB_ROOT_COUNT(w->set);
	if (w->add && JB_ROOT_IS_OBJECT(w->add))
		n += JB_ROOT_COUNT(w->add);
	p->cols = palloc(sizeof(FsWriteCol) * Max(n, 1));
	take_features(wc, p, w->set, false);
	take_features(wc, p, w->add, true);
	if (p->ncols == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no features given to write to feature view \"%s\"", wc->view->name),
				 errhint("Name each feature with its value: {\"clicks\": 3}; JSON null sets a feature to NULL.")));
	qsort(p->cols, p->ncols, sizeof(FsWriteCol), col_cmp);

	if (TIMESTAMP_NOT_FINITE(w->event_time))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("event time of a write must be finite"),
				 errdetail("A write at infinity would make every later write stale.")));
}

/* Convert the entity id to the join key's type, naming it if that fails. */
static void
take_entity(WriteCall *wc, FsPrepared *p)
{
	FsView	   *view = wc->view;
	char	   *message;

	if (p->w->entity_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("entity_id must not be null")));
	/* As batch ingestion rejects it (and DynamoDB refuses empty keys). */
	if (p->w->entity_id[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("entity_id must not be empty"),
				 errcontext("feature view \"%s\"", view->name)));
	if (view->key_type == TEXTOID)
	{
		p->key = CStringGetTextDatum(p->w->entity_id);
		p->entity = pstrdup(p->w->entity_id);
		return;
	}
	if (!fs_value_input(&view->key_input, pstrdup(p->w->entity_id), view->key_ioparam,
						view->key_typmod, view->key_input_safe, &p->key, &message))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid entity id \"%s\" for join key \"%s\" of type %s",
						p->w->entity_id, view->join_key, format_type_be(view->key_type)),
				 errdetail("%s", message),
				 errcontext("feature view \"%s\"", view->name)));
	p->entity = OutputFunctionCall(&wc->key_out, p->key);
}

/*
 * Add to buf a privilege the current user lacks on some of the columns p
 * writes, given the privileges held on the whole table: on the table, or on
 * those columns if the user holds it on some column of the table already.
 */
static void
missing_grant(StringInfo buf, WriteCall *wc, FsPrepared *p, AclMode table,
			  AclMode priv, const char *name)
{
	FsView	   *view = wc->view;
	Oid			userid = GetUserId();
	AttrNumber *attnums = palloc(sizeof(AttrNumber) * (p->ncols + 2));
	AclMode    *needs = palloc(sizeof(AclMode) * (p->ncols + 2));
	int			n = 0;
	bool		some = false;

	if (priv & table)
		return;
	attnums[n] = view->key_attnum;
	needs[n++] = ACL_INSERT | ACL_SELECT;
	attnums[n] = view->ts_attnum;
	needs[n++] = ACL_INSERT | ACL_UPDATE | ACL_SELECT;
	for (int c = 0; c < p->ncols; c++)
	{
		attnums[n] = view->features[p->cols[c].feat].attnum;
		needs[n++] = ACL_INSERT | ACL_UPDATE | (p->cols[c].add ? ACL_SELECT : 0);
	}

	/* Columns granted one by one get the column form; else the table's. */
	if (pg_attribute_aclcheck_all(view->relid, userid, priv, ACLMASK_ANY) == ACLCHECK_OK)
	{
		for (int i = 0; i < n; i++)
		{
			bool		dup = false;

			if (!(needs[i] & priv) ||
				pg_attribute_aclcheck(view->relid, attnums[i], userid, priv) == ACLCHECK_OK)
				continue;
			for (int j = 0; j < i; j++)
				dup |= attnums[j] == attnums[i] && (needs[j] & priv);
			if (dup)
				continue;
			if (some)
				appendStringInfoString(buf, ", ");
			else
				appendStringInfo(buf, "%s%s (", buf->len > 0 ? ", " : "", name);
			appendStringInfoString(buf, quote_identifier(get_attname(view->relid, attnums[i], false)));
			some = true;
		}
		if (some)
			appendStringInfoChar(buf, ')');
	}
	else
		appendStringInfo(buf, "%s%s", buf->len > 0 ? ", " : "", name);
}

/* The privileges GRANT must give the current user for p to be written. */
static char *
missing_grants(WriteCall *wc, FsPrepared *p, AclMode table)
{
	StringInfoData buf;

	initStringInfo(&buf);
	missing_grant(&buf, wc, p, table, ACL_INSERT, "INSERT");
	missing_grant(&buf, wc, p, table, ACL_UPDATE, "UPDATE");
	missing_grant(&buf, wc, p, table, ACL_SELECT, "SELECT");
	return buf.data;
}

/*
 * Whether the current user may write the columns p writes: INSERT and UPDATE
 * on them, SELECT on those the statement reads (the join key, the event
 * time, the features added to), as INSERT ... ON CONFLICT DO UPDATE needs;
 * on the table or on each column.
 */
static void
check_privileges(WriteCall *wc, FsPrepared *p)
{
	FsView	   *view = wc->view;
	Oid			relid = view->relid;
	Oid			userid = GetUserId();
	Oid			nspid = RelationGetNamespace(wc->rel);
	AclMode		all = ACL_INSERT | ACL_UPDATE | ACL_SELECT;
	AclMode		table;
	bool		ok = true;
	bool		foreign = wc->rel->rd_rel->relkind == RELKIND_FOREIGN_TABLE;

	if (pg_namespace_aclcheck(nspid, userid, ACL_USAGE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for schema %s", get_namespace_name(nspid)),
				 errdetail("Feature view \"%s\" writes %s %s in that schema.", view->name,
						   foreign ? "foreign table" : "table", RelationGetRelationName(wc->rel))));

	table = pg_class_aclmask(relid, userid, all, ACLMASK_ALL);
	if (table != all)
	{
#define COLUMN_ALLOWS(attnum, need) \
		(((need) & ~table) == 0 || \
		 pg_attribute_aclmask(relid, (attnum), userid, (need) & ~table, ACLMASK_ALL) == \
		 ((need) & ~table))

		ok = COLUMN_ALLOWS(view->key_attnum, ACL_INSERT | ACL_SELECT) &&
			COLUMN_ALLOWS(view->ts_attnum, all);
		for (int c = 0; ok && c < p->ncols; c++)
			ok = COLUMN_ALLOWS(view->features[p->cols[c].feat].attnum,
							   p->cols[c].add ? all : ACL_INSERT | ACL_UPDATE);
#undef COLUMN_ALLOWS
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for %s %s", foreign ? "foreign table" : "table",
						RelationGetRelationName(wc->rel)),
				 errdetail("Writing feature view \"%s\" needs INSERT and UPDATE on that table, "
						   "and SELECT on its join key and event time (and on features added to).",
						   view->name),
				 errhint("The table's owner can grant it: GRANT %s ON %s TO %s;",
						 missing_grants(wc, p, table), fs_qualified_relation_name(relid),
						 quote_identifier(GetUserNameFromId(userid, false)))));

	if (check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot write feature view \"%s\": table %s has row-level security enabled",
						view->name, RelationGetRelationName(wc->rel))));
}

/*-------------------------------------------------------------------------
 * Converting values
 *-------------------------------------------------------------------------
 */

/* A conversion, for fs_catch_data_error. */
typedef struct ConvertCall
{
	WriteCall  *wc;
	FsWriteCol *col;
} ConvertCall;

/* Convert one value, for fs_catch_data_error. */
static void
convert_call(void *arg)
{
	ConvertCall *c = (ConvertCall *) arg;
	FsFeature  *feat = &c->wc->view->features[c->col->feat];

	c->col->value = fs_value_from_json(&feat->codec, &c->wc->type_in[c->col->feat],
									   feat->typmod, &c->col->json);
}

/*
 * Convert one value; NULL, or what its type refused (a data exception, or
 * a domain's constraint).  Anything else, such as a cancel, is raised as it
 * is.
 */
static ErrorData *
convert_value(WriteCall *wc, FsWriteCol *col)
{
	ConvertCall call;
	FsFeature  *feat = &wc->view->features[col->feat];
	FsValueInput *ti = &wc->type_in[col->feat];

	fs_value_input_init(&feat->codec, ti);
	call.wc = wc;
	call.col = col;
	return fs_catch_data_error(convert_call, &call, ti->safe);
}

/*
 * Convert every value of a write; a value its type refuses is an error
 * naming the feature and the value, with the type's own SQLSTATE and
 * message.
 */
static void
convert_values(WriteCall *wc, FsPrepared *p)
{
	for (int c = 0; c < p->ncols; c++)
	{
		FsWriteCol *col = &p->cols[c];
		FsFeature  *feat = &wc->view->features[col->feat];
		ErrorData  *edata;

		col->isnull = (col->json.type == jbvNull);
		col->value = (Datum) 0;
		if (col->isnull)
			continue;
		edata = convert_value(wc, col);
		if (edata != NULL)
			ereport(ERROR,
					(errcode(edata->sqlerrcode),
					 errmsg("invalid value for feature \"%s\" of type %s: %s",
							feat->name, format_type_with_typemod(feat->typid, feat->typmod),
							shown_value(&col->json)),
					 errdetail("%s", edata->message),
					 errcontext("feature view \"%s\", entity \"%s\"",
								wc->view->name, p->w->entity_id)));
	}
}

/*-------------------------------------------------------------------------
 * Setting up a call
 *-------------------------------------------------------------------------
 */

/* Resolve the view and open its relation, locked with lockmode. */
static WriteCall *
begin_call(const char *viewname, LOCKMODE lockmode)
{
	WriteCall  *wc = palloc0(sizeof(WriteCall));
	Oid			typoutput;
	bool		isvarlena;

	if (viewname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("feature_view must not be null")));
	wc->schema = fs_extension_schema(false);
	wc->view = fs_resolve_view(wc->schema, viewname);
	/*
	 * fs_resolve_view holds AccessShareLock, which keeps out every change of
	 * the table's definition: taking a stronger lock now cannot make the
	 * resolved view stale.
	 */
	wc->rel = table_open(wc->view->relid, lockmode);
	getTypeOutputInfo(wc->view->key_type, &typoutput, &isvarlena);
	fmgr_info(typoutput, &wc->key_out);
	wc->type_in = palloc0(sizeof(FsValueInput) * Max(wc->view->nfeatures, 1));
	return wc;
}

/* What the view's store cannot hold is refused before anything is sent. */
static void
check_storable(WriteCall *wc, FsPrepared *p)
{
	if (wc->view->store == FS_STORE_DYNAMODB)
		fs_ddb_check_write(wc->view, p);
}

/*
 * Check that a view exists and may be written by the current user, and that
 * the write names its features with values their types (and, for
 * fs_dynamodb, the store) accept.  Nothing is written.
 */
void
fs_check_write(const char *view, FsWrite *w)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "fs_check_write",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	WriteCall  *wc = begin_call(view, AccessShareLock);
	FsPrepared	p;

	take_write(wc, w, &p);
	check_privileges(wc, &p);
	take_entity(wc, &p);
	convert_values(wc, &p);
	check_storable(wc, &p);

	table_close(wc->rel, NoLock);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

/*
 * Empty the fs_ingest_state digests of the entities written, so that the
 * next fs_ingest compares with nothing and writes them again; their rows
 * are found by the join key type's equality ('1.0' finds '1').
 */
static void
forget_state(WriteCall *wc, FsPrepared *ps, int n)
{
	Datum	   *entities = palloc(sizeof(Datum) * Max(n, 1));
	int			nforget = 0;
	FsKeyType	kt;

	for (int i = 0; i < n; i++)
		if (ps[i].w->status == FS_WRITE_WRITTEN)
			entities[nforget++] = ps[i].key;
	if (nforget == 0)
		return;
	fs_key_type_of(&kt, wc->view->relid, wc->view->key_attnum);
	fs_state_forget_digests(wc->schema, wc->view->name, &kt, entities, nforget);
}

/*-------------------------------------------------------------------------
 * Applying writes
 *-------------------------------------------------------------------------
 */

/*
 * A direct write to the embedded store, with a CHECK constraint's violation
 * reported for what the caller gave: the view, entity and constraint named,
 * the features given as the detail.  PostgreSQL's own report shows our
 * internal upsert, and the row it proposes to insert, where the features
 * not given are NULL, as if the write would null them (it does not).
 * Other errors go on as they are, a CHECK violation of another table (in a
 * user's trigger) included.
 */
static void
local_write_direct(WriteCall *wc, FsPrepared *ps, int n)
{
	MemoryContext cxt = CurrentMemoryContext;
	const char *relname = RelationGetRelationName(wc->rel);
	char	   *nspname = get_namespace_name(RelationGetNamespace(wc->rel));

	PG_TRY();
	{
		fs_local_write(wc->view, wc->rel, ps, n);
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		FsPrepared *p = NULL;
		StringInfoData given;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		/* Only a constraint of the view's table: a user's trigger may break another's. */
		if (edata->sqlerrcode != ERRCODE_CHECK_VIOLATION || edata->constraint_name == NULL ||
			edata->table_name == NULL || strcmp(edata->table_name, relname) != 0 ||
			edata->schema_name == NULL || strcmp(edata->schema_name, nspname) != 0)
			PG_RE_THROW();
		/* Re-raised at once: the transaction's abort cleans up after the write. */
		FlushErrorState();
		for (int i = 0; i < n && p == NULL; i++)
			if (ps[i].w->status == FS_WRITE_PENDING)
				p = &ps[i];
		if (p == NULL)
			ReThrowError(edata);
		initStringInfo(&given);
		for (int c = 0; c < p->ncols; c++)
			appendStringInfo(&given, "%s%s = %s", c > 0 ? ", " : "",
							 quote_identifier(wc->view->features[p->cols[c].feat].name),
							 shown_value(&p->cols[c].json));
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("write of entity \"%s\" to feature view \"%s\" violates check constraint \"%s\"",
						p->w->entity_id, wc->view->name, edata->constraint_name),
				 p->ncols > 0 ? errdetail("The write gives %s.", given.data)
				 : errdetail("The write gives no feature."),
				 errtableconstraint(wc->rel, edata->constraint_name)));
	}
	PG_END_TRY();
}

/*
 * The history of a remote view: the entities written, or written already by
 * an earlier try of the same streamed write (a flush retried after its
 * transaction failed, whose versions went with it).  On the embedded store
 * the table's triggers record them.
 */
static void
record_remote_history(WriteCall *wc, FsPrepared *ps, int n)
{
	Datum	   *keys = palloc(sizeof(Datum) * Max(n, 1));
	int			nkeys = 0;

	for (int i = 0; i < n; i++)
		if (ps[i].w->status == FS_WRITE_WRITTEN || ps[i].w->status == FS_WRITE_DUPLICATE)
			keys[nkeys++] = ps[i].key;
	fs_history_record_remote(wc->schema, wc->view, keys, nkeys);
}

/*
 * Check and convert writes to one view, then apply them to its store, in
 * order, each setting its status; store errors are raised.  With
 * check_user, the current user's privileges are checked too (a direct
 * write); without, the writes were checked as their producer's when they
 * were pushed (the stream worker applies them as the view's owner).
 */
static void
write_view(const char *view, FsWrite *writes, int nwrites, bool check_user)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "feature_store writes",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	WriteCall  *wc = begin_call(view, AccessShareLock);
	FsPrepared *ps = palloc(sizeof(FsPrepared) * Max(nwrites, 1));

	for (int i = 0; i < nwrites; i++)
	{
		writes[i].status = FS_WRITE_PENDING;
		take_write(wc, &writes[i], &ps[i]);
		if (check_user)
			check_privileges(wc, &ps[i]);
		take_entity(wc, &ps[i]);
		convert_values(wc, &ps[i]);
		if (check_user)
			check_storable(wc, &ps[i]);
	}

	/*
	 * Before anything reaches a store that cannot roll back; and before the
	 * lock a write needs, so that a write refused here never waits for it.
	 */
	PreventCommandIfReadOnly("fs_write_features");
	PreventCommandDuringRecovery("fs_write_features");
	LockRelationOid(wc->view->relid, RowExclusiveLock);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (nwrites > 0)
	{
		switch (wc->view->store)
		{
			case FS_STORE_LOCAL:
				if (check_user)
					local_write_direct(wc, ps, nwrites);
				else
					fs_local_write(wc->view, wc->rel, ps, nwrites);
				break;
			case FS_STORE_DYNAMODB:
				fs_ddb_write(wc->view, wc->rel, ps, nwrites);
				record_remote_history(wc, ps, nwrites);
				break;
		}
	}
	for (int i = 0; i < nwrites; i++)
		if (writes[i].status == FS_WRITE_PENDING)
			elog(ERROR, "write of entity \"%s\" got no answer", writes[i].entity_id);
	forget_state(wc, ps, nwrites);
	SPI_finish();

	table_close(wc->rel, NoLock);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

/*
 * Apply writes that fs_check_write checked (the stream worker's), in order,
 * each setting its status.
 */
void
fs_apply_writes(const char *view, FsWrite *writes, int nwrites)
{
	write_view(view, writes, nwrites, false);
}

/*
 * fs_write_features(feature_view text, entity_id text, features jsonb,
 * event_time timestamptz): write some features of one entity now;
 * 'WRITTEN', or 'STALE' when a newer event time is stored.
 */
Datum
fs_write_features(PG_FUNCTION_ARGS)
{
	static const char *const argnames[] = {"feature_view", "entity_id", "features", "event_time"};
	FsWrite		w;
	char	   *view;

	for (int i = 0; i < 4; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be null", argnames[i]),
					 i == 2 ? errhint("To set a feature to NULL, give it the JSON null: {\"clicks\": null}.") :
					 i == 3 ? errhint("Leave event_time out to write at now().") : 0));

	memset(&w, 0, sizeof(w));
	view = text_to_cstring(PG_GETARG_TEXT_PP(0));
	w.entity_id = text_to_cstring(PG_GETARG_TEXT_PP(1));
	w.set = PG_GETARG_JSONB_P(2);
	w.event_time = PG_GETARG_TIMESTAMPTZ(3);

	write_view(view, &w, 1, true);

	PG_RETURN_TEXT_P(cstring_to_text(w.status == FS_WRITE_WRITTEN ? "WRITTEN" : "STALE"));
}
