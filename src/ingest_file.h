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

/* Which file, as it was when a run looked: stat()'s identity of it. */
typedef struct FsFileIdentity
{
	uint64		dev;
	uint64		ino;
	int64		size;
	int64		mtime_sec;
	int64		mtime_nsec;
} FsFileIdentity;

typedef struct FsFileReader FsFileReader;

/*
 * Whether rel is a foreign table that fs_ingest reads from its file: its
 * wrapper's handler is file_fdw's, it names a file (not a program), and no
 * column has options.  If so, *id is the file as it is now.
 */
extern bool fs_file_source(Relation rel, FsFileIdentity *id);

/*
 * Start reading rel's file, which must still be *id (else an error, 55000);
 * rows come as the foreign table's columns, as file_fdw would return them.
 */
extern FsFileReader *fs_file_begin(Relation rel, const FsFileIdentity *id);

/*
 * The next row into values and nulls (the foreign table's columns), in the
 * current memory context; false at the end of the file.
 */
extern bool fs_file_next(FsFileReader *r, Datum *values, bool *nulls);

/* Done: the file must still be the one read (else an error, 55000). */
extern void fs_file_end(FsFileReader *r);

#endif							/* FS_INGEST_FILE_H */
