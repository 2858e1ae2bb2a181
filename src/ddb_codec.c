/*-------------------------------------------------------------------------
 *
 * ddb_codec.c
 *	  Between DynamoDB AttributeValues and PostgreSQL Datums.
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
 * Encoding builds jansson values (requests are sent as jansson serialises
 * them).  jansson allocates with malloc.  Pointing it at palloc
 * (json_set_alloc_funcs) would be process-wide, would also catch other
 * libraries' jansson objects in this backend, and would tie each object to
 * whatever memory context was current at its creation; instead every value
 * is checked before its json_t is made, and a container being filled is
 * released in PG_CATCH when an element fails.
 *
 * Decoding reads answers parsed by simdjson (json_doc.h): a value is a
 * position in the document's tape, its strings already unescaped and
 * NUL-terminated in the parser's buffer, so a value costs no allocation
 * before it becomes a Datum.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "ddb_codec_internal.h"

#include "catalog/pg_type.h"
#include "utils/lsyscache.h"

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
void
ddb_codec_resolve_type(Oid typid, int32 typmod, DdbType *t)
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
bool
ddb_codec_scan_decimal(const char *s, size_t len, DecimalScan *d)
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

/*
 * d times 10^scale as an int64.  With scale 0 a nonzero fraction is
 * DEC_FRACTION; with a positive scale the rest is rounded half away from zero.
 */
DecimalStatus
ddb_codec_decimal_to_int64(const DecimalScan *d, int scale, int64 *result)
{
	int			ndigits = d->intlen + d->fraclen;
	int			pos = d->intlen - 1 + d->exp;	/* power of ten of digit k */
	uint64		mag = 0;
	int			k;

	for (k = 0; k < ndigits && pos >= -scale; k++, pos--)
	{
		int			digit = ddb_codec_decimal_digit(d, k);

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
			if (ddb_codec_decimal_digit(d, k) != 0)
				return DEC_FRACTION;
	}
	else if (k < ndigits && pos == -scale - 1 && ddb_codec_decimal_digit(d, k) >= 5)
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
int
ddb_codec_number(const char *s, char *buf)
{
	DecimalScan d;
	int			ndigits;
	int			first;
	int			last;
	int			nsig;
	int			exp;			/* power of ten of the first significant digit */
	char	   *p = buf;

	if (!ddb_codec_scan_decimal(s, strlen(s), &d))
		return -1;
	ndigits = d.intlen + d.fraclen;
	for (first = 0; first < ndigits && ddb_codec_decimal_digit(&d, first) == 0; first++)
		;
	if (first == ndigits)
	{
		strcpy(buf, "0");
		return 1;
	}
	for (last = ndigits - 1; ddb_codec_decimal_digit(&d, last) == 0; last--)
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
			*p++ = '0' + ddb_codec_decimal_digit(&d, k);
	}
	else
	{
		for (int i = 0; i <= exp || i < nsig; i++)
		{
			if (i == exp + 1)
				*p++ = '.';
			*p++ = (i < nsig) ? '0' + ddb_codec_decimal_digit(&d, first + i) : '0';
		}
	}
	*p = '\0';
	return p - buf;
}
