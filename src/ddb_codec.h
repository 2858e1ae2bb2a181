/*-------------------------------------------------------------------------
 *
 * ddb_codec.h
 *	  Between DynamoDB AttributeValues and PostgreSQL Datums: encoded as
 *	  jansson values for requests, decoded from answers parsed by simdjson
 *	  (json_doc.h).
 *
 * The item layout (docs/dynamodb.md) is the contract other clients share:
 *
 *	join key text / integer		S / N
 *	event time					N: seconds since the Unix epoch, up to 6 decimals
 *	smallint ... numeric		N
 *	text, varchar				S
 *	boolean						BOOL
 *	bytea						B (base64)
 *	numeric arrays				L of N, in order
 *	text[]						L of S, in order
 *	jsonb						the matching native type (M, L, S, N, BOOL, NULL)
 *	timestamptz (a feature)		S, ISO 8601 in UTC
 *	SQL NULL					attribute absent (absent or NULL:true reads as NULL)
 *
 * ddb_codec.c's header gives the exact forms (number text, timestamp
 * format, arrays, other types).
 *
 * It brings in jansson (ddb_json.h): include it right after postgres.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FS_DDB_CODEC_H
#define FS_DDB_CODEC_H

#include "ddb_json.h"
#include "json_doc.h"

/*
 * A Datum as an AttributeValue (a new reference).  SQL NULL is written by
 * leaving the attribute out: do not call this for it.  is_event_time selects
 * the epoch number encoding of the event-time column (timestamptz).  A value
 * DynamoDB cannot hold (NaN, Infinity, more than 38 digits, magnitude beyond
 * 1E-130..1E+126) is ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE naming column and
 * entity (entity may be NULL); a multidimensional array is
 * ERRCODE_FEATURE_NOT_SUPPORTED.
 */
extern json_t *fs_ddb_encode(Datum value, Oid typid, bool is_event_time,
							 const char *column, const char *entity);

/*
 * An AttributeValue of a parsed answer (NULL when the attribute is absent)
 * as a Datum of typid/typmod, allocated in the current memory context.
 * Absent and NULL:true give *isnull.  An AttributeValue of the wrong kind
 * for the column is an error (ERRCODE_FDW_INVALID_DATA_TYPE) naming the
 * attribute; a number beyond the column's range is
 * ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE (ERRCODE_DATETIME_VALUE_OUT_OF_RANGE for
 * times).  typmod and domain constraints are applied.
 */
extern Datum fs_ddb_decode(const FsJv *av, Oid typid, int32 typmod, bool is_event_time,
						   const char *attr, bool *isnull);

#endif							/* FS_DDB_CODEC_H */
