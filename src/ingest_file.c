/*-------------------------------------------------------------------------
 *
 * ingest_file.c
 *	  fs_ingest's reader of a file_fdw foreign table's file (ingest_file.h).
 *
 * The options are file_fdw's, gathered as file_fdw gathers them (its
 * wrapper's, its server's and the table's, which its validator has
 * checked) and handed to COPY's parser with the file's name taken out,
 * and two of COPY's own: the encoding file_fdw would read the file in (the
 * run's client encoding, unless the table says), which a parallel worker
 * must be told, and convert_selectively, as file_fdw's scan converts only
 * the columns its query reads.  A table with column options
 * (force_not_null, force_null) or inheritance children is left to file_fdw
 * itself, through a cursor.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "commands/copy.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "mb/pg_wchar.h"
#include "nodes/makefuncs.h"
#include "nodes/pg_list.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "ingest_file.h"

struct FsFileReader
{
	CopyFromState cstate;
	char	   *filename;
	FsFileIdentity id;
	Relation	rel;
};

/* Whether the function is file_fdw's handler. */
static bool
is_file_fdw_handler(Oid func)
{
	HeapTuple	tup;
	Form_pg_proc proc;
	bool		isnull;
	Datum		bin;
	bool		result = false;

	if (!OidIsValid(func))
		return false;
	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(func));
	if (!HeapTupleIsValid(tup))
		return false;
	proc = (Form_pg_proc) GETSTRUCT(tup);
	if (proc->prolang == ClanguageId && strcmp(NameStr(proc->proname), "file_fdw_handler") == 0)
	{
		bin = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_probin, &isnull);
		if (!isnull)
		{
			char	   *path = TextDatumGetCString(bin);
			const char *base = strrchr(path, '/');

			base = base ? base + 1 : path;
			result = strcmp(base, "file_fdw") == 0 || strcmp(base, "file_fdw.so") == 0;
		}
	}
	ReleaseSysCache(tup);
	return result;
}

/*
 * The table's COPY options (its wrapper's, server's and own), without the
 * file's name, which goes to *filename; NULL if it has none (it runs a
 * program: file_fdw allows one or the other).  *handler, if asked for, is
 * its wrapper's handler.
 */
static List *
copy_options(Oid relid, char **filename, Oid *handler)
{
	ForeignTable *table = GetForeignTable(relid);
	ForeignServer *server = GetForeignServer(table->serverid);
	ForeignDataWrapper *wrapper = GetForeignDataWrapper(server->fdwid);
	List	   *all = list_concat(list_concat(list_copy(wrapper->options), server->options),
								  table->options);
	List	   *options = NIL;
	ListCell   *lc;

	if (handler != NULL)
		*handler = wrapper->fdwhandler;
	*filename = NULL;
	foreach(lc, all)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		if (strcmp(def->defname, "filename") == 0)
			*filename = defGetString(def);
		else
			options = lappend(options, def);
	}
	return options;
}

static bool
identify(const char *filename, FsFileIdentity *id)
{
	struct stat st;

	if (stat(filename, &st) != 0 || !S_ISREG(st.st_mode))
		return false;
	memset(id, 0, sizeof(*id));
	id->dev = (uint64) st.st_dev;
	id->ino = (uint64) st.st_ino;
	id->size = (int64) st.st_size;
	id->mtime_sec = (int64) st.st_mtim.tv_sec;
	id->mtime_nsec = (int64) st.st_mtim.tv_nsec;
	id->ctime_sec = (int64) st.st_ctim.tv_sec;
	id->ctime_nsec = (int64) st.st_ctim.tv_nsec;
	return true;
}

/* ingest_file.h */
void
fs_file_changed(Relation rel)
{
	char	   *filename;

	(void) copy_options(RelationGetRelid(rel), &filename, NULL);
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("file \"%s\" of source %s changed while fs_ingest read it",
					filename ? filename : "", RelationGetRelationName(rel)),
			 errhint("Run fs_ingest again once the file is complete.")));
}

/* Error (55000) unless the file is still *id. */
static void
check_identity(const char *filename, const FsFileIdentity *id, Relation rel)
{
	FsFileIdentity now;

	if (!identify(filename, &now) || memcmp(&now, id, sizeof(now)) != 0)
		fs_file_changed(rel);
}

/* ingest_file.h */
bool
fs_file_source(Relation rel, FsFileIdentity *id)
{
	Oid			relid = RelationGetRelid(rel);
	char	   *filename;
	Oid			handler;
	TupleDesc	desc = RelationGetDescr(rel);

	if (rel->rd_rel->relkind != RELKIND_FOREIGN_TABLE || rel->rd_rel->relhassubclass)
		return false;
	(void) copy_options(relid, &filename, &handler);
	if (!is_file_fdw_handler(handler) || filename == NULL)
		return false;
	for (int i = 0; i < desc->natts; i++)
		if (!TupleDescAttr(desc, i)->attisdropped &&
			GetForeignColumnOptions(relid, TupleDescAttr(desc, i)->attnum) != NIL)
			return false;
	/* A file that cannot be looked at is file_fdw's to report. */
	return identify(filename, id);
}

/* ingest_file.h */
FsFileReader *
fs_file_begin(Relation rel, const FsFileIdentity *id, List *columns, int encoding)
{
	FsFileReader *r = palloc0(sizeof(FsFileReader));
	List	   *options = copy_options(RelationGetRelid(rel), &r->filename, NULL);
	bool		has_encoding = false;
	ListCell   *lc;

	if (r->filename == NULL)
		fs_file_changed(rel);
	foreach(lc, options)
		if (strcmp(lfirst_node(DefElem, lc)->defname, "encoding") == 0)
			has_encoding = true;
	if (!has_encoding)
		options = lappend(options, makeDefElem("encoding",
											   (Node *) makeString(pstrdup(pg_encoding_to_char(encoding))),
											   -1));
	/* COPY's own option, which file_fdw uses too: the other columns stay NULL. */
	options = lappend(options, makeDefElem("convert_selectively", (Node *) columns, -1));
	r->rel = rel;
	r->id = *id;
	check_identity(r->filename, &r->id, rel);
	r->cstate = BeginCopyFrom(NULL, rel, NULL, r->filename, false, NULL, NIL, options);
	return r;
}

/* ingest_file.h */
bool
fs_file_next(FsFileReader *r, Datum *values, bool *nulls)
{
	ErrorContextCallback errcallback;
	bool		found;

	/* Errors say where in the file, as COPY's do. */
	errcallback.callback = CopyFromErrorCallback;
	errcallback.arg = (void *) r->cstate;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;
	found = NextCopyFrom(r->cstate, NULL, values, nulls);
	error_context_stack = errcallback.previous;
	return found;
}

/* ingest_file.h */
void
fs_file_end(FsFileReader *r)
{
	EndCopyFrom(r->cstate);
	check_identity(r->filename, &r->id, r->rel);
}
