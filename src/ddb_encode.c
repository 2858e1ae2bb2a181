/*-------------------------------------------------------------------------
 *
 * ddb_encode.c
 *	  Datums as DynamoDB AttributeValues (fs_ddb_encode).
 *
 * The layout, value by value, is in ddb_codec.c's header.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "ddb_codec_internal.h"

#include <errno.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "common/int.h"
#include "common/shortest_dec.h"
#include "datatype/timestamp.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "value.h"

static json_t *encode_value(Datum value, DdbType *t, const char *column,
							const char *entity);

/* Refuse a value DynamoDB cannot hold. */
static void
pg_attribute_noreturn()
unstorable(int sqlstate, const char *column, const char *entity, const char *detail)
{
	if (entity)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("value of column \"%s\" for entity \"%s\" cannot be stored in DynamoDB",
						column, entity),
				 errdetail("%s", detail)));
	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg("value of column \"%s\" cannot be stored in DynamoDB", column),
			 errdetail("%s", detail)));
}

/* Refuse a number beyond DynamoDB's limits. */
static void
pg_attribute_noreturn()
number_out_of_range(const char *column, const char *entity)
{
	unstorable(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, column, entity,
			   "DynamoDB numbers have at most 38 significant digits and a magnitude between 1E-130 and 9.9999999999999999999999999999999999999E+125.");
}

/* Refuse NaN and infinities. */
static void
pg_attribute_noreturn()
number_not_finite(const char *column, const char *entity)
{
	unstorable(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, column, entity,
			   "DynamoDB numbers cannot be NaN or infinite.");
}

/* Fail on a jansson allocation failure. */
static inline json_t *
check_json(json_t *json)
{
	if (json == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory building a DynamoDB AttributeValue")));
	return json;
}

/* {kind: v}; takes v's reference. */
static json_t *
make_av(const char *kind, json_t *v)
{
	json_t	   *av;

	check_json(v);
	av = fs_json_object();
	if (av == NULL)
		json_decref(v);
	check_json(av);
	if (json_object_set_new_nocheck(av, kind, v) != 0)
	{
		json_decref(av);
		check_json(NULL);
	}
	return av;
}

/* A JSON string of server-encoded text. */
static json_t *
make_string(const char *s, int len, const char *column, const char *entity)
{
	char	   *utf8;
	json_t	   *str;

	if (GetDatabaseEncoding() == PG_UTF8)
		return check_json(json_stringn_nocheck(s, len));

	utf8 = pg_server_to_any(s, len, PG_UTF8);
	if (utf8 != s)
		len = strlen(utf8);
	str = json_stringn(utf8, len);
	if (str == NULL)
		unstorable(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE, column, entity,
				   "DynamoDB strings must be valid UTF-8.");
	return str;
}

/* {"N": s} from a string DynamoDB accepts. */
static json_t *
make_number(const char *s, int len)
{
	return make_av("N", json_stringn_nocheck(s, len));
}

/* {"N": ...} from a number's decimal text. */
static json_t *
encode_decimal(const char *s, const char *column, const char *entity)
{
	char		buf[DDB_NUMBER_LEN];
	int			len = ddb_codec_number(s, buf);

	if (len < 0)
		number_out_of_range(column, entity);
	return make_number(buf, len);
}

/* {"N": ...} from a float. */
static json_t *
encode_float(double d, bool is_float4, const char *column, const char *entity)
{
	char		buf[DOUBLE_SHORTEST_DECIMAL_LEN];

	if (isnan(d) || isinf(d))
		number_not_finite(column, entity);
	/* DynamoDB numbers are decimals: there is no negative zero. */
	if (d == 0)
		return make_number("0", 1);
	if (is_float4)
		float_to_shortest_decimal_buf((float) d, buf);
	else
		double_to_shortest_decimal_buf(d, buf);
	return encode_decimal(buf, column, entity);
}

/* {"N": ...} from a numeric. */
static json_t *
encode_numeric(Numeric num, const char *column, const char *entity)
{
	if (numeric_is_nan(num) || numeric_is_inf(num))
		number_not_finite(column, entity);
	return encode_decimal(DatumGetCString(DirectFunctionCall1(numeric_out,
															  NumericGetDatum(num))),
						  column, entity);
}

/* {"N": ...} from an int64. */
static json_t *
encode_int(int64 v)
{
	char		buf[MAXINT8LEN + 1];
	int			len = pg_lltoa(v, buf);

	return make_number(buf, len);
}

/* The event time as {"N": seconds since the Unix epoch}. */
static json_t *
encode_event_time(Timestamp ts, const char *column, const char *entity)
{
	char		buf[MAXINT8LEN + 9];
	char	   *p = buf;
	uint64		mag;
	int			usec;
	int64		us;

	if (TIMESTAMP_NOT_FINITE(ts))
		unstorable(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, column, entity,
				   "An event time must be finite: DynamoDB numbers cannot be infinite.");
	/* Valid timestamps are far from int64's limits. */
	us = ts + UNIX_TO_PG_USECS;
	mag = us < 0 ? -(uint64) us : (uint64) us;
	if (us < 0)
		*p++ = '-';
	p += pg_ulltoa_n(mag / USECS_PER_SEC, p);
	usec = mag % USECS_PER_SEC;
	if (usec != 0)
	{
		*p++ = '.';
		for (int div = 100000; div > 0 && usec != 0; div /= 10)
		{
			*p++ = '0' + usec / div;
			usec %= div;
		}
	}
	return make_number(buf, p - buf);
}

/* A timestamptz as "YYYY-MM-DDTHH:MM:SS.ffffffZ" in UTC. */
static json_t *
encode_timestamptz(TimestampTz ts, const char *column, const char *entity)
{
	char		buf[MAXDATELEN + 1];
	struct pg_tm tm;
	fsec_t		fsec;
	int			len;

	if (TIMESTAMP_IS_NOBEGIN(ts))
		return make_av("S", json_string_nocheck("-infinity"));
	if (TIMESTAMP_IS_NOEND(ts))
		return make_av("S", json_string_nocheck("infinity"));
	if (timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
		unstorable(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE, column, entity,
				   "The timestamp is out of range.");
	len = snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ%s",
				   tm.tm_year > 0 ? tm.tm_year : -(tm.tm_year - 1),
				   tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
				   (int) fsec, tm.tm_year > 0 ? "" : " BC");
	return make_av("S", json_stringn_nocheck(buf, len));
}

/* A one-dimensional array as {"L": [...]}. */
static json_t *
encode_array(ArrayType *arr, DdbType *t, const char *column, const char *entity)
{
	DdbType		elem;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	json_t	   *volatile list = NULL;
	json_t	   *av;

	if (ARR_NDIM(arr) > 1)
		unstorable(ERRCODE_FEATURE_NOT_SUPPORTED, column, entity,
				   "Arrays of more than one dimension have no DynamoDB layout.");

	ddb_codec_resolve_type(t->elemtype, -1, &elem);
	get_typlenbyvalalign(t->elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(arr, t->elemtype, typlen, typbyval, typalign,
					  &elems, &nulls, &n);

	list = check_json(json_array());
	av = make_av("L", list);
	/* An element that cannot be stored must not leak the list. */
	PG_TRY();
	{
		for (int i = 0; i < n; i++)
		{
			json_t	   *e;

			if (nulls[i])
				e = make_av("NULL", json_true());
			else
				e = encode_value(elems[i], &elem, column, entity);
			if (json_array_append_new(list, e) != 0)
				check_json(NULL);
		}
	}
	PG_CATCH();
	{
		json_decref(av);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return av;
}

static json_t *jsonb_value_to_av(JsonbValue *v, const char *column, const char *entity);

/* Append child to an array, or set it under key in an object; false on failure. */
static bool
attach(json_t *container, JsonbValue *key, json_t *child)
{
	char	   *k;
	size_t		klen;

	if (key == NULL)
		return json_array_append_new(container, child) == 0;
	if (GetDatabaseEncoding() == PG_UTF8)
		return json_object_setn_new_nocheck(container, key->val.string.val,
											key->val.string.len, child) == 0;
	k = pg_server_to_any(key->val.string.val, key->val.string.len, PG_UTF8);
	klen = (k == key->val.string.val) ? key->val.string.len : strlen(k);
	return json_object_setn_new(container, k, klen, child) == 0;
}

/*
 * Fill container (the json array or object inside an L or M) from a jsonb
 * container.  Nested containers are attached before they are filled, so an
 * error leaves every json_t reachable from the root.
 */
static void
jsonb_fill(json_t *container, JsonbContainer *jc, const char *column,
		   const char *entity)
{
	JsonbIterator *it = JsonbIteratorInit(jc);
	JsonbValue	v;
	JsonbValue	key = {.type = jbvNull};
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		json_t	   *child;
		json_t	   *inner = NULL;

		if (tok == WJB_KEY)
		{
			key = v;
			continue;
		}
		if (tok != WJB_ELEM && tok != WJB_VALUE)
			continue;

		if (v.type == jbvBinary)
		{
			bool		is_object = JsonContainerIsObject(v.val.binary.data);

			inner = check_json(is_object ? fs_json_object() : json_array());
			child = make_av(is_object ? "M" : "L", inner);
		}
		else
			child = jsonb_value_to_av(&v, column, entity);

		if (!attach(container, tok == WJB_ELEM ? NULL : &key, child))
			check_json(NULL);
		if (inner)
			jsonb_fill(inner, v.val.binary.data, column, entity);
	}
}

/* A jsonb scalar as an AttributeValue. */
static json_t *
jsonb_value_to_av(JsonbValue *v, const char *column, const char *entity)
{
	switch (v->type)
	{
		case jbvNull:
			return make_av("NULL", json_true());
		case jbvBool:
			return make_av("BOOL", json_boolean(v->val.boolean));
		case jbvNumeric:
			return encode_numeric(v->val.numeric, column, entity);
		case jbvString:
			return make_av("S", make_string(v->val.string.val, v->val.string.len,
											column, entity));
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) v->type);
	}
	return NULL;				/* keep compiler quiet */
}

/* A jsonb document as its native AttributeValue. */
static json_t *
encode_jsonb(Jsonb *jb, const char *column, const char *entity)
{
	JsonbValue	v;
	json_t	   *inner;
	json_t	   *av;

	if (JB_ROOT_IS_SCALAR(jb))
	{
		JsonbExtractScalar(&jb->root, &v);
		return jsonb_value_to_av(&v, column, entity);
	}

	inner = check_json(JB_ROOT_IS_OBJECT(jb) ? fs_json_object() : json_array());
	av = make_av(JB_ROOT_IS_OBJECT(jb) ? "M" : "L", inner);
	PG_TRY();
	{
		jsonb_fill(inner, &jb->root, column, entity);
	}
	PG_CATCH();
	{
		json_decref(av);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return av;
}

/* A value of a resolved type as an AttributeValue. */
static json_t *
encode_value(Datum value, DdbType *t, const char *column, const char *entity)
{
	switch (t->kind)
	{
		case DDB_INT2:
			return encode_int(DatumGetInt16(value));
		case DDB_INT4:
			return encode_int(DatumGetInt32(value));
		case DDB_INT8:
			return encode_int(DatumGetInt64(value));
		case DDB_FLOAT4:
			return encode_float(DatumGetFloat4(value), true, column, entity);
		case DDB_FLOAT8:
			return encode_float(DatumGetFloat8(value), false, column, entity);
		case DDB_NUMERIC:
			return encode_numeric(DatumGetNumeric(value), column, entity);
		case DDB_BOOL:
			return make_av("BOOL", json_boolean(DatumGetBool(value)));
		case DDB_TEXT:
			{
				text	   *txt = DatumGetTextPP(value);

				return make_av("S", make_string(VARDATA_ANY(txt), VARSIZE_ANY_EXHDR(txt),
												column, entity));
			}
		case DDB_BYTEA:
			{
				int			len;
				char	   *dst = fs_bytea_to_base64(DatumGetByteaPP(value), &len);

				return make_av("B", json_stringn_nocheck(dst, len));
			}
		case DDB_JSONB:
			return encode_jsonb(DatumGetJsonbP(value), column, entity);
		case DDB_TIMESTAMPTZ:
			return encode_timestamptz(DatumGetTimestampTz(value), column, entity);
		case DDB_DATETIME:
			{
				char		buf[MAXDATELEN + 1];

				JsonEncodeDateTime(buf, value, t->typid, NULL);
				return make_av("S", json_string_nocheck(buf));
			}
		case DDB_ARRAY:
			return encode_array(DatumGetArrayTypeP(value), t, column, entity);
		case DDB_OTHER:
		case DDB_UNKNOWN:
			break;
	}

	{
		Oid			outfunc;
		bool		isvarlena;
		char	   *s;

		getTypeOutputInfo(t->typid, &outfunc, &isvarlena);
		s = OidOutputFunctionCall(outfunc, value);
		return make_av("S", make_string(s, strlen(s), column, entity));
	}
}

/*
 * A Datum as an AttributeValue (a new reference).  The caller leaves SQL
 * NULL out of the item and does not call this for it.
 */
json_t *
fs_ddb_encode(Datum value, Oid typid, bool is_event_time, const char *column,
			  const char *entity)
{
	DdbType		t;

	ddb_codec_resolve_type(typid, -1, &t);
	if (is_event_time)
	{
		if (t.typid != TIMESTAMPTZOID && t.typid != TIMESTAMPOID)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("event time column \"%s\" must be of type timestamptz",
							column)));
		return encode_event_time(DatumGetTimestamp(value), column, entity);
	}
	return encode_value(value, &t, column, entity);
}
