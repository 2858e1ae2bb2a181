/*-------------------------------------------------------------------------
 *
 * ddb_decode.c
 *	  DynamoDB AttributeValues as Datums (fs_ddb_decode).
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
#include "common/base64.h"
#include "common/int.h"
#include "common/shortest_dec.h"
#include "datatype/timestamp.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

static Datum decode_value(AvKind kind, const FsJv *val, DdbType *t, const char *attr);

static const char *const av_kind_names[] = {
	[AV_S] = "S",[AV_N] = "N",[AV_B] = "B",[AV_BOOL] = "BOOL",[AV_NULL] = "NULL",
	[AV_L] = "L",[AV_M] = "M",[AV_SS] = "SS",[AV_NS] = "NS",[AV_BS] = "BS"
};

/* Name the attribute in errors raised by input functions. */
static void
attr_error_context(void *arg)
{
	errcontext("DynamoDB attribute \"%s\"", (const char *) arg);
}

#define PUSH_ATTR_CONTEXT(cb, attr) \
	do { \
		(cb).callback = attr_error_context; \
		(cb).arg = (void *) (attr); \
		(cb).previous = error_context_stack; \
		error_context_stack = &(cb); \
	} while (0)
#define POP_ATTR_CONTEXT(cb) (error_context_stack = (cb).previous)

/* Refuse a malformed AttributeValue. */
static void
pg_attribute_noreturn()
not_an_av(const char *attr)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
			 errmsg("attribute \"%s\" is not a valid DynamoDB AttributeValue", attr)));
}

/* Refuse an AttributeValue of the wrong kind for the column. */
static void
pg_attribute_noreturn()
wrong_kind(const char *attr, AvKind kind, DdbType *t)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
			 errmsg("attribute \"%s\" has DynamoDB type %s, which cannot be read as %s",
					attr, av_kind_names[kind],
					format_type_with_typemod(t->typid, t->typmod))));
}

/* Refuse an N or B whose text the column cannot read. */
static void
pg_attribute_noreturn()
bad_value(const char *attr, AvKind kind, const char *s, DdbType *t, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
			 errmsg("attribute \"%s\" has DynamoDB %s value \"%.64s\", which cannot be read as %s",
					attr, av_kind_names[kind], s,
					format_type_with_typemod(t->typid, t->typmod)),
			 detail ? errdetail("%s", detail) : 0));
}

/* Refuse a number out of the column's range. */
static void
pg_attribute_noreturn()
out_of_range(const char *attr, const char *s, DdbType *t, int sqlstate)
{
	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg("attribute \"%s\" has DynamoDB number \"%.64s\", which is out of range for type %s",
					attr, s, format_type_with_typemod(t->typid, t->typmod))));
}

/* The kind and value of an AttributeValue. */
static AvKind
av_split(const FsJv *av, FsJv *val, const char *attr)
{
	const char *k;
	size_t		klen;
	AvKind		kind;
	FsJType		jtype;

	/* One member, whose name holds no NUL. */
	if (!fs_jsingle(av, &k, &klen, val, &jtype) || strlen(k) != klen)
		not_an_av(attr);

	switch (k[0])
	{
		case 'S':
			kind = k[1] == '\0' ? AV_S : AV_SS;
			if (k[1] != '\0' && strcmp(k, "SS") != 0)
				not_an_av(attr);
			break;
		case 'N':
			if (k[1] == '\0')
				kind = AV_N;
			else if (strcmp(k, "NS") == 0)
				kind = AV_NS;
			else if (strcmp(k, "NULL") == 0)
				return AV_NULL;
			else
				not_an_av(attr);
			break;
		case 'B':
			if (k[1] == '\0')
				kind = AV_B;
			else if (strcmp(k, "BS") == 0)
				kind = AV_BS;
			else if (strcmp(k, "BOOL") == 0)
				kind = AV_BOOL;
			else
				not_an_av(attr);
			break;
		case 'L':
			if (k[1] != '\0')
				not_an_av(attr);
			kind = AV_L;
			break;
		case 'M':
			if (k[1] != '\0')
				not_an_av(attr);
			kind = AV_M;
			break;
		default:
			not_an_av(attr);
	}

	switch (kind)
	{
		case AV_S:
		case AV_N:
		case AV_B:
			if (jtype != FSJ_STRING)
				not_an_av(attr);
			break;
		case AV_BOOL:
			if (jtype != FSJ_TRUE && jtype != FSJ_FALSE)
				not_an_av(attr);
			break;
		case AV_M:
			if (jtype != FSJ_OBJECT)
				not_an_av(attr);
			break;
		default:
			if (jtype != FSJ_ARRAY)
				not_an_av(attr);
			break;
	}
	return kind;
}

/* UTF-8 text as server-encoded text without NULs; sets *len. */
static char *
server_text(const char *s, size_t n, int *len, const char *attr)
{
	char	   *conv;

	if (memchr(s, '\0', n) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNTRANSLATABLE_CHARACTER),
				 errmsg("attribute \"%s\" holds a string with a NUL character, which PostgreSQL text cannot hold",
						attr)));
	*len = n;
	if (GetDatabaseEncoding() == PG_UTF8)
		return (char *) s;
	conv = pg_any_to_server(s, n, PG_UTF8);
	if (conv != s)
		*len = strlen(conv);
	return conv;
}

/* A JSON string as server-encoded text without NULs; sets *len. */
static char *
server_string(const FsJv *str, int *len, const char *attr)
{
	size_t		n;
	const char *s = fs_jstr(str, &n);

	return server_text(s, n, len, attr);
}

/* An N as an int64 for an integer column of type t. */
static int64
decode_int(const FsJv *val, DdbType *t, int64 min, int64 max, const char *attr)
{
	size_t		slen;
	const char *s = fs_jstr(val, &slen);
	DecimalScan d;
	int64		result;

	if (!ddb_codec_scan_decimal(s, slen, &d))
		bad_value(attr, AV_N, s, t, NULL);
	switch (ddb_codec_decimal_to_int64(&d, 0, &result))
	{
		case DEC_OK:
			break;
		case DEC_OVERFLOW:
			out_of_range(attr, s, t, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE);
			break;
		case DEC_FRACTION:
			bad_value(attr, AV_N, s, t, "The number is not an integer.");
			break;
	}
	if (result < min || result > max)
		out_of_range(attr, s, t, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE);
	return result;
}

/*
 * Clinger's fast path: a mantissa below 2^53 and a power of ten up to 1e22
 * are exact doubles, so one multiplication or division rounds correctly.
 * False when d needs strtod.
 */
static bool
decimal_fast_double(const DecimalScan *d, double *result)
{
	static const double pow10[] = {
		1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
		1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
	};
	int			ndigits = d->intlen + d->fraclen;
	uint64		m = 0;
	int			exp = d->exp - d->fraclen;
	double		v;

	for (int k = 0; k < ndigits; k++)
	{
		m = m * 10 + ddb_codec_decimal_digit(d, k);
		if (m > ((uint64) 1 << 53))
			return false;
	}
	if (exp < -22 || exp > 22)
		return m == 0 ? (*result = d->neg ? -0.0 : 0.0, true) : false;
	v = exp < 0 ? (double) m / pow10[-exp] : (double) m * pow10[exp];
	*result = d->neg ? -v : v;
	return true;
}

/* An N as a float, refusing what float8in/float4in refuse. */
static double
decode_float(const FsJv *val, DdbType *t, bool is_float4, const char *attr)
{
	size_t		slen;
	const char *s = fs_jstr(val, &slen);
	DecimalScan d;
	double		result;

	if (!ddb_codec_scan_decimal(s, slen, &d))
		bad_value(attr, AV_N, s, t, NULL);
	/*
	 * A double rounded once more to float is still correctly rounded
	 * (53 >= 2 * 24 + 2), and within the fast path's range never overflows.
	 */
	if (decimal_fast_double(&d, &result))
		return result;
	errno = 0;
	result = is_float4 ? strtof(s, NULL) : strtod(s, NULL);
	if (errno == ERANGE && (result == 0 || isinf(result)))
		out_of_range(attr, s, t, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE);
	return result;
}

/* An N as a numeric of the column's typmod. */
static Datum
decode_numeric(const FsJv *val, DdbType *t, const char *attr)
{
	size_t		slen;
	const char *s = fs_jstr(val, &slen);
	DecimalScan d;
	ErrorContextCallback cb;
	Datum		result;

	/* numeric_in would also take "NaN" and "Infinity". */
	if (!ddb_codec_scan_decimal(s, slen, &d))
		bad_value(attr, AV_N, s, t, NULL);
	PUSH_ATTR_CONTEXT(cb, attr);
	result = DirectFunctionCall3(numeric_in, CStringGetDatum(s),
								 ObjectIdGetDatum(InvalidOid),
								 Int32GetDatum(t->typmod));
	POP_ATTR_CONTEXT(cb);
	return result;
}

/* An N (seconds since the Unix epoch) as a timestamp, exact to the microsecond. */
static Timestamp
decode_epoch(const FsJv *val, DdbType *t, const char *attr)
{
	size_t		slen;
	const char *s = fs_jstr(val, &slen);
	DecimalScan d;
	int64		us;
	Timestamp	ts;

	if (!ddb_codec_scan_decimal(s, slen, &d))
		bad_value(attr, AV_N, s, t, NULL);
	if (ddb_codec_decimal_to_int64(&d, 6, &us) != DEC_OK ||
		pg_sub_s64_overflow(us, UNIX_TO_PG_USECS, &ts) ||
		!IS_VALID_TIMESTAMP(ts))
		out_of_range(attr, s, t, ERRCODE_DATETIME_VALUE_OUT_OF_RANGE);
	return ts;
}

/* Two digits at s, or -1. */
static inline int
two_digits(const char *s)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -1;
	return (s[0] - '0') * 10 + (s[1] - '0');
}

/*
 * Our own "YYYY-MM-DDTHH:MM:SS.ffffffZ" without timestamptz_in's general
 * parser; false for any other text, which then goes through timestamptz_in.
 */
static bool
parse_our_timestamptz(const char *s, size_t len, TimestampTz *result)
{
	static const char pattern[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";
	struct pg_tm tm;
	fsec_t		fsec = 0;

	if (len != sizeof(pattern) - 1)
		return false;
	for (int i = 0; i < len; i++)
		if (pattern[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != pattern[i])
			return false;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = two_digits(s) * 100 + two_digits(s + 2);
	tm.tm_mon = two_digits(s + 5);
	tm.tm_mday = two_digits(s + 8);
	tm.tm_hour = two_digits(s + 11);
	tm.tm_min = two_digits(s + 14);
	tm.tm_sec = two_digits(s + 17);
	for (int i = 20; i < 26; i++)
		fsec = fsec * 10 + (s[i] - '0');
	if (tm.tm_year < 1 || tm.tm_mon < 1 || tm.tm_mon > MONTHS_PER_YEAR ||
		tm.tm_mday < 1 || tm.tm_mday > day_tab[isleap(tm.tm_year)][tm.tm_mon - 1] ||
		tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 59)
		return false;
	return tm2timestamp(&tm, fsec, NULL, result) == 0 && IS_VALID_TIMESTAMP(*result);
}

/* A value through the type's input function, naming the attribute on error. */
static Datum
decode_input(const char *s, DdbType *t, const char *attr)
{
	ErrorContextCallback cb;
	Oid			infunc;
	Oid			ioparam;
	Datum		result;

	getTypeInputInfo(t->typid, &infunc, &ioparam);
	PUSH_ATTR_CONTEXT(cb, attr);
	result = OidInputFunctionCall(infunc, (char *) s, ioparam, t->typmod);
	POP_ATTR_CONTEXT(cb);
	return result;
}

/* Check a domain's constraints, naming the attribute on error. */
static void
check_domain(Datum value, bool isnull, Oid domain, const char *attr)
{
	ErrorContextCallback cb;

	PUSH_ATTR_CONTEXT(cb, attr);
	domain_check(value, isnull, domain, NULL, CurrentMemoryContext);
	POP_ATTR_CONTEXT(cb);
}

/* A string value as a jsonb string. */
static void
jbv_string(JsonbValue *jv, const FsJv *str, const char *attr)
{
	int			len;

	jv->type = jbvString;
	jv->val.string.val = server_string(str, &len, attr);
	jv->val.string.len = len;
}

/* A jsonb number from an N. */
static void
jbv_number(JsonbValue *jv, const FsJv *str, DdbType *t, const char *attr)
{
	size_t		slen;
	const char *s = fs_jstr(str, &slen);
	DecimalScan d;
	ErrorContextCallback cb;

	if (!ddb_codec_scan_decimal(s, slen, &d))
		bad_value(attr, AV_N, s, t, NULL);
	jv->type = jbvNumeric;
	PUSH_ATTR_CONTEXT(cb, attr);
	jv->val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(s),
														  ObjectIdGetDatum(InvalidOid),
														  Int32GetDatum(-1)));
	POP_ATTR_CONTEXT(cb);
}

/* A scalar AttributeValue as a jsonb scalar. */
static void
jbv_scalar(JsonbValue *jv, AvKind kind, const FsJv *val, DdbType *t, const char *attr)
{
	switch (kind)
	{
		case AV_N:
			jbv_number(jv, val, t, attr);
			break;
		case AV_BOOL:
			jv->type = jbvBool;
			jv->val.boolean = (fs_jtype(val) == FSJ_TRUE);
			break;
		case AV_NULL:
			jv->type = jbvNull;
			break;
		default:				/* S, and B as its base64 text */
			jbv_string(jv, val, attr);
			break;
	}
}

/* Push an AttributeValue's kind and value into a jsonb under construction. */
static JsonbValue *
push_av(JsonbParseState **state, JsonbIteratorToken tok, AvKind kind, const FsJv *val,
		DdbType *t, const char *attr)
{
	JsonbValue	jv;
	FsJIter		it;
	FsJv		child;
	FsJv		cval;
	AvKind		ckind;

	check_stack_depth();
	fs_jiter(val, &it);
	switch (kind)
	{
		case AV_M:
			{
				const char *key;
				size_t		keylen;

				pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
				while (fs_jnext_member(&it, &key, &keylen, &child))
				{
					JsonbValue	k;
					int			len;

					k.type = jbvString;
					k.val.string.val = server_text(key, keylen, &len, attr);
					k.val.string.len = len;
					pushJsonbValue(state, WJB_KEY, &k);
					ckind = av_split(&child, &cval, attr);
					push_av(state, WJB_VALUE, ckind, &cval, t, attr);
				}
				return pushJsonbValue(state, WJB_END_OBJECT, NULL);
			}
		case AV_L:
			pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
			while (fs_jnext(&it, &child))
			{
				ckind = av_split(&child, &cval, attr);
				push_av(state, WJB_ELEM, ckind, &cval, t, attr);
			}
			return pushJsonbValue(state, WJB_END_ARRAY, NULL);
		case AV_SS:
		case AV_NS:
		case AV_BS:
			pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
			while (fs_jnext(&it, &child))
			{
				if (fs_jtype(&child) != FSJ_STRING)
					not_an_av(attr);
				jbv_scalar(&jv, kind == AV_NS ? AV_N : AV_S, &child, t, attr);
				pushJsonbValue(state, WJB_ELEM, &jv);
			}
			return pushJsonbValue(state, WJB_END_ARRAY, NULL);
		default:
			jbv_scalar(&jv, kind, val, t, attr);
			return pushJsonbValue(state, tok, &jv);
	}
}

/* Any AttributeValue as a jsonb document (a NULL one only inside containers). */
static Jsonb *
decode_jsonb(AvKind kind, const FsJv *val, DdbType *t, const char *attr)
{
	JsonbParseState *state = NULL;
	JsonbValue	jv;

	switch (kind)
	{
		case AV_M:
		case AV_L:
		case AV_SS:
		case AV_NS:
		case AV_BS:
			return JsonbValueToJsonb(push_av(&state, WJB_DONE, kind, val, t, attr));
		default:
			jbv_scalar(&jv, kind, val, t, attr);
			return JsonbValueToJsonb(&jv);
	}
}

/* An L as a one-dimensional array of t's element type. */
static ArrayType *
decode_array(AvKind kind, const FsJv *val, DdbType *t, const char *attr)
{
	DdbType		elem;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			n;
	Datum	   *elems;
	bool	   *nulls;
	bool		hasnull = false;
	int			dims[1];
	int			lbs[1] = {1};
	FsJIter		it;
	FsJv		el;

	if (kind != AV_L)
		wrong_kind(attr, kind, t);

	/* varchar(n)[] keeps its typmod on each element. */
	ddb_codec_resolve_type(t->elemtype, t->typmod, &elem);
	get_typlenbyvalalign(t->elemtype, &typlen, &typbyval, &typalign);

	n = fs_jsize(val);
	if (n == 0)
		return construct_empty_array(t->elemtype);
	elems = palloc(n * sizeof(Datum));
	nulls = palloc(n * sizeof(bool));
	fs_jiter(val, &it);
	for (int i = 0; i < n && fs_jnext(&it, &el); i++)
	{
		FsJv		ev;
		AvKind		ekind = av_split(&el, &ev, attr);

		nulls[i] = (ekind == AV_NULL);
		hasnull |= nulls[i];
		elems[i] = nulls[i] ? (Datum) 0 : decode_value(ekind, &ev, &elem, attr);
		if (OidIsValid(elem.domain))
			check_domain(elems[i], nulls[i], elem.domain, attr);
	}
	dims[0] = n;
	return construct_md_array(elems, hasnull ? nulls : NULL, 1, dims, lbs,
							  t->elemtype, typlen, typbyval, typalign);
}

/* A non-NULL AttributeValue as a Datum of the resolved type t. */
static Datum
decode_value(AvKind kind, const FsJv *val, DdbType *t, const char *attr)
{
	switch (t->kind)
	{
		case DDB_INT2:
			if (kind != AV_N)
				break;
			return Int16GetDatum((int16) decode_int(val, t, PG_INT16_MIN, PG_INT16_MAX, attr));
		case DDB_INT4:
			if (kind != AV_N)
				break;
			return Int32GetDatum((int32) decode_int(val, t, PG_INT32_MIN, PG_INT32_MAX, attr));
		case DDB_INT8:
			if (kind != AV_N)
				break;
			return Int64GetDatum(decode_int(val, t, PG_INT64_MIN, PG_INT64_MAX, attr));
		case DDB_FLOAT4:
			if (kind != AV_N)
				break;
			return Float4GetDatum((float4) decode_float(val, t, true, attr));
		case DDB_FLOAT8:
			if (kind != AV_N)
				break;
			return Float8GetDatum(decode_float(val, t, false, attr));
		case DDB_NUMERIC:
			if (kind != AV_N)
				break;
			return decode_numeric(val, t, attr);
		case DDB_BOOL:
			if (kind != AV_BOOL)
				break;
			return BoolGetDatum(fs_jtype(val) == FSJ_TRUE);
		case DDB_TEXT:
			{
				char	   *s;
				int			len;
				Datum		result;
				ErrorContextCallback cb;

				if (kind != AV_S)
					break;
				s = server_string(val, &len, attr);
				result = PointerGetDatum(cstring_to_text_with_len(s, len));
				if (t->typmod < 0)
					return result;
				/* varchar(n), char(n): refuse what is too long, pad char(n). */
				PUSH_ATTR_CONTEXT(cb, attr);
				result = DirectFunctionCall3(t->typid == BPCHAROID ? bpchar : varchar,
											 result, Int32GetDatum(t->typmod),
											 BoolGetDatum(false));
				POP_ATTR_CONTEXT(cb);
				return result;
			}
		case DDB_BYTEA:
			{
				const char *s;
				size_t		n;
				int			srclen;
				bytea	   *result;
				int			len;

				if (kind != AV_B)
					break;
				s = fs_jstr(val, &n);
				srclen = n;
				result = palloc(VARHDRSZ + pg_b64_dec_len(srclen));
				len = pg_b64_decode(s, srclen, VARDATA(result), pg_b64_dec_len(srclen));
				if (len < 0)
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
							 errmsg("attribute \"%s\" has a DynamoDB B value that is not valid base64",
									attr)));
				SET_VARSIZE(result, VARHDRSZ + len);
				return PointerGetDatum(result);
			}
		case DDB_JSONB:
			return JsonbPGetDatum(decode_jsonb(kind, val, t, attr));
		case DDB_TIMESTAMPTZ:
			{
				Timestamp	ts;

				if (kind == AV_S)
				{
					size_t		n;
					const char *s = fs_jstr(val, &n);

					if (!parse_our_timestamptz(s, n, &ts))
						return decode_input(s, t, attr);
				}
				else if (kind == AV_N)
					ts = decode_epoch(val, t, attr);
				else
					break;
				if (t->typmod >= 0)
					return DirectFunctionCall2(timestamptz_scale, TimestampTzGetDatum(ts),
											   Int32GetDatum(t->typmod));
				return TimestampTzGetDatum(ts);
			}
		case DDB_ARRAY:
			return PointerGetDatum(decode_array(kind, val, t, attr));
		case DDB_DATETIME:
		case DDB_OTHER:
		case DDB_UNKNOWN:
			if (kind != AV_S)
				break;
			{
				size_t		n;

				return decode_input(fs_jstr(val, &n), t, attr);
			}
	}
	wrong_kind(attr, kind, t);
}

/*
 * An AttributeValue (NULL when the attribute is absent) as a Datum of
 * typid/typmod, allocated in the current memory context.
 */
Datum
fs_ddb_decode(const FsJv *av, Oid typid, int32 typmod, bool is_event_time,
			  const char *attr, bool *isnull)
{
	DdbType		t;
	FsJv		val;
	AvKind		kind;
	Datum		result;

	*isnull = false;
	if (av == NULL)
	{
		*isnull = true;
		return (Datum) 0;
	}
	kind = av_split(av, &val, attr);
	if (kind == AV_NULL)
	{
		*isnull = true;
		return (Datum) 0;
	}

	ddb_codec_resolve_type(typid, typmod, &t);
	if (is_event_time && (t.typid == TIMESTAMPTZOID || t.typid == TIMESTAMPOID))
	{
		if (kind != AV_N)
			wrong_kind(attr, kind, &t);
		result = TimestampGetDatum(decode_epoch(&val, &t, attr));
		if (t.typmod >= 0)
			result = DirectFunctionCall2(timestamptz_scale, result,
										 Int32GetDatum(t.typmod));
	}
	else
		result = decode_value(kind, &val, &t, attr);

	if (OidIsValid(t.domain))
		check_domain(result, false, t.domain, attr);
	return result;
}
