/*-------------------------------------------------------------------------
 *
 * bench_serving.c
 *		Serving benchmark: fs_get_features against the hand-written SQL.
 *
 * A libpq client that, from one connection, times the round trip of
 *
 *	 features  SELECT * FROM fs_get_features($1::text[], $2::text[])
 *			   with $2 = {bench_a:*,bench_b:*} (20 features)
 *	 hand	   the two queries a service would write by hand,
 *			   SELECT user_id, event_time, f1..f10 FROM bench_X
 *			   WHERE user_id = ANY($1::text[])   for bench_a then bench_b
 *	 vectors   SELECT * FROM fs_get_feature_vectors($1::text[], $2::text[])
 *	 matrix	   SELECT fs_get_feature_matrix($1::text[], $2::text[]) with $2 the
 *			   14 numeric features (MATRIX_REFS: f1 f2 f3 f7 f8 f9 f10 of
 *			   bench_a then of bench_b; f4 text, f5 boolean and f6 real[]
 *			   left out), the result in BINARY format (resultFormat = 1):
 *			   one float8[] of entities x 14 that the client does not parse
 *	 hand-join the hand-written join a service would write for the same
 *			   cells, SELECT i.id, a.<those 7>, b.<those 7> FROM
 *			   unnest($1) WITH ORDINALITY i LEFT JOIN bench_a a ... LEFT JOIN
 *			   bench_b b ... ORDER BY i.n (text format, like the others)
 *	 hand-join-all the same join over all 20 features (f1..f10 of bench_a,
 *			   then of bench_b): the hand-written form of fs_get_feature_vectors
 *	 table	   SELECT * FROM fs_bench_floor, a temporary table holding exactly
 *			   the rows fs_get_features returns for this iteration's ids
 *			   (refilled, untimed, before each timed read): the floor of
 *			   that row shape, PostgreSQL's own output of 20,000 jsonb and
 *			   timestamptz values
 *
 * With --clients N (N > 1), a throughput phase follows: N connections at
 * once, each sending fs_get_feature_vectors (vectors), or the hand-written
 * join of all 20 features (hand-join-all), back to back, for --rounds
 * rounds of --seconds seconds per method, the two methods alternating
 * (which one goes first alternates too); calls/s per method is the median
 * over the rounds.
 *
 * and, on request, the same work with one row sent back instead of all
 * (features-count: SELECT count(*) FROM fs_get_features(...); hand-count:
 * SELECT count(f10) with each hand-written query's WHERE clause), which
 * splits a call's time
 * between the server's lookups and shipping the rows to the client.
 *
 * The DynamoDB suite (test/bench/run.sh, after the embedded one) times
 *
 *	 ddb	   SELECT * FROM fs_get_features($1::text[], '{bench_ddb:*}'): the
 *			   20 features of a foreign table of fs_dynamodb (dynalite)
 *	 ddb-count the same, SELECT count(*)
 *	 sdk	   the AWS SDK for JavaScript v3 sending the same BatchGetItem
 *			   requests at once (Promise.all) and unmarshalling the items,
 *			   driven through a helper process (--sdk-helper, ddb_sdk.mjs
 *			   serve) over pipes and timed inside it
 *	 plain	   plain Node.js (keep-alive HTTP + JSON.parse, no SDK, unsigned)
 *			   sending the same requests at once, through the same helper
 *			   (its command "plain"); for the canned responder only
 *	 ddb-scan  SELECT count(*) FROM <view's foreign table>
 *			   WHERE user_id = ANY($1::text[]): the FDW's own scan path (it
 *			   asks the store for the key alone)
 *	 ddb-scan-all SELECT count(t) FROM <that table> t WHERE user_id = ANY(...):
 *			   the same scan needing every column (the whole-row reference)
 *	 ddb-matrix SELECT fs_get_feature_matrix($1::text[], '{<view>:*}') (every
 *			   feature of the view must be numeric or boolean: the canned
 *			   responder's 20 floats), in BINARY format like matrix
 *
 * The view (and foreign table) of these methods is --ddb-view (default
 * bench_ddb; the canned part, test/bench/run_canned.sh, uses bench_canned,
 * served by the canned responder, a benchmark fixture).
 *
 * With the helper, each ddb/sdk call is followed (untimed) by a query of
 * the store's window (dynalite_bench.js): when its first request arrived,
 * when its last response left, how long a request was in flight, the peak
 * number in flight.  All clocks are CLOCK_MONOTONIC, so a call splits into
 * before the store / at the store / after the store.
 *
 * for the same entity ids, in the same iteration, rotating which method goes
 * first.  Every statement is prepared once; results come back in text
 * format (binary for matrix and ddb-matrix) and are fetched completely
 * before the clock stops.  The matrix methods' first call is checked, before
 * any timing, for its binary array header: two dimensions, entities x
 * columns, lower bounds 1, element type float8.  Each result is
 * checked (row count, order, statuses) outside the timed region, and a wrong
 * answer aborts the run: a benchmark of a broken function is worthless.
 *
 * The tables come from test/bench/setup.sql: bench_a and bench_b, ids
 * 'u1'..'u<rows>', ten feature columns each.  Connection parameters come
 * from the standard PG* environment variables (or --conninfo).
 *
 * Options (command line, else environment, else default):
 *	 --iterations N  BENCH_ITERATIONS  300	 timed iterations
 *	 --warmup N		 BENCH_WARMUP	   20	 untimed iterations first
 *	 --entities N	 BENCH_ENTITIES	   1000  entity ids per call
 *	 --rows N		 BENCH_ROWS		   1000000 rows in each table
 *	 --seed N		 BENCH_SEED		   42	 PRNG seed
 *	 --methods LIST  BENCH_METHODS	   features,hand,vectors  (also:
 *										   features-count, hand-count,
 *										   matrix, hand-join, ddb,
 *										   ddb-count, ddb-matrix, sdk, ...)
 *	 --absent-percent N BENCH_ABSENT_PCT 1	 ids per call absent from the tables
 *	 --sdk-helper CMD BENCH_SDK_HELPER	 (none) shell command of the SDK helper
 *	 --ddb-view NAME BENCH_DDB_VIEW	   bench_ddb  view (= foreign table) of the
 *										   ddb, ddb-count, ddb-scan methods
 *	 --conninfo STR	 (none)				 libpq connection string
 *
 * The process exits 0 whether or not the targets are met; it exits 1 on a
 * connection error, a query error or a wrong answer.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/select.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <libpq-fe.h>

#define FEATURES_PER_VIEW	10
#define NUM_VIEWS			2
#define FEATURES_PER_CALL	(FEATURES_PER_VIEW * NUM_VIEWS)
#define FEATURE_REFS		"{bench_a:*,bench_b:*}"

/*
 * The matrix methods' refs on the embedded views: the numeric columns only
 * (fs_get_feature_matrix refuses text and arrays with 42804).
 */
#define MATRIX_REFS \
	"{bench_a:f1,bench_a:f2,bench_a:f3,bench_a:f7,bench_a:f8,bench_a:f9,bench_a:f10," \
	"bench_b:f1,bench_b:f2,bench_b:f3,bench_b:f7,bench_b:f8,bench_b:f9,bench_b:f10}"
#define MATRIX_COLS			14
#define MATRIX_JOIN_COLS	"a.f1, a.f2, a.f3, a.f7, a.f8, a.f9, a.f10," \
	" b.f1, b.f2, b.f3, b.f7, b.f8, b.f9, b.f10"
#define FLOAT8OID			701
#define HAND_JOIN_ALL_SQL \
	"SELECT i.id, a.f1, a.f2, a.f3, a.f4, a.f5, a.f6, a.f7, a.f8, a.f9, a.f10," \
	" b.f1, b.f2, b.f3, b.f4, b.f5, b.f6, b.f7, b.f8, b.f9, b.f10" \
	" FROM unnest($1::text[]) WITH ORDINALITY AS i(id, n)" \
	" LEFT JOIN bench_a a ON a.user_id = i.id" \
	" LEFT JOIN bench_b b ON b.user_id = i.id" \
	" ORDER BY i.n"
#define TARGET_VECTORS_JOIN	1.0
#define TARGET_FEATURES_TABLE	1.2
#define TARGET_THROUGHPUT	0.95
#define TARGET_MATRIX_SDK	0.6
#define TARGET_MATRIX_JOIN	0.8

#define TARGET_P95_MS		3.0
#define TARGET_RATIO		1.3
#define TARGET_DDB_RATIO	1.15

enum method
{
	M_FEATURES,
	M_HAND,
	M_VECTORS,
	M_FEATURES_COUNT,
	M_HAND_COUNT,
	M_DDB,
	M_DDB_COUNT,
	M_SDK,
	M_PLAIN,
	M_DDB_SCAN,
	M_DDB_SCAN_ALL,
	M_MATRIX,
	M_HAND_JOIN,
	M_DDB_MATRIX,
	M_HAND_JOIN_ALL,
	M_TABLE,
	NUM_METHODS
};

static const char *const method_name[NUM_METHODS] = {
	"features", "hand", "vectors", "features-count", "hand-count",
	"ddb", "ddb-count", "sdk", "plain", "ddb-scan", "ddb-scan-all",
	"matrix", "hand-join", "ddb-matrix", "hand-join-all", "table"
};

static const char *const method_label[NUM_METHODS] = {
	"fs_get_features",
	"hand-written (2 queries)",
	"fs_get_feature_vectors",
	"fs_get_features, count(*)",
	"hand-written, count(f10)",
	"fs_get_features (DynamoDB)",
	"fs_get_features (DDB), count",
	"AWS SDK v3, Promise.all",
	"plain Node.js http+JSON",
	"FDW scan = ANY, count",
	"FDW scan, all cols, count",
	"fs_get_feature_matrix, bin",
	"hand-written join (14 cols)",
	"fs_get_feature_matrix (DDB)",
	"hand-written join (20 cols)",
	"SELECT * of the same rows"
};

typedef struct options
{
	int			iterations;
	int			warmup;
	int			entities;
	long		rows;
	uint64_t	seed;
	bool		enabled[NUM_METHODS];
	const char *conninfo;
	int			absent_pct;
	const char *sdk_helper;
	const char *ddb_view;
	int			clients;		/* > 1: the throughput phase's connections */
	int			rounds;
	int			seconds;
} options;

/* '{<ddb_view>:*}', the feature refs of the ddb methods. */
static char ddb_refs[200];

/* Per-method measurements. */
typedef struct series
{
	double	   *ms;				/* one per timed iteration */
	long		rows_per_call;	/* rows seen in the last call */
	long		bytes_per_call; /* text bytes of the values in the last call */
	/* The store's window of each timed call (with the SDK helper). */
	double	   *pre_ms;			/* call start to first request at the store */
	double	   *busy_ms;		/* some request in flight at the store */
	double	   *post_ms;		/* last response sent to call end */
	double	   *requests;
	double	   *peak;
	bool		have_window;
} series;

/* The SDK helper: a child process spoken to over two pipes. */
static FILE *helper_in;			/* we write commands */
static FILE *helper_out;		/* we read replies */
static pid_t helper_pid;
static char *helper_line;
static size_t helper_cap;

static PGconn *conn;

/* Print an error and leave with status 1. */
static void
die(const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "bench_serving: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (conn)
		PQfinish(conn);
	exit(1);
}

/* malloc that never returns NULL. */
static void *
xmalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (p == NULL)
		die("out of memory");
	return p;
}

/* splitmix64: small, seedable, good enough to pick ids. */
static uint64_t
rng_next(uint64_t *state)
{
	uint64_t	z = (*state += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* A uniform integer in [0, n). */
static uint64_t
rng_below(uint64_t *state, uint64_t n)
{
	uint64_t	limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t	r;

	do
		r = rng_next(state);
	while (r >= limit);
	return r % n;
}

/* Parse a positive integer option or die naming it. */
static long
parse_long(const char *name, const char *s, long min)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min)
		die("invalid value for %s: \"%s\" (an integer >= %ld)", name, s, min);
	return v;
}

/* Parse a comma-separated list of methods. */
static void
parse_methods(options *o, const char *list)
{
	char	   *copy = strdup(list);
	char	   *tok;
	char	   *save = NULL;

	memset(o->enabled, 0, sizeof(o->enabled));
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
	{
		int			m;

		for (m = 0; m < NUM_METHODS; m++)
			if (strcmp(tok, method_name[m]) == 0)
				break;
		if (m == NUM_METHODS)
			die("unknown method \"%s\" (features, hand, vectors,"
				" features-count, hand-count, matrix, hand-join, ddb, ddb-count, ddb-matrix,"
				" sdk, plain, ddb-scan, ddb-scan-all, hand-join-all, table)", tok);
		o->enabled[m] = true;
	}
	free(copy);
}

static void
usage(void)
{
	printf("usage: bench_serving [--iterations N] [--warmup N] [--entities N]\n"
		   "                     [--rows N] [--seed N] [--methods LIST] [--conninfo STR]\n"
		   "                     [--absent-percent N] [--sdk-helper CMD] [--ddb-view NAME]\n"
		   "LIST is a comma-separated subset of features,hand,vectors,\n"
		   "features-count,hand-count,matrix,hand-join,ddb,ddb-count,ddb-matrix,\n"
		   "sdk,plain,ddb-scan,ddb-scan-all,hand-join-all,table\n"
		   "[--clients N] [--rounds N] [--seconds N]: with N > 1 clients, a throughput\n"
		   "phase of vectors against hand-join-all (BENCH_CLIENTS, BENCH_ROUNDS,\n"
		   "BENCH_SECONDS).\n"
		   "(default: features,hand,vectors).\n"
		   "sdk and plain need --sdk-helper (e.g. 'node test/bench/ddb_sdk.mjs serve').\n"
		   "Each option may also come from BENCH_ITERATIONS, BENCH_WARMUP,\n"
		   "BENCH_ENTITIES, BENCH_ROWS, BENCH_SEED, BENCH_METHODS,\n"
		   "BENCH_ABSENT_PCT, BENCH_SDK_HELPER, BENCH_DDB_VIEW.\n"
		   "Connection: the PG* environment variables, or --conninfo.\n");
}

/* Environment first, then the command line over it. */
static void
parse_options(options *o, int argc, char **argv)
{
	const char *env;
	int			i;

	o->iterations = 300;
	o->warmup = 20;
	o->entities = 1000;
	o->rows = 1000000;
	o->seed = 42;
	o->conninfo = "";
	o->absent_pct = 1;
	o->sdk_helper = NULL;
	o->ddb_view = "bench_ddb";
	o->clients = 1;
	o->rounds = 6;
	o->seconds = 5;
	parse_methods(o, "features,hand,vectors");

	if ((env = getenv("BENCH_ITERATIONS")) && *env)
		o->iterations = (int) parse_long("BENCH_ITERATIONS", env, 1);
	if ((env = getenv("BENCH_WARMUP")) && *env)
		o->warmup = (int) parse_long("BENCH_WARMUP", env, 0);
	if ((env = getenv("BENCH_ENTITIES")) && *env)
		o->entities = (int) parse_long("BENCH_ENTITIES", env, 1);
	if ((env = getenv("BENCH_ROWS")) && *env)
		o->rows = parse_long("BENCH_ROWS", env, 1);
	if ((env = getenv("BENCH_SEED")) && *env)
		o->seed = (uint64_t) parse_long("BENCH_SEED", env, 0);
	if ((env = getenv("BENCH_METHODS")) && *env)
		parse_methods(o, env);
	if ((env = getenv("BENCH_ABSENT_PCT")) && *env)
		o->absent_pct = (int) parse_long("BENCH_ABSENT_PCT", env, 0);
	if ((env = getenv("BENCH_SDK_HELPER")) && *env)
		o->sdk_helper = env;
	if ((env = getenv("BENCH_DDB_VIEW")) && *env)
		o->ddb_view = env;
	if ((env = getenv("BENCH_CLIENTS")) && *env)
		o->clients = (int) parse_long("BENCH_CLIENTS", env, 1);
	if ((env = getenv("BENCH_ROUNDS")) && *env)
		o->rounds = (int) parse_long("BENCH_ROUNDS", env, 1);
	if ((env = getenv("BENCH_SECONDS")) && *env)
		o->seconds = (int) parse_long("BENCH_SECONDS", env, 1);

	for (i = 1; i < argc; i++)
	{
		const char *arg = argv[i];
		const char *val;

		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)
		{
			usage();
			exit(0);
		}
		if (strncmp(arg, "--", 2) != 0)
			die("unexpected argument \"%s\" (see --help)", arg);

		/* --name=value or --name value */
		val = strchr(arg, '=');
		if (val)
			val++;
		else if (i + 1 < argc)
			val = argv[++i];
		else
			die("option %s needs a value", arg);

#define OPT(name) (strncmp(arg, name, strlen(name)) == 0 && \
				   (arg[strlen(name)] == '\0' || arg[strlen(name)] == '='))
		if (OPT("--iterations"))
			o->iterations = (int) parse_long("--iterations", val, 1);
		else if (OPT("--warmup"))
			o->warmup = (int) parse_long("--warmup", val, 0);
		else if (OPT("--entities"))
			o->entities = (int) parse_long("--entities", val, 1);
		else if (OPT("--rows"))
			o->rows = parse_long("--rows", val, 1);
		else if (OPT("--seed"))
			o->seed = (uint64_t) parse_long("--seed", val, 0);
		else if (OPT("--methods"))
			parse_methods(o, val);
		else if (OPT("--conninfo"))
			o->conninfo = val;
		else if (OPT("--absent-percent"))
			o->absent_pct = (int) parse_long("--absent-percent", val, 0);
		else if (OPT("--sdk-helper"))
			o->sdk_helper = val;
		else if (OPT("--ddb-view"))
			o->ddb_view = val;
		else if (OPT("--clients"))
			o->clients = (int) parse_long("--clients", val, 1);
		else if (OPT("--rounds"))
			o->rounds = (int) parse_long("--rounds", val, 1);
		else if (OPT("--seconds"))
			o->seconds = (int) parse_long("--seconds", val, 1);
		else
			die("unknown option \"%s\" (see --help)", arg);
#undef OPT
	}

	if (o->entities > o->rows)
		die("--entities (%d) exceeds --rows (%ld)", o->entities, o->rows);
	if (o->absent_pct > 100)
		die("--absent-percent (%d) exceeds 100", o->absent_pct);
	if ((o->enabled[M_SDK] || o->enabled[M_PLAIN]) && o->sdk_helper == NULL)
		die("methods sdk and plain need --sdk-helper (or BENCH_SDK_HELPER)");
	if (strspn(o->ddb_view, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(o->ddb_view) ||
		strlen(o->ddb_view) == 0 || strlen(o->ddb_view) > 63)
		die("--ddb-view must be a lower-case SQL identifier, not \"%s\"", o->ddb_view);
	snprintf(ddb_refs, sizeof(ddb_refs), "{%s:*}", o->ddb_view);
}

/* Run a utility statement or die. */
static void
exec_simple(const char *sql)
{
	PGresult   *res = PQexec(conn, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
		PQresultStatus(res) != PGRES_TUPLES_OK)
		die("%s\n  in: %s", PQerrorMessage(conn), sql);
	PQclear(res);
}

/* Prepare a statement once, or die naming it. */
static void
prepare(const char *name, const char *sql, int nparams)
{
	PGresult   *res = PQprepare(conn, name, sql, nparams, NULL);

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		die("cannot prepare %s: %s", name, PQerrorMessage(conn));
	PQclear(res);
}

/*
 * Execute a prepared statement with its result in binary format (one column:
 * the matrix); the whole result is in memory on return.
 */
static PGresult *
run_prepared_binary(const char *name, int nparams, const char *const *values)
{
	PGresult   *res = PQexecPrepared(conn, name, nparams, values, NULL, NULL, 1);

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		die("%s failed: %s", name, PQerrorMessage(conn));
	return res;
}

/* Execute a prepared statement; the whole result is in memory on return. */
static PGresult *
run_prepared(const char *name, int nparams, const char *const *values)
{
	PGresult   *res = PQexecPrepared(conn, name, nparams, values, NULL, NULL, 0);

	if (PQresultStatus(res) != PGRES_TUPLES_OK &&
		PQresultStatus(res) != PGRES_COMMAND_OK)
		die("%s failed: %s", name, PQerrorMessage(conn));
	return res;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Text bytes of every value in a result. */
static long
result_bytes(const PGresult *res)
{
	long		bytes = 0;
	int			r,
				c;

	for (r = 0; r < PQntuples(res); r++)
		for (c = 0; c < PQnfields(res); c++)
			bytes += PQgetlength(res, r, c);
	return bytes;
}

/*
 * The ids of one call: entities ids, about 1% of them absent from the
 * tables, in random order, as a text[] literal.
 */
typedef struct id_batch
{
	char	  **ids;			/* entities pointers into text */
	bool	   *present;
	int			npresent;
	char	   *literal;		/* {u12,u7,...} */
	char	   *csv;			/* get u12,u7,... (present ids only), for the helper */
	char	   *plain;			/* plain u12,u7,...: the same, for the plain client */
} id_batch;

/* Draw a fresh batch: partial Fisher-Yates over the id pool, then shuffle. */
static void
draw_batch(id_batch *b, const options *o, uint32_t *pool, uint64_t *rng,
		   char *idtext)
{
	int			n = o->entities;
	int			nabsent = (int) ((long) n * o->absent_pct / 100);
	int			i;
	char	   *p;

	b->npresent = n - nabsent;
	for (i = 0; i < b->npresent; i++)
	{
		uint64_t	j = i + rng_below(rng, (uint64_t) o->rows - i);
		uint32_t	tmp = pool[i];

		pool[i] = pool[j];
		pool[j] = tmp;
	}

	p = idtext;
	for (i = 0; i < n; i++)
	{
		b->ids[i] = p;
		if (i < b->npresent)
		{
			p += sprintf(p, "u%" PRIu32, pool[i]) + 1;
			b->present[i] = true;
		}
		else
		{
			/* Distinct ids beyond the table's range: absent, but plausible. */
			p += sprintf(p, "u%ld", o->rows + 1 + (long) (i - b->npresent) * 1000 +
						 (long) rng_below(rng, 1000)) + 1;
			b->present[i] = false;
		}
	}

	/* Mix the absent ids in among the present ones. */
	for (i = n - 1; i > 0; i--)
	{
		int			j = (int) rng_below(rng, (uint64_t) i + 1);
		char	   *tid = b->ids[i];
		bool		tpr = b->present[i];

		b->ids[i] = b->ids[j];
		b->present[i] = b->present[j];
		b->ids[j] = tid;
		b->present[j] = tpr;
	}

	p = b->literal;
	*p++ = '{';
	for (i = 0; i < n; i++)
	{
		if (i > 0)
			*p++ = ',';
		p += sprintf(p, "%s", b->ids[i]);
	}
	*p++ = '}';
	*p = '\0';

	p = b->csv;
	p += sprintf(p, "get ");
	for (i = 0; i < n; i++)
	{
		if (!b->present[i])
			continue;
		if (p[-1] != ' ')
			*p++ = ',';
		p += sprintf(p, "%s", b->ids[i]);
	}
	*p++ = '\n';
	*p = '\0';
	sprintf(b->plain, "plain %s", b->csv + 4);
}

/* Start the SDK helper: sh -c CMD, its stdin and stdout on pipes. */
static void
helper_start(const char *cmd)
{
	int			to_child[2],
				from_child[2];

	if (pipe(to_child) != 0 || pipe(from_child) != 0)
		die("pipe: %s", strerror(errno));
	fflush(NULL);
	helper_pid = fork();
	if (helper_pid < 0)
		die("fork: %s", strerror(errno));
	if (helper_pid == 0)
	{
		dup2(to_child[0], 0);
		dup2(from_child[1], 1);
		close(to_child[0]);
		close(to_child[1]);
		close(from_child[0]);
		close(from_child[1]);
		execl("/bin/sh", "sh", "-c", cmd, (char *) NULL);
		_exit(127);
	}
	close(to_child[0]);
	close(from_child[1]);
	helper_in = fdopen(to_child[1], "w");
	helper_out = fdopen(from_child[0], "r");
	if (helper_in == NULL || helper_out == NULL)
		die("fdopen: %s", strerror(errno));
}

/* Send one command line (ending in \n) and return the reply line. */
static const char *
helper_ask(const char *line)
{
	ssize_t		len;

	if (fputs(line, helper_in) == EOF || fflush(helper_in) == EOF)
		die("SDK helper: cannot write to it (did it exit?)");
	len = getline(&helper_line, &helper_cap, helper_out);
	if (len <= 0)
		die("SDK helper: no reply (did it exit?)");
	if (helper_line[len - 1] == '\n')
		helper_line[len - 1] = '\0';
	if (strncmp(helper_line, "error", 5) == 0)
		die("SDK helper: %s", helper_line);
	return helper_line;
}

static void
helper_stop(void)
{
	int			status;

	if (helper_in == NULL)
		return;
	fclose(helper_in);
	fclose(helper_out);
	helper_in = NULL;
	waitpid(helper_pid, &status, 0);
}

/* A number from a flat JSON object, e.g. "peak":10 or "first_ns":"123". */
static double
json_number(const char *json, const char *key)
{
	char		pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(json, pat);
	if (p == NULL)
		die("SDK helper: no %s in the store's window: %s", key, json);
	p += strlen(pat);
	if (*p == '"')
		p++;
	return strtod(p, NULL);
}

/*
 * The store's window since the last call: record how the call t0..t1 (ms,
 * CLOCK_MONOTONIC) splits around it.  k < 0 (warm-up): only reset it.
 */
static void
record_window(series *s, int k, double t0, double t1)
{
	const char *w = helper_ask("window\n");
	double		first,
				last;

	if (k < 0 || strcmp(w, "{}") == 0)
		return;					/* warm-up, or a store without a window */
	first = json_number(w, "first_ns") / 1e6;
	last = json_number(w, "last_ns") / 1e6;
	s->have_window = true;
	s->requests[k] = json_number(w, "requests");
	s->peak[k] = json_number(w, "peak");
	s->busy_ms[k] = json_number(w, "busy_ms");
	s->pre_ms[k] = s->requests[k] > 0 ? first - t0 : 0;
	s->post_ms[k] = s->requests[k] > 0 ? t1 - last : 0;
}

/*
 * Check fs_get_features: entities x 20 rows, entity-major in input order,
 * NOT_FOUND exactly for the absent ids, PRESENT or NULL_VALUE otherwise.
 */
static void
check_features(const PGresult *res, const id_batch *b, const options *o)
{
	long		expect = (long) o->entities * FEATURES_PER_CALL;
	int			r;

	if (PQntuples(res) != expect)
		die("fs_get_features returned %d rows, expected %ld (%d entities x %d features)",
			PQntuples(res), expect, o->entities, FEATURES_PER_CALL);
	if (PQnfields(res) != 5)
		die("fs_get_features returned %d columns, expected 5", PQnfields(res));

	for (r = 0; r < PQntuples(res); r++)
	{
		int			e = r / FEATURES_PER_CALL;
		const char *id = PQgetvalue(res, r, 0);
		const char *status = PQgetvalue(res, r, 4);

		if (strcmp(id, b->ids[e]) != 0)
			die("fs_get_features row %d: entity_id %s, expected %s (entity-major, input order)",
				r + 1, id, b->ids[e]);
		if (b->present[e])
		{
			if (strcmp(status, "PRESENT") != 0 && strcmp(status, "NULL_VALUE") != 0)
				die("fs_get_features row %d: status %s for present id %s",
					r + 1, status, id);
		}
		else if (strcmp(status, "NOT_FOUND") != 0)
			die("fs_get_features row %d: status %s for absent id %s",
				r + 1, status, id);
	}
}

/* Check one hand-written query: one row per present id. */
static void
check_hand(const PGresult *res, const id_batch *b, const char *table)
{
	if (PQntuples(res) != b->npresent)
		die("hand-written query on %s returned %d rows, expected %d",
			table, PQntuples(res), b->npresent);
	if (PQnfields(res) != 2 + FEATURES_PER_VIEW)
		die("hand-written query on %s returned %d columns, expected %d",
			table, PQnfields(res), 2 + FEATURES_PER_VIEW);
}

/* Check fs_get_feature_vectors: one row per id, in input order. */
static void
check_vectors(const PGresult *res, const id_batch *b, const options *o)
{
	int			r;

	if (PQntuples(res) != o->entities)
		die("fs_get_feature_vectors returned %d rows, expected %d",
			PQntuples(res), o->entities);
	for (r = 0; r < PQntuples(res); r++)
		if (strcmp(PQgetvalue(res, r, 0), b->ids[r]) != 0)
			die("fs_get_feature_vectors row %d: entity_id %s, expected %s",
				r + 1, PQgetvalue(res, r, 0), b->ids[r]);
}

/* A big-endian int32 of a binary value. */
static int32_t
be32(const char *p)
{
	const unsigned char *u = (const unsigned char *) p;

	return (int32_t) (((uint32_t) u[0] << 24) | ((uint32_t) u[1] << 16) |
					  ((uint32_t) u[2] << 8) | (uint32_t) u[3]);
}

/* Every call of a matrix method: one row, one non-NULL binary value. */
static void
check_matrix_shape(const PGresult *res, const char *what)
{
	if (PQntuples(res) != 1 || PQnfields(res) != 1 || PQgetisnull(res, 0, 0) ||
		PQfformat(res, 0) != 1)
		die("%s: expected one non-NULL binary value", what);
}

/*
 * Once, before timing: the binary array header (array_send) of a matrix is
 * ndim, has-nulls flag, element type, then (size, lower bound) per dimension;
 * expect 2 dimensions, rows x cols, both bounds 1, float8, and the length
 * that this implies (4 bytes of length per cell, 8 more when not NULL).
 */
static void
check_matrix_once(const PGresult *res, int rows, int cols, bool some_absent,
				  const char *what)
{
	const char *v;
	int			len;
	long		min_len;

	check_matrix_shape(res, what);
	v = PQgetvalue(res, 0, 0);
	len = PQgetlength(res, 0, 0);
	if (len < 12 + 2 * 8)
		die("%s: %d bytes, too short for a 2-D array header", what, len);
	if (be32(v) != 2)
		die("%s: %d dimensions, expected 2", what, (int) be32(v));
	if (be32(v + 8) != FLOAT8OID)
		die("%s: element type %d, expected float8 (%d)", what, (int) be32(v + 8), FLOAT8OID);
	if (be32(v + 12) != rows || be32(v + 20) != cols)
		die("%s: dimensions %d x %d, expected %d x %d", what,
			(int) be32(v + 12), (int) be32(v + 20), rows, cols);
	if (be32(v + 16) != 1 || be32(v + 24) != 1)
		die("%s: lower bounds %d, %d, expected 1, 1", what,
			(int) be32(v + 16), (int) be32(v + 24));
	if (some_absent && be32(v + 4) == 0)
		die("%s: no NULL cell, but some ids are absent", what);
	min_len = 28 + 4L * rows * cols;
	if (len < min_len || len > min_len + 8L * rows * cols)
		die("%s: %d bytes, not what %d x %d cells of float8 take", what, len, rows, cols);
	printf("  checked once before timing: %s is a %d x %d float8[] (binary, %d bytes)\n",
		   what, rows, cols, len);
}

/* Check a hand-written join of cols features: one row per id, in input order. */
static void
check_hand_join(const PGresult *res, const id_batch *b, const options *o, int cols,
				const char *what)
{
	int			r;

	if (PQntuples(res) != o->entities || PQnfields(res) != 1 + cols)
		die("%s returned %d rows of %d columns, expected %d of %d",
			what, PQntuples(res), PQnfields(res), o->entities, 1 + cols);
	for (r = 0; r < PQntuples(res); r++)
		if (strcmp(PQgetvalue(res, r, 0), b->ids[r]) != 0)
			die("%s row %d: id %s, expected %s",
				what, r + 1, PQgetvalue(res, r, 0), b->ids[r]);
}

/* Check a count(*) result. */
static void
check_count(const PGresult *res, long expect, const char *what)
{
	if (PQntuples(res) != 1 || atol(PQgetvalue(res, 0, 0)) != expect)
		die("%s counted %s rows, expected %ld", what,
			PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "no", expect);
}

/* Time one method for one batch; returns milliseconds. */
static double
time_method(int m, const id_batch *b, const options *o, series *s, int k)
{
	const char *params[2] = {b->literal, FEATURE_REFS};
	const char *ddb_params[2] = {b->literal, ddb_refs};
	const char *matrix_params[2] = {b->literal, MATRIX_REFS};
	PGresult   *res;
	PGresult   *res2;
	double		t0,
				t1;

	switch (m)
	{
		case M_FEATURES:
			t0 = now_ms();
			res = run_prepared("fs", 2, params);
			t1 = now_ms();
			check_features(res, b, o);
			s->rows_per_call = PQntuples(res);
			s->bytes_per_call = result_bytes(res);
			PQclear(res);
			break;

		case M_HAND:
			t0 = now_ms();
			res = run_prepared("hand_a", 1, params);
			res2 = run_prepared("hand_b", 1, params);
			t1 = now_ms();
			check_hand(res, b, "bench_a");
			check_hand(res2, b, "bench_b");
			s->rows_per_call = PQntuples(res) + PQntuples(res2);
			s->bytes_per_call = result_bytes(res) + result_bytes(res2);
			PQclear(res);
			PQclear(res2);
			break;

		case M_VECTORS:
			t0 = now_ms();
			res = run_prepared("vectors", 2, params);
			t1 = now_ms();
			check_vectors(res, b, o);
			s->rows_per_call = PQntuples(res);
			s->bytes_per_call = result_bytes(res);
			PQclear(res);
			break;

		case M_FEATURES_COUNT:
			t0 = now_ms();
			res = run_prepared("features_count", 2, params);
			t1 = now_ms();
			check_count(res, (long) o->entities * FEATURES_PER_CALL, "fs_get_features");
			s->rows_per_call = 1;
			s->bytes_per_call = result_bytes(res);
			PQclear(res);
			break;

		case M_HAND_COUNT:
			t0 = now_ms();
			res = run_prepared("hand_count_a", 1, params);
			res2 = run_prepared("hand_count_b", 1, params);
			t1 = now_ms();
			check_count(res, b->npresent, "hand-written query on bench_a");
			check_count(res2, b->npresent, "hand-written query on bench_b");
			s->rows_per_call = 2;
			s->bytes_per_call = result_bytes(res) + result_bytes(res2);
			PQclear(res);
			PQclear(res2);
			break;

		case M_DDB:
			t0 = now_ms();
			res = run_prepared("ddb", 2, ddb_params);
			t1 = now_ms();
			if (o->sdk_helper)
				record_window(s, k, t0, t1);
			check_features(res, b, o);
			s->rows_per_call = PQntuples(res);
			s->bytes_per_call = result_bytes(res);
			PQclear(res);
			break;

		case M_DDB_COUNT:
			t0 = now_ms();
			res = run_prepared("ddb_count", 2, ddb_params);
			t1 = now_ms();
			if (o->sdk_helper)
				record_window(s, k, t0, t1);
			check_count(res, (long) o->entities * FEATURES_PER_CALL, "fs_get_features (DynamoDB)");
			s->rows_per_call = 1;
			s->bytes_per_call = result_bytes(res);
			PQclear(res);
			break;

		case M_DDB_SCAN:
			t0 = now_ms();
			res = run_prepared("ddb_scan", 1, ddb_params);
			t1 = now_ms();
			if (o->sdk_helper)
				record_window(s, k, t0, t1);
			check_count(res, b->npresent, "the FDW scan");
			s->rows_per_call = 1;
			s->bytes_per_call = result_bytes(res);
			PQclear(res);
			break;

		case M_DDB_SCAN_ALL:
			t0 = now_ms();
			res = run_prepared("ddb_scan_all", 1, ddb_params);
			t1 = now_ms();
			if (o->sdk_helper)
				record_window(s, k, t0, t1);
			check_count(res, b->npresent, "the FDW scan of all columns");
			s->rows_per_call = 1;
			s->bytes_per_call = result_bytes(res);
			PQclear(res);
			break;

		case M_MATRIX:
			t0 = now_ms();
			res = run_prepared_binary("matrix", 2, matrix_params);
			t1 = now_ms();
			check_matrix_shape(res, "fs_get_feature_matrix");
			s->rows_per_call = PQntuples(res);
			s->bytes_per_call = result_bytes(res);
			PQclear(res);
			break;

		case M_HAND_JOIN:
			t0 = now_ms();
			res = run_prepared("hand_join", 1, params);
			t1 = now_ms();
			check_hand_join(res, b, o, MATRIX_COLS, "hand-written join");
			s->rows_per_call = PQntuples(res);
			s->bytes_per_call = result_bytes(res);
			PQclear(res);
			break;

		case M_DDB_MATRIX:
			t0 = now_ms();
			res = run_prepared_binary("ddb_matrix", 2, ddb_params);
			t1 = now_ms();
			if (o->sdk_helper)
				record_window(s, k, t0, t1);
			check_matrix_shape(res, "fs_get_feature_matrix (DynamoDB)");
			s->rows_per_call = PQntuples(res);
			s->bytes_per_call = result_bytes(res);
			PQclear(res);
			break;

		case M_HAND_JOIN_ALL:
			t0 = now_ms();
			res = run_prepared("hand_join_all", 1, params);
			t1 = now_ms();
			check_hand_join(res, b, o, FEATURES_PER_CALL, "hand-written join of all features");
			s->rows_per_call = PQntuples(res);
			s->bytes_per_call = result_bytes(res);
			PQclear(res);
			break;

		case M_TABLE:
			/* Untimed: the table gets exactly this batch's rows. */
			exec_simple("TRUNCATE fs_bench_floor");
			res = run_prepared("fill_floor", 2, params);
			if (atol(PQcmdTuples(res)) != (long) o->entities * FEATURES_PER_CALL)
				die("filling fs_bench_floor: %s rows", PQcmdTuples(res));
			PQclear(res);
			t0 = now_ms();
			res = run_prepared("floor", 0, NULL);
			t1 = now_ms();
			if (PQntuples(res) != o->entities * FEATURES_PER_CALL || PQnfields(res) != 5)
				die("SELECT * FROM fs_bench_floor returned %d rows of %d columns",
					PQntuples(res), PQnfields(res));
			s->rows_per_call = PQntuples(res);
			s->bytes_per_call = result_bytes(res);
			PQclear(res);
			break;

		case M_SDK:
		case M_PLAIN:
			{
				const char *reply = helper_ask(m == M_SDK ? b->csv : b->plain);
				unsigned long long start_ns,
							end_ns;
				long		items,
							requests;

				if (sscanf(reply, "ok %llu %llu %ld %ld", &start_ns, &end_ns,
						   &items, &requests) != 4)
					die("SDK helper: unexpected reply: %s", reply);
				if (items != b->npresent)
					die("SDK helper: %ld items for %d present ids", items, b->npresent);
				t0 = start_ns / 1e6;
				t1 = end_ns / 1e6;
				record_window(s, k, t0, t1);
				s->rows_per_call = items;
				s->bytes_per_call = 0;
			}
			break;

		default:
			die("unknown method %d", m);
			return 0;			/* keep the compiler quiet */
	}
	return t1 - t0;
}

/*
 * The throughput phase: nclients connections each send the statement
 * back to back (a fresh batch of ids per call, from batches drawn before)
 * for seconds seconds; returns the calls completed per second.
 */
static double
run_throughput(PGconn **conns, int nclients, const char *stmt,
			   const char *const *batches, int nbatches, int seconds)
{
	double		end = now_ms() + seconds * 1000.0;
	double		t0 = now_ms();
	double		t1;
	long		done = 0;
	int			next = 0;
	int			busy = 0;
	int			c;

	for (c = 0; c < nclients; c++)
	{
		const char *params[2] = {batches[next++ % nbatches], FEATURE_REFS};

		if (!PQsendQueryPrepared(conns[c], stmt, strcmp(stmt, "vectors") == 0 ? 2 : 1,
								 params, NULL, NULL, 0))
			die("%s: %s", stmt, PQerrorMessage(conns[c]));
		busy++;
	}
	while (busy > 0)
	{
		fd_set		rfds;
		int			maxfd = -1;

		FD_ZERO(&rfds);
		for (c = 0; c < nclients; c++)
		{
			int			fd = PQsocket(conns[c]);

			FD_SET(fd, &rfds);
			if (fd > maxfd)
				maxfd = fd;
		}
		if (select(maxfd + 1, &rfds, NULL, NULL, NULL) < 0 && errno != EINTR)
			die("select: %s", strerror(errno));
		for (c = 0; c < nclients; c++)
		{
			PGresult   *res;
			bool		finished = false;

			if (!FD_ISSET(PQsocket(conns[c]), &rfds))
				continue;
			if (!PQconsumeInput(conns[c]))
				die("%s: %s", stmt, PQerrorMessage(conns[c]));
			while (!PQisBusy(conns[c]) && (res = PQgetResult(conns[c])) != NULL)
			{
				if (PQresultStatus(res) != PGRES_TUPLES_OK)
					die("%s failed: %s", stmt, PQerrorMessage(conns[c]));
				if (PQntuples(res) < 1)
					die("%s returned no row", stmt);
				PQclear(res);
				finished = true;
			}
			if (!finished || PQisBusy(conns[c]))
				continue;
			/* The call is complete (PQgetResult returned NULL). */
			done++;
			busy--;
			if (now_ms() < end)
			{
				const char *params[2] = {batches[next++ % nbatches], FEATURE_REFS};

				if (!PQsendQueryPrepared(conns[c], stmt,
										 strcmp(stmt, "vectors") == 0 ? 2 : 1,
										 params, NULL, NULL, 0))
					die("%s: %s", stmt, PQerrorMessage(conns[c]));
				busy++;
			}
		}
	}
	t1 = now_ms();
	return done / ((t1 - t0) / 1000.0);
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static double
percentile(const double *sorted, int n, double q)
{
	int			k = (int) (q * n + 0.999999);

	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return sorted[k - 1];
}

typedef struct summary
{
	double		p50,
				p95,
				p99,
				mean,
				min,
				max;
} summary;

static summary
summarise(double *ms, int n)
{
	summary		s;
	double		sum = 0;
	int			i;

	qsort(ms, n, sizeof(double), cmp_double);
	for (i = 0; i < n; i++)
		sum += ms[i];
	s.p50 = percentile(ms, n, 0.50);
	s.p95 = percentile(ms, n, 0.95);
	s.p99 = percentile(ms, n, 0.99);
	s.mean = sum / n;
	s.min = ms[0];
	s.max = ms[n - 1];
	return s;
}

int
main(int argc, char **argv)
{
	options		o;
	series		s[NUM_METHODS];
	summary		sum[NUM_METHODS];
	int			order[NUM_METHODS];
	int			nmethods = 0;
	uint32_t   *pool;
	uint64_t	rng;
	id_batch	b;
	char	   *idtext;
	long		i;
	int			m;
	int			it;

	parse_options(&o, argc, argv);

	for (m = 0; m < NUM_METHODS; m++)
		if (o.enabled[m])
			order[nmethods++] = m;
	if (nmethods == 0)
		die("no method selected");

	conn = PQconnectdb(o.conninfo);
	if (PQstatus(conn) != CONNECTION_OK)
		die("connection failed: %s", PQerrorMessage(conn));

	/* Keep the session predictable: no statement timeout, no JIT. */
	exec_simple("SET statement_timeout = 0");
	exec_simple("SET jit = off");

	if (o.enabled[M_FEATURES])
		prepare("fs", "SELECT * FROM fs_get_features($1::text[], $2::text[])", 2);
	if (o.enabled[M_HAND])
	{
		prepare("hand_a",
				"SELECT user_id, event_time, f1, f2, f3, f4, f5, f6, f7, f8, f9, f10"
				" FROM bench_a WHERE user_id = ANY($1::text[])", 1);
		prepare("hand_b",
				"SELECT user_id, event_time, f1, f2, f3, f4, f5, f6, f7, f8, f9, f10"
				" FROM bench_b WHERE user_id = ANY($1::text[])", 1);
	}
	if (o.enabled[M_VECTORS])
		prepare("vectors",
				"SELECT * FROM fs_get_feature_vectors($1::text[], $2::text[])", 2);
	if (o.enabled[M_FEATURES_COUNT])
		prepare("features_count",
				"SELECT count(*) FROM fs_get_features($1::text[], $2::text[])", 2);
	/*
	 * count(f10), not count(*): f10 is the last column and never NULL, so
	 * each row is fetched from the heap and deformed, as a real read does;
	 * count(*) would become an index-only scan.
	 */
	if (o.enabled[M_HAND_COUNT])
	{
		prepare("hand_count_a",
				"SELECT count(f10) FROM bench_a WHERE user_id = ANY($1::text[])", 1);
		prepare("hand_count_b",
				"SELECT count(f10) FROM bench_b WHERE user_id = ANY($1::text[])", 1);
	}
	if (o.enabled[M_DDB])
		prepare("ddb", "SELECT * FROM fs_get_features($1::text[], $2::text[])", 2);
	if (o.enabled[M_DDB_COUNT])
		prepare("ddb_count", "SELECT count(*) FROM fs_get_features($1::text[], $2::text[])", 2);
	if (o.enabled[M_DDB_SCAN])
	{
		char		sql[256];

		snprintf(sql, sizeof(sql),
				 "SELECT count(*) FROM %s WHERE user_id = ANY($1::text[])", o.ddb_view);
		prepare("ddb_scan", sql, 1);
	}
	if (o.enabled[M_DDB_SCAN_ALL])
	{
		char		sql[256];

		snprintf(sql, sizeof(sql),
				 "SELECT count(t) FROM %s t WHERE user_id = ANY($1::text[])", o.ddb_view);
		prepare("ddb_scan_all", sql, 1);
	}
	if (o.enabled[M_MATRIX])
		prepare("matrix", "SELECT fs_get_feature_matrix($1::text[], $2::text[])", 2);
	if (o.enabled[M_HAND_JOIN])
		prepare("hand_join",
				"SELECT i.id, " MATRIX_JOIN_COLS
				" FROM unnest($1::text[]) WITH ORDINALITY AS i(id, n)"
				" LEFT JOIN bench_a a ON a.user_id = i.id"
				" LEFT JOIN bench_b b ON b.user_id = i.id"
				" ORDER BY i.n", 1);
	if (o.enabled[M_HAND_JOIN_ALL])
		prepare("hand_join_all", HAND_JOIN_ALL_SQL, 1);
	if (o.enabled[M_TABLE])
	{
		exec_simple("CREATE TEMPORARY TABLE fs_bench_floor AS"
					" SELECT * FROM fs_get_features('{}'::text[], '" FEATURE_REFS "')");
		prepare("fill_floor",
				"INSERT INTO fs_bench_floor"
				" SELECT * FROM fs_get_features($1::text[], $2::text[])", 2);
		prepare("floor", "SELECT * FROM fs_bench_floor", 0);
	}
	if (o.enabled[M_DDB_MATRIX])
		prepare("ddb_matrix", "SELECT fs_get_feature_matrix($1::text[], $2::text[])", 2);
	if (o.sdk_helper && (o.enabled[M_SDK] || o.enabled[M_PLAIN] || o.enabled[M_DDB] ||
						 o.enabled[M_DDB_COUNT] || o.enabled[M_DDB_SCAN] ||
						 o.enabled[M_DDB_SCAN_ALL] || o.enabled[M_DDB_MATRIX]))
	{
		helper_start(o.sdk_helper);
		helper_ask("window\n");	/* it answers; and a fresh window */
	}

	/* The pool of present ids, 1..rows, partially shuffled per batch. */
	pool = xmalloc(sizeof(uint32_t) * o.rows);
	for (i = 0; i < o.rows; i++)
		pool[i] = (uint32_t) (i + 1);
	rng = o.seed;

	b.ids = xmalloc(sizeof(char *) * o.entities);
	b.present = xmalloc(sizeof(bool) * o.entities);
	idtext = xmalloc((size_t) o.entities * 24);
	b.literal = xmalloc((size_t) o.entities * 24 + 3);
	b.csv = xmalloc((size_t) o.entities * 24 + 8);
	b.plain = xmalloc((size_t) o.entities * 24 + 10);

	memset(s, 0, sizeof(s));
	for (m = 0; m < NUM_METHODS; m++)
	{
		s[m].ms = xmalloc(sizeof(double) * o.iterations);
		s[m].pre_ms = xmalloc(sizeof(double) * o.iterations);
		s[m].busy_ms = xmalloc(sizeof(double) * o.iterations);
		s[m].post_ms = xmalloc(sizeof(double) * o.iterations);
		s[m].requests = xmalloc(sizeof(double) * o.iterations);
		s[m].peak = xmalloc(sizeof(double) * o.iterations);
	}

	/*
	 * The matrix methods, checked once before any timing on a batch of their
	 * own (then the PRNG starts again, so the timed batches do not change).
	 */
	if (o.enabled[M_MATRIX] || o.enabled[M_DDB_MATRIX])
	{
		uint64_t	check_rng = o.seed ^ UINT64_C(0x5DEECE66D);

		draw_batch(&b, &o, pool, &check_rng, idtext);
		if (o.enabled[M_MATRIX])
		{
			const char *params[2] = {b.literal, MATRIX_REFS};
			PGresult   *res = run_prepared_binary("matrix", 2, params);

			check_matrix_once(res, o.entities, MATRIX_COLS, b.npresent < o.entities,
							  "fs_get_feature_matrix");
			PQclear(res);
		}
		if (o.enabled[M_DDB_MATRIX])
		{
			const char *params[2] = {b.literal, ddb_refs};
			PGresult   *res = run_prepared_binary("ddb_matrix", 2, params);

			check_matrix_once(res, o.entities, FEATURES_PER_CALL, b.npresent < o.entities,
							  "fs_get_feature_matrix (DynamoDB)");
			PQclear(res);
			if (o.sdk_helper)
				helper_ask("window\n");	/* a fresh window */
		}
		for (i = 0; i < o.rows; i++)
			pool[i] = (uint32_t) (i + 1);
	}

	for (it = 0; it < o.warmup + o.iterations; it++)
	{
		int			k;

		draw_batch(&b, &o, pool, &rng, idtext);

		/* Rotate the order so that no method always goes first. */
		for (k = 0; k < nmethods; k++)
		{
			int			mm = order[(it + k) % nmethods];
			double		ms = time_method(mm, &b, &o, &s[mm],
										 it >= o.warmup ? it - o.warmup : -1);

			if (it >= o.warmup)
				s[mm].ms[it - o.warmup] = ms;
		}
	}

	printf("feature_store serving benchmark\n");
	printf("  server %d, %d timed iterations after %d warm-up, one connection\n",
		   PQserverVersion(conn), o.iterations, o.warmup);
	if (o.enabled[M_FEATURES] || o.enabled[M_HAND] || o.enabled[M_VECTORS] ||
		o.enabled[M_FEATURES_COUNT] || o.enabled[M_HAND_COUNT] ||
		o.enabled[M_MATRIX] || o.enabled[M_HAND_JOIN])
		printf("  per call: %d entity ids (%d present, %d absent), %d features over %d views,"
			   " tables of %ld rows, seed %" PRIu64 "\n",
			   o.entities, b.npresent, o.entities - b.npresent, FEATURES_PER_CALL,
			   NUM_VIEWS, o.rows, o.seed);
	else
		printf("  per call: %d entity ids (%d present, %d absent), %d features of one view"
			   " (%s, remote table of %ld items), seed %" PRIu64 "\n",
			   o.entities, b.npresent, o.entities - b.npresent, FEATURES_PER_CALL,
			   o.ddb_view, o.rows, o.seed);
	printf("\n  %-26s %9s %9s %9s %9s %9s %9s %9s\n",
		   "method", "rows/call", "KB/call", "p50 ms", "p95 ms", "p99 ms",
		   "mean ms", "max ms");
	for (m = 0; m < NUM_METHODS; m++)
	{
		if (!o.enabled[m])
			continue;
		sum[m] = summarise(s[m].ms, o.iterations);
		if (m == M_SDK || m == M_PLAIN)
			printf("  %-26s %9ld %9s %9.3f %9.3f %9.3f %9.3f %9.3f\n",
				   method_label[m], s[m].rows_per_call, "-",
				   sum[m].p50, sum[m].p95, sum[m].p99, sum[m].mean, sum[m].max);
		else
			printf("  %-26s %9ld %9.1f %9.3f %9.3f %9.3f %9.3f %9.3f\n",
				   method_label[m], s[m].rows_per_call, s[m].bytes_per_call / 1024.0,
				   sum[m].p50, sum[m].p95, sum[m].p99, sum[m].mean, sum[m].max);
	}

	/* Where the time goes, seen from the store (medians of the timed calls). */
	{
		bool		any = false;

		for (m = 0; m < NUM_METHODS; m++)
			any = any || (o.enabled[m] && s[m].have_window);
		if (any)
		{
			printf("\n  where the time goes (medians, ms): before = call start to first request at\n"
				   "  the store, store = some request in flight at the store, after = last\n"
				   "  response sent to call end (decode, rows, transfer to the client)\n");
			printf("  %-26s %9s %9s %9s %9s %9s %9s\n",
				   "method", "total", "before", "store", "after", "requests", "in flight");
			for (m = 0; m < NUM_METHODS; m++)
			{
				summary		pre,
							busy,
							post,
							req,
							peak;

				if (!o.enabled[m] || !s[m].have_window)
					continue;
				pre = summarise(s[m].pre_ms, o.iterations);
				busy = summarise(s[m].busy_ms, o.iterations);
				post = summarise(s[m].post_ms, o.iterations);
				req = summarise(s[m].requests, o.iterations);
				peak = summarise(s[m].peak, o.iterations);
				printf("  %-26s %9.3f %9.3f %9.3f %9.3f %9.0f %5.0f-%-3.0f\n",
					   method_label[m], sum[m].p50, pre.p50, busy.p50, post.p50, req.p50,
					   peak.min, peak.max);
			}
			printf("  (in flight: the least and the most requests the store had at once, per call)\n");
		}
	}

	printf("\n");
	if (o.enabled[M_FEATURES] && o.enabled[M_HAND])
		printf("  ratio fs_get_features / hand-written:         p50 %.2fx  p95 %.2fx\n",
			   sum[M_FEATURES].p50 / sum[M_HAND].p50,
			   sum[M_FEATURES].p95 / sum[M_HAND].p95);
	if (o.enabled[M_VECTORS] && o.enabled[M_HAND])
		printf("  ratio fs_get_feature_vectors / hand-written:  p50 %.2fx  p95 %.2fx\n",
			   sum[M_VECTORS].p50 / sum[M_HAND].p50,
			   sum[M_VECTORS].p95 / sum[M_HAND].p95);
	if (o.enabled[M_FEATURES_COUNT] && o.enabled[M_HAND_COUNT])
		printf("  ratio of the count forms (no rows sent):      p50 %.2fx  p95 %.2fx\n",
			   sum[M_FEATURES_COUNT].p50 / sum[M_HAND_COUNT].p50,
			   sum[M_FEATURES_COUNT].p95 / sum[M_HAND_COUNT].p95);
	if (o.enabled[M_MATRIX] || o.enabled[M_HAND_JOIN])
		printf("  matrix and hand-join read the 14 numeric features f1 f2 f3 f7 f8 f9 f10\n"
			   "  of bench_a and bench_b (f4 text, f5 boolean, f6 real[] left out)\n");
	if (o.enabled[M_MATRIX] && o.enabled[M_HAND_JOIN])
	{
		double		r95 = sum[M_MATRIX].p95 / sum[M_HAND_JOIN].p95;

		printf("  ratio fs_get_feature_matrix / hand-written join: p50 %.2fx  p95 %.2fx\n",
			   sum[M_MATRIX].p50 / sum[M_HAND_JOIN].p50, r95);
		printf("  target matrix p95 <= %.1fx the join (issue 12):  %s\n",
			   TARGET_MATRIX_JOIN, r95 <= TARGET_MATRIX_JOIN ? "PASS" : "MISS");
	}
	if (o.enabled[M_FEATURES])
		printf("  target fs_get_features p95 <= %.1f ms:          %s (%.3f ms)\n",
			   TARGET_P95_MS, sum[M_FEATURES].p95 <= TARGET_P95_MS ? "PASS" : "MISS",
			   sum[M_FEATURES].p95);
	if (o.enabled[M_FEATURES] && o.enabled[M_HAND])
	{
		double		r50 = sum[M_FEATURES].p50 / sum[M_HAND].p50;
		double		r95 = sum[M_FEATURES].p95 / sum[M_HAND].p95;

		printf("  target ratio <= %.1fx at p50 and p95:           %s\n",
			   TARGET_RATIO, (r50 <= TARGET_RATIO && r95 <= TARGET_RATIO) ? "PASS" : "MISS");
	}
	else if (o.enabled[M_FEATURES] || o.enabled[M_HAND])
		printf("  fs_get_features and hand-written not both measured: ratio target not judged\n");
	if (o.enabled[M_DDB] && o.enabled[M_SDK])
	{
		double		r50 = sum[M_DDB].p50 / sum[M_SDK].p50;
		double		r95 = sum[M_DDB].p95 / sum[M_SDK].p95;

		printf("  ratio fs_get_features (DynamoDB) / AWS SDK:   p50 %.2fx  p95 %.2fx\n", r50, r95);
		printf("  target ratio <= %.2fx at p50 and p95:          %s\n",
			   TARGET_DDB_RATIO,
			   (r50 <= TARGET_DDB_RATIO && r95 <= TARGET_DDB_RATIO) ? "PASS" : "MISS");
	}
	if (o.enabled[M_DDB_COUNT] && o.enabled[M_SDK])
		printf("  ratio fs_get_features (DDB), count / AWS SDK: p50 %.2fx  p95 %.2fx\n",
			   sum[M_DDB_COUNT].p50 / sum[M_SDK].p50,
			   sum[M_DDB_COUNT].p95 / sum[M_SDK].p95);
	if (o.enabled[M_DDB_COUNT] && o.enabled[M_PLAIN])
		printf("  ratio fs_get_features (DDB), count / plain:   p50 %.2fx  p95 %.2fx\n",
			   sum[M_DDB_COUNT].p50 / sum[M_PLAIN].p50,
			   sum[M_DDB_COUNT].p95 / sum[M_PLAIN].p95);
	if (o.enabled[M_DDB_MATRIX] && o.enabled[M_SDK])
	{
		double		r50 = sum[M_DDB_MATRIX].p50 / sum[M_SDK].p50;

		printf("  ratio fs_get_feature_matrix (DDB) / AWS SDK:  p50 %.2fx  p95 %.2fx\n",
			   r50, sum[M_DDB_MATRIX].p95 / sum[M_SDK].p95);
		printf("  target matrix p50 <= %.1fx the SDK (issue 12):  %s\n",
			   TARGET_MATRIX_SDK, r50 <= TARGET_MATRIX_SDK ? "PASS" : "MISS");
	}
	if (o.enabled[M_DDB_SCAN] && o.enabled[M_DDB_COUNT])
		printf("  ratio FDW scan count / fs_get_features count: p50 %.2fx  p95 %.2fx\n",
			   sum[M_DDB_SCAN].p50 / sum[M_DDB_COUNT].p50,
			   sum[M_DDB_SCAN].p95 / sum[M_DDB_COUNT].p95);
	if (o.enabled[M_DDB_SCAN_ALL] && o.enabled[M_DDB_COUNT])
		printf("  ratio FDW scan, all cols / fs_get_features:   p50 %.2fx  p95 %.2fx\n",
			   sum[M_DDB_SCAN_ALL].p50 / sum[M_DDB_COUNT].p50,
			   sum[M_DDB_SCAN_ALL].p95 / sum[M_DDB_COUNT].p95);
	if (o.enabled[M_SDK] || o.enabled[M_PLAIN] || o.enabled[M_DDB] ||
		o.enabled[M_DDB_COUNT] || o.enabled[M_DDB_SCAN] || o.enabled[M_DDB_SCAN_ALL] ||
		o.enabled[M_DDB_MATRIX])
		printf("  protocols: the SQL methods are libpq, extended protocol (prepared),\n"
			   "  results in text format (ddb-matrix: binary, resultFormat = 1),\n"
			   "  fetched whole; the backend speaks HTTP/1.1 + JSON (SigV4-signed,\n"
			   "  libcurl) to the store; sdk: AWS SDK v3 over\n"
			   "  HTTP/1.1 + JSON, signed; plain: Node.js http keep-alive + JSON.parse,\n"
			   "  unsigned; sdk and plain timed inside the helper, the SQL methods here\n");
	else if (o.enabled[M_MATRIX] || o.enabled[M_HAND_JOIN])
		printf("  protocols: libpq, extended protocol (prepared), fetched whole;\n"
			   "  matrix in binary format (resultFormat = 1), the others in text\n");
	if (o.enabled[M_VECTORS] && o.enabled[M_HAND_JOIN_ALL])
	{
		double		r95 = sum[M_VECTORS].p95 / sum[M_HAND_JOIN_ALL].p95;

		printf("  ratio fs_get_feature_vectors / join (20 cols): p50 %.2fx  p95 %.2fx\n",
			   sum[M_VECTORS].p50 / sum[M_HAND_JOIN_ALL].p50, r95);
		printf("  target vectors p95 <= %.1fx the join (issue 12): %s\n",
			   TARGET_VECTORS_JOIN, r95 <= TARGET_VECTORS_JOIN ? "PASS" : "MISS");
	}
	if (o.enabled[M_FEATURES] && o.enabled[M_TABLE])
	{
		double		r95 = sum[M_FEATURES].p95 / sum[M_TABLE].p95;

		printf("  ratio fs_get_features / SELECT * of its rows: p50 %.2fx  p95 %.2fx\n",
			   sum[M_FEATURES].p50 / sum[M_TABLE].p50, r95);
		printf("  target features p95 <= %.1fx that (issue 12):  %s\n",
			   TARGET_FEATURES_TABLE, r95 <= TARGET_FEATURES_TABLE ? "PASS" : "MISS");
	}

	/* The throughput phase: vectors against the hand-written join. */
	if (o.clients > 1)
	{
		PGconn	  **conns = xmalloc(sizeof(PGconn *) * o.clients);
		int			nbatches = 64;
		char	  **batches = xmalloc(sizeof(char *) * nbatches);
		double	   *vec = xmalloc(sizeof(double) * o.rounds);
		double	   *join = xmalloc(sizeof(double) * o.rounds);
		summary		sv,
					sj;
		int			c,
					r;

		for (r = 0; r < nbatches; r++)
		{
			draw_batch(&b, &o, pool, &rng, idtext);
			batches[r] = strdup(b.literal);
		}
		for (c = 0; c < o.clients; c++)
		{
			PGconn	   *saved = conn;
			PGresult   *res;

			conns[c] = PQconnectdb(o.conninfo);
			if (PQstatus(conns[c]) != CONNECTION_OK)
				die("connection failed: %s", PQerrorMessage(conns[c]));
			conn = conns[c];
			exec_simple("SET statement_timeout = 0");
			exec_simple("SET jit = off");
			prepare("vectors",
					"SELECT * FROM fs_get_feature_vectors($1::text[], $2::text[])", 2);
			prepare("hand_join_all", HAND_JOIN_ALL_SQL, 1);
			/* Warm each connection's caches. */
			res = run_prepared("vectors", 2, (const char *const[]) {batches[0], FEATURE_REFS});
			PQclear(res);
			res = run_prepared("hand_join_all", 1, (const char *const[]) {batches[0]});
			PQclear(res);
			conn = saved;
		}
		for (r = 0; r < o.rounds; r++)
		{
			if (r % 2 == 0)
			{
				vec[r] = run_throughput(conns, o.clients, "vectors",
										(const char *const *) batches, nbatches, o.seconds);
				join[r] = run_throughput(conns, o.clients, "hand_join_all",
										 (const char *const *) batches, nbatches, o.seconds);
			}
			else
			{
				join[r] = run_throughput(conns, o.clients, "hand_join_all",
										 (const char *const *) batches, nbatches, o.seconds);
				vec[r] = run_throughput(conns, o.clients, "vectors",
										(const char *const *) batches, nbatches, o.seconds);
			}
		}
		sv = summarise(vec, o.rounds);
		sj = summarise(join, o.rounds);
		printf("\n  throughput, %d clients at once, %d rounds of %d s per method, alternating\n"
			   "  (text format, extended protocol, each call a fresh batch of %d ids):\n",
			   o.clients, o.rounds, o.seconds, o.entities);
		printf("  %-28s median %7.1f calls/s (min %.1f, max %.1f)\n",
			   method_label[M_VECTORS], sv.p50, sv.min, sv.max);
		printf("  %-28s median %7.1f calls/s (min %.1f, max %.1f)\n",
			   method_label[M_HAND_JOIN_ALL], sj.p50, sj.min, sj.max);
		printf("  ratio vectors / join, calls/s: %.2fx; target >= %.2fx (issue 12): %s\n",
			   sv.p50 / sj.p50, TARGET_THROUGHPUT,
			   sv.p50 / sj.p50 >= TARGET_THROUGHPUT ? "PASS" : "MISS");
		for (c = 0; c < o.clients; c++)
			PQfinish(conns[c]);
	}
	printf("  (targets are informational; see docs/benchmarks.md)\n");

	helper_stop();
	PQfinish(conn);
	return 0;
}
