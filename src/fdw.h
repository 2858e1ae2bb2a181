/*-------------------------------------------------------------------------
 *
 * fdw.h
 *	  The foreign data wrapper fs_dynamodb: options and table metadata.
 *
 * fdw.c holds the handler, the options validator, the two functions below
 * and fs_create_online_table; fdw_scan.c the scans (BatchGetItem or Scan),
 * fdw_modify.c the writes (PutItem/UpdateItem/DeleteItem or BatchWriteItem);
 * fdw_internal.h what those three share.  Serving (store_dynamodb.c) reads
 * foreign tables through the two functions below.
 *
 * Without a user mapping (for the user or PUBLIC) requests go unsigned.
 *
 * Options:
 *	server:			endpoint (required), region (default 'us-east-1'),
 *					connect_timeout_ms, request_timeout_ms, max_retries,
 *					max_connections, consistent_read ('true'/'false')
 *	user mapping:	access_key_id, secret_access_key, session_token
 *	foreign table:	table (default: the foreign table's name), key (the
 *					partition key attribute; default: from DescribeTable),
 *					event_time_column (default 'event_time': the timestamptz
 *					column stored as epoch seconds, N, rather than ISO 8601, S)
 *	column:			attribute (default: the column's name)
 *
 *-------------------------------------------------------------------------
 */
#ifndef FS_FDW_H
#define FS_FDW_H

#include "postgres.h"

#include "utils/relcache.h"

#include "dynamodb_client.h"

/* A foreign table of fs_dynamodb, resolved. */
typedef struct FsDdbTable
{
	Oid			relid;
	Oid			serverid;
	char	   *table;			/* the remote table's name */
	char	   *key_attr;		/* its partition key attribute */
	AttrNumber	key_attnum;		/* the local column holding it */
	AttrNumber	event_time_attnum;	/* the event-time column, or InvalidAttrNumber */
	int			natts;
	char	  **attr_names;		/* [attnum - 1]: attribute name; NULL if dropped */
} FsDdbTable;

/*
 * The endpoint of a server as seen by a user: server options over the
 * feature_store.* settings, credentials from the user mapping (or PUBLIC's).
 * Allocated in the current memory context.
 */
extern FsDdbEndpoint *fs_ddb_endpoint(Oid serverid, Oid userid);

/*
 * A foreign table's remote table, key and attribute names, allocated in the
 * current memory context.  Without a 'key' option the key comes from
 * DescribeTable, asked once per backend and table.
 */
extern FsDdbTable *fs_ddb_table(Relation rel);

#endif							/* FS_FDW_H */
