/*
 * bench_cache.c — the client of the cache benchmark (test/bench/run_cache.sh,
 * BENCH_ONLY=cache of test/bench/run.sh).  libpq only.
 *
 *   bench_cache open     calls at a fixed rate, open loop: call k is due at
 *                        start + k / BENCH_CACHE_RATE seconds and is sent then
 *                        on an idle connection of a pool (or, when every one
 *                        is busy, as soon as one frees up), whether or not
 *                        the previous calls have finished; its latency runs
 *                        from when it was due, so queueing counts.  With
 *                        BENCH_CACHE_WRITES > 0, BENCH_CACHE_WRITERS writer
 *                        threads alongside (two connections each) write the
 *                        BENCH_CACHE_HOT hottest entities with
 *                        fs_write_features at that rate in all and check
 *                        each write (see writer()).
 *   bench_cache closed   BENCH_CACHE_CLIENTS connections each calling as fast
 *                        as they can, and a sampler on one more connection
 *                        that reads the wait event of those backends from
 *                        pg_stat_activity every BENCH_CACHE_SAMPLE_MS.
 *
 * A call is SELECT fs_get_feature_matrix($1::text[], '{VIEW:*}') with
 * BENCH_CACHE_IDS ids, result in binary format.  The ids are drawn with
 * replacement from a Zipf distribution (s = BENCH_CACHE_ZIPF_S, 1.0) over
 * u1 .. u<BENCH_CACHE_ROWS>, u1 the most frequent: a call may ask an id more
 * than once, as a ranking request with repeated candidates would.
 *
 * It prints one line of figures, words and numbers, for run_cache.sh to read.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libpq-fe.h"

#define MAX_POOL 64

static int	rows, ids_per_call, seconds, clients, pool_size, hot, sample_ms, nwriters;
static double rate, write_rate, zipf_s;
static const char *view;
static double *zipf_cdf;
static char call_sql[256];

/* Die with a message. */
static void
die(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	fputs("bench_cache: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* An integer or a number from the environment, or the default. */
static double
env_num(const char *name, double dflt)
{
	const char *s = getenv(name);
	char	   *end;
	double		v;

	if (s == NULL || *s == '\0')
		return dflt;
	v = strtod(s, &end);
	if (*end != '\0')
		die("%s must be a number, not \"%s\"", name, s);
	return v;
}

/* Monotonic time in seconds. */
static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sleep until the monotonic time t (seconds). */
static void
sleep_until(double t)
{
	struct timespec ts;

	ts.tv_sec = (time_t) t;
	ts.tv_nsec = (long) ((t - (double) ts.tv_sec) * 1e9);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* splitmix64: a small seeded generator, one state per thread. */
static uint64_t
next_rand(uint64_t *state)
{
	uint64_t	z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* The cumulative Zipf distribution over ranks 1 .. rows. */
static void
zipf_init(void)
{
	double		sum = 0;

	zipf_cdf = malloc(sizeof(double) * rows);
	if (zipf_cdf == NULL)
		die("out of memory");
	for (int k = 0; k < rows; k++)
		zipf_cdf[k] = (sum += 1.0 / pow(k + 1, zipf_s));
	for (int k = 0; k < rows; k++)
		zipf_cdf[k] /= sum;
}

/* One rank (1 .. rows) drawn from the Zipf distribution. */
static int
zipf_draw(uint64_t *state)
{
	double		u = (next_rand(state) >> 11) * (1.0 / 9007199254740992.0);
	int			lo = 0,
				hi = rows - 1;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (zipf_cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo + 1;
}

/* A call's ids as a text[] literal, in buf. */
static void
draw_ids(uint64_t *state, char *buf, size_t len)
{
	size_t		n = 0;

	buf[n++] = '{';
	for (int i = 0; i < ids_per_call; i++)
		n += snprintf(buf + n, len - n, "%su%d", i ? "," : "", zipf_draw(state));
	if (n + 2 > len)
		die("id buffer too small");
	buf[n++] = '}';
	buf[n] = '\0';
}

/* A connection from the PG* variables, with jit off as in bench_serving. */
static PGconn *
connect_db(void)
{
	PGconn	   *conn = PQconnectdb("");
	PGresult   *res;

	if (PQstatus(conn) != CONNECTION_OK)
		die("connection failed: %s", PQerrorMessage(conn));
	res = PQexec(conn, "SET jit = off");
	PQclear(res);
	return conn;
}

/* Check a call's result: one row, the matrix, not NULL. */
static void
check_call(PGresult *res, PGconn *conn)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		die("call failed: %s", PQerrorMessage(conn));
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
		die("call returned %d rows", PQntuples(res));
}

/* qsort order of doubles. */
static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

/* The q-quantile (nearest rank) of n sorted values. */
static double
quantile(const double *v, int n, double q)
{
	int			i;

	if (n == 0)
		return NAN;
	i = (int) ceil(q * n) - 1;
	if (i < 0)
		i = 0;
	return v[i];
}

/* --- the writer (open mode, BENCH_CACHE_WRITES > 0) ------------------------ */

typedef struct Writer
{
	int			index;			/* of nwriters: writes ids 1 + index + nwriters * j */
	double		start, end;		/* when to start and stop */
	int			due;			/* writes that fell due before the end */
	int			writes, checks, violations;
	double		max_lag;		/* ms a write started after it was due */
	double	   *write_ms, *check_ms;
	char		first_violation[256];
} Writer;

/*
 * One of nwriters threads, each writing its own share of the hot ranks
 * (u<1 + index + nwriters * j>, so no two threads write one entity) at
 * write_rate / nwriters: write k is due at start + k * nwriters / write_rate
 * and is made then (or at once when late), with fs_write_features on one
 * connection; it stops at the end, however many are left.  Once a write has returned,
 * read the entity's 20 features from another connection (all of them, so
 * that the check's cache entry is as full as a serving call's) and compare
 * f1 with what was written, a value never written before.  A difference is
 * a violation: a write served stale after it returned.
 */
static void *
writer(void *arg)
{
	Writer	   *w = arg;
	PGconn	   *wconn = connect_db();
	PGconn	   *cconn = connect_db();
	double		start = w->start,
				my_rate = write_rate / nwriters;
	int			cap = (int) (my_rate * seconds * 1.2) + 16;
	char		feat_sql[128];
	PGresult   *res;

	w->write_ms = malloc(sizeof(double) * cap);
	w->check_ms = malloc(sizeof(double) * cap);
	snprintf(feat_sql, sizeof(feat_sql), "%s:f1", view);
	res = PQprepare(wconn, "w", "SELECT fs_write_features($1, $2, $3::jsonb)", 3, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		die("prepare: %s", PQerrorMessage(wconn));
	PQclear(res);
	res = PQprepare(cconn, "c",
					"SELECT value::text FROM fs_get_features(ARRAY[$1], ARRAY[$2 || ':*'])"
					" WHERE feature_ref = $3", 3, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		die("prepare: %s", PQerrorMessage(cconn));
	PQclear(res);

	for (int k = 0; k < cap; k++)
	{
		double		due = start + k / my_rate,
					t0, t1, t2;
		char		id[32], doc[1024], want[64];
		const char *params[3];
		size_t		n;
		uint64_t	value = (uint64_t) time(NULL) * 100000ULL + (uint64_t) k;

		if (due >= w->end)
			break;
		w->due++;
		if (now_s() >= w->end)
			continue;			/* too late: counted as due, not made */
		if (now_s() < due)
			sleep_until(due);
		else if ((now_s() - due) * 1000 > w->max_lag)
			w->max_lag = (now_s() - due) * 1000;
		snprintf(id, sizeof(id), "u%d", 1 + w->index + nwriters * (k % (hot / nwriters)));
		snprintf(want, sizeof(want), "%llu", (unsigned long long) value);
		n = snprintf(doc, sizeof(doc), "{\"f1\": %s", want);
		for (int f = 2; f <= 20; f++)
			n += snprintf(doc + n, sizeof(doc) - n, ", \"f%d\": %d.5", f, f);
		snprintf(doc + n, sizeof(doc) - n, "}");

		params[0] = view;
		params[1] = id;
		params[2] = doc;
		t0 = now_s();
		res = PQexecPrepared(wconn, "w", 3, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			die("fs_write_features: %s", PQerrorMessage(wconn));
		PQclear(res);
		t1 = now_s();

		params[0] = id;
		params[1] = view;
		params[2] = feat_sql;
		res = PQexecPrepared(cconn, "c", 3, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			die("check: %s", PQerrorMessage(cconn));
		t2 = now_s();
		if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0) ||
			strcmp(PQgetvalue(res, 0, 0), want) != 0)
		{
			if (w->violations++ == 0)
				snprintf(w->first_violation, sizeof(w->first_violation),
						 "%s: wrote f1 = %s, served %s", id, want,
						 PQntuples(res) != 1 ? "no row" :
						 PQgetisnull(res, 0, 0) ? "NULL" : PQgetvalue(res, 0, 0));
		}
		PQclear(res);
		w->write_ms[w->writes++] = (t1 - t0) * 1000;
		w->check_ms[w->checks++] = (t2 - t1) * 1000;
	}
	PQfinish(wconn);
	PQfinish(cconn);
	return NULL;
}

/* --- open loop --------------------------------------------------------------- */

typedef struct Slot
{
	PGconn	   *conn;
	int			busy;
	double		due;			/* when the call it runs was due */
} Slot;

/* Send the call due at `due` on an idle slot. */
static void
send_call(Slot *s, double due, uint64_t *state, char *buf, size_t len)
{
	const char *params[1];
	int			formats[1] = {0};

	draw_ids(state, buf, len);
	params[0] = buf;
	if (!PQsendQueryPrepared(s->conn, "call", 1, params, NULL, formats, 1))
		die("send: %s", PQerrorMessage(s->conn));
	s->busy = 1;
	s->due = due;
}

/* The open loop: calls due at a fixed rate, and the writers; prints one line. */
static int
run_open(void)
{
	Slot		slots[MAX_POOL];
	struct pollfd pfd[MAX_POOL];
	int			total = (int) (rate * seconds + 0.5),
				sent = 0,
				done = 0,
				max_queue = 0,
				max_busy = 0;
	double	   *lat = malloc(sizeof(double) * (total + 1));
	size_t		buflen = (size_t) ids_per_call * 12 + 16;
	char	   *buf = malloc(buflen);
	uint64_t	state = (uint64_t) env_num("BENCH_CACHE_SEED", 42);
	double		start, sum = 0;
	Writer		w[MAX_POOL];
	pthread_t	wt[MAX_POOL];
	int			writes = 0,
				wdue = 0,
				violations = 0;
	double		max_lag = 0;

	for (int i = 0; i < pool_size; i++)
	{
		PGresult   *res;

		slots[i].conn = connect_db();
		slots[i].busy = 0;
		res = PQprepare(slots[i].conn, "call", call_sql, 1, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			die("prepare: %s", PQerrorMessage(slots[i].conn));
		PQclear(res);
	}

	start = now_s() + 0.05;
	memset(w, 0, sizeof(w));
	for (int i = 0; write_rate > 0 && i < nwriters; i++)
	{
		w[i].index = i;
		w[i].start = start;
		w[i].end = start + seconds;
		if (pthread_create(&wt[i], NULL, writer, &w[i]) != 0)
			die("cannot start a writer");
	}

	while (done < total)
	{
		double		t = now_s();
		int			due_now = 0,
					busy = 0,
					timeout;

		/* Calls due and not sent wait for an idle connection. */
		while (sent < total && start + sent / rate <= t)
		{
			int			i;

			for (i = 0; i < pool_size && slots[i].busy; i++)
				;
			if (i == pool_size)
				break;
			send_call(&slots[i], start + sent / rate, &state, buf, buflen);
			sent++;
		}
		while (sent + due_now < total && start + (sent + due_now) / rate <= t)
			due_now++;
		if (due_now > max_queue)
			max_queue = due_now;

		for (int i = 0; i < pool_size; i++)
		{
			pfd[i].fd = PQsocket(slots[i].conn);
			pfd[i].events = slots[i].busy ? POLLIN : 0;
			pfd[i].revents = 0;
			busy += slots[i].busy;
		}
		if (busy > max_busy)
			max_busy = busy;
		timeout = sent < total ? (int) ceil((start + sent / rate - now_s()) * 1000) : 1000;
		if (timeout < 0 || due_now > 0)
			timeout = due_now > 0 && busy == pool_size ? 1000 : 0;
		if (poll(pfd, pool_size, timeout) < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));

		for (int i = 0; i < pool_size; i++)
		{
			PGresult   *res;

			if (!slots[i].busy || !(pfd[i].revents & (POLLIN | POLLERR | POLLHUP)))
				continue;
			if (!PQconsumeInput(slots[i].conn))
				die("receive: %s", PQerrorMessage(slots[i].conn));
			if (PQisBusy(slots[i].conn))
				continue;
			res = PQgetResult(slots[i].conn);
			check_call(res, slots[i].conn);
			PQclear(res);
			while ((res = PQgetResult(slots[i].conn)) != NULL)
				PQclear(res);
			lat[done] = (now_s() - slots[i].due) * 1000;
			sum += lat[done];
			done++;
			slots[i].busy = 0;
		}
	}

	qsort(lat, done, sizeof(double), cmp_double);
	printf("calls %d seconds %.1f p50 %.2f p95 %.2f p99 %.2f max %.2f mean %.2f"
		   " max_queued %d max_in_flight %d",
		   done, now_s() - start, quantile(lat, done, 0.5), quantile(lat, done, 0.95),
		   quantile(lat, done, 0.99), lat[done - 1], sum / done, max_queue, max_busy);
	if (write_rate > 0)
	{
		double	   *wms,
				   *cms;
		int			n = 0;

		for (int i = 0; i < nwriters; i++)
		{
			pthread_join(wt[i], NULL);
			writes += w[i].writes;
			wdue += w[i].due;
			violations += w[i].violations;
			max_lag = fmax(max_lag, w[i].max_lag);
		}
		wms = malloc(sizeof(double) * (writes + 1));
		cms = malloc(sizeof(double) * (writes + 1));
		for (int i = 0; i < nwriters; i++)
		{
			memcpy(wms + n, w[i].write_ms, sizeof(double) * w[i].writes);
			memcpy(cms + n, w[i].check_ms, sizeof(double) * w[i].writes);
			n += w[i].writes;
		}
		qsort(wms, writes, sizeof(double), cmp_double);
		qsort(cms, writes, sizeof(double), cmp_double);
		printf(" writes %d writes_per_s %.1f writes_due %d write_p50 %.2f write_p95 %.2f"
			   " checks %d check_p50 %.2f check_p95 %.2f violations %d max_write_lag %.1f",
			   writes, writes / (double) seconds, wdue,
			   quantile(wms, writes, 0.5), quantile(wms, writes, 0.95),
			   writes, quantile(cms, writes, 0.5), quantile(cms, writes, 0.95),
			   violations, max_lag);
	}
	printf("\n");
	for (int i = 0; write_rate > 0 && i < nwriters; i++)
		if (w[i].violations > 0)
			fprintf(stderr, "bench_cache: first violation: %s\n", w[i].first_violation);
	for (int i = 0; i < pool_size; i++)
		PQfinish(slots[i].conn);
	return 0;
}

/* --- closed loop ------------------------------------------------------------- */

typedef struct Client
{
	PGconn	   *conn;
	int			pid;
	int			calls;
	double		end;
	uint64_t	state;
} Client;

/* Call as fast as possible until end. */
static void *
client(void *arg)
{
	Client	   *c = arg;
	size_t		buflen = (size_t) ids_per_call * 12 + 16;
	char	   *buf = malloc(buflen);
	int			formats[1] = {0};

	while (now_s() < c->end)
	{
		const char *params[1];
		PGresult   *res;

		draw_ids(&c->state, buf, buflen);
		params[0] = buf;
		res = PQexecPrepared(c->conn, "call", 1, params, NULL, formats, 1);
		check_call(res, c->conn);
		PQclear(res);
		c->calls++;
	}
	free(buf);
	return NULL;
}

/* The closed loop and the wait-event sampler; prints one line. */
static int
run_closed(void)
{
	Client		cl[MAX_POOL];
	pthread_t	th[MAX_POOL];
	PGconn	   *sconn = connect_db();
	char		pids[MAX_POOL * 12] = "{";
	const char *params[1];
	double		start, end, t;
	long		samples = 0,
				waiting = 0,
				on_cache = 0,
				lwlock = 0;
	int			calls = 0;
	struct
	{
		char		key[128];
		long		n;
	}			waits[32];
	int			nwaits = 0;
	PGresult   *res;

	for (int i = 0; i < clients; i++)
	{
		cl[i].conn = connect_db();
		cl[i].pid = PQbackendPID(cl[i].conn);
		cl[i].calls = 0;
		cl[i].state = (uint64_t) env_num("BENCH_CACHE_SEED", 42) * 1000 + i;
		res = PQprepare(cl[i].conn, "call", call_sql, 1, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			die("prepare: %s", PQerrorMessage(cl[i].conn));
		PQclear(res);
		snprintf(pids + strlen(pids), sizeof(pids) - strlen(pids), "%s%d", i ? "," : "", cl[i].pid);
	}
	strcat(pids, "}");
	res = PQprepare(sconn, "sample",
					"SELECT coalesce(wait_event_type, ''), coalesce(wait_event, '')"
					"  FROM pg_stat_activity WHERE pid = ANY($1::int[])", 1, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		die("prepare: %s", PQerrorMessage(sconn));
	PQclear(res);

	start = now_s();
	end = start + seconds;
	for (int i = 0; i < clients; i++)
	{
		cl[i].end = end;
		if (pthread_create(&th[i], NULL, client, &cl[i]) != 0)
			die("cannot start a client");
	}
	params[0] = pids;
	for (t = start + sample_ms / 1000.0; t < end; t += sample_ms / 1000.0)
	{
		sleep_until(t);
		res = PQexecPrepared(sconn, "sample", 1, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			die("sample: %s", PQerrorMessage(sconn));
		for (int r = 0; r < PQntuples(res); r++)
		{
			const char *type = PQgetvalue(res, r, 0),
					   *event = PQgetvalue(res, r, 1);

			samples++;
			if (*type == '\0' || strcmp(type, "Activity") == 0 ||
				(strcmp(type, "Client") == 0 && strcmp(event, "ClientRead") == 0))
				continue;		/* running, or idle between two calls */
			waiting++;
			if (strcmp(type, "LWLock") == 0)
				lwlock++;
			if (strcmp(type, "LWLock") == 0 && strcmp(event, "feature_store cache") == 0)
				on_cache++;
			/* Tally by event (few distinct ones). */
			{
				char		key[128];
				int			j;

				snprintf(key, sizeof(key), "%s:%s", type, event);
				for (j = 0; j < nwaits && strcmp(waits[j].key, key) != 0; j++)
					;
				if (j == nwaits && nwaits < 32)
				{
					strcpy(waits[nwaits].key, key);
					waits[nwaits++].n = 0;
				}
				if (j < nwaits)
					waits[j].n++;
			}
		}
		PQclear(res);
		if (now_s() > t + 0.5)
			t = now_s();		/* fell behind: do not burst */
	}
	for (int i = 0; i < clients; i++)
	{
		pthread_join(th[i], NULL);
		calls += cl[i].calls;
	}
	t = now_s() - start;
	printf("calls %d seconds %.1f calls_per_s %.2f samples %ld waiting %ld lwlock %ld cache_lock %ld waits ",
		   calls, t, calls / t, samples, waiting, lwlock, on_cache);
	for (int j = 0; j < nwaits; j++)
		printf("%s%s=%ld", j ? "," : "", waits[j].key, waits[j].n);
	printf("%s\n", nwaits ? "" : "-");
	for (int i = 0; i < clients; i++)
		PQfinish(cl[i].conn);
	PQfinish(sconn);
	return 0;
}

/* Read the settings and run one mode. */
int
main(int argc, char **argv)
{
	if (argc != 2 || (strcmp(argv[1], "open") != 0 && strcmp(argv[1], "closed") != 0))
		die("usage: bench_cache open|closed");
	rows = (int) env_num("BENCH_CACHE_ROWS", 20000);
	ids_per_call = (int) env_num("BENCH_CACHE_IDS", 1000);
	seconds = (int) env_num("BENCH_CACHE_SECONDS", 30);
	rate = env_num("BENCH_CACHE_RATE", 10);
	write_rate = env_num("BENCH_CACHE_WRITES", 0);
	hot = (int) env_num("BENCH_CACHE_HOT", 20);
	nwriters = (int) env_num("BENCH_CACHE_WRITERS", 2);
	clients = (int) env_num("BENCH_CACHE_CLIENTS", 8);
	pool_size = (int) env_num("BENCH_CACHE_POOL", 16);
	sample_ms = (int) env_num("BENCH_CACHE_SAMPLE_MS", 10);
	zipf_s = env_num("BENCH_CACHE_ZIPF_S", 1.0);
	view = getenv("BENCH_CACHE_VIEW") ? getenv("BENCH_CACHE_VIEW") : "bench_cache";
	if (rows < 1 || ids_per_call < 1 || seconds < 1 || rate <= 0 || hot < 1 || hot > rows ||
		clients < 1 || clients > MAX_POOL || nwriters < 1 || nwriters > hot || nwriters > MAX_POOL || pool_size < 1 || pool_size > MAX_POOL || sample_ms < 1)
		die("a BENCH_CACHE_* setting is out of range");
	snprintf(call_sql, sizeof(call_sql),
			 "SELECT fs_get_feature_matrix($1::text[], '{%s:*}')", view);
	zipf_init();
	return strcmp(argv[1], "open") == 0 ? run_open() : run_closed();
}
