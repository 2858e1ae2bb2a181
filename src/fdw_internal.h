/*-------------------------------------------------------------------------
 *
 * fdw_internal.h
 *	  What the files of the foreign data wrapper fs_dynamodb share.
 *
 * fdw.c (handler, options, tables), fdw_scan.c (planning and scans) and
 * fdw_modify.c (INSERT, UPDATE, DELETE) share the callbacks' declarations,
 * the JSON holders and the helpers that build, send and check remote calls.
 * The rest of the extension sees only fdw.h.
 *
 * Include this header last: it brings in jansson (dynamodb_codec.h).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FS_FDW_INTERNAL_H
#define FS_FDW_INTERNAL_H

#include "postgres.h"

#include "commands/explain.h"
#include "foreign/fdwapi.h"

#include "dynamodb_client.h"
#include "dynamodb_codec.h"
#include "fdw.h"

/* References to jansson values, dropped when a memory context is reset. */
typedef struct FsJsonHold
{
	MemoryContextCallback cb;
	int			n;
	int			cap;
	json_t	  **refs;
} FsJsonHold;

/* errcontext of remote calls */
typedef struct FsCallContext
{
	const char *table;
	const char *relname;
} FsCallContext;

/* fdw_scan.c: planning and scans */
extern void fsGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid);
extern void fsGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid);
extern ForeignScan *fsGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel,
									 Oid foreigntableid, ForeignPath *best_path,
									 List *tlist, List *scan_clauses, Plan *outer_plan);
extern void fsBeginForeignScan(ForeignScanState *node, int eflags);
extern TupleTableSlot *fsIterateForeignScan(ForeignScanState *node);
extern void fsReScanForeignScan(ForeignScanState *node);
extern void fsEndForeignScan(ForeignScanState *node);
extern void fsExplainForeignScan(ForeignScanState *node, ExplainState *es);

/* fdw_modify.c: INSERT, UPDATE, DELETE */
extern void fsAddForeignUpdateTargets(PlannerInfo *root, Index rtindex,
									  RangeTblEntry *target_rte, Relation target_relation);
extern List *fsPlanForeignModify(PlannerInfo *root, ModifyTable *plan,
								 Index resultRelation, int subplan_index);
extern void fsBeginForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
								 List *fdw_private, int subplan_index, int eflags);
extern TupleTableSlot *fsExecForeignInsert(EState *estate, ResultRelInfo *rinfo,
										   TupleTableSlot *slot, TupleTableSlot *planSlot);
extern TupleTableSlot **fsExecForeignBatchInsert(EState *estate, ResultRelInfo *rinfo,
												 TupleTableSlot **slots,
												 TupleTableSlot **planSlots, int *numSlots);
extern int	fsGetForeignModifyBatchSize(ResultRelInfo *rinfo);
extern TupleTableSlot *fsExecForeignUpdate(EState *estate, ResultRelInfo *rinfo,
										   TupleTableSlot *slot, TupleTableSlot *planSlot);
extern TupleTableSlot *fsExecForeignDelete(EState *estate, ResultRelInfo *rinfo,
										   TupleTableSlot *slot, TupleTableSlot *planSlot);
extern void fsEndForeignModify(EState *estate, ResultRelInfo *rinfo);
extern void fsBeginForeignInsert(ModifyTableState *mtstate, ResultRelInfo *rinfo);
extern void fsEndForeignInsert(EState *estate, ResultRelInfo *rinfo);
extern void fsExplainForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
								   List *fdw_private, int subplan_index,
								   struct ExplainState *es);

/* fdw.c: JSON holders */

/* A holder whose references are dropped when cxt is reset or deleted. */
extern FsJsonHold *fs_json_hold_create(MemoryContext cxt);

/* Hand a new reference to the holder (an error if j is NULL); returns j. */
extern json_t *fs_json_hold(FsJsonHold *h, json_t *j);

/* A new empty object, held. */
extern json_t *fs_held_object(FsJsonHold *h);

/* Set key to a new reference (taken), failing loudly on NULL or OOM. */
extern void fs_obj_set_new(json_t *obj, const char *key, json_t *value);

/* Set key to value, adding a reference (the caller keeps its own). */
extern void fs_obj_set(json_t *obj, const char *key, json_t *value);

/* Append a new reference (taken) to an array, failing loudly. */
extern void fs_arr_append_new(json_t *arr, json_t *value);

/* A JSON value as a palloc'd compact string; flags add to JSON_COMPACT. */
extern char *fs_json_to_cstring(json_t *j, size_t flags);

/* fdw.c: remote calls */

/* A call of operation with body, allocated in the current context. */
extern FsDdbCall *fs_new_call(const char *operation, json_t *body);

/* Parse a successful call's response as a JSON object, held by h. */
extern json_t *fs_parse_response(FsJsonHold *h, FsDdbCall *call, const char *table);

/* A malformed response: name what is wrong (ERRCODE_FDW_INVALID_DATA_TYPE). */
extern void fs_bad_shape(FsDdbCall *call, const char *table, const char *what) pg_attribute_noreturn();

/* Push an errcontext callback naming table and relname; pop with errcb->previous. */
extern void fs_push_call_context(ErrorContextCallback *errcb, FsCallContext *cc,
								 const char *table, const char *relname);

/* Raise a failed call; a missing remote table gets its own message. */
extern void fs_raise_call(FsDdbCall *call, const char *table) pg_attribute_noreturn();
/* Whether a call failed because its ConditionExpression did not hold. */
extern bool fs_condition_failed(FsDdbCall *call);

/* Run calls, raising the first failure. */
extern void fs_run_calls(FsDdbEndpoint *ep, FsDdbCall **calls, int ncalls, const char *table);

/* fdw.c: a column's remote attribute (option 'attribute', else the column's name). */
extern char *fs_column_attribute(Oid relid, Form_pg_attribute att);

/* fdw.c: a column's value in an item (a response's object of attributes). */
extern Datum fs_decode_column(FsDdbTable *tbl, json_t *item, Form_pg_attribute att,
							  bool *isnull);

/* fdw.c: the kind (S, N or B) of a partition key of type typid, or '\0'. */
extern char fs_key_kind(Oid typid);

#endif							/* FS_FDW_INTERNAL_H */
