/*-------------------------------------------------------------------------
 *
 * ddb_option.c
 *	  Options of fs_dynamodb: the validator, and reading them into an
 *	  endpoint (server and user mapping) or a table (foreign table, columns).
 *
 * The options themselves are listed in ddb.h and docs/dynamodb.md.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "cache.h"
#include "ddb.h"

#include "access/reloptions.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_type.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

/* The servers' defaults (ddb_client.h), which _PG_init registers as settings. */
int			fs_connect_timeout_ms = 1000;
int			fs_request_timeout_ms = 2000;
int			fs_max_retries = 8;
int			fs_max_connections = 16;
int			fs_max_write_connections = 256;
int			fs_max_response_size = 32 * 1024;	/* kB */
int			fs_store_deadline_ms = 0;

/* Default name of the event-time column (epoch-seconds encoding). */
#define DEFAULT_EVENT_TIME_COLUMN "event_time"

/* An option, and the catalog of the objects it belongs to. */
typedef struct FsOption
{
	const char *name;
	Oid			catalog;
} FsOption;

static const FsOption valid_options[] = {
	{"endpoint", ForeignServerRelationId},
	{"region", ForeignServerRelationId},
	{"connect_timeout_ms", ForeignServerRelationId},
	{"request_timeout_ms", ForeignServerRelationId},
	{"max_retries", ForeignServerRelationId},
	{"max_connections", ForeignServerRelationId},
	{"max_write_connections", ForeignServerRelationId},
	{"max_response_size", ForeignServerRelationId},
	{"consistent_read", ForeignServerRelationId},
	{"store_deadline_ms", ForeignServerRelationId},
	{"cache_ttl_ms", ForeignServerRelationId},
	{"access_key_id", UserMappingRelationId},
	{"secret_access_key", UserMappingRelationId},
	{"session_token", UserMappingRelationId},
	{"table", ForeignTableRelationId},
	{"key", ForeignTableRelationId},
	{"event_time_column", ForeignTableRelationId},
	{"cache_ttl_ms", ForeignTableRelationId},
	{"attribute", AttributeRelationId},
	{NULL, InvalidOid}
};

PG_FUNCTION_INFO_V1(fs_dynamodb_validator);

/*
 * The value of an integer option within [min, max], checked; max INT_MAX
 * means no upper bound other than int's, and the hint says so.
 */
static int
option_int_range(DefElem *def, int min, int max)
{
	char	   *s = defGetString(def);
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || v < min || v > max)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", def->defname, s),
				 max == INT_MAX
				 ? errhint("The value must be an integer of at least %d.", min)
				 : errhint("The value must be an integer from %d to %d.", min, max)));
	return (int) v;
}

/* The value of an integer option of at least min, checked. */
static int
option_int(DefElem *def, int min)
{
	return option_int_range(def, min, INT_MAX);
}

/* The value of a size option in kB ("64kB", "16MB"; a bare number is kB), checked. */
static int
option_kb(DefElem *def, int min)
{
	char	   *s = defGetString(def);
	int			kb;

	if (!parse_int(s, &kb, GUC_UNIT_KB, NULL) || kb < min)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", def->defname, s),
				 errhint("The value is a size of at least %d kB, such as '16MB'.", min)));
	return kb;
}

/*
 * The value of a time option in ms ("500ms", "5s", "1min"; a bare number is
 * ms), checked: the units of the settings it overrides, parsed by the
 * settings' own parser so that both read a value alike.
 */
static int
option_ms(DefElem *def, int min)
{
	char	   *s = defGetString(def);
	int			ms;

	if (!parse_int(s, &ms, GUC_UNIT_MS, NULL) || ms < min)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", def->defname, s),
				 errhint("The value is a time of at least %d ms and under 24 days: a number with a unit "
						 "(us, ms, s, min, h, d), such as '500ms' or '5s'; a bare number is milliseconds.",
						 min)));
	return ms;
}

/* Whether typid is a type whose values can be a partition key of kind S, N or B. */
char
fs_key_kind(Oid typid)
{
	switch (getBaseType(typid))
	{
		case TEXTOID:
		case VARCHAROID:
			return 'S';
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case NUMERICOID:
			return 'N';
		case BYTEAOID:
			return 'B';
		default:
			return '\0';
	}
}

/*-------------------------------------------------------------------------
 * Validator
 *-------------------------------------------------------------------------
 */

/* Check the options of one catalog object. */
Datum
fs_dynamodb_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		const FsOption *opt;
		bool		found = false;

		for (opt = valid_options; opt->name; opt++)
			if (opt->catalog == catalog && strcmp(opt->name, def->defname) == 0)
				found = true;

		if (!found)
		{
			StringInfoData buf;

			initStringInfo(&buf);
			for (opt = valid_options; opt->name; opt++)
				if (opt->catalog == catalog)
					appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "", opt->name);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\"", def->defname),
					 buf.len > 0
					 ? errhint("Valid options in this context are: %s.", buf.data)
					 : errhint("There are no valid options in this context.")));
		}

		if (strcmp(def->defname, "endpoint") == 0)
		{
			char	   *s = defGetString(def);

			if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
						 errmsg("invalid value for option \"endpoint\": \"%s\"", s),
						 errhint("The endpoint is a URL beginning with http:// or https://.")));
		}
		else if (strcmp(def->defname, "max_retries") == 0)
			(void) option_int(def, 0);
		else if (strcmp(def->defname, "store_deadline_ms") == 0)
			(void) option_ms(def, 0);
		else if (strcmp(def->defname, "cache_ttl_ms") == 0)
		{
			if (option_ms(def, 0) > 0 && !fs_cache_enabled())
				ereport(NOTICE,
						(errmsg("feature_store's cache is off: option \"cache_ttl_ms\" has no effect until it is on"),
						 errhint("The cache needs feature_store in shared_preload_libraries and feature_store.cache_size above 0.")));
		}
		else if (strcmp(def->defname, "connect_timeout_ms") == 0 ||
				 strcmp(def->defname, "request_timeout_ms") == 0)
			(void) option_ms(def, 1);
		else if (strcmp(def->defname, "max_connections") == 0)
			(void) option_int(def, 1);
		else if (strcmp(def->defname, "max_write_connections") == 0)
			(void) option_int_range(def, 1, FS_MAX_WRITE_CONNECTIONS_LIMIT);
		else if (strcmp(def->defname, "max_response_size") == 0)
			(void) option_kb(def, 64);
		else if (strcmp(def->defname, "consistent_read") == 0)
			(void) defGetBoolean(def);
		else if (strcmp(def->defname, "region") == 0 ||
				 strcmp(def->defname, "table") == 0 ||
				 strcmp(def->defname, "key") == 0 ||
				 strcmp(def->defname, "event_time_column") == 0 ||
				 strcmp(def->defname, "attribute") == 0 ||
				 strcmp(def->defname, "access_key_id") == 0 ||
				 strcmp(def->defname, "secret_access_key") == 0)
		{
			if (defGetString(def)[0] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
						 errmsg("option \"%s\" must not be empty", def->defname)));
		}
	}

	PG_RETURN_VOID();
}

/*-------------------------------------------------------------------------
 * Reading options
 *-------------------------------------------------------------------------
 */

/* The endpoint of a server as seen by a user. */
FsDdbEndpoint *
fs_ddb_endpoint(Oid serverid, Oid userid)
{
	ForeignServer *server = GetForeignServer(serverid);
	FsDdbEndpoint *ep = palloc0(sizeof(FsDdbEndpoint));
	ListCell   *lc;
	bool		own;

	ep->serverid = serverid;
	ep->region = "us-east-1";
	ep->connect_timeout_ms = fs_connect_timeout_ms;
	ep->request_timeout_ms = fs_request_timeout_ms;
	ep->max_retries = fs_max_retries;
	ep->max_connections = fs_max_connections;
	ep->max_write_connections = fs_max_write_connections;
	ep->max_response_kb = fs_max_response_size;
	ep->consistent_read = false;
	ep->store_deadline_ms = fs_store_deadline_ms;

	foreach(lc, server->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "endpoint") == 0)
			ep->endpoint = defGetString(def);
		else if (strcmp(def->defname, "region") == 0)
			ep->region = defGetString(def);
		else if (strcmp(def->defname, "connect_timeout_ms") == 0)
			ep->connect_timeout_ms = option_ms(def, 1);
		else if (strcmp(def->defname, "request_timeout_ms") == 0)
			ep->request_timeout_ms = option_ms(def, 1);
		else if (strcmp(def->defname, "max_retries") == 0)
			ep->max_retries = option_int(def, 0);
		else if (strcmp(def->defname, "max_connections") == 0)
			ep->max_connections = option_int(def, 1);
		else if (strcmp(def->defname, "max_write_connections") == 0)
			ep->max_write_connections = option_int_range(def, 1, FS_MAX_WRITE_CONNECTIONS_LIMIT);
		else if (strcmp(def->defname, "max_response_size") == 0)
			ep->max_response_kb = option_kb(def, 64);
		else if (strcmp(def->defname, "consistent_read") == 0)
			ep->consistent_read = defGetBoolean(def);
		else if (strcmp(def->defname, "store_deadline_ms") == 0)
		{
			ep->store_deadline_ms = option_ms(def, 0);
			ep->store_deadline_from_server = true;
		}
		else if (strcmp(def->defname, "cache_ttl_ms") == 0)
			ep->cache_ttl_ms = option_ms(def, 0);
	}
	if (ep->endpoint == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("server \"%s\" has no endpoint", server->servername),
				 errhint("Set it with ALTER SERVER %s OPTIONS (ADD endpoint 'http://host:port').",
						 quote_identifier(server->servername))));

	/* Credentials: the user's mapping, else PUBLIC's, else unsigned requests. */
	own = SearchSysCacheExists2(USERMAPPINGUSERSERVER,
								ObjectIdGetDatum(userid), ObjectIdGetDatum(serverid));
	if (own ||
		SearchSysCacheExists2(USERMAPPINGUSERSERVER,
							  ObjectIdGetDatum(InvalidOid), ObjectIdGetDatum(serverid)))
	{
		UserMapping *um = GetUserMapping(userid, serverid);

		ep->umid = um->umid;
		foreach(lc, um->options)
		{
			DefElem    *def = (DefElem *) lfirst(lc);

			if (strcmp(def->defname, "access_key_id") == 0)
				ep->access_key_id = defGetString(def);
			else if (strcmp(def->defname, "secret_access_key") == 0)
				ep->secret_access_key = defGetString(def);
			else if (strcmp(def->defname, "session_token") == 0)
				ep->session_token = defGetString(def);
		}
		if ((ep->access_key_id == NULL) != (ep->secret_access_key == NULL))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("user mapping for server \"%s\" has %s but no %s",
							server->servername,
							ep->access_key_id ? "access_key_id" : "secret_access_key",
							ep->access_key_id ? "secret_access_key" : "access_key_id")));
		if (ep->access_key_id == NULL)
			ep->auth_hint = psprintf("The user mapping for %s on server \"%s\" has no access_key_id, so requests go unsigned. "
									 "Add the keys: ALTER USER MAPPING FOR %s SERVER %s OPTIONS (ADD access_key_id '...', ADD secret_access_key '...');",
									 own ? psprintf("user \"%s\"", GetUserNameFromId(userid, false)) : "PUBLIC",
									 server->servername, own ? "CURRENT_USER" : "PUBLIC",
									 quote_identifier(server->servername));
	}
	else
		ep->auth_hint = psprintf("There is no user mapping for user \"%s\" (nor for PUBLIC) on server \"%s\", so requests go unsigned. "
								 "Create one: CREATE USER MAPPING FOR CURRENT_USER SERVER %s OPTIONS (access_key_id '...', secret_access_key '...');",
								 GetUserNameFromId(userid, false), server->servername,
								 quote_identifier(server->servername));
	return ep;
}

/* A foreign table's options and attribute names, without the key. */
FsDdbTable *
fs_ddb_table_options(Relation rel, char **event_time_column)
{
	ForeignTable *ft = GetForeignTable(RelationGetRelid(rel));
	TupleDesc	desc = RelationGetDescr(rel);
	FsDdbTable *tbl = palloc0(sizeof(FsDdbTable));
	ListCell   *lc;

	tbl->relid = RelationGetRelid(rel);
	tbl->serverid = ft->serverid;
	tbl->table = pstrdup(RelationGetRelationName(rel));
	tbl->cache_ttl_ms = -1;
	*event_time_column = DEFAULT_EVENT_TIME_COLUMN;
	foreach(lc, ft->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "table") == 0)
			tbl->table = defGetString(def);
		else if (strcmp(def->defname, "key") == 0)
			tbl->key_attr = defGetString(def);
		else if (strcmp(def->defname, "event_time_column") == 0)
			*event_time_column = defGetString(def);
		else if (strcmp(def->defname, "cache_ttl_ms") == 0)
			tbl->cache_ttl_ms = option_ms(def, 0);
	}

	tbl->natts = desc->natts;
	tbl->attr_names = palloc0(sizeof(char *) * Max(desc->natts, 1));
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		tbl->attr_names[i] = fs_column_attribute(tbl->relid, att);
	}
	return tbl;
}

/* The remote attribute of a column: its option 'attribute', else its name. */
char *
fs_column_attribute(Oid relid, Form_pg_attribute att)
{
	char	   *attr = pstrdup(NameStr(att->attname));
	ListCell   *lc;

	foreach(lc, GetForeignColumnOptions(relid, att->attnum))
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "attribute") == 0)
			attr = defGetString(def);
	}
	return attr;
}

