/*-------------------------------------------------------------------------
 *
 * ddb_client.c
 *	  HTTP client for DynamoDB-compatible stores: libcurl multi, SigV4.
 *
 * One long-lived CURLM handle per backend owns the connection cache, so
 * kept-alive connections serve every call and query of the backend; easy
 * handles are pooled and reused.  fs_ddb_run attaches at most
 * max_connections requests at once (max_write_connections when every call
 * of the run is a write: PutItem, UpdateItem, DeleteItem, BatchWriteItem,
 * whose answers are a few bytes, while a read's may be max_response_size),
 * drives them with curl_multi_perform and
 * waits in curl_multi_poll slices of at most FS_DDB_SLICE_MS, calling
 * CHECK_FOR_INTERRUPTS between slices.  A call that is throttled or gets a
 * 5xx waits out its own full-jitter backoff while the others keep going.
 *
 * libcurl callbacks only append to malloc'd buffers owned by this file; they
 * never palloc or raise.  PG_FINALLY detaches every in-flight handle and
 * frees those buffers, so an error (statement_timeout, cancel) unwinding
 * through fs_ddb_run leaves the multi handle clean for the next query.
 *
 * An endpoint's deadline (FsDdbEndpoint.deadline, serving's
 * store_deadline_ms) bounds the wait: no request starts and no slice ends
 * past it, and when it passes every call without an outcome expires.  A
 * request abandoned in flight, there or on an error, takes its easy handle
 * and its connection with it: a half-read answer is never read as the
 * answer to the next request.
 *
 * Outcomes and the SQLSTATE fs_ddb_raise gives them:
 *
 *	error_type						retried	SQLSTATE
 *	------------------------------	-------	---------------------------------
 *	ConnectionFailed (refused,		no		HV00N fdw_unable_to_establish_
 *	  unresolvable, connect timeout,		  connection
 *	  TLS handshake)
 *	ConnectionFailed (reset or		yes		08006 connection_failure
 *	  closed mid-request)
 *	Timeout (request_timeout_ms)	no		08006 connection_failure
 *	ProvisionedThroughputExceeded-	yes		HV000 fdw_error, hint: max_retries
 *	  Exception, ThrottlingException,
 *	  RequestLimitExceeded; HTTP 5xx
 *	ResourceNotFoundException		no		HV00R fdw_table_not_found
 *	UnrecognizedClientException,	no		28000 invalid_authorization_
 *	  InvalidSignatureException,			  specification
 *	  MissingAuthenticationToken,
 *	  IncompleteSignatureException,
 *	  ExpiredTokenException
 *	AccessDeniedException			no		42501 insufficient_privilege
 *	InvalidResponse (an error		no		08P01 protocol_violation
 *	  answer that is not JSON, or
 *	  not HTTP)
 *	ResponseTooLarge (over			no		54000 program_limit_exceeded
 *	  max_response_size)
 *	ResponseRefused (libcurl out	no		54000 program_limit_exceeded
 *	  of memory, e.g. a header
 *	  beyond its limit)
 *	TransportError (any other		no		HV000 fdw_error
 *	  libcurl failure)
 *	DeadlineExceeded (the endpoint's	no		HV000 fdw_error (serving raises
 *	  deadline passed first)				  its own, naming the setting)
 *	anything else (Validation-		no		HV000 fdw_error
 *	  Exception, ...)
 *
 * The message is always errmsg("DynamoDB %s request failed", operation) with
 * errdetail("<error_type>: <message>").  libcurl's own wording changes between
 * versions, so for transport failures the client sees a fixed detail and the
 * libcurl text goes to the server log only (errdetail_log).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "ddb_json.h"

#include <curl/curl.h>

#include "common/pg_prng.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"

#include "cache.h"
#include "ddb_client.h"
#include "utils.h"

#ifndef CURL_WRITEFUNC_ERROR
#define CURL_WRITEFUNC_ERROR 0
#endif

/* Longest wait between two CHECK_FOR_INTERRUPTS. */
#define FS_DDB_SLICE_MS			50
/* Full jitter: sleep = random(0, min(CAP, BASE * 2^attempt)). */
#define FS_DDB_BACKOFF_BASE_MS	25.0
#define FS_DDB_BACKOFF_CAP_MS	1000.0
/* Easy handles kept for reuse; more are created on demand and freed. */
#define FS_DDB_POOL_MAX			256

FsDdbStats	fs_ddb_stats;

/* A response body being received: malloc'd, written by the libcurl callback. */
typedef struct FsDdbBuffer
{
	char	   *data;
	size_t		len;
	size_t		cap;
	size_t		limit;			/* the largest body accepted */
	bool		too_large;		/* refused: it grew past limit */
} FsDdbBuffer;

typedef enum FsDdbReqState
{
	REQ_WAITING,				/* not yet sent, or backing off until due_ms */
	REQ_RUNNING,				/* attached to the multi handle */
	REQ_DONE
} FsDdbReqState;

/* One call's progress through fs_ddb_run. */
typedef struct FsDdbReq
{
	FsDdbCall  *call;
	FsDdbReqState state;
	double		due_ms;			/* REQ_WAITING: may be sent from then on */
	int			retries;
	CURL	   *easy;			/* REQ_RUNNING only */
	struct curl_slist *headers;
	FsDdbBuffer buf;
	char		errbuf[CURL_ERROR_SIZE];
} FsDdbReq;

/* The state of the fs_ddb_run in progress, for cleanup. */
typedef struct FsDdbRun
{
	FsDdbEndpoint *ep;
	FsDdbReq   *reqs;
	int			nreqs;
	int			in_flight;
	int			done;
	char	   *url;
	char	   *sigv4;
	MemoryContext result_cxt;	/* where responses and messages go */
	int			cap;			/* requests in flight at most */
} FsDdbRun;

static bool curl_initialized = false;
static CURLM *ddb_multi = NULL;
static CURL *easy_pool[FS_DDB_POOL_MAX];
static int	easy_pool_len = 0;
static FsDdbRun *active_run = NULL;

static void ddb_proc_exit(int code, Datum arg);
static CURLM *ddb_get_multi(void);
static CURL *ddb_get_easy(void);
static void ddb_release_easy(CURL *easy);
static size_t ddb_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata);
static void ddb_start(FsDdbRun *run, FsDdbReq *req);
static void ddb_detach(FsDdbRun *run, FsDdbReq *req);
static void ddb_abandon(FsDdbRun *run, FsDdbReq *req);
static void ddb_expire(FsDdbRun *run);
static void ddb_finish(FsDdbRun *run, FsDdbReq *req, CURLcode result);
static void ddb_cleanup_run(FsDdbRun *run);
static void ddb_drive(FsDdbRun *run);
static bool is_throttling(const char *error_type);
static bool is_write(const char *operation);
static double backoff_ms(int attempt);
static double now_ms(void);

/* Initialize libcurl once per process; called from _PG_init. */
void
fs_ddb_init(void)
{
	if (curl_initialized)
		return;
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not initialize libcurl")));
	curl_initialized = true;
}

/*
 * Release every handle at process exit.  Registered when the multi handle is
 * created, so it belongs to the process that owns the handles (a postmaster
 * child forgets the callbacks it inherited).
 */
static void
ddb_proc_exit(int code, Datum arg)
{
	/* A FATAL error skips PG_FINALLY: detach what is still running. */
	if (active_run != NULL)
	{
		for (int i = 0; i < active_run->nreqs; i++)
		{
			FsDdbReq   *req = &active_run->reqs[i];

			if (req->state == REQ_RUNNING && req->easy != NULL)
			{
				curl_multi_remove_handle(ddb_multi, req->easy);
				curl_easy_cleanup(req->easy);
				req->easy = NULL;
			}
		}
		active_run = NULL;
	}
	while (easy_pool_len > 0)
		curl_easy_cleanup(easy_pool[--easy_pool_len]);
	if (ddb_multi != NULL)
	{
		curl_multi_cleanup(ddb_multi);
		ddb_multi = NULL;
	}
}

/* The backend's multi handle, created on first use. */
static CURLM *
ddb_get_multi(void)
{
	if (ddb_multi == NULL)
	{
		if (!curl_initialized)
			fs_ddb_init();
		ddb_multi = curl_multi_init();
		if (ddb_multi == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("could not create a libcurl multi handle")));
		on_proc_exit(ddb_proc_exit, (Datum) 0);
	}
	return ddb_multi;
}

/* An easy handle from the pool, or a new one. */
static CURL *
ddb_get_easy(void)
{
	CURL	   *easy;

	if (easy_pool_len > 0)
		return easy_pool[--easy_pool_len];
	easy = curl_easy_init();
	if (easy == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create a libcurl easy handle")));
	return easy;
}

/*
 * Return a detached easy handle to the pool.  Resetting drops every pointer
 * into our memory (error buffer, body, headers); the connection stays in the
 * multi handle's cache.
 */
static void
ddb_release_easy(CURL *easy)
{
	curl_easy_reset(easy);
	if (easy_pool_len < FS_DDB_POOL_MAX)
		easy_pool[easy_pool_len++] = easy;
	else
		curl_easy_cleanup(easy);
}

/* Append received bytes to a malloc'd buffer; 0 tells libcurl to abort. */
static size_t
ddb_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	FsDdbBuffer *buf = (FsDdbBuffer *) userdata;
	size_t		n = size * nmemb;

	/* max_response_size, and the palloc'd copy made later, bound the body. */
	if (n > buf->limit - buf->len)
	{
		buf->too_large = true;
		return CURL_WRITEFUNC_ERROR;
	}
	if (buf->len + n + 1 > buf->cap)
	{
		size_t		cap = buf->cap ? buf->cap : 4096;
		char	   *data;

		while (cap < buf->len + n + 1)
			cap *= 2;
		data = realloc(buf->data, cap);
		if (data == NULL)
			return CURL_WRITEFUNC_ERROR;
		buf->data = data;
		buf->cap = cap;
	}
	memcpy(buf->data + buf->len, ptr, n);
	buf->len += n;
	buf->data[buf->len] = '\0';
	return n;
}

/* Milliseconds on a monotonic clock. */
static double
now_ms(void)
{
	instr_time	t;

	INSTR_TIME_SET_CURRENT(t);
	return INSTR_TIME_GET_MILLISEC(t);
}

/* The monotonic clock of deadlines, for callers that set one. */
double
fs_ddb_now_ms(void)
{
	return now_ms();
}

/* Full-jitter backoff before retry 'attempt' (1, 2, ...). */
static double
backoff_ms(int attempt)
{
	double		ceiling = FS_DDB_BACKOFF_BASE_MS;

	for (int i = 0; i < attempt && ceiling < FS_DDB_BACKOFF_CAP_MS; i++)
		ceiling *= 2;
	if (ceiling > FS_DDB_BACKOFF_CAP_MS)
		ceiling = FS_DDB_BACKOFF_CAP_MS;
	return pg_prng_double(&pg_global_prng_state) * ceiling;
}

/* The error types that mean "slow down", retried with backoff. */
static bool
is_throttling(const char *error_type)
{
	return error_type != NULL &&
		(strcmp(error_type, "ProvisionedThroughputExceededException") == 0 ||
		 strcmp(error_type, "ThrottlingException") == 0 ||
		 strcmp(error_type, "RequestLimitExceeded") == 0);
}

/*
 * The operations whose answer is small whatever they write: a run of these
 * only may keep more requests in flight (max_write_connections), since the
 * memory of the answers, which max_connections bounds for reads, is no
 * concern.  A request of a write is at most DynamoDB's 16 MB of a
 * BatchWriteItem, and that body is the caller's, built before the run.
 */
static bool
is_write(const char *operation)
{
	return operation != NULL &&
		(strcmp(operation, "PutItem") == 0 ||
		 strcmp(operation, "UpdateItem") == 0 ||
		 strcmp(operation, "DeleteItem") == 0 ||
		 strcmp(operation, "BatchWriteItem") == 0);
}

/* Attach one request to the multi handle. */
static void
ddb_start(FsDdbRun *run, FsDdbReq *req)
{
	FsDdbEndpoint *ep = run->ep;
	FsDdbCall  *call = req->call;
	CURL	   *easy;
	char	   *target;
	CURLMcode	mc;

	/* Build the headers first: psprintf may raise, nothing is attached yet. */
	target = psprintf("X-Amz-Target: DynamoDB_20120810.%s", call->operation);
	req->headers = curl_slist_append(NULL, "Content-Type: application/x-amz-json-1.0");
	if (req->headers != NULL)
		req->headers = curl_slist_append(req->headers, target);
	if (req->headers != NULL)
		req->headers = curl_slist_append(req->headers, "Expect:");
	if (req->headers != NULL && ep->session_token != NULL && ep->session_token[0] != '\0')
	{
		char	   *token = psprintf("x-amz-security-token: %s", ep->session_token);

		req->headers = curl_slist_append(req->headers, token);
		pfree(token);
	}
	pfree(target);
	if (req->headers == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));

	easy = ddb_get_easy();
	req->easy = easy;
	req->buf.data = NULL;
	req->buf.len = req->buf.cap = 0;
	req->buf.limit = Min((size_t) ep->max_response_kb * 1024, MaxAllocSize - 1);
	req->buf.too_large = false;
	req->errbuf[0] = '\0';

	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, req);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, req->errbuf);
	curl_easy_setopt(easy, CURLOPT_URL, run->url);
	curl_easy_setopt(easy, CURLOPT_POST, 1L);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, call->body);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) call->body_len);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, req->headers);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, ddb_write_cb);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &req->buf);
	/* An answer that announces its size is refused before its body comes. */
	curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) req->buf.limit);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long) Max(ep->connect_timeout_ms, 1));
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long) Max(ep->request_timeout_ms, 1));
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	if (run->sigv4 != NULL)
	{
		curl_easy_setopt(easy, CURLOPT_AWS_SIGV4, run->sigv4);
		curl_easy_setopt(easy, CURLOPT_USERNAME, ep->access_key_id);
		curl_easy_setopt(easy, CURLOPT_PASSWORD,
						 ep->secret_access_key ? ep->secret_access_key : "");
	}

	mc = curl_multi_add_handle(ddb_multi, easy);
	if (mc != CURLM_OK)
	{
		req->easy = NULL;
		ddb_release_easy(easy);
		curl_slist_free_all(req->headers);
		req->headers = NULL;
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not start a DynamoDB request"),
				 errdetail_log("%s", curl_multi_strerror(mc))));
	}

	req->state = REQ_RUNNING;
	run->in_flight++;
	call->attempts++;
	fs_ddb_stats.requests++;
	if (run->in_flight > fs_ddb_stats.peak_in_flight)
		fs_ddb_stats.peak_in_flight = run->in_flight;
}

/* Detach a running request and free what libcurl wrote; never raises. */
static void
ddb_detach(FsDdbRun *run, FsDdbReq *req)
{
	if (req->easy != NULL)
	{
		curl_multi_remove_handle(ddb_multi, req->easy);
		ddb_release_easy(req->easy);
		req->easy = NULL;
		run->in_flight--;
	}
	if (req->headers != NULL)
	{
		curl_slist_free_all(req->headers);
		req->headers = NULL;
	}
	free(req->buf.data);
	req->buf.data = NULL;
	req->buf.len = req->buf.cap = 0;
}

/*
 * Detach a request whose answer may be half-read, and close its connection
 * rather than return it to the cache: the rest of that answer must never be
 * taken for the answer to a later request.  Never raises.
 */
static void
ddb_abandon(FsDdbRun *run, FsDdbReq *req)
{
	if (req->easy != NULL)
	{
		curl_easy_setopt(req->easy, CURLOPT_FORBID_REUSE, 1L);
		curl_multi_remove_handle(ddb_multi, req->easy);
		curl_easy_cleanup(req->easy);
		req->easy = NULL;
		run->in_flight--;
	}
	ddb_detach(run, req);
}

/* Record a failure in the call; the strings go to the result context. */
static void
ddb_set_error(FsDdbRun *run, FsDdbCall *call, const char *type, const char *message)
{
	MemoryContext old = MemoryContextSwitchTo(run->result_cxt);

	if (call->error_type)
		pfree(call->error_type);
	if (call->error_message)
		pfree(call->error_message);
	call->error_type = pstrdup(type);
	call->error_message = pstrdup(message ? message : "");
	MemoryContextSwitchTo(old);
}

/*
 * Decide the outcome of a finished request: done (OK or FAILED), or back to
 * REQ_WAITING for a retry after a backoff.
 */
static void
ddb_finish(FsDdbRun *run, FsDdbReq *req, CURLcode result)
{
	FsDdbCall  *call = req->call;
	long		http_status = 0;
	bool		retryable = false;
	bool		connected = true;
	char		errbuf[CURL_ERROR_SIZE];
	MemoryContext old;

	curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &http_status);
	if (result != CURLE_OK)
	{
		curl_off_t	pretransfer = 0;

		curl_easy_getinfo(req->easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
		connected = pretransfer > 0;
	}
	strlcpy(errbuf, req->errbuf[0] ? req->errbuf : curl_easy_strerror(result),
			sizeof(errbuf));

	/* Keep any HTTP body, palloc'd, then let go of the libcurl side. */
	old = MemoryContextSwitchTo(run->result_cxt);
	if (call->response)
		pfree(call->response);
	call->response = NULL;
	call->response_len = 0;
	if (result == CURLE_OK)
	{
		/* NUL-terminated, and padded for the parser (json_doc.h). */
		call->response = palloc(req->buf.len + FS_JSON_PADDING);
		if (req->buf.len > 0)
			memcpy(call->response, req->buf.data, req->buf.len);
		memset(call->response + req->buf.len, 0, FS_JSON_PADDING);
		call->response_len = req->buf.len;
	}
	MemoryContextSwitchTo(old);
	ddb_detach(run, req);

	call->http_status = result == CURLE_OK ? http_status : 0;

	if (result != CURLE_OK)
	{
		switch (result)
		{
			case CURLE_COULDNT_RESOLVE_PROXY:
			case CURLE_COULDNT_RESOLVE_HOST:
			case CURLE_COULDNT_CONNECT:
			case CURLE_SSL_CONNECT_ERROR:
			case CURLE_PEER_FAILED_VERIFICATION:
				/* The store could not be reached. */
				ddb_set_error(run, call, "ConnectionFailed", errbuf);
				break;
			case CURLE_OPERATION_TIMEDOUT:
				/* A connect timeout is a failure to connect. */
				ddb_set_error(run, call, connected ? "Timeout" : "ConnectionFailed", errbuf);
				break;
			case CURLE_SEND_ERROR:
			case CURLE_RECV_ERROR:
			case CURLE_GOT_NOTHING:
			case CURLE_PARTIAL_FILE:
				/* The connection broke mid-request: worth another try. */
				ddb_set_error(run, call, "ConnectionFailed", errbuf);
				retryable = connected;
				break;
			case CURLE_FILESIZE_EXCEEDED:
			case CURLE_WRITE_ERROR:
				if (result == CURLE_FILESIZE_EXCEEDED || req->buf.too_large)
				{
					char	   *what = psprintf("the answer is larger than %d kB.",
												run->ep->max_response_kb);

					ddb_set_error(run, call, "ResponseTooLarge", what);
					pfree(what);
				}
				else
					ddb_set_error(run, call, "ResponseRefused", errbuf);
				break;
			case CURLE_OUT_OF_MEMORY:
				/* libcurl refuses a header beyond its limit this way too. */
				ddb_set_error(run, call, "ResponseRefused", errbuf);
				break;
			case CURLE_WEIRD_SERVER_REPLY:
			case CURLE_BAD_CONTENT_ENCODING:
			case CURLE_UNSUPPORTED_PROTOCOL:
				ddb_set_error(run, call, "InvalidResponse", errbuf);
				break;
			default:
				{
					char	   *what = psprintf("libcurl error %d: %s", (int) result, errbuf);

					ddb_set_error(run, call, "TransportError", what);
					pfree(what);
				}
				break;
		}
	}
	else if (http_status == 200)
	{
		call->status = FS_DDB_OK;
		if (call->error_type)
			pfree(call->error_type);
		if (call->error_message)
			pfree(call->error_message);
		call->error_type = call->error_message = NULL;
		call->transient = false;
	}
	else
	{
		json_t	   *root;
		json_error_t jerr;
		const char *type = NULL;
		const char *message = NULL;

		root = json_loadb(call->response, call->response_len, 0, &jerr);
		if (root != NULL && json_is_object(root))
		{
			json_t	   *t = json_object_get(root, "__type");
			json_t	   *m = json_object_get(root, "message");

			if (m == NULL || !json_is_string(m))
				m = json_object_get(root, "Message");
			if (t != NULL && json_is_string(t))
			{
				const char *hash;

				type = json_string_value(t);
				hash = strrchr(type, '#');
				if (hash != NULL)
					type = hash + 1;
			}
			if (m != NULL && json_is_string(m))
				message = json_string_value(m);
		}

		if (type != NULL && type[0] != '\0')
			ddb_set_error(run, call, type, message);
		else
		{
			char	   *msg = psprintf("HTTP status %ld with a body that is not a DynamoDB error",
									   http_status);

			ddb_set_error(run, call, "InvalidResponse", msg);
			pfree(msg);
		}
		if (root != NULL)
			json_decref(root);

		if (is_throttling(call->error_type))
		{
			call->throttles++;
			fs_ddb_stats.throttles++;
			retryable = true;
		}
		else if (http_status >= 500 && http_status <= 599)
			retryable = true;
	}

	if (call->status == FS_DDB_OK)
	{
		req->state = REQ_DONE;
		run->done++;
	}
	else if (retryable && req->retries < run->ep->max_retries)
	{
		req->retries++;
		fs_ddb_stats.retries++;
		req->state = REQ_WAITING;
		req->due_ms = now_ms() + backoff_ms(req->retries);
	}
	else
	{
		call->status = FS_DDB_FAILED;
		call->transient = retryable;
		req->state = REQ_DONE;
		run->done++;
	}
}

/* Abandon everything still attached; safe to call more than once. */
static void
ddb_cleanup_run(FsDdbRun *run)
{
	for (int i = 0; i < run->nreqs; i++)
		ddb_abandon(run, &run->reqs[i]);
	run->in_flight = 0;
	if (active_run == run)
		active_run = NULL;
}

/*
 * The deadline has passed: abandon what is in flight, and give every call
 * without an outcome one (expired), then tell each caller.  All are detached
 * before the first on_done runs, since it may raise.
 */
static void
ddb_expire(FsDdbRun *run)
{
	for (int i = 0; i < run->nreqs; i++)
	{
		FsDdbReq   *req = &run->reqs[i];

		if (req->state == REQ_DONE)
			continue;
		ddb_abandon(run, req);
		ddb_set_error(run, req->call, "DeadlineExceeded",
					  "the store did not answer before the deadline.");
		req->call->status = FS_DDB_FAILED;
		req->call->expired = true;
		req->call->transient = false;
		req->state = REQ_DONE;
		run->done++;
	}
	for (int i = 0; i < run->nreqs; i++)
	{
		FsDdbCall  *call = run->reqs[i].call;

		if (call->expired && call->on_done != NULL)
			call->on_done(call);
	}
}

/* Send, wait, retry until every request is done or the deadline passes. */
static void
ddb_drive(FsDdbRun *run)
{
	int			cap = Max(run->cap, 1);
	double		deadline = run->ep->deadline;

	while (run->done < run->nreqs)
	{
		double		now = now_ms();
		double		next_due = -1;
		int			running;
		int			finished = 0;
		long		timeout;
		CURLMsg    *msg;
		int			left;
		CURLMcode	mc;

		/* Past the deadline nothing starts, and nothing is waited for. */
		if (deadline > 0 && now >= deadline)
		{
			ddb_expire(run);
			break;
		}

		/* Start what is due, up to the cap. */
		for (int i = 0; i < run->nreqs; i++)
		{
			FsDdbReq   *req = &run->reqs[i];

			if (req->state != REQ_WAITING)
				continue;
			if (req->due_ms <= now)
			{
				/* Due requests beyond the cap wait for a completion. */
				if (run->in_flight < cap)
					ddb_start(run, req);
			}
			else if (next_due < 0 || req->due_ms < next_due)
				next_due = req->due_ms;
		}

		if (run->in_flight > 0)
		{
			mc = curl_multi_perform(ddb_multi, &running);
			if (mc != CURLM_OK)
				ereport(ERROR,
						(errcode(ERRCODE_INTERNAL_ERROR),
						 errmsg("DynamoDB requests failed"),
						 errdetail_log("%s", curl_multi_strerror(mc))));
			while ((msg = curl_multi_info_read(ddb_multi, &left)) != NULL)
			{
				char	   *priv = NULL;
				FsDdbReq   *req;

				if (msg->msg != CURLMSG_DONE)
					continue;
				curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
				req = (FsDdbReq *) priv;
				ddb_finish(run, req, msg->data.result);
				finished++;
				if (req->state == REQ_DONE && req->call->on_done != NULL)
					req->call->on_done(req->call);
			}
			/* Completions free slots or schedule retries: look again first. */
			if (finished > 0)
				continue;
		}

		timeout = FS_DDB_SLICE_MS;
		if (next_due >= 0)
		{
			double		until = next_due - now_ms();

			if (until < timeout)
				timeout = until > 0 ? (long) until + 1 : 0;
		}
		if (deadline > 0)
		{
			double		until = deadline - now_ms();

			if (until < timeout)
				timeout = until > 0 ? (long) until + 1 : 0;
		}

		if (run->in_flight > 0)
		{
			pgstat_report_wait_start(PG_WAIT_EXTENSION);
			mc = curl_multi_poll(ddb_multi, NULL, 0, (int) timeout, NULL);
			pgstat_report_wait_end();
			if (mc != CURLM_OK)
				ereport(ERROR,
						(errcode(ERRCODE_INTERNAL_ERROR),
						 errmsg("DynamoDB requests failed"),
						 errdetail_log("%s", curl_multi_strerror(mc))));
		}
		else if (timeout > 0)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 timeout, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
		CHECK_FOR_INTERRUPTS();
	}
}


/*
 * The cache forgets the keys the calls wrote (or may have written: a call
 * that failed or timed out may have reached the store).
 */
static void
forget_written(FsDdbEndpoint *ep, FsDdbCall **calls, int n)
{
	for (int i = 0; i < n; i++)
	{
		ListCell   *lc;

		if (calls[i]->forget_table == NULL)
			continue;
		foreach(lc, calls[i]->forget_keys)
		{
			FsBytesKey *k = lfirst(lc);

			fs_cache_invalidate(ep->serverid, calls[i]->forget_table, k->ptr, k->len);
		}
	}
}

/*
 * Send calls concurrently and wait until each has an outcome.  Responses and
 * error strings are allocated in the caller's memory context.
 */
void
fs_ddb_run(FsDdbEndpoint *ep, FsDdbCall **calls, int ncalls)
{
	FsDdbRun   *run;
	double		start = now_ms();
	size_t		urllen;
	bool		writes_only = true;
	int			cap;

	if (ncalls <= 0)
		return;
	if (active_run != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a request to a DynamoDB-compatible store cannot start while another is under way"),
				 errhint("A domain check or input function of a column read from an fs_dynamodb table must not itself read an fs_dynamodb table.")));

	for (int i = 0; i < ncalls && writes_only; i++)
		writes_only = is_write(calls[i]->operation);
	cap = Max(writes_only ? ep->max_write_connections : ep->max_connections, 1);

	ddb_get_multi();
	curl_multi_setopt(ddb_multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long) cap);

	/*
	 * Keep as many idle connections as either kind of run may use at once:
	 * fs_ingest reads a chunk and then writes it, and a cache sized for the
	 * reads would close most of the writes' connections at every chunk, to
	 * open them again (a TLS handshake each, against DynamoDB).  An idle
	 * connection holds no answer, so this costs sockets, not memory.
	 */
	curl_multi_setopt(ddb_multi, CURLMOPT_MAXCONNECTS,
					  (long) Max(Max(ep->max_connections, ep->max_write_connections), 1));

	run = palloc0(sizeof(FsDdbRun));
	run->ep = ep;
	run->cap = cap;
	run->result_cxt = CurrentMemoryContext;
	run->nreqs = ncalls;
	run->reqs = palloc0(sizeof(FsDdbReq) * ncalls);
	urllen = strlen(ep->endpoint);
	run->url = (urllen > 0 && ep->endpoint[urllen - 1] == '/') ?
		pstrdup(ep->endpoint) : psprintf("%s/", ep->endpoint);
	if (ep->access_key_id != NULL && ep->access_key_id[0] != '\0')
		run->sigv4 = psprintf("aws:amz:%s:dynamodb",
							  ep->region ? ep->region : "us-east-1");

	for (int i = 0; i < ncalls; i++)
	{
		FsDdbCall  *call = calls[i];

		call->status = FS_DDB_PENDING;
		call->auth_hint = ep->auth_hint;
		call->http_status = 0;
		call->response = NULL;
		call->response_len = 0;
		call->error_type = NULL;
		call->error_message = NULL;
		call->transient = false;
		call->expired = false;
		call->attempts = 0;
		call->throttles = 0;
		run->reqs[i].call = call;
		run->reqs[i].state = REQ_WAITING;
	}

	active_run = run;
	PG_TRY();
	{
		ddb_drive(run);
	}
	PG_FINALLY();
	{
		ddb_cleanup_run(run);
		fs_ddb_stats.wait_ms += now_ms() - start;
		forget_written(ep, calls, ncalls);
	}
	PG_END_TRY();

	pfree(run->reqs);
	pfree(run->url);
	if (run->sigv4)
		pfree(run->sigv4);
	pfree(run);
}

/* Raise the failure of a call as an ERROR with a deliberate SQLSTATE. */
void
fs_ddb_raise(FsDdbCall *call)
{
	const char *type = call->error_type ? call->error_type : "UnknownError";
	const char *message = call->error_message ? call->error_message : "";
	const char *op = call->operation ? call->operation : "?";

	if (strcmp(type, "ConnectionFailed") == 0 && !call->transient)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("DynamoDB %s request failed", op),
				 errdetail("ConnectionFailed: could not connect to the store."),
				 errdetail_log("ConnectionFailed: %s", message),
				 errhint("Check the server's endpoint option and that the store is running.")));
	if (strcmp(type, "ConnectionFailed") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("DynamoDB %s request failed", op),
				 errdetail("ConnectionFailed: the connection to the store broke during the request."),
				 errdetail_log("ConnectionFailed: %s", message)));
	if (strcmp(type, "ResponseTooLarge") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("DynamoDB %s request failed", op),
				 errdetail("ResponseTooLarge: %s", message),
				 errhint("The limit is the server option max_response_size or feature_store.max_response_size.")));
	if (strcmp(type, "ResponseRefused") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("DynamoDB %s request failed", op),
				 errdetail("ResponseRefused: the HTTP client refused the answer (a header beyond its limit, or no memory for it)."),
				 errdetail_log("ResponseRefused: %s", message)));
	if (strcmp(type, "TransportError") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("DynamoDB %s request failed", op),
				 errdetail("TransportError: the HTTP client failed."),
				 errdetail_log("TransportError: %s", message)));
	if (strcmp(type, "Timeout") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("DynamoDB %s request failed", op),
				 errdetail("Timeout: the store did not answer in time."),
				 errdetail_log("Timeout: %s", message),
				 errhint("The limit is the server option request_timeout_ms or feature_store.request_timeout_ms.")));
	if (call->transient)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("DynamoDB %s request failed", op),
				 errdetail("%s: %s", type, message),
				 errhint("The request was retried %d times; raise the server option max_retries "
						 "or feature_store.max_retries, or the table's capacity.",
						 Max(call->attempts - 1, 0))));
	if (strcmp(type, "ResourceNotFoundException") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
				 errmsg("DynamoDB %s request failed", op),
				 errdetail("%s: %s", type, message)));
	if (strcmp(type, "UnrecognizedClientException") == 0 ||
		strcmp(type, "InvalidSignatureException") == 0 ||
		strcmp(type, "MissingAuthenticationToken") == 0 ||
		strcmp(type, "MissingAuthenticationTokenException") == 0 ||
		strcmp(type, "IncompleteSignatureException") == 0 ||
		strcmp(type, "ExpiredTokenException") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("DynamoDB %s request failed", op),
				 errdetail("%s: %s", type, message),
				 call->auth_hint ? errhint("%s", call->auth_hint)
				 : errhint("Check the user mapping's access_key_id, secret_access_key and session_token.")));
	if (strcmp(type, "AccessDeniedException") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("DynamoDB %s request failed", op),
				 errdetail("%s: %s", type, message)));
	if (strcmp(type, "InvalidResponse") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("DynamoDB %s request failed", op),
				 errdetail("%s: %s", type, message)));
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("DynamoDB %s request failed", op),
			 errdetail("%s: %s", type, message)));
}

/* Sleep before retry round 'attempt' (1, 2, ...): full jitter, interruptible. */
void
fs_ddb_backoff(int attempt)
{
	(void) fs_ddb_backoff_until(attempt, 0);
}

/*
 * Sleep before retry round 'attempt', unless the sleep would end past
 * deadline (0: none): then return false at once, since the round could not
 * begin in time.
 */
bool
fs_ddb_backoff_until(int attempt, double deadline)
{
	double		until = now_ms() + backoff_ms(attempt);

	if (deadline > 0 && until >= deadline)
	{
		CHECK_FOR_INTERRUPTS();
		return false;
	}
	for (;;)
	{
		double		left = until - now_ms();

		if (left <= 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min((long) left + 1, FS_DDB_SLICE_MS), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	CHECK_FOR_INTERRUPTS();
	return true;
}
