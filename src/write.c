/*-------------------------------------------------------------------------
 *
 * write.c
 *	  Writing feature values of single entities: fs_write_features (the
 *	  direct lane), and fs_check_write / fs_apply_writes, which the streaming
 *	  worker uses too.
 *
 * A write names some features of one entity with JSON values.  Each value
 * becomes a Datum of its column's type, the inverse of what serving shows
 * (value.c): numbers, strings and booleans through the type's input
 * function, as jsonb_populate_record reads them; JSON arrays as arrays;
 * jsonb as is; timestamptz from ISO 8601 text; bytea from base64 (or
 * "\x..." hex); JSON null as SQL NULL.
 *
 * On the embedded store a write is one INSERT ... ON CONFLICT DO UPDATE
 * whose WHERE keeps a newer stored event time; the statement is prepared
 * once per table and set of columns and kept until the table changes.  On
 * fs_dynamodb it is one UpdateItem with a ConditionExpression on the
 * event-time attribute, and every write of a call goes out in one
 * concurrent wave.  An entity written is forgotten by batch change
 * detection (its fs_ingest_state digest is emptied): the digest there no
 * longer describes what the store holds.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "ddb.h"

#include "tcop/utility.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "common/base64.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "registry.h"
#include "value.h"
#include "feature_store.h"
#include "write.h"

PG_FUNCTION_INFO_V1(fs_write_features);

/* The remote attribute holding the seq of the last streamed write. */
#define SEQ_ATTR "fs_seq"

/* Values shown in error messages are cut to this many bytes. */
#define MAX_SHOWN_VALUE 100

/* Cached INSERT plans beyond this many are all dropped. */
#define MAX_CACHED_PLANS 256

/* A feature named by a write. */
typedef struct WriteCol
{
	int			feat;			/* index in view->features */
	bool		add;
	JsonbValue	json;			/* as given */
	Datum		value;			/* converted */
	bool		isnull;
} WriteCol;

/* A write, checked and converted. */
typedef struct Prepared
{
	FsWrite    *w;
	Datum		key;			/* in the join key's type */
	char	   *entity;			/* the key's output text: fs_ingest_state's entity_id */
	int			ncols;
	WriteCol   *cols;			/* in column order */
} Prepared;

/* How to read values of one feature's type; looked up on first use. */
typedef struct TypeIn
{
	bool		ready;
	FmgrInfo	in;
	Oid			ioparam;
	FmgrInfo	elem_in;		/* arrays: the element type's */
	Oid			elem_ioparam;
} TypeIn;

/* What the writes of one call to one view share. */
typedef struct WriteCall
{
	Oid			schema;			/* feature_store's */
	FsView	   *view;
	Relation	rel;
	FmgrInfo	key_out;
	TypeIn	   *type_in;		/* [view->nfeatures] */
} WriteCall;

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

/* The UPDATE emptying fs_ingest_state digests, prepared once per schema. */
static SPIPlanPtr forget_plan = NULL;
static Oid	forget_schema = InvalidOid;

/*-------------------------------------------------------------------------
 * Names and checks
 *-------------------------------------------------------------------------
 */

/* The schema feature_store is installed in. */
static Oid
extension_schema(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			schema = InvalidOid;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("feature_store"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		schema = ((Form_pg_extension) GETSTRUCT(tup))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (!OidIsValid(schema))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("extension \"feature_store\" is not installed in this database")));
	return schema;
}

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

/* Whether values of a codec's kind can be added to. */
static bool
is_numeric_kind(FsValueKind kind)
{
	switch (kind)
	{
		case FS_VALUE_INT2:
		case FS_VALUE_INT4:
		case FS_VALUE_INT8:
		case FS_VALUE_FLOAT4:
		case FS_VALUE_FLOAT8:
		case FS_VALUE_NUMERIC:
			return true;
		default:
			return false;
	}
}

/* Take the features of one object of a write (set, or add) into p->cols. */
static void
take_features(WriteCall *wc, Prepared *p, Jsonb *obj, bool add)
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
		if (add && !is_numeric_kind(view->features[f].codec.kind))
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
	int			fa = ((const WriteCol *) a)->feat;
	int			fb = ((const WriteCol *) b)->feat;

	return (fa > fb) - (fa < fb);
}

/*
 * Check a write's features and event time (not its values yet): every name
 * a feature of the view, none twice, at least one.
 */
static void
take_write(WriteCall *wc, FsWrite *w, Prepared *p)
{
	int			n = 0;

	memset(p, 0, sizeof(Prepared));
	p->w = w;
	if (w->set && JB_ROOT_IS_OBJECT(w->set))
		n += JB_ROOT_COUNT(w->set);
	if (w->add && JB_ROOT_IS_OBJECT(w->add))
		n += JB_ROOT_COUNT(w->add);
	p->cols = palloc(sizeof(WriteCol) * Max(n, 1));
	take_features(wc, p, w->set, false);
	take_features(wc, p, w->add, true);
	if (p->ncols == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no features given to write to feature view \"%s\"", wc->view->name),
				 errhint("Name each feature with its value: {\"clicks\": 3}; JSON null sets a feature to NULL.")));
	qsort(p->cols, p->ncols, sizeof(WriteCol), col_cmp);

	if (TIMESTAMP_NOT_FINITE(w->event_time))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("event time of a write must be finite"),
				 errdetail("A write at infinity would make every later write stale.")));
}

/* Convert the entity id to the join key's type, naming it if that fails. */
static void
take_entity(WriteCall *wc, Prepared *p)
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
						view->key_typmod, &p->key, &message))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid entity id \"%s\" for join key \"%s\" of type %s",
						p->w->entity_id, view->join_key, format_type_be(view->key_type)),
				 errdetail("%s", message),
				 errcontext("feature view \"%s\"", view->name)));
	p->entity = OutputFunctionCall(&wc->key_out, p->key);
}

/*
 * Whether the current user may write the columns p writes: INSERT and UPDATE
 * on them, SELECT on those the statement reads (the join key, the event
 * time, the features added to), as INSERT ... ON CONFLICT DO UPDATE needs;
 * on the table or on each column.
 */
static void
check_privileges(WriteCall *wc, Prepared *p)
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
						   view->name)));

	if (check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot write feature view \"%s\": table %s has row-level security enabled",
						view->name, RelationGetRelationName(wc->rel))));
}

/*-------------------------------------------------------------------------
 * JSON values as Datums
 *-------------------------------------------------------------------------
 */

/* A value refused for structural reasons, with the type's kind of SQLSTATE. */
static void
pg_attribute_noreturn()
not_a_value(const char *what, Oid typid)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("%s is not a value of type %s", what, format_type_be(typid))));
}

/* Apply a domain's constraints to a value built without its input function. */
static Datum
check_domain(FsValueCodec *codec, Datum value)
{
	if (codec->typid != codec->basetypid)
		domain_check(value, false, codec->typid, NULL, NULL);
	return value;
}

/* bytea from base64, as serving writes it, or from "\x..." hex. */
static Datum
bytea_from_string(FsValueCodec *codec, FmgrInfo *in, Oid ioparam, int32 typmod,
				  const char *s, int len)
{
	bytea	   *b;
	int			n;

	if (len >= 2 && s[0] == '\\' && s[1] == 'x')
		return InputFunctionCall(in, pnstrdup(s, len), ioparam, typmod);
	b = palloc(VARHDRSZ + pg_b64_dec_len(len));
	n = pg_b64_decode(s, len, VARDATA(b), pg_b64_dec_len(len));
	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid base64 for type bytea"),
				 errhint("bytea values are written as base64, as fs_get_features serves them, or as '\\x' and hex digits.")));
	SET_VARSIZE(b, VARHDRSZ + n);
	return check_domain(codec, PointerGetDatum(b));
}

/* A non-null JSON scalar as a value of a scalar type, through its input function. */
static Datum
scalar_value(FsValueCodec *codec, FmgrInfo *in, Oid ioparam, int32 typmod, JsonbValue *jv)
{
	char	   *str;

	switch (jv->type)
	{
		case jbvString:
			if (codec->kind == FS_VALUE_BYTEA)
				return bytea_from_string(codec, in, ioparam, typmod,
										 jv->val.string.val, jv->val.string.len);
			str = pnstrdup(jv->val.string.val, jv->val.string.len);
			break;
		case jbvNumeric:
			str = DatumGetCString(DirectFunctionCall1(numeric_out,
													  NumericGetDatum(jv->val.numeric)));
			break;
		case jbvBool:
			str = jv->val.boolean ? "true" : "false";
			break;
		case jbvBinary:
			not_a_value(JsonContainerIsArray(jv->val.binary.data) ? "a JSON array" : "a JSON object",
						codec->typid);
		default:
			elog(ERROR, "unexpected JSON value type %d", (int) jv->type);
	}
	return InputFunctionCall(in, str, ioparam, typmod);
}

/* A JSON value (not null) as jsonb or json. */
static Datum
json_value(FsValueCodec *codec, FmgrInfo *in, Oid ioparam, int32 typmod, JsonbValue *jv)
{
	Jsonb	   *jb = JsonbValueToJsonb(jv);

	if (codec->kind == FS_VALUE_JSONB)
		return check_domain(codec, JsonbPGetDatum(jb));
	return InputFunctionCall(in, JsonbToCString(NULL, &jb->root, VARSIZE(jb)), ioparam, typmod);
}

/* Collect the elements of a rectangular JSON array, row-major. */
static void
array_elements(JsonbContainer *jc, int level, int ndims, int *dims, FsValueCodec *elem,
			   TypeIn *ti, int32 typmod, Datum *values, bool *nulls, int *pos)
{
	if (!JsonContainerIsArray(jc) || JsonContainerIsScalar(jc) ||
		(int) JsonContainerSize(jc) != dims[level])
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("a multidimensional array must have sub-arrays of matching dimensions")));
	for (int i = 0; i < dims[level]; i++)
	{
		JsonbValue *v = getIthJsonbValueFromContainer(jc, i);

		if (level < ndims - 1)
		{
			if (v->type != jbvBinary)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
						 errmsg("a multidimensional array must have sub-arrays of matching dimensions")));
			array_elements(v->val.binary.data, level + 1, ndims, dims, elem, ti, typmod,
						   values, nulls, pos);
			continue;
		}
		nulls[*pos] = (v->type == jbvNull);
		if (nulls[*pos])
			values[*pos] = (Datum) 0;
		else if (elem->kind == FS_VALUE_JSONB || elem->kind == FS_VALUE_JSON)
			values[*pos] = json_value(elem, &ti->elem_in, ti->elem_ioparam, typmod, v);
		else
			values[*pos] = scalar_value(elem, &ti->elem_in, ti->elem_ioparam, typmod, v);
		(*pos)++;
	}
}

/* A JSON array (or an array literal string) as an array value. */
static Datum
array_value(FsValueCodec *codec, TypeIn *ti, int32 typmod, JsonbValue *jv)
{
	FsValueCodec *elem = codec->elem;
	bool		nested = elem->kind != FS_VALUE_JSONB && elem->kind != FS_VALUE_JSON;
	JsonbContainer *jc;
	int			ndims = 0;
	int			dims[MAXDIM];
	int			lbs[MAXDIM];
	int			nitems;
	Datum	   *values;
	bool	   *nulls;
	int			pos = 0;

	if (jv->type == jbvString)
		return InputFunctionCall(&ti->in, pnstrdup(jv->val.string.val, jv->val.string.len),
								 ti->ioparam, typmod);
	if (jv->type != jbvBinary || !JsonContainerIsArray(jv->val.binary.data))
		not_a_value(jv->type == jbvBinary ? "a JSON object" : "a JSON scalar", codec->typid);

	/* The dimensions, from the first element of each level. */
	jc = jv->val.binary.data;
	for (;;)
	{
		JsonbValue *first;

		if (ndims == MAXDIM)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("number of array dimensions exceeds the maximum allowed (%d)", MAXDIM)));
		dims[ndims] = JsonContainerSize(jc);
		lbs[ndims] = 1;
		ndims++;
		if (!nested || JsonContainerSize(jc) == 0)
			break;
		first = getIthJsonbValueFromContainer(jc, 0);
		if (first->type != jbvBinary || !JsonContainerIsArray(first->val.binary.data))
			break;
		jc = first->val.binary.data;
	}
	nitems = ArrayGetNItems(ndims, dims);
	if (nitems == 0)
		return check_domain(codec, PointerGetDatum(construct_empty_array(elem->typid)));

	values = palloc(sizeof(Datum) * nitems);
	nulls = palloc(sizeof(bool) * nitems);
	array_elements(jv->val.binary.data, 0, ndims, dims, elem, ti, typmod, values, nulls, &pos);
	return check_domain(codec,
						PointerGetDatum(construct_md_array(values, nulls, ndims, dims, lbs,
														   elem->typid, elem->typlen,
														   elem->typbyval, elem->typalign)));
}

/* A non-null JSON value as a value of a feature's type; raises what the type refuses. */
static Datum
feature_value(WriteCall *wc, int f, JsonbValue *jv)
{
	FsFeature  *feat = &wc->view->features[f];
	TypeIn	   *ti = &wc->type_in[f];
	FsValueCodec *codec = &feat->codec;

	if (!ti->ready)
	{
		Oid			infunc;

		getTypeInputInfo(feat->typid, &infunc, &ti->ioparam);
		fmgr_info(infunc, &ti->in);
		if (codec->kind == FS_VALUE_ARRAY)
		{
			getTypeInputInfo(codec->elem->typid, &infunc, &ti->elem_ioparam);
			fmgr_info(infunc, &ti->elem_in);
		}
		ti->ready = true;
	}

	switch (codec->kind)
	{
		case FS_VALUE_JSONB:
		case FS_VALUE_JSON:
			return json_value(codec, &ti->in, ti->ioparam, feat->typmod, jv);
		case FS_VALUE_ARRAY:
			return array_value(codec, ti, feat->typmod, jv);
		default:
			return scalar_value(codec, &ti->in, ti->ioparam, feat->typmod, jv);
	}
}

/* A conversion, for fs_catch_data_error. */
typedef struct ConvertCall
{
	WriteCall  *wc;
	WriteCol   *col;
} ConvertCall;

static void
convert_call(void *arg)
{
	ConvertCall *c = (ConvertCall *) arg;

	c->col->value = feature_value(c->wc, c->col->feat, &c->col->json);
}

/*
 * Convert one value; NULL, or what its type refused (a data exception, or
 * a domain's constraint).  Anything else, such as a cancel, is raised as it
 * is.
 */
static ErrorData *
convert_value(WriteCall *wc, WriteCol *col)
{
	ConvertCall call;

	call.wc = wc;
	call.col = col;
	return fs_catch_data_error(convert_call, &call);
}

/*
 * Convert every value of a write; a value its type refuses is an error
 * naming the feature and the value, with the type's own SQLSTATE and
 * message.
 */
static void
convert_values(WriteCall *wc, Prepared *p)
{
	for (int c = 0; c < p->ncols; c++)
	{
		WriteCol   *col = &p->cols[c];
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
	wc->schema = extension_schema();
	wc->view = fs_resolve_view(wc->schema, viewname);
	/*
	 * fs_resolve_view holds AccessShareLock, which keeps out every change of
	 * the table's definition: taking a stronger lock now cannot make the
	 * resolved view stale.
	 */
	wc->rel = table_open(wc->view->relid, lockmode);
	getTypeOutputInfo(wc->view->key_type, &typoutput, &isvarlena);
	fmgr_info(typoutput, &wc->key_out);
	wc->type_in = palloc0(sizeof(TypeIn) * Max(wc->view->nfeatures, 1));
	return wc;
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
	Prepared	p;

	take_write(wc, w, &p);
	check_privileges(wc, &p);
	take_entity(wc, &p);
	convert_values(wc, &p);

	/* What DynamoDB cannot hold (NaN, 1e300) is refused now, not mid-wave. */
	if (wc->view->store == FS_STORE_DYNAMODB)
	{
		for (int c = 0; c < p.ncols; c++)
			if (!p.cols[c].isnull)
			{
				FsFeature  *feat = &wc->view->features[p.cols[c].feat];

				json_decref(fs_ddb_encode(p.cols[c].value, feat->typid, false, feat->name,
										  p.entity));
			}
	}

	table_close(wc->rel, NoLock);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

/*-------------------------------------------------------------------------
 * Forgetting the batch lane's digests
 *-------------------------------------------------------------------------
 */

/*
 * Empty the fs_ingest_state digests of the entities written, so that the
 * next fs_ingest compares with nothing and writes them again (the rows stay:
 * a snapshot deletes what the state knows).  The state's row security lets
 * only a view's owner update, and a writer need not own the view: run as the
 * state table's owner, for this one fixed statement.
 */
static void
forget_state(WriteCall *wc, Prepared *ps, int n)
{
	Oid			schema = wc->schema;
	Oid			state_relid;
	Oid			owner;
	HeapTuple	tup;
	Datum	   *entities = palloc(sizeof(Datum) * Max(n, 1));
	int			nforget = 0;
	Datum		args[2];
	Oid			save_userid;
	int			save_sec_context;
	int			ret;

	for (int i = 0; i < n; i++)
		if (ps[i].w->status == FS_WRITE_WRITTEN)
			entities[nforget++] = CStringGetTextDatum(ps[i].entity);
	if (nforget == 0)
		return;

	state_relid = get_relname_relid("fs_ingest_state", schema);
	if (!OidIsValid(state_relid))
		elog(ERROR, "table fs_ingest_state of extension feature_store is missing");
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(state_relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", state_relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);

	if (forget_plan == NULL || forget_schema != schema)
	{
		Oid			argtypes[2] = {TEXTOID, TEXTARRAYOID};
		char	   *sql;
		SPIPlanPtr	plan;

		if (forget_plan != NULL)
		{
			SPI_freeplan(forget_plan);
			forget_plan = NULL;
		}
		/*
		 * An empty digest matches no row: the next fs_ingest compares the
		 * entity afresh.  The row stays, so that a snapshot still knows the
		 * entity as one the batch lane wrote.
		 */
		sql = psprintf("UPDATE %s.fs_ingest_state st SET digest = '\\x'::pg_catalog.bytea "
					   "WHERE st.feature_view OPERATOR(pg_catalog.=) $1 "
					   "AND st.entity_id OPERATOR(pg_catalog.=) ANY ($2)",
					   quote_identifier(get_namespace_name(schema)));
		plan = SPI_prepare(sql, 2, argtypes);
		if (plan == NULL)
			elog(ERROR, "could not prepare the ingestion state update: %s",
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		forget_plan = plan;
		forget_schema = schema;
	}

	args[0] = CStringGetTextDatum(wc->view->name);
	args[1] = PointerGetDatum(construct_array(entities, nforget, TEXTOID, -1, false,
											  TYPALIGN_INT));
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	ret = SPI_execute_plan(forget_plan, args, NULL, false, 0);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "could not update the ingestion state: %s", SPI_result_code_string(ret));
}

/*-------------------------------------------------------------------------
 * The embedded store
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

/* The time the stored event time must not be after for a write to apply. */
static TimestampTz
condition_time(FsWrite *w)
{
	return w->oldest_event_time != 0 ? w->oldest_event_time : w->event_time;
}

/*
 * Whether a write only adds (counters): every event counts, whatever the
 * stored event time, which only moves forward.
 */
static bool
add_only(Prepared *p)
{
	for (int c = 0; c < p->ncols; c++)
		if (!p->cols[c].add)
			return false;
	return p->ncols > 0;
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
local_plan(WriteCall *wc, Prepared *p)
{
	FsView	   *view = wc->view;
	TupleDesc	desc = RelationGetDescr(wc->rel);
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
	if (add_only(p))
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
					 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(wc->rel)),
												RelationGetRelationName(wc->rel)),
					 key, ts);
	for (int c = 0; c < p->ncols; c++)
		appendStringInfo(&sql, ", %s", quote_identifier(view->features[p->cols[c].feat].name));
	appendStringInfoString(&sql, ") VALUES ($1, $2");
	for (int c = 0; c < p->ncols; c++)
	{
		appendStringInfo(&sql, ", $%d", c + 3);
		argtypes[c + 2] = view->features[p->cols[c].feat].typid;
	}
	if (add_only(p))
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
	if (add_only(p))
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
	Prepared   *p = (Prepared *) arg;

	errcontext("writing entity \"%s\"", p->w->entity_id);
}

/* One upsert per write, in order. */
static void
apply_local(WriteCall *wc, Prepared *ps, int n)
{
	int			maxcols = 0;
	Datum	   *args;
	char	   *nulls;
	ErrorContextCallback errcb;

	for (int i = 0; i < n; i++)
		maxcols = Max(maxcols, ps[i].ncols);
	args = palloc(sizeof(Datum) * (maxcols + 3));
	nulls = palloc(maxcols + 3);

	errcb.callback = local_write_context;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	for (int i = 0; i < n; i++)
	{
		Prepared   *p = &ps[i];
		SPIPlanPtr	plan;
		int			ret;

		CHECK_FOR_INTERRUPTS();
		errcb.arg = p;
		plan = local_plan(wc, p);
		args[0] = p->key;
		nulls[0] = ' ';
		args[1] = TimestampTzGetDatum(p->w->event_time);
		nulls[1] = ' ';
		for (int c = 0; c < p->ncols; c++)
		{
			args[c + 2] = p->cols[c].value;
			nulls[c + 2] = p->cols[c].isnull ? 'n' : ' ';
		}
		args[p->ncols + 2] = TimestampTzGetDatum(condition_time(p->w));
		nulls[p->ncols + 2] = ' ';
		ret = SPI_execute_plan(plan, args, nulls, false, 0);
		if (ret != SPI_OK_INSERT_RETURNING)
			elog(ERROR, "could not write feature view \"%s\": %s", wc->view->name,
				 SPI_result_code_string(ret));
		p->w->status = SPI_processed > 0 ? FS_WRITE_WRITTEN : FS_WRITE_STALE;
		SPI_freetuptable(SPI_tuptable);
	}
	error_context_stack = errcb.previous;
}

/*-------------------------------------------------------------------------
 * fs_dynamodb
 *-------------------------------------------------------------------------
 */

/* One write to the remote store. */
typedef struct RemoteWrite
{
	struct RemoteCall *rc;
	Prepared   *p;
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
		else if (add_only(rw->p))
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
	else if (add_only(rw->p))
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
	Prepared   *p = rw->p;
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
	if (condition_time(p->w) != p->w->event_time && !again)
		fs_obj_set_new(values, ":m", fs_ddb_encode(TimestampTzGetDatum(condition_time(p->w)),
												   TIMESTAMPTZOID, rc->ts_is_event_time,
												   view->event_time_column, p->entity));
	for (int c = 0; c < p->ncols; c++)
	{
		WriteCol   *col = &p->cols[c];
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
							   condition_time(p->w) != p->w->event_time
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

/*
 * One UpdateItem per write, all in one concurrent wave (a key written twice
 * starts a new wave, so writes of one entity apply in order); then, for the
 * failed conditions of writes with a seq, one wave of GetItem to tell stale
 * from duplicate.
 */
static void
apply_remote(WriteCall *wc, Prepared *ps, int n)
{
	FsView	   *view = wc->view;
	RemoteCall	rc;
	RemoteWrite *rws = palloc0(sizeof(RemoteWrite) * Max(n, 1));
	FsDdbCall **calls = palloc(sizeof(FsDdbCall *) * Max(n, 1));
	HTAB	   *wave_keys;
	int			ncalls = 0;
	Form_pg_attribute katt = TupleDescAttr(RelationGetDescr(wc->rel), view->key_attnum - 1);

	memset(&rc, 0, sizeof(rc));
	rc.view = view;
	rc.tbl = fs_ddb_table(wc->rel);
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
								RelationGetRelationName(wc->rel), SEQ_ATTR),
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
			run_wave(&rc, wc->rel, calls, ncalls);
			ncalls = 0;
			hash_destroy(wave_keys);
			wave_keys = fs_string_table("feature_store write keys", Max(n, 16), sizeof(char *),
										CurrentMemoryContext);
			hash_search(wave_keys, &rw->keytext, HASH_ENTER, NULL);
		}
		calls[ncalls++] = update_call(&rc, rw, false);
	}
	run_wave(&rc, wc->rel, calls, ncalls);

	ask_seqs(&rc, wc->rel, rws, n, calls);

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
	run_wave(&rc, wc->rel, calls, ncalls);
	ask_seqs(&rc, wc->rel, rws, n, calls);
}

/*-------------------------------------------------------------------------
 * Applying writes
 *-------------------------------------------------------------------------
 */

/*
 * Apply writes to one view, in order, each setting its status; store errors
 * are raised.  Privileges are fs_check_write's business: the streaming
 * worker applies what was checked when it was pushed.
 */
void
fs_apply_writes(const char *view, FsWrite *writes, int nwrites)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "fs_apply_writes",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old;
	WriteCall  *wc;
	Prepared   *ps;

	/* Before anything reaches a store that cannot roll back. */
	PreventCommandIfReadOnly("fs_write_features");
	PreventCommandDuringRecovery("fs_write_features");
	old = MemoryContextSwitchTo(cxt);
	wc = begin_call(view, RowExclusiveLock);
	ps = palloc(sizeof(Prepared) * Max(nwrites, 1));

	for (int i = 0; i < nwrites; i++)
	{
		writes[i].status = FS_WRITE_PENDING;
		take_write(wc, &writes[i], &ps[i]);
		take_entity(wc, &ps[i]);
		convert_values(wc, &ps[i]);
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (nwrites > 0)
	{
		switch (wc->view->store)
		{
			case FS_STORE_LOCAL:
				apply_local(wc, ps, nwrites);
				break;
			case FS_STORE_DYNAMODB:
				apply_remote(wc, ps, nwrites);
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

	fs_check_write(view, &w);
	fs_apply_writes(view, &w, 1);

	PG_RETURN_TEXT_P(cstring_to_text(w.status == FS_WRITE_WRITTEN ? "WRITTEN" : "STALE"));
}
