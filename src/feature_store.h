/*-------------------------------------------------------------------------
 *
 * feature_store.h
 *	  Settings and small helpers shared by every part of feature_store.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FEATURE_STORE_H
#define FEATURE_STORE_H

#include "postgres.h"

/* feature_store.on_store_error */
typedef enum FsOnStoreError
{
	FS_ON_STORE_ERROR_ERROR,
	FS_ON_STORE_ERROR_UNAVAILABLE
} FsOnStoreError;

extern int	fs_on_store_error;

#endif							/* FEATURE_STORE_H */
