#!/usr/bin/env bash
# run_metrics.sh — fs_metrics() against the Prometheus text exposition format,
# checked by test/stats/check_metrics.mjs (the npm package
# parse-prometheus-text-format, pinned in package.json, and a line-by-line
# check of the format's rules of our own).
#
# In a database of its own (fs_metrics_PID, dropped at exit): two embedded
# feature views, "plain" (ttl 30 days) and one whose name holds a double
# quote, a backslash and a newline (we"ird\view<newline>x), served by known
# calls of fs_get_features, fs_get_feature_vectors and fs_get_feature_matrix
# after fs_stats_reset().  Then:
#
#   - fs_stats holds exactly what those calls served (calls, entities,
#     values per status);
#   - check_metrics.mjs passes on fs_metrics()' text, which holds the awkward
#     name escaped (view="we\"ird\\view\nx");
#   - per view, the figures the package parsed (calls, entities, values per
#     status, the histogram's count) equal fs_stats' (calls for the count);
#   - fs_metrics() gives the same text under standard_conforming_strings =
#     off (its escapes of label values do not depend on it);
#   - the checker rejects broken variants of that text, each for its reason:
#     a sample before its family's # TYPE, an unescaped quote in a label
#     value, a _bucket count that decreases, a +Inf bucket that is not the
#     _count, a counter not ending in _total, a second # TYPE, a family's
#     samples split by another family, a value that is not a float, and an
#     invalid escape in a label value;
#   - neither fs_metrics() nor fs_stats shows a feature value or an entity
#     id, only names and counts;
#   - 4 backends serving 100 calls each at once: fs_stats counts every call
#     and value (no update lost between backends).
#
# Needs PGHOST/PGPORT/PGUSER of a cluster with feature_store installed and in
# shared_preload_libraries (without it no statistics are kept: it skips, "#
# skipped: ...", nothing counted), as a superuser (fs_stats_reset), node,
# and node_modules from `npm ci` (scripts/setup.sh).  Prints "ok - name" /
# "not ok - name" per check and, last, "N passed, N failed".  Exits 0 when
# it could run (whatever failed), 2 otherwise.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"

CHECK_JS="$HERE/check_metrics.mjs"
export PGCLIENTENCODING=UTF8

need_psql
need_node
[ -d "$REPO/node_modules/parse-prometheus-text-format" ] ||
    die "node_modules/parse-prometheus-text-format is missing (run npm ci, or scripts/setup.sh)"
make_work fs_metrics FS_METRICS_KEEP
scratch_db "fs_metrics_$$"
[ "$(q "SELECT fs_stats_untracked() IS NOT NULL")" = t ] ||
    skip_all "feature_store is not in shared_preload_libraries: no serving statistics are kept"

WEIRD_SQL="E'we\"ird\\\\view\\nx'"     # the SQL literal E'we"ird\\view\nx'

setup_sql "the views" <<EOF
SET client_min_messages = warning;
CREATE TABLE plain_t (user_id text PRIMARY KEY, event_time timestamptz, clicks bigint, ctr float8);
INSERT INTO plain_t VALUES ('u1', now(), 10, 0.5), ('u2', now(), NULL, 0.25),
                           ('u3', '2000-01-01 00:00:00+00', 3, 0.125);
CREATE TABLE weird_t (user_id text PRIMARY KEY, event_time timestamptz, score float8);
INSERT INTO weird_t VALUES ('u1', now(), 1.5);
SELECT FROM fs_register_entity('user', 'user_id');
SELECT FROM fs_register_feature_view('plain', 'plain_t', 'user', ttl => '30 days');
SELECT FROM fs_register_feature_view($WEIRD_SQL, 'weird_t', 'user');
EOF
check "the awkward view name holds a double quote, a backslash and a newline" \
    "t" "$(q "SELECT name = 'we\"ird\\view' || chr(10) || 'x' FROM fs_feature_view WHERE name <> 'plain'")"

# Known calls.  plain: 5 + 2 ids (u1 both present; u2 clicks NULL, ctr
# present; u3 outside the ttl; u4 and NULL not found; then u1, u2 ctr
# present); the awkward view: 2 + 1 ids (u1 present, u2 not found, u1).
served="$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" 2>&1 <<EOF || true
SELECT fs_stats_reset() AS removed \gset
SELECT count(*) FROM fs_get_features(ARRAY['u1', 'u2', 'u3', 'u4', NULL], ARRAY['plain:clicks', 'plain:ctr']);
SELECT count(*) FROM fs_get_feature_vectors(ARRAY['u1', 'u2'], ARRAY[$WEIRD_SQL || ':score', 'plain:ctr']);
SELECT array_length(m, 1) FROM fs_get_feature_matrix(ARRAY['u1'], ARRAY[$WEIRD_SQL || ':score']) m;
EOF
)"
check "the known calls are served" "10
2
1" "$served"

# Per view, sorted by name (bytes): "NAME" calls=... as check_metrics.mjs
# --summary prints it; count is the histogram's, which is the calls.
STATS_SUMMARY="SELECT string_agg(format('%s calls=%s entities=%s present=%s null_value=%s not_found=%s outside_max_age=%s unavailable=%s count=%s',
                                        to_json(feature_view)::text, calls, entities, present, null_value,
                                        not_found, outside_max_age, unavailable, calls),
                                 E'\n' ORDER BY feature_view COLLATE \"C\")
                 FROM fs_stats"
printf '%s\n' "$(q "$STATS_SUMMARY")" >"$WORK/stats.txt"
printf '%s\n' \
    '"plain" calls=2 entities=7 present=5 null_value=1 not_found=4 outside_max_age=2 unavailable=0 count=2' \
    '"we\"ird\\view\nx" calls=2 entities=3 present=2 null_value=0 not_found=1 outside_max_age=0 unavailable=0 count=2' \
    >"$WORK/expected.txt"
check_same "fs_stats holds what the known calls served, per view" "$WORK/expected.txt" "$WORK/stats.txt"

printf '%s\n' "$(q "SELECT fs_metrics()")" >"$WORK/metrics.txt"
if node "$CHECK_JS" --summary <"$WORK/metrics.txt" >"$WORK/summary.txt" 2>"$WORK/check.err"; then
    ok "check_metrics.mjs passes on fs_metrics()"
else
    not_ok "check_metrics.mjs passes on fs_metrics()" "$(head -n 10 "$WORK/check.err")"
fi
if grep -qF 'feature_store_serving_calls_total{view="we\"ird\\view\nx"} 2' "$WORK/metrics.txt"; then
    ok "fs_metrics escapes the quote, the backslash and the newline of a view's name"
else
    not_ok "fs_metrics escapes the quote, the backslash and the newline of a view's name" \
        "$(grep -A1 -F 'feature_store_serving_calls_total{' "$WORK/metrics.txt" | head -n 4)"
fi
check_same "the figures parse-prometheus-text-format reads equal fs_stats', per view (calls, entities, values per status, histogram count)" \
    "$WORK/stats.txt" "$WORK/summary.txt"

# The escapes of a label value must not depend on the session's settings.
printf '%s\n' "$(q "SET standard_conforming_strings = off; SET escape_string_warning = off; SELECT fs_metrics()")" \
    >"$WORK/metrics_nonstandard.txt"
check_same "fs_metrics gives the same text under standard_conforming_strings = off" \
    "$WORK/metrics.txt" "$WORK/metrics_nonstandard.txt"

# broken NAME REASON: check_metrics.mjs must reject $WORK/broken.txt (exit 1)
# with a problem matching the extended regex REASON.
broken() {
    local rc=0
    node "$CHECK_JS" <"$WORK/broken.txt" >/dev/null 2>"$WORK/broken.err" || rc=$?
    if cmp -s "$WORK/broken.txt" "$WORK/metrics.txt"; then
        not_ok "the checker rejects $1" "the broken variant is the same as the text (the edit missed)"
    elif [ "$rc" -eq 1 ] && grep -qE "$2" "$WORK/broken.err"; then
        ok "the checker rejects $1"
    else
        not_ok "the checker rejects $1" "exit status $rc, expected 1 with a problem matching: $2" \
            "$(head -n 5 "$WORK/broken.err")"
    fi
}

M="$WORK/metrics.txt"
first_calls="$(grep -m 1 '^feature_store_serving_calls_total{' "$M")"
{ printf '%s\n' "$first_calls"; grep -vxF "$first_calls" "$M"; } >"$WORK/broken.txt"
broken "a sample before its family's # TYPE" "no # HELP and # TYPE line before it"

sed 's/we\\"ird/we"ird/' "$M" >"$WORK/broken.txt"
broken "an unescaped double quote in a label value" "unescaped quote"

sed -E 's/^(feature_store_serving_call_duration_seconds_bucket\{view="plain",le="0\.00025"\}) [0-9]+$/\1 99/' "$M" >"$WORK/broken.txt"
broken "a _bucket count that decreases as le grows" "the count decreases"

sed -E 's/^(feature_store_serving_call_duration_seconds_count\{view="plain"\}) [0-9]+$/\1 3/' "$M" >"$WORK/broken.txt"
broken "a +Inf bucket that is not the _count" "is not the _count"

sed 's/^\(# [A-Z]* \)\?feature_store_serving_calls_total/\1feature_store_serving_calls/' "$M" >"$WORK/broken.txt"
broken "a counter whose name does not end in _total" "does not end in _total"

sed '/^# TYPE feature_store_store_errors_total /p' "$M" >"$WORK/broken.txt"
broken "a second # TYPE line for a family" "a second # TYPE"

{ grep -vxF "$first_calls" "$M" | sed "/^# HELP feature_store_serving_values_total /i\\
$(printf '%s' "$first_calls" | sed 's/\\/\\\\/g')"; } >"$WORK/broken.txt"
broken "a family's samples split by another family" "not among the lines of its family|not contiguous"

sed -E 's/^(feature_store_store_requests_total\{view="plain"\}) [0-9]+$/\1 twelve/' "$M" >"$WORK/broken.txt"
broken "a value that is not a float" "is not a float"

sed 's/we\\"ird\\\\view/we\\"ird\\tview/' "$M" >"$WORK/broken.txt"
broken "an invalid escape (\\t) in a label value" "invalid escape"

# Names and counts only: no feature value and no entity id reaches the text.
setup_sql "a view serving a distinctive value" <<EOF
CREATE TABLE secret_t (user_id text PRIMARY KEY, event_time timestamptz, note text);
INSERT INTO secret_t VALUES ('entity-7f3a9c', now(), 'value-5e81b2');
SELECT FROM fs_register_feature_view('secret_view', 'secret_t', 'user');
SELECT count(*) FROM fs_get_features(ARRAY['entity-7f3a9c', 'entity-absent-44d0'], ARRAY['secret_view:note']);
EOF
check "fs_metrics and fs_stats show the view, never its values or entity ids" \
    "true|0" \
    "$(q "SELECT (fs_metrics() LIKE '%view=\"secret_view\"%') || '|'
                 || (SELECT count(*)
                       FROM regexp_split_to_table(fs_metrics() || (SELECT string_agg(s::text, ' ') FROM fs_stats s),
                                                  E'\\s+') w
                      WHERE w ~ '7f3a9c|5e81b2|44d0')")"

# Counting from 4 backends at once loses nothing: 4 x 100 calls of 2 ids
# and 2 refs each (3 values present, 1 NULL), all in flight together.
q "SELECT fs_stats_reset()" >/dev/null
pids=()
for c in 1 2 3 4; do
    psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" >"$WORK/client$c.out" 2>&1 \
         -c "DO \$\$ BEGIN
                 FOR i IN 1 .. 100 LOOP
                     PERFORM count(*) FROM fs_get_features(ARRAY['u1', 'u2'], ARRAY['plain:clicks', 'plain:ctr']);
                 END LOOP;
             END \$\$" &
    pids+=("$!")
done
rcs=""
for p in "${pids[@]}"; do
    if wait "$p"; then rcs="${rcs}0"; else rcs="${rcs}1"; fi
done
check "4 backends serving 100 calls each at once: every call and value counted" \
    "0000|400|800|1200|400" \
    "$rcs|$(q "SELECT calls || '|' || entities || '|' || present || '|' || null_value FROM fs_stats WHERE feature_view = 'plain'")"

finish
