/*-------------------------------------------------------------------------
 *
 * ingest_file.h
 *	  fs_ingest's reader of a file_fdw foreign table's file.
 *
 * A source that is a foreign table of file_fdw, over a file (not a
 * program) and without column options, is read by fs_ingest from its file
 * with COPY's own parser, as file_fdw would read it, but without the
 * executor and the cursor in between; and both processes of a parallel run
 * can each read it whole, as they read a table's heap.  Each process checks
 * that the file it reads is the one the run started with (its device,
 * inode, size and modification time), before and after reading it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FS_INGEST_FILE_H
#define FS_INGEST_FILE_H

#include "postgres.h"

#include "utils/relcache.h"

/*
 * Which file, as it was when a run looked: stat()'s identity of it (the
 * change time too, which no one can set back as the modification time can).
 */
typedef struct FsFileIdentity
{
	uint64		dev;
	uint64		ino;
	int64		size;
	int64		mtime_sec;
	int64		mtime_nsec;
	int64		ctime_sec;
	int64		ctime_nsec;
} FsFileIdentity;

typedef struct FsFileReader FsFileReader;

/*
 * Whether rel is a foreign table that fs_ingest reads from its file: its
 * wrapper's handler is file_fdw's, it names a file (not a program), no
 * column has options, and it has no inheritance children (whose rows a
 * query of it reads too).  If so, *id is the file as it is now.
 */
extern bool fs_file_source(Relation rel, FsFileIdentity *id);

/*
 * Start reading rel's file, which must still be *id (else an error, 55000);
 * rows come as the foreign table's columns, as file_fdw would return them:
 * only the columns named in columns (a List of String) are converted, the
 * others are NULL.  A file without an encoding option is read in encoding
 * (the run's client encoding, as file_fdw reads it: the leader's, which a
 * parallel worker, whose own is the database's, is told).
 */
extern FsFileReader *fs_file_begin(Relation rel, const FsFileIdentity *id, List *columns,
								   int encoding);

/* The 55000 error of a file that is no longer the one a run started with. */
extern void fs_file_changed(Relation rel) pg_attribute_noreturn();

/*
 * The next row into values and nulls (the foreign table's columns), in the
 * current memory context; false at the end of the file.
 */
extern bool fs_file_next(FsFileReader *r, Datum *values, bool *nulls);

/* Done: the file must still be the one read (else an error, 55000). */
extern void fs_file_end(FsFileReader *r);

#endif							/* FS_INGEST_FILE_H */
