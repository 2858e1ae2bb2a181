#!/usr/bin/env bash
# run_faults.sh — fs_dynamodb against a misbehaving store
# (test/dynamodb/fault_server.js) and, for the memory checks, dynalite:
#
#   (a) connection refused: HV00N at once (well within the connect timeout),
#       from serving and from the foreign table; with
#       feature_store.on_store_error = 'unavailable', UNAVAILABLE rows and a
#       WARNING instead.
#   (b) a store that never answers: statement_timeout cancels serving and a
#       foreign-table SELECT with 57014 promptly, and so does
#       pg_cancel_backend; the same backend goes on working;
#       request_timeout_ms gives 08006.
#   (c) 5xx then ok, throttled then ok: retried, rows and no error (the fault
#       server's ok answer is an empty BatchGetItem response: NOT_FOUND rows);
#       throttled forever: HV000 after max_retries retries, with a hint
#       naming max_retries; a connection closed without an answer: retried,
#       then 08006.
#   (d) 200 answers that are garbage, truncated or of the wrong shape: an
#       error naming what is wrong (HV004 from serving and the foreign table), and
#       the backend survives.
#   (d2) the decoder, against a canned store (fault_server.js canned:DIR,
#       whose answer the entity id picks): 200 BatchGetItem answers that are
#       garbage, cut mid-item or mid-string, items whose attributes have the
#       wrong AttributeValue for the column (S for float8, N for text, BOOL
#       for bigint, L for a scalar, {"S":1}, N "abc", two keys), numbers
#       beyond float8, bigint, integer, numeric(5,2) and numeric, JSON
#       numbers beyond a double, a jsonb nested 5,000 levels, invalid UTF-8,
#       a lone surrogate, "\u0000" in text and jsonb: each its SQLSTATE
#       (HV004, 22003, or 22P05 for a NUL, which text and jsonb cannot
#       hold) from fs_get_features, the foreign table
#       and fs_get_feature_matrix (or the matrix served when the fault is in
#       an attribute it does not ask for), the message naming the attribute
#       (or the view and table when the whole answer is refused), and the
#       same backend then serves a good item by each path.  Served exactly:
#       a jsonb nested 50 levels, 16 kB text and jsonb strings, "é😀" raw
#       and escaped, every JSON escape; an attribute named twice reads as
#       the last; items of one answer that list their attributes in
#       different orders (and one not asked for) are each read right; an
#       item the store sends that was not asked for is dropped (the foreign
#       table does not check its key clause again), and a number key the
#       store writes in another form ("1E+2") is the key asked for (100).
#   (e) an error answer (ValidationException): the store's message in the
#       error detail.
#   (e3) answers too large: a body beyond max_response_size is 54000 naming
#       the limit, announced (Content-Length) or chunked, not retried; a
#       response header beyond libcurl's limit is 54000 too, not a failure to
#       connect, and not retried.
#   (e4) explicit UnprocessedKeys: asked again until answered, within
#       max_retries; beyond it, an error from the foreign table and from
#       serving (or UNAVAILABLE rows).
#   (f) memory: 10,000 calls in one session, for a few ids, of each reader:
#       fs_get_features, fs_get_feature_vectors, fs_get_feature_matrix and
#       the foreign table's key = ANY ($1) against dynalite, and the three
#       functions on the embedded store; each grows the backend's RSS by
#       less than 5 MB (from call 1,000 to 10,000) and its memory contexts
#       (pg_backend_memory_contexts' total) by less than 1 MB (from call 200
#       to 10,000), and serves correctly after.  Then 30 calls of
#       fs_get_feature_matrix of 10,000 x 50 on the embedded store, and
#       3,000 calls on error paths (throttled, garbage, an answer of the
#       wrong shape raised while it is held) caught in plpgsql,
#       each growing RSS by less than 5 MB.
#   (g) credentials refused: the hint says whether the user mapping is
#       missing, has no keys, or has keys to check.
#   (h) the store deadline (feature_store.store_deadline_ms, the server option
#       store_deadline_ms): against a store that answers some BatchGetItem
#       requests and hangs on others, a 300 ms deadline serves the local
#       view and the answered keys, and the rest UNAVAILABLE with a WARNING
#       (on_store_error = 'unavailable'), or fails with HV000 naming the
#       setting ('error'), well within a 5 s statement_timeout kept as a
#       safety net; retries of a throttled request and rounds of
#       UnprocessedKeys stop at the deadline too, whatever max_retries says;
#       the backend then serves correct values from the same store (the
#       abandoned connections, answered late, are closed and not reused); a
#       store that answers within the deadline is served in full; the server
#       option store_deadline_ms wins over the setting; ids that are one
#       integer key ('7', '007') are cut off together.
#   (i) a foreign table without the option "key", whose DescribeTable (which
#       tells serving the key) fails: a refused connection, a store answering
#       500 until max_retries runs out, a 200 answer without a KeySchema.
#       With on_store_error = 'unavailable' the view is UNAVAILABLE with one
#       WARNING naming the view, the remote table and the cause, and a local
#       view of the same call is served; with 'error' the call fails as
#       before (HV00N; HV000 naming max_retries; HV004); a failed
#       DescribeTable is not cached (each call asks again).
#   (j) serving statistics (fs_stats, after fs_stats_reset()) of one call
#       for 3 ids and 2 features: throttled 3 times then answered (max_retries
#       '5'): 1 call, 3 throttles, 3 retries, 4 requests, no store error;
#       throttled forever (max_retries '2') under on_store_error = 'error'
#       (HV000): no call, 3 requests, 2 retries, 3 throttles, 1 store error
#       (counted though the call raised), as many requests as the store saw;
#       the same under 'unavailable': 1 call, 6 values UNAVAILABLE (ids x
#       refs), 1 store error; a refused connection under 'error' (HV00N): no
#       call, 1 request (not retried), 1 store error.  Skipped, with a
#       comment line, when feature_store is not preloaded (no statistics).
#
# Every fault server listens on 127.0.0.1, on a port it picks, and is killed
# at the end of its check.  Checks compare SQLSTATEs, statuses and request
# counts, never libcurl's wording or ports; timings and RSS figures are shown
# as "# " comment lines.
#
# Skips everything ("# skipped: ...", nothing counted) when the installed
# extension has no fs_dynamodb wrapper; skips (f)'s dynalite part when
# FS_DYNALITE_ENDPOINT is unset.  Needs PGHOST/PGPORT/PGUSER of a cluster
# with feature_store installed (as a superuser: RSS is read with
# pg_read_file) and node.  Prints "ok - name" / "not ok - name" per check
# and, last, "N passed, N failed".  Exits 0 when it could run (whatever
# failed), 2 otherwise.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"

PREFIX="fs_faults_$$"           # the remote table on dynalite: ${PREFIX}_items

export PGCLIENTENCODING=UTF8
export PGOPTIONS="${PGOPTIONS:-} -c timezone=UTC"

# session: one psql session reading a script from stdin, errors and warnings
# as "ERROR:  SQLSTATE" / "WARNING:  SQLSTATE" among the results.
session() { psql -X -q -At -v ON_ERROR_STOP=0 -v VERBOSITY=sqlstate -d "$DB" 2>&1 || true; }

# Lines of FILE after marker line M (a line "@M"), up to the next marker.
after() { awk -v m="@$2" '/^@/ { on = ($0 == m); next } on' "$1"; }

# SQL pointing server "faults" at the current fault server, with max_retries $1.
point_at_fault() {
    echo "ALTER SERVER faults OPTIONS (SET endpoint 'http://127.0.0.1:$FPORT', SET max_retries '$1');"
}

# check_rss NAME FILE FIRST SECOND: the "@rss" line of FILE holds the VmRSS
# (kB) after FIRST and after SECOND, which must differ by less than LIMIT_KB.
check_rss() {
    local name="$1" file="$2" rss1 rss2
    read -r rss1 rss2 <<<"$(after "$file" rss)"
    if [[ "${rss1:-}" =~ ^[0-9]+$ && "${rss2:-}" =~ ^[0-9]+$ ]]; then
        echo "# memory: VmRSS after $3 ${rss1} kB, after $4 ${rss2} kB, growth $((rss2 - rss1)) kB"
        check_true "$name" "$([ $((rss2 - rss1)) -lt "$LIMIT_KB" ] && echo t || echo f)" "growth $((rss2 - rss1)) kB"
    else
        not_ok "$name" "$(grep -E 'ERROR|FATAL|server closed' "$file" | head -n 5)"
    fi
}

# --- preconditions ----------------------------------------------------------

need_psql
need_node
[ -f "$FAULT_JS" ] || die "$FAULT_JS is missing"
[ "$(psql -X -q -At -d postgres -c 'SELECT rolsuper FROM pg_roles WHERE rolname = current_user')" = t ] ||
    die "needs a superuser (the memory checks read /proc with pg_read_file)"

make_work fs_faults FS_FAULTS_KEEP
scratch_db "fs_faults_$$"
need_fs_dynamodb

# Server "faults" points at one fault server after another.  The foreign
# table names its key, so nothing asks DescribeTable.  fault_try runs a query
# and reports its SQLSTATE ('ok' when it succeeds), message, detail, hint and
# how long it took; it catches cancels too.
setup_sql "$DB" <<EOF
SET client_min_messages = warning;
$(dynamodb_server faults 'http://127.0.0.1:9' "max_retries '2'")
CREATE FOREIGN TABLE fault_t (user_id text, event_time timestamptz, clicks bigint, ctr float8)
  SERVER faults OPTIONS (table 'fault_items', key 'user_id');
SELECT FROM fs_register_entity('user', 'user_id');
SELECT FROM fs_register_feature_view('fv', 'fault_t', 'user');

CREATE FUNCTION fault_try(q text, OUT state text, OUT msg text, OUT detail text,
                          OUT hint text, OUT secs numeric)
LANGUAGE plpgsql AS \$\$
DECLARE
    t0 timestamptz := clock_timestamp();
    n bigint;
BEGIN
    EXECUTE 'SELECT count(*) FROM (' || q || ') s' INTO n;
    state := 'ok';
    msg := n || ' rows';
    secs := round(extract(epoch FROM clock_timestamp() - t0), 3);
EXCEPTION WHEN OTHERS OR query_canceled THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
        detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    secs := round(extract(epoch FROM clock_timestamp() - t0), 3);
END \$\$;

-- The backend's resident set, in kB.
CREATE FUNCTION backend_rss_kb() RETURNS bigint LANGUAGE sql AS \$\$
    SELECT substring(pg_read_file('/proc/' || pg_backend_pid() || '/status')
                     FROM 'VmRSS:\s*([0-9]+)')::bigint
\$\$;
EOF
rss="$(q "SELECT backend_rss_kb()")"
[[ "$rss" =~ ^[0-9]+$ ]] || die "cannot read the backend's VmRSS: $rss"

GET="SELECT * FROM fs_get_features(ARRAY['u1', 'u2', 'u3'], ARRAY['fv:*'])"
SEL="SELECT * FROM fault_t WHERE user_id = ANY (ARRAY['u1', 'u2', 'u3'])"
# Serving's statuses, one per row: "u1:fv:clicks:STATUS,...".
STATUSES="SELECT string_agg(entity_id || ':' || feature_ref || ':' || status, ',') FROM fs_get_features(ARRAY['u1', 'u2', 'u3'], ARRAY['fv:*'])"
all_status() { printf 'u1:fv:clicks:%s,u1:fv:ctr:%s,u2:fv:clicks:%s,u2:fv:ctr:%s,u3:fv:clicks:%s,u3:fv:ctr:%s' "$1" "$1" "$1" "$1" "$1" "$1"; }

# --- (a) connection refused ---------------------------------------------------
echo "# (a) connection refused"
start_fault ok
stop_fault                      # its port is free again: nothing listens there
session >"$WORK/a.out" <<EOF
$(point_at_fault 2)
SELECT pg_backend_pid() AS pid0 \gset
\echo @get
SELECT state, secs < 1.5 FROM fault_try(\$q\$$GET\$q\$);
\echo @get_msg
SELECT msg, detail, secs FROM fault_try(\$q\$$GET\$q\$);
\echo @sel
SELECT state, secs < 1.5 FROM fault_try(\$q\$$SEL\$q\$);
\echo @unavailable
SET feature_store.on_store_error = 'unavailable';
$STATUSES;
\echo @alive
RESET feature_store.on_store_error;
SELECT pg_backend_pid() = :pid0;
EOF
check "refused: fs_get_features fails with HV00N, within 1.5 s" "HV00N|t" "$(after "$WORK/a.out" get)"
get_msg="$(after "$WORK/a.out" get_msg)"
echo "# refused: took $(cut -d'|' -f3 <<<"$get_msg") s"
check "refused: the error says the store could not be reached, with a fixed detail" \
    "DynamoDB BatchGetItem request failed|ConnectionFailed: could not connect to the store." \
    "$(cut -d'|' -f1,2 <<<"$get_msg")"
check "refused: a SELECT on the foreign table fails with HV00N, within 1.5 s" "HV00N|t" "$(after "$WORK/a.out" sel)"
check "refused: on_store_error = 'unavailable' gives a WARNING (HV00N) and UNAVAILABLE rows" \
    "WARNING:  HV00N
$(all_status UNAVAILABLE)" "$(after "$WORK/a.out" unavailable)"
check "refused: the session goes on, in the same backend" "t" "$(after "$WORK/a.out" alive)"

# --- (b) a store that never answers ---------------------------------------------
echo "# (b) a store that never answers"
start_fault 5xx-then-ok:0       # answers at once, for after the cancels
OK_PORT="$FPORT"
OK_PID="$FPID"
OK_LOG="$FLOG"
start_fault never
session >"$WORK/b.out" <<EOF
$(point_at_fault 2)
SELECT pg_backend_pid() AS pid0 \gset
SET statement_timeout = '200ms';
SELECT clock_timestamp() AS t0 \gset
\echo @get
$GET;
\echo @get_time
SELECT round(extract(epoch FROM clock_timestamp() - :'t0'), 3);
SELECT clock_timestamp() AS t0 \gset
\echo @sel
$SEL;
\echo @sel_time
SELECT round(extract(epoch FROM clock_timestamp() - :'t0'), 3);
RESET statement_timeout;
\echo @alive
SELECT pg_backend_pid() = :pid0, 1 + 1;
SET application_name = 'fs_faults_victim';
\! (sleep 0.3; psql -X -q -At -d "$DB" -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'fs_faults_victim'" >"$WORK/b.cancel" 2>&1) &
SELECT clock_timestamp() AS t0 \gset
\echo @cancel
$GET;
\echo @cancel_time
SELECT round(extract(epoch FROM clock_timestamp() - :'t0'), 3);
\echo @request_timeout
ALTER SERVER faults OPTIONS (ADD request_timeout_ms '300');
SELECT state, secs < 1.5 FROM fault_try(\$q\$$GET\$q\$);
\echo @request_timeout_units
ALTER SERVER faults OPTIONS (SET request_timeout_ms '0.3s');
SELECT state, secs < 1.5 FROM fault_try(\$q\$$GET\$q\$);
ALTER SERVER faults OPTIONS (DROP request_timeout_ms);
\echo @after_cancel
ALTER SERVER faults OPTIONS (SET endpoint 'http://127.0.0.1:$OK_PORT');
$STATUSES;
SELECT pg_backend_pid() = :pid0;
EOF
check "never: statement_timeout cancels fs_get_features with 57014" "ERROR:  57014" "$(after "$WORK/b.out" get)"
t_get="$(after "$WORK/b.out" get_time)"
t_sel="$(after "$WORK/b.out" sel_time)"
echo "# never: fs_get_features cancelled after $t_get s, the SELECT after $t_sel s (statement_timeout 200ms)"
check_true "never: the cancel of fs_get_features comes within 1 s" \
    "$(awk -v t="$t_get" 'BEGIN { print (t != "" && t + 0 < 1.0) ? "t" : "f" }')" "took: $t_get s"
check "never: statement_timeout cancels a SELECT on the foreign table with 57014" "ERROR:  57014" "$(after "$WORK/b.out" sel)"
check_true "never: the cancel of the SELECT comes within 1 s" \
    "$(awk -v t="$t_sel" 'BEGIN { print (t != "" && t + 0 < 1.0) ? "t" : "f" }')" "took: $t_sel s"
check "never: the same backend then runs another query" "t|2" "$(after "$WORK/b.out" alive)"
t_cancel="$(after "$WORK/b.out" cancel_time)"
check "never: the other session found the backend and cancelled it" "t" "$(cat "$WORK/b.cancel" 2>&1)"
echo "# never: pg_cancel_backend from another session after 0.3 s; the call ended after $t_cancel s"
check "never: pg_cancel_backend from another session cancels fs_get_features with 57014" \
    "ERROR:  57014" "$(after "$WORK/b.out" cancel)"
check_true "never: the cancel by pg_cancel_backend comes within 1 s" \
    "$(awk -v t="$t_cancel" 'BEGIN { print (t != "" && t + 0 < 1.0) ? "t" : "f" }')" "took: $t_cancel s"
check "never: request_timeout_ms '300' ends the request with 08006" "08006|t" "$(after "$WORK/b.out" request_timeout)"
check "never: request_timeout_ms '0.3s' (units as the setting's) ends the request with 08006" "08006|t" \
    "$(after "$WORK/b.out" request_timeout_units)"
check "never: after the cancels, the same backend serves from a store that answers" \
    "$(all_status NOT_FOUND)
t" "$(after "$WORK/b.out" after_cancel)"
check "never: the store that answers saw that one request" "200" "$(FLOG="$OK_LOG" answered)"
stop_fault
FPID="$OK_PID"
stop_fault

# --- (c) retries ------------------------------------------------------------------
echo "# (c) retries"
start_fault 5xx-then-ok:2
check "5xx-then-ok:2: fs_get_features is retried and returns NOT_FOUND rows, no error" \
    "$(all_status NOT_FOUND)" "$(session <<EOF
$(point_at_fault 5)
$STATUSES;
EOF
)"
check "5xx-then-ok:2: the store saw two 500s, then one 200" "500 500 200" "$(answered)"
stop_fault

start_fault 5xx-then-ok:2
check "5xx-then-ok:2: a SELECT on the foreign table is retried and returns no rows, no error" \
    "ok|0 rows" "$(q "$(point_at_fault 5) SELECT state, msg FROM fault_try(\$q\$$SEL\$q\$)")"
check "5xx-then-ok:2: the store saw two 500s, then one 200 (foreign table)" "500 500 200" "$(answered)"
stop_fault

start_fault throttle-then-ok:3
check "throttle-then-ok:3: fs_get_features is retried and returns NOT_FOUND rows, no error" \
    "$(all_status NOT_FOUND)" "$(session <<EOF
$(point_at_fault 5)
$STATUSES;
EOF
)"
check "throttle-then-ok:3: the store saw three throttles, then one 200" "400 400 400 200" "$(answered)"
stop_fault

start_fault throttle-then-ok:3
check "throttle-then-ok:3: a SELECT on the foreign table is retried and returns no rows" \
    "ok|0 rows" "$(q "$(point_at_fault 5) SELECT state, msg FROM fault_try(\$q\$$SEL\$q\$)")"
stop_fault

start_fault throttle-forever
out="$(q "$(point_at_fault 2) SELECT state, hint ~ 'max_retries', detail FROM fault_try(\$q\$$GET\$q\$)")"
check "throttle-forever: fs_get_features fails with HV000 after max_retries, hinting at max_retries" \
    "HV000|t|ProvisionedThroughputExceededException: Rate exceeded" "$out"
check "throttle-forever: max_retries '2' means three requests" "400 400 400" "$(answered)"
stop_fault

start_fault throttle-forever
out="$(q "$(point_at_fault 2) SELECT state, hint ~ 'max_retries', detail FROM fault_try(\$q\$$SEL\$q\$)")"
check "throttle-forever: a SELECT on the foreign table fails with HV000, hinting at max_retries" \
    "HV000|t|ProvisionedThroughputExceededException: Rate exceeded" "$out"
check "throttle-forever: max_retries '2' means three requests (foreign table)" "400 400 400" "$(answered)"
stop_fault

start_fault reset
out="$(q "$(point_at_fault 2) SELECT state, detail FROM fault_try(\$q\$$GET\$q\$)")"
check "reset: a connection closed without an answer is retried, then fails with 08006" \
    "08006|ConnectionFailed: the connection to the store broke during the request." "$out"
check "reset: max_retries '2' means three requests" "3" "$(requests)"
stop_fault

# --- (d) bad 200 answers ---------------------------------------------------------
echo "# (d) 200 answers that are not a BatchGetItem response"
# mode|what the serving error's detail says|what the foreign-table error's message says
BAD=(
    'garbage|The answer is not a JSON object.|not a JSON object'
    'truncated|The answer is not a JSON object.|not a JSON object'
    'wrong-types|"Responses" is not an object.|Responses'
    'ok|The answer has no "Responses".|Responses'
)
for entry in "${BAD[@]}"; do
    IFS='|' read -r mode get_says sel_says <<<"$entry"
    start_fault "$mode"
    session >"$WORK/d.$mode.out" <<EOF
$(point_at_fault 2)
SELECT pg_backend_pid() AS pid0 \gset
\echo @get
SELECT state, msg, strpos(detail, \$s\$$get_says\$s\$) > 0 FROM fault_try(\$q\$$GET\$q\$);
\echo @sel
SELECT state, strpos(msg || ' ' || coalesce(detail, ''), \$s\$$sel_says\$s\$) > 0 FROM fault_try(\$q\$$SEL\$q\$);
\echo @alive
SELECT 1, pg_backend_pid() = :pid0;
\echo @unavailable
SET feature_store.on_store_error = 'unavailable';
$STATUSES;
EOF
    check "$mode: fs_get_features fails with HV004 naming what is wrong" \
        "HV004|invalid BatchGetItem response from the store of feature view \"fv\"|t" "$(after "$WORK/d.$mode.out" get)"
    check "$mode: a SELECT on the foreign table fails with HV004 naming what is wrong" \
        "HV004|t" "$(after "$WORK/d.$mode.out" sel)"
    check "$mode: the backend survives (SELECT 1 in the same session)" "1|t" "$(after "$WORK/d.$mode.out" alive)"
    check "$mode: on_store_error = 'unavailable' gives a WARNING and UNAVAILABLE rows" \
        "WARNING:  HV004
$(all_status UNAVAILABLE)" "$(after "$WORK/d.$mode.out" unavailable)"
    stop_fault
done

# --- (d2) the decoder: bad and awkward items in 200 answers -------------------------
echo "# (d2) the decoder: 200 BatchGetItem answers with bad or awkward items"
# A canned store (fault_server.js mode canned:DIR) answers a BatchGetItem
# with the file DIR/ID.json, ID being the key asked for: so the entity id
# picks the answer, and one session goes from a bad answer to a good one.
# View "dec" (foreign table dec_t, remote table dec_items) has a feature of
# each kind the decoder reads differently.  Each answer holds one item: its
# key, its event time and the attributes named below.
mkdir "$WORK/bodies"
node - "$WORK/bodies" <<'JS'
const fs = require('fs');
const dir = process.argv[2];
const head = (id) => '{"Responses":{"dec_items":[{"user_id":{"S":"' + id + '"},"event_time":{"N":"1767225600"}';
const tail = '}]},"UnprocessedKeys":{}}';
const item = (id, attrs) => head(id) + ',' + attrs + tail;
const put = (id, body) => fs.writeFileSync(dir + '/' + id + '.json', body);
// n levels of AttributeValue nesting, M and L in turn, around leaf.
const nest = (n, leaf) => { let s = leaf; for (let k = 0; k < n; k++) s = k % 2 ? '{"L":[' + s + ']}' : '{"M":{"a":' + s + '}}'; return s; };
const ESC = '"\\"\\\\\\/\\b\\f\\n\\r\\t"';      // the JSON text "\"\\\/\b\f\n\r\t"

put('good', item('good', '"f":{"N":"0.5"},"t":{"S":"hello"},"b":{"N":"9007199254740993"},"n":{"N":"123.45"},' +
    '"j":{"M":{"a":{"N":"1"},"b":{"L":[{"S":"x"},{"BOOL":true},{"NULL":true}]}}},"ok":{"BOOL":true},"i":{"N":"7"}'));
// Not JSON, or cut short.
put('garbage', Buffer.from([0x00, 0xff, 0xfe, 0x7b, 0x22, 0x01, 0x02, 0x80, 0x0a, 0x67, 0x61, 0x72, 0x62, 0x61, 0x67, 0x65]));
put('trunc_item', head('trunc_item') + ',"f":{"N":"1.5"},');
put('trunc_string', head('trunc_string') + ',"t":{"S":"abc');
// The wrong AttributeValue for the column, or no AttributeValue at all.
put('s_for_float', item('s_for_float', '"f":{"S":"1.5"}'));
put('n_for_text', item('n_for_text', '"t":{"N":"1"}'));
put('bool_for_number', item('bool_for_number', '"b":{"BOOL":true}'));
put('l_for_scalar', item('l_for_scalar', '"f":{"L":[{"N":"1"}]}'));
put('s_json_number', item('s_json_number', '"t":{"S":1}'));
put('n_abc', item('n_abc', '"f":{"N":"abc"}'));
put('two_keys', item('two_keys', '"f":{"N":"1","S":"x"}'));
// Numbers beyond the column's type, and JSON numbers beyond a double.
put('float_1e400', item('float_1e400', '"f":{"N":"1e400"}'));
put('json_1e400', '{"Responses":{"dec_items":[{"user_id":{"S":"json_1e400"},"f":{"N":"1"}}]},"UnprocessedKeys":{},' +
    '"ConsumedCapacity":[{"TableName":"dec_items","CapacityUnits":1e400}]}');
put('json_1e400_item', item('json_1e400_item', '"f":{"N":1e400}'));
put('bigint_big', item('bigint_big', '"b":{"N":"99999999999999999999"}'));
put('numeric_big', item('numeric_big', '"n":{"N":"123456"}'));
put('int_big', item('int_big', '"i":{"N":"2147483648"}'));
put('jsonb_n_huge', item('jsonb_n_huge', '"j":{"N":"1e200000"}'));
// Nesting, size, encodings, escapes, duplicates.
put('deep5000', item('deep5000', '"j":' + nest(5000, '{"N":"1"}')));
put('deep50', item('deep50', '"j":' + nest(50, '{"N":"1"}')));
put('big16k', item('big16k', '"t":{"S":"' + 'abcdefghij'.repeat(1600) + '"},"j":{"S":"' + 'klmnopqrst'.repeat(1600) + '"}'));
put('bad_utf8', Buffer.concat([Buffer.from(head('bad_utf8') + ',"t":{"S":"a'), Buffer.from([0xff, 0xfe]), Buffer.from('b"}' + tail)]));
put('lone_surrogate', item('lone_surrogate', '"t":{"S":"a\\ud800b"}'));
put('unicode', item('unicode', '"t":{"S":"é😀"},"j":{"M":{"é😀":{"S":"é😀"}}}'));
put('unicode_escaped', item('unicode_escaped', '"t":{"S":"\\u00e9\\ud83d\\ude00"}'));
put('escapes', item('escapes', '"t":{"S":' + ESC + '},"j":{"S":' + ESC + '}'));
put('nul_text', item('nul_text', '"t":{"S":"a\\u0000b"}'));
put('nul_jsonb', item('nul_jsonb', '"j":{"S":"a\\u0000b"}'));
put('dup_keys', item('dup_keys', '"f":{"N":"1"},"f":{"N":"2"}'));
// Three items of one answer, listing their attributes in different orders
// (the reader guesses each item's order from the one before).
put('orders', '{"Responses":{"dec_items":[' +
    '{"user_id":{"S":"orders"},"event_time":{"N":"1767225600"},"f":{"N":"1.5"},"t":{"S":"one"},"i":{"N":"1"}},' +
    '{"i":{"N":"2"},"t":{"S":"two"},"f":{"N":"2.5"},"event_time":{"N":"1767225600"},"user_id":{"S":"orders2"}},' +
    '{"t":{"S":"three"},"zz":{"S":"not asked for"},"user_id":{"S":"orders3"},"i":{"N":"3"},"event_time":{"N":"1767225600"},"f":{"N":"3.5"}}' +
    ']},"UnprocessedKeys":{}}');
// An item not asked for among those that were (the foreign table does not
// check its key clause again, so it must drop it), and a number key written
// in another form than ours ("1E+2" for 100).
put('extra', '{"Responses":{"dec_items":[' +
    '{"user_id":{"S":"extra"},"event_time":{"N":"1767225600"},"f":{"N":"1"}},' +
    '{"user_id":{"S":"intruder"},"event_time":{"N":"1767225600"},"f":{"N":"2"}}]},"UnprocessedKeys":{}}');
put('100', '{"Responses":{"dec_items":[{"id":{"N":"1E+2"},"event_time":{"N":"1767225600"},"f":{"N":"3"}}]},' +
    '"UnprocessedKeys":{}}');
JS
start_fault "canned:$WORK/bodies"
setup_sql "the decoder's view" <<EOF
SET client_min_messages = warning;
$(dynamodb_server canned "http://127.0.0.1:$FPORT" "max_retries '0'")
CREATE FOREIGN TABLE dec_t (user_id text, event_time timestamptz, f float8, t text, b bigint,
                            n numeric(5,2), j jsonb, ok boolean, i int)
  SERVER canned OPTIONS (table 'dec_items', key 'user_id');
SELECT FROM fs_register_feature_view('dec', 'dec_t', 'user');
CREATE FOREIGN TABLE dec_n (id int, event_time timestamptz, f float8)
  SERVER canned OPTIONS (table 'dec_items', key 'id');

-- A query's SQLSTATE ('ok' when it succeeds), and its message and context;
-- every column of every row is output, so decoded.
CREATE FUNCTION dec_try(q text, OUT state text, OUT said text)
LANGUAGE plpgsql AS \$\$
DECLARE
    msg text;
    ctx text;
BEGIN
    EXECUTE 'SELECT count(*) FROM (' || q || ') s WHERE s::text IS NOT NULL';
    state := 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, ctx = PG_EXCEPTION_CONTEXT;
    said := msg || E'\n' || ctx;
END \$\$;
EOF
dget() { echo "SELECT * FROM fs_get_features(ARRAY['$1'], ARRAY['dec:*'])"; }
dsel() { echo "SELECT * FROM dec_t WHERE user_id = ANY (ARRAY['$1'])"; }
dmat() { echo "SELECT fs_get_feature_matrix(ARRAY['$1'], ARRAY['dec:f', 'dec:b', 'dec:n', 'dec:ok', 'dec:i'])"; }
# The good item by each path: serving, the foreign table, the matrix.
DEC_GOOD="SELECT (SELECT string_agg(feature_ref || '=' || value::text, ',' ORDER BY feature_ref)
                    FROM fs_get_features(ARRAY['good'], ARRAY['dec:*'])),
                 (SELECT row(f, t, b, n, j, ok, i)::text FROM dec_t WHERE user_id = ANY (ARRAY['good'])),
                 fs_get_feature_matrix(ARRAY['good'], ARRAY['dec:f', 'dec:b', 'dec:n', 'dec:ok', 'dec:i'])"
DEC_GOOD_OUT='dec:b=9007199254740993,dec:f=0.5,dec:i=7,dec:j={"a": 1, "b": ["x", true, null]},dec:n=123.45,dec:ok=true,dec:t="hello"|(0.5,hello,9007199254740993,123.45,"{""a"": 1, ""b"": [""x"", true, null]}",t,7)|{{0.5,9.007199254740992e+15,123.45,1,7}}'
DEC_NULLS='{{NULL,NULL,NULL,NULL,NULL}}'
# The errors a whole answer gets: from serving, then from the foreign table.
ANSWER_GET='invalid BatchGetItem response from the store of feature view "dec"'
ANSWER_SEL='invalid BatchGetItem response from DynamoDB for table "dec_items"'

# id|SQLSTATE from fs_get_features and the foreign table|what their message
# or context names ('answer': the errors above)|the matrix's SQLSTATE, or
# its value when the fault is in an attribute it does not ask for.
DEC_ERRORS=(
    'garbage|HV004|answer|HV004'
    'trunc_item|HV004|answer|HV004'
    'trunc_string|HV004|answer|HV004'
    's_for_float|HV004|attribute "f" has DynamoDB type S, which cannot be read as double precision|HV004'
    'n_for_text|HV004|attribute "t" has DynamoDB type N, which cannot be read as text|'"$DEC_NULLS"
    'bool_for_number|HV004|attribute "b" has DynamoDB type BOOL, which cannot be read as bigint|HV004'
    'l_for_scalar|HV004|attribute "f" has DynamoDB type L, which cannot be read as double precision|HV004'
    's_json_number|HV004|attribute "t" is not a valid DynamoDB AttributeValue|'"$DEC_NULLS"
    'n_abc|HV004|attribute "f" has DynamoDB N value "abc", which cannot be read as double precision|HV004'
    'two_keys|HV004|attribute "f" is not a valid DynamoDB AttributeValue|HV004'
    'float_1e400|22003|attribute "f" has DynamoDB number "1e400", which is out of range for type double precision|22003'
    'json_1e400|HV004|answer|HV004'
    'json_1e400_item|HV004|answer|HV004'
    'bigint_big|22003|attribute "b" has DynamoDB number "99999999999999999999", which is out of range for type bigint|22003'
    'numeric_big|22003|DynamoDB attribute "n"|22003'
    'int_big|22003|attribute "i" has DynamoDB number "2147483648", which is out of range for type integer|22003'
    'jsonb_n_huge|22003|DynamoDB attribute "j"|'"$DEC_NULLS"
    'deep5000|HV004|answer|HV004'
    'bad_utf8|HV004|answer|HV004'
    'lone_surrogate|HV004|answer|HV004'
    'nul_text|22P05|attribute "t" holds a string with a NUL character|'"$DEC_NULLS"
    'nul_jsonb|22P05|attribute "j" holds a string with a NUL character|'"$DEC_NULLS"
)
{
    echo "SELECT pg_backend_pid() AS pid0 \\gset"
    for entry in "${DEC_ERRORS[@]}"; do
        IFS='|' read -r id state names _ <<<"$entry"
        get_says="$names" sel_says="$names"
        [ "$names" != answer ] || { get_says="$ANSWER_GET"; sel_says="$ANSWER_SEL"; }
        cat <<EOF
\\echo @get_$id
$(dget "$id");
\\echo @sel_$id
$(dsel "$id");
\\echo @mat_$id
$(dmat "$id");
\\echo @names_$id
SELECT (SELECT strpos(said, \$s\$$get_says\$s\$) > 0 FROM dec_try(\$q\$$(dget "$id")\$q\$)),
       (SELECT strpos(said, \$s\$$sel_says\$s\$) > 0 FROM dec_try(\$q\$$(dsel "$id")\$q\$));
\\echo @good_$id
$DEC_GOOD;
SELECT pg_backend_pid() = :pid0;
EOF
    done
} >"$WORK/d2.sql"
session <"$WORK/d2.sql" >"$WORK/d2.out"
for entry in "${DEC_ERRORS[@]}"; do
    IFS='|' read -r id state names mat <<<"$entry"
    [[ "$mat" == \{* ]] || mat="ERROR:  $mat"
    check "decoder, $id: fs_get_features fails with $state" "ERROR:  $state" "$(after "$WORK/d2.out" "get_$id")"
    check "decoder, $id: a SELECT on the foreign table fails with $state" "ERROR:  $state" "$(after "$WORK/d2.out" "sel_$id")"
    check "decoder, $id: fs_get_feature_matrix gives $mat" "$mat" "$(after "$WORK/d2.out" "mat_$id")"
    check "decoder, $id: both errors name what is wrong ($names)" "t|t" "$(after "$WORK/d2.out" "names_$id")"
    check "decoder, $id: then the same backend serves a good answer by each path" "$DEC_GOOD_OUT
t" "$(after "$WORK/d2.out" "good_$id")"
done

# Answers served exactly, by each path.  deep50's jsonb: 50 levels, L outermost.
DEEP50="(repeat('[{\"a\": ', 25) || '1' || repeat('}]', 25))::jsonb"
TEXT16K="repeat('abcdefghij', 1600)"
ESCAPED="E'\"\\\\/\\b\\f\\n\\r\\t'::text"
session >"$WORK/d2s.out" <<EOF
SELECT pg_backend_pid() AS pid0 \gset
\echo @deep50
SELECT value = $DEEP50, status FROM fs_get_features(ARRAY['deep50'], ARRAY['dec:j']);
SELECT j = $DEEP50 FROM dec_t WHERE user_id = ANY (ARRAY['deep50']);
\echo @big16k
SELECT string_agg(feature_ref || ':' || (value = CASE feature_ref WHEN 'dec:t' THEN to_jsonb($TEXT16K)
                                                   ELSE to_jsonb(repeat('klmnopqrst', 1600)) END), ',' ORDER BY feature_ref)
  FROM fs_get_features(ARRAY['big16k'], ARRAY['dec:t', 'dec:j']);
SELECT octet_length(t), t = $TEXT16K, j = to_jsonb(repeat('klmnopqrst', 1600))
  FROM dec_t WHERE user_id = ANY (ARRAY['big16k']);
\echo @unicode
SELECT string_agg(feature_ref || ':' || value::text, ',' ORDER BY feature_ref)
  FROM fs_get_features(ARRAY['unicode'], ARRAY['dec:t', 'dec:j']);
SELECT t = U&'\00E9\+01F600', octet_length(t), j = jsonb_build_object(U&'\00E9\+01F600', U&'\00E9\+01F600')
  FROM dec_t WHERE user_id = ANY (ARRAY['unicode']);
\echo @unicode_escaped
SELECT value = to_jsonb(U&'\00E9\+01F600'::text) FROM fs_get_features(ARRAY['unicode_escaped'], ARRAY['dec:t']);
SELECT t = U&'\00E9\+01F600' FROM dec_t WHERE user_id = ANY (ARRAY['unicode_escaped']);
\echo @escapes
SELECT string_agg(feature_ref || ':' || (value = to_jsonb($ESCAPED)), ',' ORDER BY feature_ref)
  FROM fs_get_features(ARRAY['escapes'], ARRAY['dec:t', 'dec:j']);
SELECT t = $ESCAPED, length(t), j = to_jsonb($ESCAPED) FROM dec_t WHERE user_id = ANY (ARRAY['escapes']);
\echo @dup_keys
SELECT value, status FROM fs_get_features(ARRAY['dup_keys'], ARRAY['dec:f']);
SELECT f FROM dec_t WHERE user_id = ANY (ARRAY['dup_keys']);
$(dmat dup_keys);
\echo @orders
SELECT string_agg(entity_id || ':' || feature_ref || '=' || value::text, ',' ORDER BY entity_id, feature_ref)
  FROM fs_get_features(ARRAY['orders', 'orders2', 'orders3'], ARRAY['dec:f', 'dec:t', 'dec:i']);
SELECT string_agg(user_id || ':' || f || ',' || t || ',' || i, ';' ORDER BY user_id)
  FROM dec_t WHERE user_id = ANY (ARRAY['orders', 'orders2', 'orders3']);
\echo @extra
SELECT string_agg(user_id || ':' || f, ',') FROM dec_t WHERE user_id = ANY (ARRAY['extra']);
SELECT string_agg(entity_id || ':' || value::text, ',') FROM fs_get_features(ARRAY['extra'], ARRAY['dec:f']);
SELECT id, f FROM dec_n WHERE id = ANY (ARRAY[100]);
SELECT id, f FROM dec_n WHERE id = 100;
\echo @good
$DEC_GOOD;
SELECT pg_backend_pid() = :pid0;
EOF
check "decoder, extra: an item not asked for is dropped by the foreign table and by serving; a number key written \"1E+2\" is the key 100" \
    "extra:1
extra:1
100|3
100|3" "$(after "$WORK/d2s.out" extra)"
check "decoder, orders: items of one answer listing their attributes in different orders are each read right, by serving and the foreign table" \
    'orders:dec:f=1.5,orders:dec:i=1,orders:dec:t="one",orders2:dec:f=2.5,orders2:dec:i=2,orders2:dec:t="two",orders3:dec:f=3.5,orders3:dec:i=3,orders3:dec:t="three"
orders:1.5,one,1;orders2:2.5,two,2;orders3:3.5,three,3' "$(after "$WORK/d2s.out" orders)"
check "decoder, deep50: a jsonb feature nested 50 levels (M and L) is served exactly, by serving and the foreign table" \
    "t|PRESENT
t" "$(after "$WORK/d2s.out" deep50)"
check "decoder, big16k: a 16,000-byte text and a jsonb string of 16,000 bytes are served exactly" \
    "dec:j:true,dec:t:true
16000|t|t" "$(after "$WORK/d2s.out" big16k)"
check "decoder, unicode: 'é😀' in a text feature and as a jsonb key and value is served exactly" \
    'dec:j:{"é😀": "é😀"},dec:t:"é😀"
t|6|t' "$(after "$WORK/d2s.out" unicode)"
check "decoder, unicode_escaped: '\\u00e9\\ud83d\\ude00' is served as 'é😀'" "t
t" "$(after "$WORK/d2s.out" unicode_escaped)"
check "decoder, escapes: \\\" \\\\ \\/ \\b \\f \\n \\r \\t in a text and a jsonb string are served exactly" \
    "dec:j:true,dec:t:true
t|8|t" "$(after "$WORK/d2s.out" escapes)"
check "decoder, dup_keys: an item naming an attribute twice is read with the last one, by every path" \
    "2|PRESENT
2
{{2,NULL,NULL,NULL,NULL}}" "$(after "$WORK/d2s.out" dup_keys)"
check "decoder: after all that, the same backend serves the good item by each path" "$DEC_GOOD_OUT
t" "$(after "$WORK/d2s.out" good)"

stop_fault

# --- (e) an error answer ----------------------------------------------------------
echo "# (e) an error answer from the store"
start_fault 'error:ValidationException:bad key'
out="$(q "$(point_at_fault 2) SELECT state, msg, detail FROM fault_try(\$q\$$GET\$q\$)")"
check "ValidationException: fs_get_features fails with HV000, the store's message in the detail" \
    "HV000|DynamoDB BatchGetItem request failed|ValidationException: bad key" "$out"
out="$(q "$(point_at_fault 2) SELECT state, detail FROM fault_try(\$q\$$SEL\$q\$)")"
check "ValidationException: a SELECT on the foreign table fails with HV000, the store's message in the detail" \
    "HV000|ValidationException: bad key" "$out"
check "ValidationException: not retried (one request each)" "400 400" "$(answered)"
stop_fault

# --- (e2) signing ------------------------------------------------------------------
echo "# (e2) requests are signed with SigV4 (the server recomputes the signature)"
export FS_FAULT_SECRET="$TEST_SECRET"
start_fault '5xx-then-ok:0'
unset FS_FAULT_SECRET
out="$(q "$(point_at_fault 2) SELECT state FROM fault_try(\$q\$$GET\$q\$)")"
check "signing: fs_get_features succeeds against the verifying server" "ok" "$out"
check "signing: the request carried a valid SigV4 signature, no session token" \
    "auth=yes sig=ok token=no" "$(grep -oE 'auth=[a-z]+ sig=[a-z-]+ token=[a-z]+' "$FLOG" | sort -u)"
out="$(q "ALTER USER MAPPING FOR PUBLIC SERVER faults OPTIONS (ADD session_token 'faults-token');
          SELECT state FROM fault_try(\$q\$$SEL\$q\$)")"
check "signing: with a session_token, a foreign-table read is signed and sends the token" \
    "auth=yes sig=ok token=yes" "$(grep -oE 'auth=[a-z]+ sig=[a-z-]+ token=[a-z]+' "$FLOG" | tail -n 1)"
q "ALTER USER MAPPING FOR PUBLIC SERVER faults OPTIONS (DROP session_token)" >/dev/null
stop_fault
export FS_FAULT_SECRET='another-secret'
start_fault '5xx-then-ok:0'
unset FS_FAULT_SECRET
q "$(point_at_fault 2) SELECT state FROM fault_try(\$q\$$GET\$q\$)" >/dev/null
check "signing: a server expecting another secret sees a bad signature" \
    "auth=yes sig=bad" "$(grep -oE 'auth=[a-z]+ sig=[a-z-]+' "$FLOG" | sort -u)"
stop_fault

# --- (e3) answers too large -------------------------------------------------------
echo "# (e3) answers beyond max_response_size, and a header beyond libcurl's limit"
for mode in big-body big-chunked; do
    start_fault "$mode:300000"
    out="$(q "$(point_at_fault 2) ALTER SERVER faults OPTIONS (ADD max_response_size '64kB');
              SELECT state, detail, hint ~ 'max_response_size' FROM fault_try(\$q\$$GET\$q\$)")"
    check "$mode: a 300 kB answer over a 64 kB max_response_size fails with 54000 naming the limit" \
        "54000|ResponseTooLarge: the answer is larger than 64 kB.|t" "$out"
    check "$mode: an answer too large is not retried" "1" "$(requests)"
    out="$(q "SELECT state FROM fault_try(\$q\$$SEL\$q\$)")"
    check "$mode: the same from the foreign table" "54000" "$out"
    out="$(q "ALTER SERVER faults OPTIONS (DROP max_response_size); SET feature_store.max_response_size = '1MB';
              SELECT state FROM fault_try(\$q\$$GET\$q\$); RESET feature_store.max_response_size")"
    check "$mode: under a 1 MB feature_store.max_response_size the same answer is taken" "ok" "$out"
    stop_fault
done
check "max_response_size: a server option below 64 kB is refused" "ERROR:  HV024" \
    "$(q "ALTER SERVER faults OPTIONS (ADD max_response_size '1kB')")"
start_fault big-header:2000000
out="$(q "$(point_at_fault 2) SELECT state, detail FROM fault_try(\$q\$$GET\$q\$)")"
check "big-header: a 2 MB response header is 54000, the client refusing the answer, not a failure to connect" \
    "54000|ResponseRefused: the HTTP client refused the answer (a header beyond its limit, or no memory for it)." "$out"
check "big-header: not retried" "1" "$(requests)"
stop_fault

# --- (e4) explicit UnprocessedKeys ---------------------------------------------------
echo "# (e4) UnprocessedKeys answered by the store, then the keys"
start_fault unprocessed-then-ok:2
out="$(q "$(point_at_fault 2) $STATUSES")"
check "unprocessed: after two answers of only UnprocessedKeys, the third answers every key (items without features)" \
    "$(all_status NULL_VALUE)" "$out"
check "unprocessed: three requests, the last two asking again for the unprocessed keys" "unprocessed unprocessed 200" "$(answered)"
stop_fault
start_fault unprocessed-then-ok:3
out="$(q "$(point_at_fault 2) SELECT state, msg, hint ~ 'max_retries' FROM fault_try(\$q\$$SEL\$q\$)")"
check "unprocessed: keys still unprocessed after max_retries rounds fail the foreign-table read (HV000)" \
    "HV000|3 keys of remote table \"fault_items\" were not answered after 2 retries|t" "$out"
stop_fault
start_fault unprocessed-then-ok:3
out="$(q "$(point_at_fault 2) SELECT state, msg, detail FROM fault_try(\$q\$$GET\$q\$)")"
check "unprocessed: serving fails naming the view, with how many keys" \
    "HV000|the store of feature view \"fv\" did not answer|3 keys were still unprocessed after 2 retries." "$out"
stop_fault
start_fault unprocessed-then-ok:3
out="$(q "$(point_at_fault 2) SET feature_store.on_store_error = 'unavailable'; $STATUSES")"
check "unprocessed: with on_store_error = 'unavailable', UNAVAILABLE rows" "$(all_status UNAVAILABLE)" "$(grep -v WARNING <<<"$out")"
stop_fault

# --- (f) memory ----------------------------------------------------------------------
echo "# (f) memory over many calls"
LIMIT_KB=5120                   # RSS growth allowed over 9,000 calls
LIMIT_CTX=1048576               # memory contexts' growth allowed over 9,800 calls

# mem_loop CALL IDS CHECK: SQL running the plpgsql statement CALL (over ids,
# a text[] variable holding IDS) 10,000 times in one session: 200 calls,
# then the memory contexts' total; 800 more, then the RSS; 9,000 more, then
# both again ("@rss" and "@ctx" lines: before after); "@alive" says whether
# the same backend did it all, then what the query CHECK says.
mem_loop() {
    cat <<EOF
SET client_min_messages = warning;
SELECT pg_backend_pid() AS pid0 \gset
CREATE FUNCTION pg_temp.calls(n int) RETURNS void LANGUAGE plpgsql AS \$\$
DECLARE
    ids text[] := $2;
BEGIN
    FOR i IN 1..n LOOP
        $1;
    END LOOP;
END \$\$;
SELECT pg_temp.calls(200);
SELECT backend_ctx_bytes() AS ctx1 \gset
SELECT pg_temp.calls(800);
SELECT backend_rss_kb() AS rss1 \gset
SELECT pg_temp.calls(9000);
SELECT backend_rss_kb() AS rss2 \gset
SELECT backend_ctx_bytes() AS ctx2 \gset
\echo @rss
\echo :rss1 :rss2
\echo @ctx
\echo :ctx1 :ctx2
\echo @alive
SELECT pg_backend_pid() = :pid0;
$3;
EOF
}

# check_mem WHAT FILE SAYS: mem_loop's checks of FILE: RSS, memory contexts,
# the same backend, and its query CHECK saying SAYS.
check_mem() {
    local what="$1" file="$2" says="$3" ctx1 ctx2
    check_rss "$what: 10,000 calls in one session grow RSS by < 5 MB" "$file" "1,000 calls" "10,000 calls"
    read -r ctx1 ctx2 <<<"$(after "$file" ctx)"
    if [[ "${ctx1:-}" =~ ^[0-9]+$ && "${ctx2:-}" =~ ^[0-9]+$ ]]; then
        echo "# memory: memory contexts after 200 calls ${ctx1} bytes, after 10,000 calls ${ctx2} bytes, growth $((ctx2 - ctx1)) bytes"
        check_true "$what: 9,800 calls after 200 grow the backend's memory contexts by < 1 MB" \
            "$([ $((ctx2 - ctx1)) -lt "$LIMIT_CTX" ] && echo t || echo f)" "growth $((ctx2 - ctx1)) bytes"
    else
        not_ok "$what: 9,800 calls after 200 grow the backend's memory contexts by < 1 MB" \
            "$(grep -E 'ERROR|FATAL|server closed' "$file" | head -n 5)"
    fi
    check "$what: no crash, the same backend did all 10,000 calls, then serves" "t
$says" "$(after "$file" alive)"
}

q "CREATE FUNCTION backend_ctx_bytes() RETURNS bigint LANGUAGE sql AS
     'SELECT sum(total_bytes)::bigint FROM pg_backend_memory_contexts'" >/dev/null
IDS5="ARRAY['u1', 'u2', 'u3', 'u4', 'u5']"
if ! have_dynalite; then
    echo "# skipped: 10,000 calls against dynalite (FS_DYNALITE_ENDPOINT is not set)"
else
    drop_remote_on_exit "$PREFIX"
    session >"$WORK/f.out" <<EOF
SET client_min_messages = warning;
$(dynamodb_server dyn "$FS_DYNALITE_ENDPOINT")
CREATE FOREIGN TABLE dyn_t (user_id text, event_time timestamptz, clicks bigint,
                            ctr float8, tags text[], seg text)
  SERVER dyn OPTIONS (table '${PREFIX}_items');
SELECT fs_create_online_table('dyn_t');
INSERT INTO dyn_t VALUES
  ('u1', '2026-01-01 00:00:00+00', 1, 0.5, '{a}', 'x'),
  ('u2', '2026-01-02 00:00:00+00', 2, NULL, '{b,c}', 'y'),
  ('u3', '2026-01-03 00:00:00+00', 3, 0.25, NULL, NULL);
SELECT FROM fs_register_feature_view('dv', 'dyn_t', 'user');
\echo @served
SELECT string_agg(entity_id || ':' || status, ',')
  FROM fs_get_features($IDS5, ARRAY['dv:clicks']);
\echo @vectors
SELECT string_agg(entity_id || ':' || features::text, ',')
  FROM fs_get_feature_vectors($IDS5, ARRAY['dv:clicks', 'dv:tags']);
\echo @scan
SELECT string_agg(user_id || ':' || clicks, ',' ORDER BY user_id) FROM dyn_t WHERE user_id = ANY ($IDS5);
\echo @matrix
SELECT fs_get_feature_matrix($IDS5, ARRAY['dv:clicks', 'dv:ctr']);
EOF
    check "dynalite: the view serves 3 of 5 ids" \
        "u1:PRESENT,u2:PRESENT,u3:PRESENT,u4:NOT_FOUND,u5:NOT_FOUND" "$(after "$WORK/f.out" served)"
    check "dynalite: fs_get_feature_vectors serves the view" \
        'u1:{"dv:tags": ["a"], "dv:clicks": 1},u2:{"dv:tags": ["b", "c"], "dv:clicks": 2},u3:{"dv:tags": null, "dv:clicks": 3},u4:{"dv:tags": null, "dv:clicks": null},u5:{"dv:tags": null, "dv:clicks": null}' \
        "$(after "$WORK/f.out" vectors)"
    check "dynalite: the foreign table serves key = ANY (...)" "u1:1,u2:2,u3:3" "$(after "$WORK/f.out" scan)"
    check "dynalite: fs_get_feature_matrix serves the view" "{{1,0.5},{2,NULL},{3,0.25},{NULL,NULL},{NULL,NULL}}" \
        "$(after "$WORK/f.out" matrix)"

    # 3 rows of 4 features, 3 of them NULL: 9 PRESENT.
    mem_loop "PERFORM * FROM fs_get_features(ids, ARRAY['dv:*'])" "$IDS5" \
        "SELECT count(*) FILTER (WHERE status = 'PRESENT') FROM fs_get_features($IDS5, ARRAY['dv:*'])" \
        | session >"$WORK/f1.out"
    check_mem "dynalite, fs_get_features (5 ids, 4 features)" "$WORK/f1.out" 9
    mem_loop "PERFORM * FROM fs_get_feature_vectors(ids, ARRAY['dv:*'])" "$IDS5" \
        "SELECT string_agg(features->>'dv:clicks', ',') FROM fs_get_feature_vectors($IDS5, ARRAY['dv:*'])" \
        | session >"$WORK/f2.out"
    check_mem "dynalite, fs_get_feature_vectors (5 ids, 4 features)" "$WORK/f2.out" "1,2,3"
    mem_loop "PERFORM fs_get_feature_matrix(ids, ARRAY['dv:clicks', 'dv:ctr'])" "$IDS5" \
        "SELECT fs_get_feature_matrix($IDS5, ARRAY['dv:clicks', 'dv:ctr'])" | session >"$WORK/f3.out"
    check_mem "dynalite, fs_get_feature_matrix (5 ids, 2 features)" "$WORK/f3.out" \
        "{{1,0.5},{2,NULL},{3,0.25},{NULL,NULL},{NULL,NULL}}"
    mem_loop "PERFORM * FROM dyn_t WHERE user_id = ANY (ids)" "$IDS5" \
        "SELECT string_agg(user_id || ':' || clicks, ',' ORDER BY user_id) FROM dyn_t WHERE user_id = ANY ($IDS5)" \
        | session >"$WORK/f4.out"
    check_mem "dynalite, the foreign table's key = ANY (\$1) (5 ids)" "$WORK/f4.out" "u1:1,u2:2,u3:3"
fi

# The embedded store: 10,000 small calls of each serving function, then 30
# calls of fs_get_feature_matrix of 10,000 entities by 50 features (a 4 MB
# result each).
IDS4="ARRAY['m1', 'm2', 'm3', 'x']"
setup_sql "the embedded view" <<EOF
SET client_min_messages = warning;
CREATE TABLE mat_t (user_id text PRIMARY KEY, event_time timestamptz,
                    a float8, b bigint, c numeric, d boolean, e int);
INSERT INTO mat_t SELECT 'm' || g, '2026-01-01', g, g, g / 10.0, g % 2 = 0, g FROM generate_series(1, 10000) g;
SELECT FROM fs_register_feature_view('mat', 'mat_t', 'user');
EOF
mem_loop "PERFORM * FROM fs_get_features(ids, ARRAY['mat:*'])" "$IDS4" \
    "SELECT string_agg(status, ',') FROM fs_get_features($IDS4, ARRAY['mat:a'])" | session >"$WORK/fe1.out"
check_mem "embedded, fs_get_features (4 ids, 5 features)" "$WORK/fe1.out" "PRESENT,PRESENT,PRESENT,NOT_FOUND"
mem_loop "PERFORM * FROM fs_get_feature_vectors(ids, ARRAY['mat:*'])" "$IDS4" \
    "SELECT string_agg(features::text, ',') FROM fs_get_feature_vectors($IDS4, ARRAY['mat:b', 'mat:d'])" \
    | session >"$WORK/fe2.out"
check_mem "embedded, fs_get_feature_vectors (4 ids, 5 features)" "$WORK/fe2.out" \
    '{"mat:b": 1, "mat:d": false},{"mat:b": 2, "mat:d": true},{"mat:b": 3, "mat:d": false},{"mat:b": null, "mat:d": null}'
mem_loop "PERFORM fs_get_feature_matrix(ids, ARRAY['mat:*'])" "$IDS4" \
    "SELECT fs_get_feature_matrix($IDS4, ARRAY['mat:*'])" | session >"$WORK/fe3.out"
check_mem "embedded, fs_get_feature_matrix (4 ids, 5 features)" "$WORK/fe3.out" \
    "{{1,1,0.1,0,1},{2,2,0.2,1,2},{3,3,0.3,0,3},{NULL,NULL,NULL,NULL,NULL}}"

session >"$WORK/fe.out" <<EOF
SET client_min_messages = warning;
CREATE TEMP TABLE mat_ids AS SELECT ARRAY(SELECT 'm' || g FROM generate_series(1, 10000) g) AS ids;
\echo @big
SELECT array_dims(m), (SELECT round(sum(x)) FROM unnest(m) x)
  FROM (SELECT fs_get_feature_matrix(ids, ARRAY['mat:*', 'mat:*', 'mat:*', 'mat:*', 'mat:*',
                                                'mat:*', 'mat:*', 'mat:*', 'mat:*', 'mat:*']) AS m
          FROM mat_ids) s;
DO \$\$ DECLARE ids text[] := (SELECT ids FROM mat_ids); BEGIN
    FOR i IN 1..5 LOOP
        PERFORM fs_get_feature_matrix(ids, ARRAY['mat:*', 'mat:*', 'mat:*', 'mat:*', 'mat:*',
                                                 'mat:*', 'mat:*', 'mat:*', 'mat:*', 'mat:*']);
    END LOOP;
END \$\$;
SELECT backend_rss_kb() AS rss1 \gset
DO \$\$ DECLARE ids text[] := (SELECT ids FROM mat_ids); BEGIN
    FOR i IN 1..25 LOOP
        PERFORM fs_get_feature_matrix(ids, ARRAY['mat:*', 'mat:*', 'mat:*', 'mat:*', 'mat:*',
                                                 'mat:*', 'mat:*', 'mat:*', 'mat:*', 'mat:*']);
    END LOOP;
END \$\$;
SELECT backend_rss_kb() AS rss2 \gset
\echo @rss
\echo :rss1 :rss2
EOF
check "embedded: fs_get_feature_matrix of 10,000 entities by 50 features" \
    "[1:10000][1:50]|1550205000" "$(after "$WORK/fe.out" big)"
check_rss "embedded: 25 more calls of 10,000 x 50 after 5 grow RSS by < 5 MB" \
    "$WORK/fe.out" "5 big calls" "30"

# Error paths: 1,100 calls throttled (max_retries 0: one request, then the
# error), 1,100 calls answered with garbage (the parse fails) and 1,100
# answered with JSON of the wrong shape (the error is raised while the
# parsed answer is held: its parser must go back to the pool as the error
# unwinds), every error caught in plpgsql; RSS after the first 100 of each,
# then after all.  Server "faults" is throttled, "faults2" answers garbage,
# "faults3" the wrong shape.
start_fault throttle-forever
THROTTLE_LOG="$FLOG"
THROTTLE_PID="$FPID"
throttle_sql="$(point_at_fault 0)"
start_fault wrong-types
SHAPE_PID="$FPID"
SHAPE_PORT="$FPORT"
start_fault garbage
session >"$WORK/g.out" <<EOF
SET client_min_messages = warning;
$throttle_sql
$(dynamodb_server faults2 "http://127.0.0.1:$FPORT" "max_retries '0'")
CREATE FOREIGN TABLE fault_t2 (user_id text, event_time timestamptz, clicks bigint)
  SERVER faults2 OPTIONS (table 'fault_items', key 'user_id');
SELECT FROM fs_register_feature_view('fv2', 'fault_t2', 'user');
$(dynamodb_server faults3 "http://127.0.0.1:$SHAPE_PORT" "max_retries '0'")
CREATE FOREIGN TABLE fault_t3 (user_id text, event_time timestamptz, clicks bigint)
  SERVER faults3 OPTIONS (table 'fault_items', key 'user_id');
SELECT FROM fs_register_feature_view('fv3', 'fault_t3', 'user');
-- NULL when serving view v fails with state and msg; else what happened.
CREATE FUNCTION pg_temp.fails(v text, state text, msg text) RETURNS text
LANGUAGE plpgsql AS \$\$
BEGIN
    PERFORM * FROM fs_get_features(ARRAY['u1', 'u2', 'u3', 'u4', 'u5'], ARRAY[v || ':*']);
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN CASE WHEN SQLSTATE = state AND SQLERRM = msg THEN NULL ELSE SQLSTATE || ' ' || SQLERRM END;
END \$\$;
CREATE FUNCTION pg_temp.errors(n int, OUT throttled int, OUT garbage int, OUT shape int, OUT other text)
LANGUAGE plpgsql AS \$\$
DECLARE
    r text;
BEGIN
    throttled := 0; garbage := 0; shape := 0; other := '';
    FOR i IN 1..n LOOP
        r := pg_temp.fails('fv', 'HV000', 'DynamoDB BatchGetItem request failed');
        IF r IS NULL THEN throttled := throttled + 1; ELSE other := r; END IF;
        r := pg_temp.fails('fv2', 'HV004', 'invalid BatchGetItem response from the store of feature view "fv2"');
        IF r IS NULL THEN garbage := garbage + 1; ELSE other := r; END IF;
        r := pg_temp.fails('fv3', 'HV004', 'invalid BatchGetItem response from the store of feature view "fv3"');
        IF r IS NULL THEN shape := shape + 1; ELSE other := r; END IF;
    END LOOP;
END \$\$;
SELECT pg_backend_pid() AS pid0 \gset
\echo @warm
SELECT * FROM pg_temp.errors(100);
SELECT backend_rss_kb() AS rss1 \gset
\echo @loop
SELECT * FROM pg_temp.errors(1000);
SELECT backend_rss_kb() AS rss2 \gset
\echo @rss
\echo :rss1 :rss2
\echo @alive
SELECT 1, pg_backend_pid() = :pid0;
EOF
check "error paths: 100 + 100 + 100 warm-up calls all fail as expected" "100|100|100|" "$(after "$WORK/g.out" warm)"
check "error paths: 1,000 throttled, 1,000 garbage and 1,000 wrong-shape calls all fail as expected" \
    "1000|1000|1000|" "$(after "$WORK/g.out" loop)"
check "error paths: the throttled store saw one request per call (max_retries 0)" \
    1100 "$(FLOG="$THROTTLE_LOG" requests)"
check_rss "error paths: 3,000 failing calls caught in plpgsql grow RSS by < 5 MB" \
    "$WORK/g.out" "300 failing calls" "3,300"
check "error paths: no crash, the same backend answers after" "1|t" "$(after "$WORK/g.out" alive)"
stop_fault
FPID="$SHAPE_PID"
stop_fault
FPID="$THROTTLE_PID"
stop_fault

# --- (g) credentials refused: with and without a user mapping (issue 11, item 7)
echo "# (g) credentials refused: the hint says whether there is a user mapping"
start_fault 'error:MissingAuthenticationTokenException:Request is missing Authentication Token'
out="$(q "$(point_at_fault 0) DROP USER MAPPING FOR PUBLIC SERVER faults;
          SELECT state, hint ~ '^There is no user mapping for user \"[^\"]+\" \(nor for PUBLIC\) on server \"faults\"',
                 strpos(hint, 'CREATE USER MAPPING FOR CURRENT_USER SERVER faults OPTIONS (access_key_id ''...'', secret_access_key ''...'');') > 0
            FROM fault_try(\$q\$$GET\$q\$)")"
check "no user mapping: 28000, a hint that says there is none and how to create one" "28000|t|t" "$out"
check "no user mapping: the request went unsigned" "auth=no" "$(grep -oE 'auth=[a-z]+' "$FLOG" | sort -u)"
out="$(q "CREATE USER MAPPING FOR PUBLIC SERVER faults;
          SELECT state, hint ~ '^The user mapping for PUBLIC on server \"faults\" has no access_key_id',
                 strpos(hint, 'ALTER USER MAPPING FOR PUBLIC SERVER faults OPTIONS (ADD access_key_id') > 0
            FROM fault_try(\$q\$$SEL\$q\$)")"
check "a user mapping without keys: 28000, a hint that says so and how to add them" "28000|t|t" "$out"
out="$(q "DROP USER MAPPING FOR PUBLIC SERVER faults;
          CREATE USER MAPPING FOR PUBLIC SERVER faults
            OPTIONS (access_key_id '$TEST_KEY_ID', secret_access_key '$TEST_SECRET');
          SELECT state, hint FROM fault_try(\$q\$$GET\$q\$)")"
check "a user mapping with keys: 28000, a hint on checking them" \
    "28000|Check the user mapping's access_key_id, secret_access_key and session_token." "$out"

# --- (h) the store deadline --------------------------------------------------------
echo "# (h) the store deadline"
# 150 ids: u001..u100 go in the first BatchGetItem request (100 keys), slow01..
# slow50 in the second, on which a hang-keys:slow store hangs.  View lv is
# local and holds every id.
q "CREATE TABLE local_t (user_id text PRIMARY KEY, event_time timestamptz, score float8);
   INSERT INTO local_t SELECT 'u' || lpad(i::text, 3, '0'), now(), 2 FROM generate_series(1, 100) i;
   INSERT INTO local_t SELECT 'slow' || lpad(i::text, 2, '0'), now(), 2 FROM generate_series(1, 50) i;
   SELECT FROM fs_register_feature_view('lv', 'local_t', 'user')" >/dev/null
IDS150="array_cat(ARRAY(SELECT 'u' || lpad(i::text, 3, '0') FROM generate_series(1, 100) i ORDER BY i),
                  ARRAY(SELECT 'slow' || lpad(i::text, 2, '0') FROM generate_series(1, 50) i ORDER BY i))"
IDS100="ARRAY(SELECT 'u' || lpad(i::text, 3, '0') FROM generate_series(1, 100) i ORDER BY i)"
GET150="SELECT * FROM fs_get_features($IDS150, ARRAY['lv:score', 'fv:*'])"
# Per feature, id kind (u or s) and status: how many rows, and the sum of their values.
summary() {
    echo "SELECT string_agg(x, ',' ORDER BY x) FROM (
            SELECT feature_ref || ':' || left(entity_id, 1) || ':' || status || ':' || count(*)
                   || ':' || coalesce(sum(value::text::numeric), 0) AS x
              FROM fs_get_features($1, ARRAY['lv:score', 'fv:*'])
             GROUP BY feature_ref, left(entity_id, 1), status) s"
}
CUT="fv:clicks:s:UNAVAILABLE:50:0,fv:clicks:u:PRESENT:100:100,fv:ctr:s:UNAVAILABLE:50:0,fv:ctr:u:PRESENT:100:100,lv:score:s:PRESENT:50:100,lv:score:u:PRESENT:100:200"
FULL="fv:clicks:s:PRESENT:50:50,fv:clicks:u:PRESENT:100:100,fv:ctr:s:PRESENT:50:50,fv:ctr:u:PRESENT:100:100,lv:score:s:PRESENT:50:100,lv:score:u:PRESENT:100:200"
DEADLINE_MSG='the store of feature view "fv" did not answer within feature_store.store_deadline_ms (300 ms)'

start_fault hang-keys:slow
session >"$WORK/g1.out" <<EOF
$(point_at_fault 2)
SET statement_timeout = '5s';
SET feature_store.on_store_error = 'unavailable';
\echo @default
SHOW feature_store.store_deadline_ms;
SET feature_store.store_deadline_ms = '300ms';
\echo @show
SHOW feature_store.store_deadline_ms;
SELECT clock_timestamp() AS t0 \gset
\echo @get
$(summary "$IDS150");
\echo @get_time
SELECT round(extract(epoch FROM clock_timestamp() - :'t0'), 3);
\echo @vectors
SELECT count(*), count(*) FILTER (WHERE features->'fv:clicks' = 'null'),
       count(*) FILTER (WHERE features->>'lv:score' = '2')
  FROM fs_get_feature_vectors($IDS150, ARRAY['lv:score', 'fv:clicks']);
\echo @warning
\set VERBOSITY default
SELECT count(*) FROM fs_get_features($IDS150, ARRAY['fv:clicks']);
\set VERBOSITY sqlstate
\echo @error
SET feature_store.on_store_error = 'error';
SELECT state, msg, detail, hint FROM fault_try(\$q\$$GET150\$q\$);
EOF
t_get="$(after "$WORK/g1.out" get_time)"
echo "# deadline: the call with a 300 ms deadline took $t_get s"
check "deadline: feature_store.store_deadline_ms is 0 (no deadline) by default, and takes units" \
    "0
300ms" "$(after "$WORK/g1.out" default; after "$WORK/g1.out" show)"
check "deadline: a hung request's keys are UNAVAILABLE with a WARNING (HV000); the answered keys and the local view are served" \
    "WARNING:  HV000
$CUT" "$(after "$WORK/g1.out" get)"
check "deadline: fs_get_feature_vectors the same (NULL for the 50 keys cut off, the local view for all 150)" \
    "WARNING:  HV000
150|50|150" "$(after "$WORK/g1.out" vectors)"
check "deadline: the WARNING names the view and the setting, and counts the keys cut off" \
    "WARNING:  feature view \"fv\" is unavailable: its store did not answer within feature_store.store_deadline_ms (300 ms)
DETAIL:  50 of 150 keys were not answered in time: their features are UNAVAILABLE.
150" "$(after "$WORK/g1.out" warning)"
check "deadline: with on_store_error = 'error', HV000 naming the setting" \
    "HV000|$DEADLINE_MSG|50 of 150 keys were not answered in time.|Raise feature_store.store_deadline_ms, or set feature_store.on_store_error = 'unavailable' to serve the answered keys and mark the others UNAVAILABLE." \
    "$(after "$WORK/g1.out" error)"
for _ in $(seq 1 40); do     # the server sees the closes a moment later
    [ "$(grep -c 'before its answer' "$FLOG")" -ge 4 ] && break
    sleep 0.05
done
check "deadline: the client closed the connection of each of the 4 requests it abandoned (never reused)" \
    "4 hung, 4 closed" "$(grep -c 'status=hung' "$FLOG") hung, $(grep -c 'before its answer' "$FLOG") closed"
stop_fault

# A store that answers the slow keys late (after 1 s): the requests the
# deadline abandoned get their answers on connections the client closed.
# fs_get_feature_matrix: NULL cells, non-NULL cells and their sum.
MATRIX150="SELECT count(*) FILTER (WHERE x IS NULL), count(x), sum(x)
             FROM unnest(fs_get_feature_matrix($IDS150, ARRAY['lv:score', 'fv:clicks'])) x"
start_fault hang-keys:slow:1000
session >"$WORK/g2.out" <<EOF
$(point_at_fault 2)
SELECT pg_backend_pid() AS pid0 \gset
SET statement_timeout = '5s';
SET feature_store.on_store_error = 'unavailable';
SET feature_store.store_deadline_ms = '300ms';
\echo @cut
$(summary "$IDS150");
\echo @matrix_cut
$MATRIX150;
SELECT pg_sleep(1.5);
\echo @after
RESET feature_store.store_deadline_ms;
$(summary "$IDS100");
\echo @in_time
SET feature_store.store_deadline_ms = '4s';
$(summary "$IDS150");
\echo @matrix_in_time
$MATRIX150;
\echo @alive
SELECT pg_backend_pid() = :pid0;
EOF
check "deadline: a late store is cut off the same way" "WARNING:  HV000
$CUT" "$(after "$WORK/g2.out" cut)"
check "deadline: afterwards the same backend reads correct values from the same store (no warning)" \
    "fv:clicks:u:PRESENT:100:100,fv:ctr:u:PRESENT:100:100,lv:score:u:PRESENT:100:200" \
    "$(after "$WORK/g2.out" after)"
check "deadline: a store that answers within the deadline is served in full (no warning)" \
    "$FULL" "$(after "$WORK/g2.out" in_time)"
check "deadline: fs_get_feature_matrix is cut off the same way (50 NULL cells, a WARNING)" "WARNING:  HV000
50|250|400" "$(after "$WORK/g2.out" matrix_cut)"
check "deadline: fs_get_feature_matrix with a store that answers within the deadline: every cell" \
    "0|300|450" "$(after "$WORK/g2.out" matrix_in_time)"
check "deadline: all in the same backend" "t" "$(after "$WORK/g2.out" alive)"
stop_fault

# Retries and rounds stop at the deadline: with max_retries '100', a store
# that always throttles, or always leaves every key unprocessed, would hold
# the call for about 100 s; the 5 s statement_timeout is only a safety net.
for mode in throttle-forever unprocessed-then-ok:100000; do
    start_fault "$mode"
    session >"$WORK/g3.out" <<EOF
$(point_at_fault 100)
SET statement_timeout = '5s';
SET feature_store.store_deadline_ms = '300ms';
SET feature_store.on_store_error = 'unavailable';
\echo @unavailable
$STATUSES;
\echo @error
SET feature_store.on_store_error = 'error';
SELECT state, msg FROM fault_try(\$q\$$GET\$q\$);
EOF
    check "deadline, $mode with max_retries '100': the retries stop at the deadline, UNAVAILABLE rows" \
        "WARNING:  HV000
$(all_status UNAVAILABLE)" "$(after "$WORK/g3.out" unavailable)"
    check "deadline, $mode: with on_store_error = 'error', the deadline's error" \
        "HV000|$DEADLINE_MSG" "$(after "$WORK/g3.out" error)"
    stop_fault
done

# The server option: a per-server deadline, which wins over the setting.
# fs_get_feature_matrix: NULL cells, non-NULL cells and their sum.
MATRIX150="SELECT count(*) FILTER (WHERE x IS NULL), count(x), sum(x)
             FROM unnest(fs_get_feature_matrix($IDS150, ARRAY['lv:score', 'fv:clicks'])) x"
start_fault hang-keys:slow:1000
session >"$WORK/g4.out" <<EOF
$(point_at_fault 2)
SET statement_timeout = '5s';
\echo @bad
ALTER SERVER faults OPTIONS (ADD store_deadline_ms '-1');
\echo @server
ALTER SERVER faults OPTIONS (ADD store_deadline_ms '0.3s');
SELECT state, msg FROM fault_try(\$q\$$GET150\$q\$);
\echo @zero
ALTER SERVER faults OPTIONS (SET store_deadline_ms '0');
SET feature_store.store_deadline_ms = '300ms';
$(summary "$IDS150");
ALTER SERVER faults OPTIONS (DROP store_deadline_ms);
EOF
check "deadline: a negative server option store_deadline_ms is refused (HV024)" "ERROR:  HV024" "$(after "$WORK/g4.out" bad)"
check "deadline: the server option store_deadline_ms sets a deadline, named in the error" \
    "HV000|the store of feature view \"fv\" did not answer within the store_deadline_ms of server \"faults\" (300 ms)" \
    "$(after "$WORK/g4.out" server)"
check "deadline: the server option '0' wins over the setting: no deadline for that server" \
    "$FULL" "$(after "$WORK/g4.out" zero)"
stop_fault

# A foreign table without the option "key": serving asks DescribeTable for
# the key first (once per backend), and a hung store must not hold that past
# the deadline either (request_timeout_ms is 2 s by default).  A fresh
# session, so that no key is known yet.
start_fault never
session >"$WORK/g5.out" <<EOF
$(point_at_fault 2)
SET statement_timeout = '5s';
CREATE FOREIGN TABLE fault_nokey_t (user_id text, event_time timestamptz, clicks bigint)
  SERVER faults OPTIONS (table 'fault_nokey');
SELECT FROM fs_register_feature_view('fvd', 'fault_nokey_t', 'user');
SET feature_store.store_deadline_ms = '300ms';
SET feature_store.on_store_error = 'unavailable';
\echo @unavailable
SELECT string_agg(feature_ref || ':' || status, ',' ORDER BY feature_ref DESC)
  FROM fs_get_features(ARRAY['u001'], ARRAY['lv:score', 'fvd:clicks']);
\echo @error
SET feature_store.on_store_error = 'error';
SELECT state, msg, secs < 1.5 FROM fault_try(\$q\$SELECT * FROM fs_get_features(ARRAY['u001'], ARRAY['lv:score', 'fvd:clicks'])\$q\$);
\echo @end
SELECT fs_drop_feature_view('fvd');
DROP FOREIGN TABLE fault_nokey_t;
EOF
check "deadline: a hung DescribeTable (no option \"key\") is cut off too: UNAVAILABLE with a WARNING, the local view served" \
    "WARNING:  HV000
lv:score:PRESENT,fvd:clicks:UNAVAILABLE" "$(after "$WORK/g5.out" unavailable)"
check "deadline: a hung DescribeTable with on_store_error = 'error': the deadline's error, well before request_timeout_ms" \
    "HV000|the store of feature view \"fvd\" did not answer within feature_store.store_deadline_ms (300 ms)|t" \
    "$(after "$WORK/g5.out" error)"
stop_fault

# Ids that are one key ('7' and '007' of an integer key) share its fate.
start_fault hang-keys:7
out="$(session <<EOF
$(point_at_fault 2)
SET client_min_messages = error;
CREATE FOREIGN TABLE fault_n (id bigint, event_time timestamptz, clicks bigint)
  SERVER faults OPTIONS (table 'fault_n', key 'id');
SELECT (fs_register_entity('num', 'id')).name IS NULL, (fs_register_feature_view('fvn', 'fault_n', 'num')).name IS NULL;
SET statement_timeout = '5s';
SET feature_store.store_deadline_ms = '300ms';
SET feature_store.on_store_error = 'unavailable';
SELECT string_agg(entity_id || ':' || status, ',') FROM fs_get_features(ARRAY['7', '007', '8'], ARRAY['fvn:clicks']);
EOF
)"
check "deadline: ids that are one integer key ('7', '007') are both UNAVAILABLE when it is cut off" \
    "f|f
7:UNAVAILABLE,007:UNAVAILABLE,8:UNAVAILABLE" "$out"
stop_fault

# --- (i) a failed DescribeTable of a key ------------------------------------------
echo "# (i) a failed DescribeTable of a key (no option \"key\")"
# Each session is a fresh backend: no key is known yet, so serving asks
# DescribeTable of fault_nokey first.  describe_session MAX_RETRIES runs the
# call under 'unavailable' (statuses, then the WARNING in full), then under
# 'error'.
NOKEY_GET="SELECT * FROM fs_get_features(ARRAY['u001', 'u002'], ARRAY['lv:score', 'fvd:clicks'])"
NOKEY_STATUSES="SELECT string_agg(entity_id || ':' || feature_ref || ':' || status, ',' ORDER BY entity_id, feature_ref DESC)
  FROM fs_get_features(ARRAY['u001', 'u002'], ARRAY['lv:score', 'fvd:clicks'])"
NOKEY_ALL_UNAVAILABLE="u001:lv:score:PRESENT,u001:fvd:clicks:UNAVAILABLE,u002:lv:score:PRESENT,u002:fvd:clicks:UNAVAILABLE"
q "CREATE FOREIGN TABLE fault_nokey_t (user_id text, event_time timestamptz, clicks bigint)
     SERVER faults OPTIONS (table 'fault_nokey');
   SELECT FROM fs_register_feature_view('fvd', 'fault_nokey_t', 'user')" >/dev/null
describe_session() {
    session <<EOF
$(point_at_fault "$1")
SET statement_timeout = '5s';
SET feature_store.on_store_error = 'unavailable';
\echo @unavailable
$NOKEY_STATUSES;
\echo @warning
\set VERBOSITY default
SELECT count(*) FROM fs_get_features(ARRAY['u001'], ARRAY['lv:score', 'fvd:clicks']);
\set VERBOSITY sqlstate
\echo @error
SET feature_store.on_store_error = 'error';
SELECT state, msg, detail, hint FROM fault_try(\$q\$$NOKEY_GET\$q\$);
EOF
}

start_fault ok
stop_fault                      # its port is free again: nothing listens there
describe_session 2 >"$WORK/i1.out"
check "describe, refused: UNAVAILABLE with one WARNING (HV00N), the local view PRESENT" \
    "WARNING:  HV00N
$NOKEY_ALL_UNAVAILABLE" "$(after "$WORK/i1.out" unavailable)"
check "describe, refused: the WARNING names the view, the remote table and the cause" \
    "WARNING:  feature view \"fvd\" is unavailable: DynamoDB DescribeTable request failed for remote table \"fault_nokey\"
DETAIL:  ConnectionFailed: could not connect to the store.
HINT:  Check the server's endpoint option and that the store is running.
2" "$(after "$WORK/i1.out" warning)"
check "describe, refused: with on_store_error = 'error', HV00N as before" \
    "HV00N|DynamoDB DescribeTable request failed|ConnectionFailed: could not connect to the store.|Check the server's endpoint option and that the store is running." \
    "$(after "$WORK/i1.out" error)"

start_fault 5xx-then-ok:1000000
describe_session 1 >"$WORK/i2.out"
check "describe, 500 forever (max_retries '1'): UNAVAILABLE with one WARNING (HV000), the local view PRESENT" \
    "WARNING:  HV000
$NOKEY_ALL_UNAVAILABLE" "$(after "$WORK/i2.out" unavailable)"
check "describe, 500 forever: the WARNING names the view, the remote table, the store's error and max_retries" \
    "WARNING:  feature view \"fvd\" is unavailable: DynamoDB DescribeTable request failed for remote table \"fault_nokey\"
DETAIL:  InternalServerError: Internal server error
HINT:  The request was retried 1 times; raise the server option max_retries or feature_store.max_retries, or the table's capacity.
2" "$(after "$WORK/i2.out" warning)"
check "describe, 500 forever: with on_store_error = 'error', HV000 naming max_retries as before" \
    "HV000|DynamoDB DescribeTable request failed|InternalServerError: Internal server error|The request was retried 1 times; raise the server option max_retries or feature_store.max_retries, or the table's capacity." \
    "$(after "$WORK/i2.out" error)"
check "describe, 500 forever: each call asked again (a failed DescribeTable is not cached): 3 calls, 2 attempts each" \
    "6" "$(requests)"
stop_fault

# A 200 answer that is no DescribeTable answer ('{}'): the store could not tell the key.
start_fault ok
describe_session 2 >"$WORK/i3.out"
check "describe, an answer without a KeySchema: UNAVAILABLE with one WARNING (HV004), the local view PRESENT" \
    "WARNING:  HV004
$NOKEY_ALL_UNAVAILABLE" "$(after "$WORK/i3.out" unavailable)"
check "describe, an answer without a KeySchema: the WARNING names the view, the remote table and what is wrong" \
    "WARNING:  feature view \"fvd\" is unavailable: invalid DescribeTable response from its store for remote table \"fault_nokey\"
DETAIL:  \"Table\".\"KeySchema\" is not an array
2" "$(after "$WORK/i3.out" warning)"
check "describe, an answer without a KeySchema: with on_store_error = 'error', HV004 as before" \
    "HV004|invalid DescribeTable response from DynamoDB for table \"fault_nokey\": \"Table\".\"KeySchema\" is not an array||" \
    "$(after "$WORK/i3.out" error)"
stop_fault

# --- (j) serving statistics of a failing store ---------------------------------------
echo "# (j) serving statistics: what a failing store adds to fs_stats"
# After fs_stats_reset(), one call of fs_get_features for 3 ids and 'fv:*'
# (2 features) against a fault server; then view fv's row of fs_stats.  A
# call that raises adds only its store figures (at the end of its
# transaction); one that returns adds calls, entities and values too.
FV_STATS="SELECT format('calls=%s entities=%s not_found=%s unavailable=%s store_requests=%s retries=%s throttles=%s store_errors=%s',
                 calls, entities, not_found, unavailable, store_requests, retries, throttles, store_errors)
            FROM fs_stats WHERE feature_view = 'fv'"
# stats_session MAX_RETRIES ON_STORE_ERROR: the call's outcome (statuses, or
# its error and warnings) after "@call", fv's figures after "@stats".
stats_session() {
    session <<EOF
$(point_at_fault "$1")
SET feature_store.on_store_error = '$2';
SELECT fs_stats_reset() AS removed \gset
\echo @call
$STATUSES;
\echo @stats
$FV_STATS;
EOF
}
if [ "$(q "SELECT fs_stats_untracked() IS NOT NULL")" != t ]; then
    echo "# skipped (j): feature_store is not in shared_preload_libraries, so no statistics are kept"
else
    start_fault throttle-then-ok:3
    stats_session 5 error >"$WORK/j1.out"
    check "stats, throttle-then-ok:3: the call returns NOT_FOUND rows" "$(all_status NOT_FOUND)" "$(after "$WORK/j1.out" call)"
    check "stats, throttle-then-ok:3: fs_stats counts 1 call, 3 throttles, 3 retries, 4 requests, no store error" \
        "calls=1 entities=3 not_found=6 unavailable=0 store_requests=4 retries=3 throttles=3 store_errors=0" \
        "$(after "$WORK/j1.out" stats)"
    stop_fault

    start_fault throttle-forever
    stats_session 2 error >"$WORK/j2.out"
    check "stats, throttle-forever under 'error': the call raises HV000" "ERROR:  HV000" "$(after "$WORK/j2.out" call)"
    check "stats, throttle-forever under 'error': no call counted, but 3 requests (max_retries '2'), 2 retries, 3 throttles, 1 store error" \
        "calls=0 entities=0 not_found=0 unavailable=0 store_requests=3 retries=2 throttles=3 store_errors=1" \
        "$(after "$WORK/j2.out" stats)"
    check "stats, throttle-forever under 'error': the store saw the 3 requests counted" "400 400 400" "$(answered)"
    stop_fault

    start_fault throttle-forever
    stats_session 2 unavailable >"$WORK/j3.out"
    check "stats, throttle-forever under 'unavailable': a WARNING (HV000) and UNAVAILABLE rows" \
        "WARNING:  HV000
$(all_status UNAVAILABLE)" "$(after "$WORK/j3.out" call)"
    check "stats, throttle-forever under 'unavailable': 1 call, 6 values UNAVAILABLE (3 ids x 2 refs), 1 store error, 3 requests" \
        "calls=1 entities=3 not_found=0 unavailable=6 store_requests=3 retries=2 throttles=3 store_errors=1" \
        "$(after "$WORK/j3.out" stats)"
    stop_fault

    start_fault ok
    stop_fault                  # its port is free again: nothing listens there
    stats_session 2 error >"$WORK/j4.out"
    check "stats, refused under 'error': the call raises HV00N" "ERROR:  HV00N" "$(after "$WORK/j4.out" call)"
    check "stats, refused under 'error': no call counted, 1 request (a refused connection is not retried), 1 store error" \
        "calls=0 entities=0 not_found=0 unavailable=0 store_requests=1 retries=0 throttles=0 store_errors=1" \
        "$(after "$WORK/j4.out" stats)"
fi

finish
