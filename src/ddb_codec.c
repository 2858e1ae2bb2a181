/*-------------------------------------------------------------------------
 *
 * ddb_codec.c
 *	  Between DynamoDB AttributeValues (jansson) and PostgreSQL Datums.
 *
 * The layout, value by value (docs/dynamodb.md is the long form):
 *
 *	smallint, integer, bigint	N, decimal digits ("-42")
 *	real, double precision		N, the shortest decimal that reads back to the
 *								same float, written without an exponent
 *								("0.30000000000000004", "0.0000001"); -0 as "0"
 *	numeric						N, plain decimal, trailing fraction zeros
 *								trimmed as DynamoDB does ("1.50" -> "1.5")
 *	text, varchar, bpchar		S
 *	boolean						BOOL
 *	bytea						B, base64
 *	arrays (one dimension)		L of the element's encoding, NULL elements as
 *								{"NULL": true}; the lower bound is not kept
 *	jsonb						M, L, S, N, BOOL, NULL recursively
 *	timestamptz					S "YYYY-MM-DDTHH:MM:SS.ffffffZ" (UTC, always six
 *								decimals: fixed width, so strings sort as
 *								times); "... BC" before year 1; "infinity",
 *								"-infinity"
 *	date, timestamp, time, timetz  S, ISO 8601 as to_json writes them
 *	event time					N, seconds since the Unix epoch, up to six
 *								decimals ("1700000000.123456")
 *	anything else				S, the type's text output
 *	domains						as their base type, constraints checked on read
 *
 * DynamoDB numbers have at most 38 significant digits and a magnitude from
 * 1E-130 to below 1E+126; NaN and infinities have no form.  Writing such a
 * value is ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE naming column and entity.
 *
 * Reading is lenient where other clients differ and strict where a value
 * would change: N may use an exponent ("1.5E+2"), a timestamptz also reads
 * from N (epoch seconds) and from any text timestamptz_in accepts, jsonb also
 * reads B (as its base64 string) and sets (as arrays); an AttributeValue of
 * another kind, a number that does not fit its column or a non-integral N for
 * an integer column is an error naming the attribute.
 *
 * Decoding dominates serving, so values take the shortest path: integers
 * and event times by integer arithmetic (an event time is exact to the
 * microsecond, which a double is not), floats by Clinger's exact fast path
 * before strtod, our own timestamp format by a fixed-width parser, strings
 * without a text round trip.  Only numeric, other timestamp text and
 * "other" types go through input functions.
 *
 * jansson allocates with malloc.  Pointing it at palloc (json_set_alloc_funcs)
 * would be process-wide, would also catch other libraries' jansson objects in
 * this backend, and would tie each object to whatever memory context was
 * current at its creation; instead every value is checked before its
 * json_t is made, and a container being filled is released in PG_CATCH when
 * an element fails.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "ddb_codec.h"

#include <dlfcn.h>
#include <errno.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "common/base64.h"
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

/* DynamoDB's number limits. */
#define DDB_MAX_DIGITS		38
#define DDB_MIN_EXPONENT	(-130)
#define DDB_MAX_EXPONENT	125
/* "-0." + 129 zeros + 38 digits, or "-" + 126 digits; and a NUL */
#define DDB_NUMBER_LEN		176

/* Microseconds from the Unix epoch to PostgreSQL's. */
#define UNIX_TO_PG_USECS \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY)

/* How a type travels. */
typedef enum DdbKind
{
	DDB_UNKNOWN,
	DDB_INT2,
	DDB_INT4,
	DDB_INT8,
	DDB_FLOAT4,
	DDB_FLOAT8,
	DDB_NUMERIC,
	DDB_BOOL,
	DDB_TEXT,
	DDB_BYTEA,
	DDB_JSONB,
	DDB_TIMESTAMPTZ,
	DDB_DATETIME,				/* date, timestamp, time, timetz */
	DDB_ARRAY,
	DDB_OTHER
} DdbKind;

/* A column type resolved to its base type and kind. */
typedef struct DdbType
{
	DdbKind		kind;
	Oid			typid;			/* base type */
	int32		typmod;			/* base typmod */
	Oid			domain;			/* the domain over typid, or InvalidOid */
	Oid			elemtype;		/* arrays: element type */
} DdbType;

/* The kind of an AttributeValue. */
typedef enum AvKind
{
	AV_S,
	AV_N,
	AV_B,
	AV_BOOL,
	AV_NULL,
	AV_L,
	AV_M,
	AV_SS,
	AV_NS,
	AV_BS
} AvKind;

/* A decimal number's parts, pointing into its string. */
typedef struct DecimalScan
{
	bool		neg;
	const char *intpart;
	int			intlen;
	const char *frac;
	int			fraclen;
	int			exp;			/* clamped to +-1000000 */
} DecimalScan;

typedef enum DecimalStatus
{
	DEC_OK,
	DEC_OVERFLOW,
	DEC_FRACTION
} DecimalStatus;

static json_t *encode_value(Datum value, DdbType *t, const char *column,
							const char *entity);
static Datum decode_value(AvKind kind, json_t *val, DdbType *t, const char *attr);

/* ---------------------------------------------------------------- types */

/* The kind of a built-in type without a catalog lookup; DDB_UNKNOWN if none. */
static DdbKind
builtin_kind(Oid typid, Oid *elemtype)
{
	switch (typid)
	{
		case INT2OID:
			return DDB_INT2;
		case INT4OID:
			return DDB_INT4;
		case INT8OID:
			return DDB_INT8;
		case FLOAT4OID:
			return DDB_FLOAT4;
		case FLOAT8OID:
			return DDB_FLOAT8;
		case NUMERICOID:
			return DDB_NUMERIC;
		case BOOLOID:
			return DDB_BOOL;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			return DDB_TEXT;
		case BYTEAOID:
			return DDB_BYTEA;
		case JSONBOID:
			return DDB_JSONB;
		case TIMESTAMPTZOID:
			return DDB_TIMESTAMPTZ;
		case DATEOID:
		case TIMESTAMPOID:
		case TIMEOID:
		case TIMETZOID:
			return DDB_DATETIME;
		case INT2ARRAYOID:
			*elemtype = INT2OID;
			return DDB_ARRAY;
		case INT4ARRAYOID:
			*elemtype = INT4OID;
			return DDB_ARRAY;
		case INT8ARRAYOID:
			*elemtype = INT8OID;
			return DDB_ARRAY;
		case FLOAT4ARRAYOID:
			*elemtype = FLOAT4OID;
			return DDB_ARRAY;
		case FLOAT8ARRAYOID:
			*elemtype = FLOAT8OID;
			return DDB_ARRAY;
		case NUMERICARRAYOID:
			*elemtype = NUMERICOID;
			return DDB_ARRAY;
		case TEXTARRAYOID:
			*elemtype = TEXTOID;
			return DDB_ARRAY;
		case 1015:				/* varchar[] has no macro in PG 15 */
			*elemtype = VARCHAROID;
			return DDB_ARRAY;
		default:
			return DDB_UNKNOWN;
	}
}

/* Resolve typid (perhaps a domain) to its base type and kind. */
static void
resolve_type(Oid typid, int32 typmod, DdbType *t)
{
	Oid			base;

	t->typid = typid;
	t->typmod = typmod;
	t->domain = InvalidOid;
	t->elemtype = InvalidOid;
	t->kind = builtin_kind(typid, &t->elemtype);
	if (t->kind != DDB_UNKNOWN)
		return;

	base = getBaseTypeAndTypmod(typid, &typmod);
	if (base != typid)
	{
		t->domain = typid;
		t->typid = base;
		t->typmod = typmod;
		t->kind = builtin_kind(base, &t->elemtype);
		if (t->kind != DDB_UNKNOWN)
			return;
	}
	t->elemtype = get_element_type(base);
	t->kind = OidIsValid(t->elemtype) ? DDB_ARRAY : DDB_OTHER;
}

/* ---------------------------------------------------------------- numbers */

/*
 * Split a decimal number ([+-]digits[.digits][e[+-]digits], at least one
 * mantissa digit) into d; false if s is anything else (NaN, hex, spaces).
 */
static bool
scan_decimal(const char *s, size_t len, DecimalScan *d)
{
	const char *p = s;
	const char *end = s + len;

	d->neg = false;
	d->exp = 0;
	if (p < end && (*p == '-' || *p == '+'))
		d->neg = (*p++ == '-');
	d->intpart = p;
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	d->intlen = p - d->intpart;
	d->frac = p;
	d->fraclen = 0;
	if (p < end && *p == '.')
	{
		d->frac = ++p;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
		d->fraclen = p - d->frac;
	}
	if (d->intlen + d->fraclen == 0)
		return false;
	if (p < end && (*p == 'e' || *p == 'E'))
	{
		bool		eneg = false;
		int			exp = 0;

		p++;
		if (p < end && (*p == '-' || *p == '+'))
			eneg = (*p++ == '-');
		if (p == end || *p < '0' || *p > '9')
			return false;
		for (; p < end && *p >= '0' && *p <= '9'; p++)
			if (exp < 1000000)
				exp = exp * 10 + (*p - '0');
		d->exp = eneg ? -exp : exp;
	}
	return p == end;
}

/* The k-th mantissa digit of d. */
static inline int
decimal_digit(const DecimalScan *d, int k)
{
	return (k < d->intlen ? d->intpart[k] : d->frac[k - d->intlen]) - '0';
}

/*
 * d times 10^scale as an int64.  With scale 0 a nonzero fraction is
 * DEC_FRACTION; with a positive scale the rest is rounded half away from zero.
 */
static DecimalStatus
decimal_to_int64(const DecimalScan *d, int scale, int64 *result)
{
	int			ndigits = d->intlen + d->fraclen;
	int			pos = d->intlen - 1 + d->exp;	/* power of ten of digit k */
	uint64		mag = 0;
	int			k;

	for (k = 0; k < ndigits && pos >= -scale; k++, pos--)
	{
		int			digit = decimal_digit(d, k);

		if (mag > (PG_UINT64_MAX - digit) / 10)
			return DEC_OVERFLOW;
		mag = mag * 10 + digit;
	}
	/* Digits ended above the last place kept: shift into it. */
	for (; mag != 0 && pos >= -scale; pos--)
	{
		if (mag > PG_UINT64_MAX / 10)
			return DEC_OVERFLOW;
		mag *= 10;
	}
	if (scale == 0)
	{
		for (; k < ndigits; k++)
			if (decimal_digit(d, k) != 0)
				return DEC_FRACTION;
	}
	else if (k < ndigits && pos == -scale - 1 && decimal_digit(d, k) >= 5)
		mag++;

	if (d->neg)
	{
		if (mag > (uint64) PG_INT64_MAX + 1)
			return DEC_OVERFLOW;
		*result = (mag == (uint64) PG_INT64_MAX + 1) ? PG_INT64_MIN : -(int64) mag;
	}
	else
	{
		if (mag > (uint64) PG_INT64_MAX)
			return DEC_OVERFLOW;
		*result = (int64) mag;
	}
	return DEC_OK;
}

/*
 * A decimal string as DynamoDB stores it: plain digits, no exponent, no
 * leading or trailing zeros.  Returns its length, or -1 when DynamoDB cannot
 * hold the number (more than 38 digits, magnitude out of range).
 */
static int
ddb_number(const char *s, char *buf)
{
	DecimalScan d;
	int			ndigits;
	int			first;
	int			last;
	int			nsig;
	int			exp;			/* power of ten of the first significant digit */
	char	   *p = buf;

	if (!scan_decimal(s, strlen(s), &d))
		return -1;
	ndigits = d.intlen + d.fraclen;
	for (first = 0; first < ndigits && decimal_digit(&d, first) == 0; first++)
		;
	if (first == ndigits)
	{
		strcpy(buf, "0");
		return 1;
	}
	for (last = ndigits - 1; decimal_digit(&d, last) == 0; last--)
		;
	nsig = last - first + 1;
	exp = d.intlen - 1 - first + d.exp;
	if (nsig > DDB_MAX_DIGITS || exp < DDB_MIN_EXPONENT || exp > DDB_MAX_EXPONENT)
		return -1;

	if (d.neg)
		*p++ = '-';
	if (exp < 0)
	{
		*p++ = '0';
		*p++ = '.';
		for (int i = -1; i > exp; i--)
			*p++ = '0';
		for (int k = first; k <= last; k++)
			*p++ = '0' + decimal_digit(&d, k);
	}
	else
	{
		for (int i = 0; i <= exp || i < nsig; i++)
		{
			if (i == exp + 1)
				*p++ = '.';
			*p++ = (i < nsig) ? '0' + decimal_digit(&d, first + i) : '0';
		}
	}
	*p = '\0';
	return p - buf;
}

/* ---------------------------------------------------------------- encode */

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
	int			len = ddb_number(s, buf);

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

	resolve_type(t->elemtype, -1, &elem);
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
				bytea	   *b = DatumGetByteaPP(value);
				int			srclen = VARSIZE_ANY_EXHDR(b);
				int			dstlen = pg_b64_enc_len(srclen);
				char	   *dst = palloc(dstlen + 1);
				int			len = pg_b64_encode(VARDATA_ANY(b), srclen, dst, dstlen);

				if (len < 0)
					elog(ERROR, "could not encode a bytea value as base64");
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

	resolve_type(typid, -1, &t);
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

/* ---------------------------------------------------------------- decode */

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
av_split(json_t *av, json_t **val, const char *attr)
{
	void	   *it;
	const char *k;
	AvKind		kind;
	int			jtype;

	if (!json_is_object(av) || json_object_size(av) != 1)
		not_an_av(attr);
	it = json_object_iter(av);
	k = json_object_iter_key(it);
	*val = json_object_iter_value(it);

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

	jtype = json_typeof(*val);
	switch (kind)
	{
		case AV_S:
		case AV_N:
		case AV_B:
			if (jtype != JSON_STRING)
				not_an_av(attr);
			break;
		case AV_BOOL:
			if (jtype != JSON_TRUE && jtype != JSON_FALSE)
				not_an_av(attr);
			break;
		case AV_M:
			if (jtype != JSON_OBJECT)
				not_an_av(attr);
			break;
		default:
			if (jtype != JSON_ARRAY)
				not_an_av(attr);
			break;
	}
	return kind;
}

/* A JSON string as server-encoded text without NULs; sets *len. */
static char *
server_string(json_t *str, int *len, const char *attr)
{
	const char *s = json_string_value(str);
	size_t		n = json_string_length(str);
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

/* An N as an int64 for an integer column of type t. */
static int64
decode_int(json_t *val, DdbType *t, int64 min, int64 max, const char *attr)
{
	const char *s = json_string_value(val);
	DecimalScan d;
	int64		result;

	if (!scan_decimal(s, json_string_length(val), &d))
		bad_value(attr, AV_N, s, t, NULL);
	switch (decimal_to_int64(&d, 0, &result))
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
		m = m * 10 + decimal_digit(d, k);
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
decode_float(json_t *val, DdbType *t, bool is_float4, const char *attr)
{
	const char *s = json_string_value(val);
	DecimalScan d;
	double		result;

	if (!scan_decimal(s, json_string_length(val), &d))
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
decode_numeric(json_t *val, DdbType *t, const char *attr)
{
	const char *s = json_string_value(val);
	DecimalScan d;
	ErrorContextCallback cb;
	Datum		result;

	/* numeric_in would also take "NaN" and "Infinity". */
	if (!scan_decimal(s, json_string_length(val), &d))
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
decode_epoch(json_t *val, DdbType *t, const char *attr)
{
	const char *s = json_string_value(val);
	DecimalScan d;
	int64		us;
	Timestamp	ts;

	if (!scan_decimal(s, json_string_length(val), &d))
		bad_value(attr, AV_N, s, t, NULL);
	if (decimal_to_int64(&d, 6, &us) != DEC_OK ||
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
jbv_string(JsonbValue *jv, json_t *str, const char *attr)
{
	int			len;

	jv->type = jbvString;
	jv->val.string.val = server_string(str, &len, attr);
	jv->val.string.len = len;
}

/* A jsonb number from an N. */
static void
jbv_number(JsonbValue *jv, json_t *str, DdbType *t, const char *attr)
{
	const char *s = json_string_value(str);
	DecimalScan d;

	if (!scan_decimal(s, json_string_length(str), &d))
		bad_value(attr, AV_N, s, t, NULL);
	jv->type = jbvNumeric;
	jv->val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(s),
														  ObjectIdGetDatum(InvalidOid),
														  Int32GetDatum(-1)));
}

/* A scalar AttributeValue as a jsonb scalar. */
static void
jbv_scalar(JsonbValue *jv, AvKind kind, json_t *val, DdbType *t, const char *attr)
{
	switch (kind)
	{
		case AV_N:
			jbv_number(jv, val, t, attr);
			break;
		case AV_BOOL:
			jv->type = jbvBool;
			jv->val.boolean = json_is_true(val);
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
push_av(JsonbParseState **state, JsonbIteratorToken tok, AvKind kind, json_t *val,
		DdbType *t, const char *attr)
{
	JsonbValue	jv;
	size_t		i;
	json_t	   *child;
	json_t	   *cval;
	AvKind		ckind;

	switch (kind)
	{
		case AV_M:
			{
				const char *key;

				pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
				json_object_foreach(val, key, child)
				{
					JsonbValue	k;

					k.type = jbvString;
					k.val.string.val = (char *) key;
					k.val.string.len = strlen(key);
					if (GetDatabaseEncoding() != PG_UTF8)
					{
						k.val.string.val = pg_any_to_server(key, k.val.string.len, PG_UTF8);
						k.val.string.len = strlen(k.val.string.val);
					}
					pushJsonbValue(state, WJB_KEY, &k);
					ckind = av_split(child, &cval, attr);
					push_av(state, WJB_VALUE, ckind, cval, t, attr);
				}
				return pushJsonbValue(state, WJB_END_OBJECT, NULL);
			}
		case AV_L:
			pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
			json_array_foreach(val, i, child)
			{
				ckind = av_split(child, &cval, attr);
				push_av(state, WJB_ELEM, ckind, cval, t, attr);
			}
			return pushJsonbValue(state, WJB_END_ARRAY, NULL);
		case AV_SS:
		case AV_NS:
		case AV_BS:
			pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
			json_array_foreach(val, i, child)
			{
				if (!json_is_string(child))
					not_an_av(attr);
				jbv_scalar(&jv, kind == AV_NS ? AV_N : AV_S, child, t, attr);
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
decode_jsonb(AvKind kind, json_t *val, DdbType *t, const char *attr)
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
decode_array(AvKind kind, json_t *val, DdbType *t, const char *attr)
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

	if (kind != AV_L)
		wrong_kind(attr, kind, t);

	/* varchar(n)[] keeps its typmod on each element. */
	resolve_type(t->elemtype, t->typmod, &elem);
	get_typlenbyvalalign(t->elemtype, &typlen, &typbyval, &typalign);

	n = json_array_size(val);
	if (n == 0)
		return construct_empty_array(t->elemtype);
	elems = palloc(n * sizeof(Datum));
	nulls = palloc(n * sizeof(bool));
	for (int i = 0; i < n; i++)
	{
		json_t	   *ev;
		AvKind		ekind = av_split(json_array_get(val, i), &ev, attr);

		nulls[i] = (ekind == AV_NULL);
		hasnull |= nulls[i];
		elems[i] = nulls[i] ? (Datum) 0 : decode_value(ekind, ev, &elem, attr);
		if (OidIsValid(elem.domain))
			check_domain(elems[i], nulls[i], elem.domain, attr);
	}
	dims[0] = n;
	return construct_md_array(elems, hasnull ? nulls : NULL, 1, dims, lbs,
							  t->elemtype, typlen, typbyval, typalign);
}

/* A non-NULL AttributeValue as a Datum of the resolved type t. */
static Datum
decode_value(AvKind kind, json_t *val, DdbType *t, const char *attr)
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
			return BoolGetDatum(json_is_true(val));
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
				int			srclen;
				bytea	   *result;
				int			len;

				if (kind != AV_B)
					break;
				s = json_string_value(val);
				srclen = json_string_length(val);
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
					if (!parse_our_timestamptz(json_string_value(val),
											   json_string_length(val), &ts))
						return decode_input(json_string_value(val), t, attr);
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
			return decode_input(json_string_value(val), t, attr);
	}
	wrong_kind(attr, kind, t);
}

/*
 * An AttributeValue (NULL when the attribute is absent) as a Datum of
 * typid/typmod, allocated in the current memory context.
 */
Datum
fs_ddb_decode(json_t *av, Oid typid, int32 typmod, bool is_event_time,
			  const char *attr, bool *isnull)
{
	DdbType		t;
	json_t	   *val;
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

	resolve_type(typid, typmod, &t);
	if (is_event_time && (t.typid == TIMESTAMPTZOID || t.typid == TIMESTAMPOID))
	{
		if (kind != AV_N)
			wrong_kind(attr, kind, &t);
		result = TimestampGetDatum(decode_epoch(val, &t, attr));
		if (t.typmod >= 0)
			result = DirectFunctionCall2(timestamptz_scale, result,
										 Int32GetDatum(t.typmod));
	}
	else
		result = decode_value(kind, val, &t, attr);

	if (OidIsValid(t.domain))
		check_domain(result, false, t.domain, attr);
	return result;
}
