/*-------------------------------------------------------------------------
 *
 * store_local.c
 *	  The embedded store: feature views backed by plain tables.
 *
 * A lookup is one pass over the batch of keys with a single index scan,
 * rescanned per key: no SQL, no plan, no executor per entity.  Values are
 * copied out of the buffer before the next probe releases it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/datum.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "store.h"

/*
 * Copy a value out of a buffer page.  A toasted value stays toasted (an
 * external one is a small pointer, valid under the statement's snapshot) and
 * is detoasted row by row while rows are built, so memory does not grow with
 * the size of the values.
 */
static Datum
copy_value(Datum value, int16 typlen, bool typbyval)
{
	if (typbyval)
		return value;
	return datumCopy(value, false, typlen);
}

/* What sorting keys in index order needs. */
typedef struct KeyOrder
{
	Datum	   *keys;
	FmgrInfo   *cmp;
	Oid			collation;
} KeyOrder;

static int
key_order_cmp(const void *a, const void *b, void *arg)
{
	KeyOrder   *ko = arg;

	return DatumGetInt32(FunctionCall2Coll(ko->cmp, ko->collation,
										   ko->keys[*(const int *) a],
										   ko->keys[*(const int *) b]));
}

/*
 * Answer a lookup from the view's table by probing its unique index, in
 * index order: neighbouring probes then share the upper levels of the tree
 * in the CPU's caches, as a scan for key = ANY(array) does.
 */
void
fs_local_lookup(FsLookup *lookup)
{
	FsView	   *view = lookup->view;
	Relation	heap;
	Relation	index;
	TupleTableSlot *slot;
	IndexScanDesc scan;
	ScanKeyData skey;
	AttrNumber	maxatt = view->ts_attnum;
	int			nfeat = lookup->nfeat;
	int		   *order;
	int			norder = 0;
	KeyOrder	ko;

	for (int f = 0; f < nfeat; f++)
		maxatt = Max(maxatt, lookup->feat[f]->attnum);

	heap = table_open(view->relid, AccessShareLock);
	index = index_open(view->key_index, AccessShareLock);
	slot = table_slot_create(heap, NULL);
	scan = index_beginscan(heap, index, GetActiveSnapshot(), 1, 0);

	order = palloc(sizeof(int) * Max(lookup->nkeys, 1));
	for (int k = 0; k < lookup->nkeys; k++)
	{
		lookup->found[k] = false;
		if (!lookup->keynull[k])
			order[norder++] = k;
	}
	ko.keys = lookup->keys;
	ko.cmp = &view->key_cmp;
	ko.collation = view->key_collation;
	qsort_arg(order, norder, sizeof(int), key_order_cmp, &ko);

	for (int o = 0; o < norder; o++)
	{
		int			k = order[o];

		CHECK_FOR_INTERRUPTS();

		/* Ids that differ as text can be one key ('7' and '007'): probe it once. */
		if (o > 0 && key_order_cmp(&order[o - 1], &order[o], &ko) == 0)
		{
			int			prev = order[o - 1];

			lookup->found[k] = lookup->found[prev];
			lookup->event_time[k] = lookup->event_time[prev];
			lookup->event_time_null[k] = lookup->event_time_null[prev];
			memcpy(&lookup->values[k * nfeat], &lookup->values[prev * nfeat],
				   sizeof(Datum) * nfeat);
			memcpy(&lookup->nulls[k * nfeat], &lookup->nulls[prev * nfeat],
				   sizeof(bool) * nfeat);
			continue;
		}

		ScanKeyEntryInitialize(&skey, 0, 1, BTEqualStrategyNumber, InvalidOid,
							   view->key_collation, view->key_eqproc, lookup->keys[k]);
		index_rescan(scan, &skey, 1, NULL, 0);
		if (!index_getnext_slot(scan, ForwardScanDirection, slot))
			continue;

		slot_getsomeattrs(slot, maxatt);
		lookup->found[k] = true;
		lookup->event_time_null[k] = slot->tts_isnull[view->ts_attnum - 1];
		lookup->event_time[k] = slot->tts_values[view->ts_attnum - 1];

		for (int f = 0; f < nfeat; f++)
		{
			FsFeature  *feat = lookup->feat[f];
			int			i = k * nfeat + f;

			lookup->nulls[i] = slot->tts_isnull[feat->attnum - 1];
			if (!lookup->nulls[i])
				lookup->values[i] = copy_value(slot->tts_values[feat->attnum - 1],
											   feat->codec.typlen, feat->codec.typbyval);
		}
	}

	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, NoLock);
	table_close(heap, NoLock);
}
