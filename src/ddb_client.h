/*-------------------------------------------------------------------------
 *
 * ddb_client.h
 *	  HTTP client for DynamoDB-compatible stores: libcurl multi, SigV4.
 *
 * A caller builds FsDdbCall requests (operation + JSON body) and hands a
 * batch of them to fs_ddb_run, which sends them concurrently over kept-alive
 * connections (at most max_connections at once per endpoint, or
 * max_write_connections when every call of the batch is a write), retries
 * throttling and 5xx answers with full-jitter exponential backoff up to
 * max_retries, and returns when every call has an outcome.  Waits are
 * bounded slices with CHECK_FOR_INTERRUPTS between them, so
 * statement_timeout and pg_cancel_backend act promptly.  Nothing is raised
 * inside a libcurl callback: failures are recorded in the call and raised
 * by the caller (fs_ddb_raise) after the transfer.
 *
 * An endpoint may carry a deadline (serving's feature_store.store_deadline_ms):
 * when it passes, fs_ddb_run abandons what is still in flight, closing those
 * connections, and gives every call without an outcome the status FAILED
 * with expired set; no request or backoff starts past it.
 *
 * fs_ddb_run is not reentrant.  Responses and error strings are allocated
 * in the memory context current when it is called; an error unwinding
 * through it (cancel, statement_timeout) detaches every in-flight request,
 * so the backend stays usable.  ddb_client.c maps error types to
 * SQLSTATEs in a table at its top.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FS_DDB_CLIENT_H
#define FS_DDB_CLIENT_H

#include "postgres.h"

#include "nodes/pg_list.h"

/*
 * Defaults for every server, which a server's options override: the settings
 * feature_store.connect_timeout_ms, request_timeout_ms, max_retries,
 * max_connections, max_write_connections, max_response_size and
 * store_deadline_ms, registered by
 * _PG_init (feature_store.c), read by fs_ddb_endpoint (ddb_option.c), which
 * defines them.
 */
extern int	fs_connect_timeout_ms;
extern int	fs_request_timeout_ms;
extern int	fs_max_retries;
extern int	fs_max_connections;
extern int	fs_max_write_connections;
extern int	fs_max_response_size;	/* kB */
extern int	fs_store_deadline_ms;	/* serving only; 0: none */

/*
 * The most write requests one backend keeps in flight: each is a connection,
 * hence a file descriptor of the backend beside PostgreSQL's own
 * (max_files_per_process, commonly 1,000 of a 1,024 limit).
 */
#define FS_MAX_WRITE_CONNECTIONS_LIMIT 1024

/* Where and how to reach one store, as the current user. */
typedef struct FsDdbEndpoint
{
	char	   *endpoint;		/* base URL, e.g. "http://127.0.0.1:8000" */
	char	   *region;			/* signing region, e.g. "us-east-1" */
	char	   *access_key_id;	/* NULL: requests are not signed */
	char	   *secret_access_key;
	char	   *session_token;	/* NULL: none; else sent as x-amz-security-token */
	int			connect_timeout_ms;
	int			request_timeout_ms;
	int			max_retries;
	int			max_connections;	/* requests in flight at once */
	int			max_write_connections;	/* the same for a batch of writes only,
										 * whose answers are tiny */
	int			max_response_kb;	/* a larger answer is an error */
	bool		consistent_read;
	char	   *auth_hint;		/* the hint for a store that refuses our
								 * credentials (or their absence); NULL: a
								 * generic one */
	int			store_deadline_ms;	/* serving's budget for the store; 0: none */
	bool		store_deadline_from_server; /* the server option set it */
	Oid			serverid;
	int			cache_ttl_ms;	/* the server's option cache_ttl_ms; 0: not cached */
	Oid			umid;			/* the user mapping used; InvalidOid: none */
	double		deadline;		/* fs_ddb_now_ms() after which fs_ddb_run and
								 * fs_ddb_batch_get give up; 0: none.  Set by
								 * the caller that wants one (serving). */
} FsDdbEndpoint;

typedef enum FsDdbStatus
{
	FS_DDB_PENDING,
	FS_DDB_OK,					/* HTTP 200: response holds the body */
	FS_DDB_FAILED				/* see error_type, error_message */
} FsDdbStatus;

/* One API call: an HTTP POST with X-Amz-Target DynamoDB_20120810.<operation>. */
typedef struct FsDdbCall
{
	const char *operation;		/* "BatchGetItem", "Scan", "PutItem", ... */
	char	   *body;			/* request JSON, NUL-terminated */
	size_t		body_len;
	void	   *arg;			/* the caller's own */

	/*
	 * Called as soon as this call has its outcome, from fs_ddb_run's waiting
	 * loop (never from a libcurl callback), while other calls are still in
	 * flight: the caller can decode one answer while the next arrives.  It
	 * may raise an error; fs_ddb_run then detaches every transfer.  NULL:
	 * none.
	 */
	void		(*on_done) (struct FsDdbCall *call);

	/* Filled by fs_ddb_run. */
	FsDdbStatus status;
	long		http_status;	/* 0 when no HTTP answer was received */
	char	   *response;		/* palloc'd body, NUL-terminated and padded with
								 * FS_JSON_PADDING zeros for the parser (also
								 * for 4xx/5xx) */
	size_t		response_len;
	char	   *error_type;		/* the store's "__type" after '#', or
								 * "ConnectionFailed" (refused, unreachable, or
								 * broken mid-request), "Timeout"
								 * (request_timeout_ms), "InvalidResponse" (an
								 * error answer that is not JSON) */
	char	   *error_message;	/* the store's "message", or a description */
	bool		transient;		/* throttling, 5xx, broken connection: retries
								 * ran out */
	const char *auth_hint;		/* the endpoint's auth_hint */
	bool		expired;		/* FAILED because the endpoint's deadline
								 * passed first (error_type
								 * "DeadlineExceeded"): abandoned in flight,
								 * waiting to retry, or never sent */
	int			attempts;		/* HTTP requests sent for this call */
	int			throttles;

	/*
	 * Keys this call writes (fs_call_forget): the cache forgets them once
	 * the call has its outcome, whatever it is, before fs_ddb_run returns.
	 */
	const char *forget_table;
	List	   *forget_keys;	/* of FsBytesKey *: S, N or B strings */
} FsDdbCall;

/* Counters for EXPLAIN ANALYZE and benchmarks; the caller resets them. */
typedef struct FsDdbStats
{
	int64		requests;		/* HTTP requests sent, retries included */
	int64		retries;
	int64		throttles;
	int			peak_in_flight; /* most requests in flight at once */
	double		wait_ms;		/* time spent in fs_ddb_run */
} FsDdbStats;

extern PGDLLIMPORT FsDdbStats fs_ddb_stats;

/* From _PG_init: curl_global_init, and cleanup at process exit. */
extern void fs_ddb_init(void);

/* Send calls concurrently and wait until each has an outcome. */
extern void fs_ddb_run(FsDdbEndpoint *ep, FsDdbCall **calls, int ncalls);

/* Raise the failure of a call as an ERROR with a deliberate SQLSTATE. */
extern void fs_ddb_raise(FsDdbCall *call) pg_attribute_noreturn();

/* Sleep before retry round 'attempt' (1, 2, ...): full jitter, interruptible. */
extern void fs_ddb_backoff(int attempt);

/* The same, unless the sleep would end past deadline (0: none): then false. */
extern bool fs_ddb_backoff_until(int attempt, double deadline);

/* Milliseconds on a monotonic clock: the scale of FsDdbEndpoint.deadline. */
extern double fs_ddb_now_ms(void);

#endif							/* FS_DDB_CLIENT_H */
