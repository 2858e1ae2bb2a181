/*-------------------------------------------------------------------------
 *
 * ddb_codec_internal.h
 *	  What the codec's files share: ddb_codec.c (types and numbers),
 *	  ddb_encode.c (Datums to AttributeValues), ddb_decode.c (back).
 *
 * The rest of the extension sees only ddb_codec.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FS_DDB_CODEC_INTERNAL_H
#define FS_DDB_CODEC_INTERNAL_H

#include "ddb_codec.h"

#include "datatype/timestamp.h"

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

/* ddb_codec.c: types */

/* Resolve typid (perhaps a domain) to its base type and kind. */
extern void ddb_codec_resolve_type(Oid typid, int32 typmod, DdbType *t);

/* ddb_codec.c: numbers */

/*
 * Split a decimal number ([+-]digits[.digits][e[+-]digits], at least one
 * mantissa digit) into d; false if s is anything else (NaN, hex, spaces).
 */
extern bool ddb_codec_scan_decimal(const char *s, size_t len, DecimalScan *d);

/* The k-th mantissa digit of d. */
static inline int
ddb_codec_decimal_digit(const DecimalScan *d, int k)
{
	return (k < d->intlen ? d->intpart[k] : d->frac[k - d->intlen]) - '0';
}

/*
 * d times 10^scale as an int64.  With scale 0 a nonzero fraction is
 * DEC_FRACTION; with a positive scale the rest is rounded half away from zero.
 */
extern DecimalStatus ddb_codec_decimal_to_int64(const DecimalScan *d, int scale, int64 *result);

/*
 * A decimal string as DynamoDB stores it: plain digits, no exponent, no
 * leading or trailing zeros, into buf (DDB_NUMBER_LEN bytes).  Returns its
 * length, or -1 when DynamoDB cannot hold the number (more than 38 digits,
 * magnitude out of range).
 */
extern int	ddb_codec_number(const char *s, char *buf);

#endif							/* FS_DDB_CODEC_INTERNAL_H */
