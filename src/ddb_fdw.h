/*-------------------------------------------------------------------------
 *
 * ddb_fdw.h
 *	  The callbacks of the foreign data wrapper fs_dynamodb.
 *
 * ddb_fdw.c builds the FdwRoutine from the callbacks that ddb_scan.c
 * (planning and scans) and ddb_modify.c (INSERT, UPDATE, DELETE) define.
 * What else the store's files share is in ddb.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FS_DDB_FDW_H
#define FS_DDB_FDW_H

#include "postgres.h"

#include "commands/explain.h"
#include "foreign/fdwapi.h"

/* ddb_scan.c: planning and scans */
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

/* ddb_modify.c: INSERT, UPDATE, DELETE */
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

#endif							/* FS_DDB_FDW_H */
