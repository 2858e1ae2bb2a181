/*-------------------------------------------------------------------------
 *
 * stream_observer.c
 *		Streaming benchmark: how long a pushed value takes to be served.
 *
 * Runs beside the pushers of test/bench/run_stream.sh (pgbench with
 * stream_push.sql, which pushes to one feature view events carrying ts_us,
 * the push's clock, and push_xid, its transaction id).  From its own
 * connection it loops, every --interval-ms:
 *
 *	 1. reads the events queued since the last look (fs_stream_queue, by id),
 *		keeping one in --sample (id % sample = 0) of the view's, with the
 *		commit timestamp of the transaction that pushed each
 *		(pg_xact_commit_timestamp(push_xid): track_commit_timestamp = on);
 *	 2. serves the entities of the sampled events not yet seen served, the
 *		oldest first, at most --max-serve of them, with
 *		SELECT entity_id, value FROM fs_get_features(ids, '{VIEW:ts_us}');
 *	 3. marks served every pending event whose entity now serves a ts_us at
 *		least its own (its value, or a newer one that replaced it): its
 *		freshness is the time the answer arrived minus the push's commit.
 *
 * A second connection samples fs_stream_status every second (queue depth,
 * events flushed, the queue's id sequence as the count of pushes) without
 * holding up the loop (asynchronous libpq).
 *
 * The run script sends SIGUSR1 when the pushers have finished.  The observer
 * then goes on until every sampled event was served and the queue is empty,
 * or --drain-s has passed, and prints its figures: freshness percentiles
 * (an event never seen served counts as slower than any that was), the
 * queue's depth over the run, and one line "RESULT key=value ..." that the
 * run script collects.  It writes "ready" to --ready-file once connected.
 *
 * Events are seen in the queue only while they are there: an event flushed
 * and deleted between two looks is missed.  The figures say how many.
 *
 * Options: --view NAME (required), --sample N (100), --interval-ms N (10),
 * --max-serve N (100), --drain-s N (30), --rate N (5000, the offered rate,
 * for the queue's growth threshold), --ready-file PATH, --conninfo STR
 * (else the PG* variables).  Exits 1 on a connection or query error.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

/* A sampled push. */
typedef struct Push
{
	int64_t		id;				/* queue id */
	int64_t		entity;
	int64_t		ts_us;			/* the push's clock */
	int64_t		commit_us;		/* its commit, 0 if unknown */
	int64_t		served_us;		/* first seen served, 0 if not yet */
} Push;

/* A sample of fs_stream_status. */
typedef struct Depth
{
	double		t;				/* seconds since start */
	int64_t		depth;
	int64_t		flushed;
	int64_t		pushed;			/* the queue's id sequence */
	int64_t		failed;			/* failed flushes */
	int64_t		stale;			/* events a newer stored value beat */
	int64_t		rejected;		/* events set aside */
} Depth;

static volatile sig_atomic_t pushes_done = 0;

static const char *opt_view = NULL;
static int	opt_sample = 100;
static int	opt_interval_ms = 10;
static int	opt_max_serve = 100;
static int	opt_drain_s = 30;
static int	opt_rate = 5000;
static const char *opt_ready = NULL;
static const char *opt_conninfo = "";

static Push *pushes = NULL;
static int	npushes = 0;
static int	maxpushes = 0;
static int	first_pending = 0;	/* pushes before it are all served */

static Depth *depths = NULL;
static int	ndepths = 0;
static int	maxdepths = 0;

/* Print an error and exit 1. */
static void
die(const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "stream_observer: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

/* SIGUSR1: the pushers have finished. */
static void
on_usr1(int sig)
{
	(void) sig;
	pushes_done = 1;
}

/* Wall-clock microseconds since the epoch (the server's clock too). */
static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Sleep until wall-clock time t (microseconds), unless SIGUSR1 comes. */
static void
sleep_until_us(int64_t t)
{
	int64_t		d = t - now_us();

	if (d > 0)
	{
		struct timespec ts = {d / 1000000, (d % 1000000) * 1000};

		while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !pushes_done)
			;
	}
}

/* qsort order of int64_t values. */
static int
cmp_i64(const void *a, const void *b)
{
	int64_t		x = *(const int64_t *) a;
	int64_t		y = *(const int64_t *) b;

	return (x > y) - (x < y);
}

/* Return res if its command succeeded, else die naming what it was. */
static PGresult *
exec_ok(PGconn *conn, PGresult *res, const char *what)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
		die("%s: %s", what, PQerrorMessage(conn));
	return res;
}

/* Whether a sampled push with this id is already known (ids grow, mostly). */
static bool
known(int64_t id)
{
	for (int i = npushes - 1; i >= 0 && i >= npushes - 4096; i--)
		if (pushes[i].id == id)
			return true;
	return false;
}

/* Remember a sampled push, not yet served. */
static void
add_push(int64_t id, int64_t entity, int64_t ts_us, int64_t commit_us)
{
	if (npushes == maxpushes)
	{
		maxpushes = maxpushes ? maxpushes * 2 : 4096;
		pushes = realloc(pushes, sizeof(Push) * maxpushes);
		if (pushes == NULL)
			die("out of memory");
	}
	pushes[npushes].id = id;
	pushes[npushes].entity = entity;
	pushes[npushes].ts_us = ts_us;
	pushes[npushes].commit_us = commit_us;
	pushes[npushes].served_us = 0;
	npushes++;
}

/* The push's start: its commit if known, else its own clock (a little earlier). */
static int64_t
push_time(const Push *p)
{
	return p->commit_us ? p->commit_us : p->ts_us;
}

/* Nearest-rank percentile of sorted values, n > 0. */
static int64_t
pct(const int64_t *v, int n, double p)
{
	int			k = (int) (p / 100.0 * n + 0.999999);

	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

/* A freshness percentile in ms, or "> X" when it falls among the unserved. */
static void
fmt_pct(char *buf, size_t len, const int64_t *v, int n, double p, double limit_s)
{
	int64_t		x;

	if (n == 0)
	{
		snprintf(buf, len, "-");
		return;
	}
	x = pct(v, n, p);
	if (x == INT64_MAX)
		snprintf(buf, len, ">%.0f", limit_s * 1000);
	else
		snprintf(buf, len, "%.0f", x / 1000.0);
}

/* Parse the options, observe until the pushes are over and served, report. */
int
main(int argc, char **argv)
{
	PGconn	   *conn;
	PGconn	   *status_conn;
	PGresult   *res;
	char	   *schema;
	char		sql_queue[1024];
	char		sql_status[1024];
	char		ref[256];
	const char *params[4];
	char		p_recheck[2048];
	char		p_after[32];
	char		p_sample[32];
	int64_t		start_id;
	int64_t		max_id;
	int64_t		t0;
	int64_t		next_status;
	bool		status_busy = false;
	int64_t		push_end = 0;
	int64_t		drain_end = 0;
	int64_t	   *loop_us = NULL;
	int			nloops = 0;
	int			maxloops = 0;
	int64_t	   *serve_us = NULL;
	int			nserves = 0;
	int			maxserves = 0;
	int64_t		serve_ids_max = 0;
	int64_t		push_gets = 0;		/* BatchGetItem requests while pushing */
	int64_t		end_id = 0;
	bool		drained = false;
	int64_t		status_sent = 0;
	int64_t    *ents;
	int64_t    *slots;
	int			nslots = 1;
	struct sigaction sa;

	for (int i = 1; i < argc; i++)
	{
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

#define OPT(name) (strcmp(a, name) == 0 && v != NULL && (i++, true))
		if (OPT("--view"))
			opt_view = v;
		else if (OPT("--sample"))
			opt_sample = atoi(v);
		else if (OPT("--interval-ms"))
			opt_interval_ms = atoi(v);
		else if (OPT("--max-serve"))
			opt_max_serve = atoi(v);
		else if (OPT("--drain-s"))
			opt_drain_s = atoi(v);
		else if (OPT("--rate"))
			opt_rate = atoi(v);
		else if (OPT("--ready-file"))
			opt_ready = v;
		else if (OPT("--conninfo"))
			opt_conninfo = v;
		else
			die("unknown option or missing value: %s (see the file's header)", a);
#undef OPT
	}
	if (opt_view == NULL || opt_sample < 1 || opt_interval_ms < 1 || opt_max_serve < 1 ||
		opt_drain_s < 0 || opt_rate < 1)
		die("usage: stream_observer --view NAME [--sample N] [--interval-ms N] [--max-serve N] "
			"[--drain-s N] [--rate N] [--ready-file PATH] [--conninfo STR]");

	while (nslots < 2 * opt_max_serve)
		nslots *= 2;
	ents = malloc(sizeof(int64_t) * opt_max_serve);
	slots = malloc(sizeof(int64_t) * nslots);
	if (ents == NULL || slots == NULL)
		die("out of memory");

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);

	conn = PQconnectdb(opt_conninfo);
	status_conn = PQconnectdb(opt_conninfo);
	if (PQstatus(conn) != CONNECTION_OK || PQstatus(status_conn) != CONNECTION_OK)
		die("cannot connect: %s", PQerrorMessage(PQstatus(conn) != CONNECTION_OK ? conn : status_conn));
	PQclear(exec_ok(conn, PQexec(conn, "SET jit = off"), "SET"));
	PQclear(exec_ok(conn, PQexec(conn, "SET application_name = 'fs_bench_stream_observer'"), "SET"));

	res = exec_ok(conn, PQexec(conn,
							   "SELECT quote_ident(n.nspname) FROM pg_extension e "
							   "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'feature_store'"),
				  "finding the extension");
	if (PQntuples(res) != 1)
		die("feature_store is not installed in this database");
	schema = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	res = exec_ok(conn, PQexec(conn, "SHOW track_commit_timestamp"), "SHOW");
	if (strcmp(PQgetvalue(res, 0, 0), "on") != 0)
		fprintf(stderr, "stream_observer: track_commit_timestamp is off: freshness counts from the push's clock\n");
	PQclear(res);

	/*
	 * The queue since the last look, and the sampled ids of the last 2,000
	 * not seen yet: ids are taken before their transactions commit, and
	 * commits are not in id order.
	 */
	snprintf(sql_queue, sizeof(sql_queue),
			 "SELECT id, entity_id, (features->>'ts_us')::int8, "
			 "coalesce((extract(epoch FROM pg_xact_commit_timestamp((features->>'push_xid')::xid)) * 1000000)::int8, 0) "
			 "FROM %s.fs_stream_queue WHERE (id > $1 OR id = ANY ($4::int8[])) AND id %% $2 = 0 "
			 "AND feature_view = $3 ORDER BY id",
			 schema);
	res = exec_ok(conn, PQprepare(conn, "queue", sql_queue, 4, NULL), "PREPARE queue");
	PQclear(res);
	res = exec_ok(conn, PQprepare(conn, "serve",
								  "SELECT entity_id, value FROM fs_get_features($1::text[], $2::text[])", 2, NULL),
				  "PREPARE serve");
	PQclear(res);
	snprintf(sql_status, sizeof(sql_status),
			 "SELECT s.queue_depth, s.events_flushed, s.failed_flushes, q.last_value, "
			 "s.events_stale, s.events_rejected "
			 "FROM %1$s.fs_stream_status s, %1$s.fs_stream_queue_id_seq q", schema);
	snprintf(ref, sizeof(ref), "{\"%s:ts_us\"}", opt_view);

	res = exec_ok(conn, PQexec(conn, "SELECT last_value FROM fs_stream_queue_id_seq"), "reading the queue's sequence");
	start_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	max_id = start_id;

	if (opt_ready)
	{
		FILE	   *f = fopen(opt_ready, "w");

		if (f == NULL || fprintf(f, "ready\n") < 0 || fclose(f) != 0)
			die("cannot write %s", opt_ready);
	}

	t0 = now_us();
	next_status = t0;
	snprintf(p_sample, sizeof(p_sample), "%d", opt_sample);
	for (;;)
	{
		int64_t		loop_start = now_us();
		int			nents = 0;

		if (pushes_done && push_end == 0)
		{
			push_end = loop_start;
			drain_end = push_end + (int64_t) opt_drain_s * 1000000;
		}

		/* Once a second, fs_stream_status, without waiting for it. */
		if (status_busy)
		{
			if (!PQconsumeInput(status_conn))
				die("status: %s", PQerrorMessage(status_conn));
			if (!PQisBusy(status_conn))
			{
				while ((res = PQgetResult(status_conn)) != NULL)
				{
					exec_ok(status_conn, res, "fs_stream_status");
					if (PQntuples(res) == 1)
					{
						Depth	   *d;

						if (ndepths == maxdepths)
						{
							maxdepths = maxdepths ? maxdepths * 2 : 256;
							depths = realloc(depths, sizeof(Depth) * maxdepths);
							if (depths == NULL)
								die("out of memory");
						}
						d = &depths[ndepths++];
						d->t = (status_sent - t0) / 1e6;
						d->depth = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
						d->flushed = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
						d->failed = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
						d->stale = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
						d->rejected = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
						d->pushed = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
					}
					PQclear(res);
				}
				status_busy = false;
			}
		}
		if (!status_busy && loop_start >= next_status)
		{
			if (!PQsendQuery(status_conn, sql_status))
				die("status: %s", PQerrorMessage(status_conn));
			status_busy = true;
			status_sent = loop_start;
			next_status = next_status + 1000000 > loop_start ? next_status + 1000000 : loop_start + 1000000;
		}

		/* 1. What was queued since the last look. */
		snprintf(p_after, sizeof(p_after), "%" PRId64, max_id);
		{
			char	   *p = p_recheck;
			int64_t		from = max_id - 2000 > start_id ? max_id - 2000 : start_id;
			int			n = 0;

			*p++ = '{';
			for (int64_t id = (from / opt_sample + 1) * opt_sample; id <= max_id && n < 64; id += opt_sample)
				if (!known(id))
					p += sprintf(p, "%s%" PRId64, n++ ? "," : "", id);
			*p++ = '}';
			*p = '\0';
		}
		params[0] = p_after;
		params[1] = p_sample;
		params[2] = opt_view;
		params[3] = p_recheck;
		res = exec_ok(conn, PQexecPrepared(conn, "queue", 4, params, NULL, NULL, 0), "reading the queue");
		for (int i = 0; i < PQntuples(res); i++)
		{
			int64_t		id = strtoll(PQgetvalue(res, i, 0), NULL, 10);

			if (id > max_id)
				max_id = id;
			if (known(id))
				continue;
			add_push(id, strtoll(PQgetvalue(res, i, 1), NULL, 10),
					 strtoll(PQgetvalue(res, i, 2), NULL, 10),
					 strtoll(PQgetvalue(res, i, 3), NULL, 10));
		}
		PQclear(res);

		/* 2. Serve the pending entities, oldest first, each once. */
		while (first_pending < npushes && pushes[first_pending].served_us != 0)
			first_pending++;
		memset(slots, 0, sizeof(int64_t) * nslots);
		for (int i = first_pending; i < npushes && nents < opt_max_serve; i++)
		{
			uint64_t	h = (uint64_t) pushes[i].entity * UINT64_C(0x9E3779B97F4A7C15);
			int			s = (int) (h >> 40) & (nslots - 1);

			if (pushes[i].served_us != 0)
				continue;
			/* Entity ids are >= 1, so 0 marks a free slot. */
			while (slots[s] != 0 && slots[s] != pushes[i].entity)
				s = (s + 1) & (nslots - 1);
			if (slots[s] != 0)
				continue;
			slots[s] = pushes[i].entity;
			ents[nents++] = pushes[i].entity;
		}
		if (nents > 0)
		{
			char	   *arr = malloc((size_t) nents * 24 + 3);
			char	   *p = arr;
			int64_t		t_call;
			int64_t		t_done;
			int64_t    *served;	/* pairs entity, ts_us, sorted by entity */
			int			nserved = 0;

			if (arr == NULL)
				die("out of memory");
			*p++ = '{';
			for (int i = 0; i < nents; i++)
				p += sprintf(p, "%s%" PRId64, i ? "," : "", ents[i]);
			*p++ = '}';
			*p = '\0';
			params[0] = arr;
			params[1] = ref;
			t_call = now_us();
			res = exec_ok(conn, PQexecPrepared(conn, "serve", 2, params, NULL, NULL, 0), "fs_get_features");
			t_done = now_us();
			free(arr);
			if (nserves == maxserves)
			{
				maxserves = maxserves ? maxserves * 2 : 4096;
				serve_us = realloc(serve_us, sizeof(int64_t) * maxserves);
				if (serve_us == NULL)
					die("out of memory");
			}
			serve_us[nserves++] = t_done - t_call;
			if (push_end == 0)
				push_gets += (nents + 99) / 100;
			if (nents > serve_ids_max)
				serve_ids_max = nents;

			/* 3. Pending pushes now served (their value or a newer one). */
			served = malloc(sizeof(int64_t) * 2 * (PQntuples(res) + 1));
			if (served == NULL)
				die("out of memory");
			for (int i = 0; i < PQntuples(res); i++)
			{
				if (PQgetisnull(res, i, 1))
					continue;
				served[2 * nserved] = strtoll(PQgetvalue(res, i, 0), NULL, 10);
				served[2 * nserved + 1] = strtoll(PQgetvalue(res, i, 1), NULL, 10);
				nserved++;
			}
			PQclear(res);
			qsort(served, nserved, 2 * sizeof(int64_t), cmp_i64);
			for (int i = first_pending; i < npushes; i++)
			{
				int			lo = 0,
							hi = nserved - 1;

				if (pushes[i].served_us != 0)
					continue;
				while (lo <= hi)
				{
					int			mid = (lo + hi) / 2;

					if (served[2 * mid] < pushes[i].entity)
						lo = mid + 1;
					else if (served[2 * mid] > pushes[i].entity)
						hi = mid - 1;
					else
					{
						if (served[2 * mid + 1] >= pushes[i].ts_us)
							pushes[i].served_us = t_done;
						break;
					}
				}
			}
			free(served);
		}

		if (nloops == maxloops)
		{
			maxloops = maxloops ? maxloops * 2 : 8192;
			loop_us = realloc(loop_us, sizeof(int64_t) * maxloops);
			if (loop_us == NULL)
				die("out of memory");
		}
		loop_us[nloops++] = now_us() - loop_start;

		/* Done: pushes over, every sampled push served, the queue empty. */
		if (push_end != 0)
		{
			bool		all_served = true;

			for (int i = first_pending; i < npushes; i++)
				if (pushes[i].served_us == 0)
					all_served = false;
			if (end_id == 0 && ndepths > 0 && depths[ndepths - 1].t * 1e6 + t0 > push_end)
				end_id = depths[ndepths - 1].pushed;
			if (all_served && ndepths > 0 && depths[ndepths - 1].depth == 0 &&
				depths[ndepths - 1].t * 1e6 + t0 > push_end)
			{
				drained = true;
				break;
			}
			if (now_us() >= drain_end)
				break;
		}
		sleep_until_us(loop_start + (int64_t) opt_interval_ms * 1000);
	}

	/* The figures. */
	{
		int64_t    *fresh = malloc(sizeof(int64_t) * (npushes + 1));
		int64_t    *fresh_clock = malloc(sizeof(int64_t) * (npushes + 1));
		int64_t    *gap = malloc(sizeof(int64_t) * (npushes + 1));
		int			nunserved = 0;
		int			ncommit = 0;
		int			ngap = 0;
		int64_t		expected = 0;
		double		push_s = (push_end - t0) / 1e6;
		double		last_t = push_s;
		int64_t		dmin = INT64_MAX,
					dmax = 0,
					dlast = 0;
		int64_t		lmin = INT64_MAX,
					lmax = 0;
		double		sx = 0,
					sy = 0,
					sxx = 0,
					sxy = 0;
		int			nlast = 0;
		double		syy = 0;
		double		slope = 0;
		double		slope_se = 0;
		bool		growth;
		double		threshold = opt_rate / 100.0;
		char		p50[32],
					p95[32],
					p99[32],
					c50[32],
					c95[32],
					c99[32];
		double		limit_s;
		int64_t		pushed_in_run = 0;
		int64_t		flushed_in_run = 0;
		double		drain_s = -1;

		if (fresh == NULL || fresh_clock == NULL || gap == NULL)
			die("out of memory");
		if (end_id == 0 && ndepths > 0)
			end_id = depths[ndepths - 1].pushed;
		limit_s = (drain_end - t0) / 1e6;
		for (int i = 0; i < npushes; i++)
		{
			if (pushes[i].served_us == 0)
			{
				fresh[i] = INT64_MAX;
				fresh_clock[i] = INT64_MAX;
				nunserved++;
			}
			else
			{
				fresh[i] = pushes[i].served_us - push_time(&pushes[i]);
				fresh_clock[i] = pushes[i].served_us - pushes[i].ts_us;
			}
			if (pushes[i].commit_us)
			{
				ncommit++;
				gap[ngap++] = pushes[i].commit_us - pushes[i].ts_us;
			}
		}
		qsort(fresh, npushes, sizeof(int64_t), cmp_i64);
		qsort(fresh_clock, npushes, sizeof(int64_t), cmp_i64);
		qsort(gap, ngap, sizeof(int64_t), cmp_i64);
		qsort(loop_us, nloops, sizeof(int64_t), cmp_i64);
		qsort(serve_us, nserves, sizeof(int64_t), cmp_i64);
		for (int64_t id = start_id + 1; id <= end_id; id++)
			if (id % opt_sample == 0)
				expected++;

		/* Unserved events count as slower than the run's end. */
		limit_s = limit_s - push_s;
		fmt_pct(p50, sizeof(p50), fresh, npushes, 50, limit_s);
		fmt_pct(p95, sizeof(p95), fresh, npushes, 95, limit_s);
		fmt_pct(p99, sizeof(p99), fresh, npushes, 99, limit_s);
		fmt_pct(c50, sizeof(c50), fresh_clock, npushes, 50, limit_s);
		fmt_pct(c95, sizeof(c95), fresh_clock, npushes, 95, limit_s);
		fmt_pct(c99, sizeof(c99), fresh_clock, npushes, 99, limit_s);

		/* The queue while the pushers ran, and its trend over the last 10 s. */
		for (int i = 0; i < ndepths; i++)
		{
			if (depths[i].t > push_s)
			{
				if (drain_s < 0 && depths[i].depth == 0)
					drain_s = depths[i].t - push_s;
				continue;
			}
			if (depths[i].depth < dmin)
				dmin = depths[i].depth;
			if (depths[i].depth > dmax)
				dmax = depths[i].depth;
			dlast = depths[i].depth;
			last_t = depths[i].t;
		}
		for (int i = 0; i < ndepths; i++)
		{
			if (depths[i].t > push_s || depths[i].t < last_t - 10.0 + 0.5)
				continue;
			if (depths[i].depth < lmin)
				lmin = depths[i].depth;
			if (depths[i].depth > lmax)
				lmax = depths[i].depth;
			sx += depths[i].t;
			sy += depths[i].depth;
			sxx += depths[i].t * depths[i].t;
			sxy += depths[i].t * depths[i].depth;
			syy += (double) depths[i].depth * depths[i].depth;
			nlast++;
		}

		/*
		 * Growing: the least-squares slope over the last 10 s, less twice
		 * its standard error, is above 1% of the offered rate.  A flush of
		 * thousands of events makes the depth a saw that one sample a
		 * second catches anywhere on a tooth; a queue that grows grows
		 * steadily, with a small error.
		 */
		if (nlast >= 3 && nlast * sxx - sx * sx > 0)
		{
			double		vxx = sxx - sx * sx / nlast;
			double		vyy = syy - sy * sy / nlast;
			double		rss;

			slope = (nlast * sxy - sx * sy) / (nlast * sxx - sx * sx);
			rss = vyy - slope * slope * vxx;
			slope_se = rss > 0 ? sqrt(rss / (nlast - 2) / vxx) : 0;
		}
		growth = nlast < 3 || slope - 2 * slope_se > threshold;
		for (int i = 0; i < ndepths; i++)
			if (depths[i].t <= push_s)
			{
				pushed_in_run = depths[i].pushed;
				flushed_in_run = depths[i].flushed;
			}
		if (ndepths > 0)
		{
			pushed_in_run -= depths[0].pushed;
			flushed_in_run -= depths[0].flushed;
		}

		printf("freshness, push commit -> first served (ms; %d sampled pushes, 1 in %d):\n", npushes, opt_sample);
		printf("  p50 %s   p95 %s   p99 %s", p50, p95, p99);
		if (npushes > 0 && nunserved == 0)
			printf("   max %.0f", fresh[npushes - 1] / 1000.0);
		printf("\n");
		printf("  from the push's clock instead: p50 %s   p95 %s   p99 %s\n", c50, c95, c99);
		printf("  commit timestamp known for %d of %d; push clock -> commit: p50 %.2f ms, p99 %.2f ms\n",
			   ncommit, npushes, ngap ? pct(gap, ngap, 50) / 1000.0 : 0, ngap ? pct(gap, ngap, 99) / 1000.0 : 0);
		printf("  not served by the end (%.0f s after the pushes stopped): %d\n", limit_s, nunserved);
		printf("  sampled pushes seen in the queue: %d of %" PRId64 " (the rest left it between two looks)\n",
			   npushes, expected);
		printf("observer: a loop every %d ms; loop p50 %.1f ms, p95 %.1f ms; fs_get_features p50 %.1f ms, "
			   "p95 %.1f ms, up to %" PRId64 " entities a call\n",
			   opt_interval_ms, nloops ? pct(loop_us, nloops, 50) / 1000.0 : 0,
			   nloops ? pct(loop_us, nloops, 95) / 1000.0 : 0,
			   nserves ? pct(serve_us, nserves, 50) / 1000.0 : 0,
			   nserves ? pct(serve_us, nserves, 95) / 1000.0 : 0, serve_ids_max);
		printf("queue depth (fs_stream_status, every second, while pushing): min %" PRId64 " max %" PRId64
			   " last %" PRId64 "\n", dmin == INT64_MAX ? 0 : dmin, dmax, dlast);
		printf("  last 10 s: min %" PRId64 " max %" PRId64 ", trend %+.0f events/s (standard error %.0f); growing when"
			   " the trend less twice its error exceeds %.0f (1%% of the offered rate): %s\n",
			   lmin == INT64_MAX ? 0 : lmin, lmax, slope, slope_se, threshold,
			   growth ? "GROWING" : "not growing");
		if (drain_s >= 0)
			printf("  the queue was empty %.0f s after the pushes stopped\n", drain_s);
		else
			printf("  the queue was not empty %.0f s after the pushes stopped (depth %" PRId64 ")\n",
				   limit_s, ndepths ? depths[ndepths - 1].depth : 0);
		printf("worker: %.0f events/s flushed while pushing (%" PRId64 " events, queue ids %" PRId64 " pushed); "
			   "over the run %" PRId64 " failed flushes, %" PRId64 " events stale, %" PRId64 " rejected\n",
			   push_s > 0 ? flushed_in_run / push_s : 0, flushed_in_run, pushed_in_run,
			   ndepths ? depths[ndepths - 1].failed - depths[0].failed : 0,
			   ndepths ? depths[ndepths - 1].stale - depths[0].stale : 0,
			   ndepths ? depths[ndepths - 1].rejected - depths[0].rejected : 0);
		printf("series (s depth flushed pushed):");
		for (int i = 0; i < ndepths; i++)
			printf(" %.0f:%" PRId64 ":%" PRId64 ":%" PRId64, depths[i].t, depths[i].depth,
				   depths[i].flushed - depths[0].flushed, depths[i].pushed - depths[0].pushed);
		printf("\n");
		printf("RESULT sampled=%d seen_expected=%" PRId64 " unserved=%d p50_ms=%s p95_ms=%s p99_ms=%s "
			   "depth_min=%" PRId64 " depth_max=%" PRId64 " depth_last=%" PRId64 " trend=%.0f trend_se=%.0f growing=%d "
			   "drain_s=%.0f drained=%d flushed_per_s=%.0f failed=%" PRId64 " push_s=%.1f observer_gets=%" PRId64 "\n",
			   npushes, expected, nunserved, p50, p95, p99, dmin == INT64_MAX ? 0 : dmin, dmax, dlast,
			   slope, slope_se, growth ? 1 : 0, drain_s, drained ? 1 : 0,
			   push_s > 0 ? flushed_in_run / push_s : 0,
			   ndepths ? depths[ndepths - 1].failed - depths[0].failed : 0, push_s, push_gets);
	}
	PQfinish(conn);
	PQfinish(status_conn);
	return 0;
}
