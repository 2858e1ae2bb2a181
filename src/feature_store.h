/*-------------------------------------------------------------------------
 *
 * feature_store.h
 *	  The general settings (feature_store.c); the streaming lane's are in
 *	  stream.h.
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

/* Defaults for fs_dynamodb servers; server options override them. */
extern int	fs_connect_timeout_ms;
extern int	fs_request_timeout_ms;
extern int	fs_max_retries;
extern int	fs_max_connections;

#endif							/* FEATURE_STORE_H */
