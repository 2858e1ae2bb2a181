#!/usr/bin/env bash
# run_stats.sh — the statistics part of `make bench` (run by test/bench/run.sh
# after the embedded part; BENCH_ONLY=stats runs it alone).  Issue 13: what
# the serving statistics (src/stats.c) cost fs_get_features on the embedded
# store, with feature_store in shared_preload_libraries (statistics kept)
# and without it (serve_stats returns at once).  Target: within 2%.
#
# Needs the cluster of scripts/pgcluster.sh in FS_CLUSTER_ENV and the PG*
# variables (run.sh sets them), and test/bench/build/bench_serving (run.sh
# compiles it).  It restarts that cluster 2 x BENCH_STATS_ROUNDS times.
# Each round measures both states, one after the other, the state that goes
# first alternating between rounds (off, on | on, off | off, on | on, off),
# so a drift of the machine's load falls on both.  For each state it
#
#   1. sets shared_preload_libraries (ALTER SYSTEM; only feature_store is
#      added or taken out, any other library stays) and restarts the cluster
#      (scripts/pgcluster.sh restart), then checks the running setting;
#   2. prewarms the tables and indexes (test/bench/setup.sql: pg_prewarm,
#      or scans), since a restart empties shared_buffers;
#   3. times the first calls after the restart on their own (10 iterations,
#      no warm-up, another seed), to show whether the timed calls could
#      still pay for cold caches;
#   4. runs bench_serving with BENCH_METHODS=features-count,features;
#   5. checks fs_stats: preloaded, the calls of bench_a and bench_b grew by
#      exactly the calls made (entities and values served too); without the
#      preload, fs_stats is empty and says why in a NOTICE.  A failed check
#      fails the bench: the comparison would not be what it claims.
#
# Then it prints each round's p50 / p95, the medians over the rounds, the
# ratios preloaded / not, and the exact command.  Whatever happens, the
# original shared_preload_libraries is set back at exit (and the cluster
# restarted if it runs with another value).
#
# Environment (all optional):
#   BENCH_STATS_ROUNDS (4)  BENCH_STATS_ITERATIONS (400)  BENCH_STATS_WARMUP (40)
#   BENCH_ENTITIES (1000)   BENCH_ROWS (1000000)  BENCH_SEED (42)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BENCH="$ROOT/test/bench"
BUILD="$BENCH/build"
ROUNDS="${BENCH_STATS_ROUNDS:-4}"
ITERATIONS="${BENCH_STATS_ITERATIONS:-400}"
WARMUP="${BENCH_STATS_WARMUP:-40}"
ENTITIES="${BENCH_ENTITIES:-1000}"
ROWS="${BENCH_ROWS:-1000000}"
SEED="${BENCH_SEED:-42}"
PROBE_ITERATIONS=10
PROBE_SEED=$((SEED + 1))
METHODS=features-count,features
# Each call of either method serves both views once; 10 features a view.
CALLS_PER_ITERATION=2
FEATURES_PER_VIEW=10

say() { printf '== %s\n' "$*"; }
die() { echo "run_stats: $*" >&2; exit 1; }

cd "$ROOT"
[ -x "$BUILD/bench_serving" ] || die "$BUILD/bench_serving missing (run test/bench/run.sh)"
for v in STATS_ROUNDS:ROUNDS STATS_ITERATIONS:ITERATIONS STATS_WARMUP:WARMUP ENTITIES:ENTITIES; do
    n="${v#*:}"
    [[ "${!n}" =~ ^[0-9]+$ ]] || { echo "run_stats: BENCH_${v%%:*} must be an integer, not '${!n}'" >&2; exit 2; }
done
[ "$ROUNDS" -ge 1 ] && [ "$ITERATIONS" -ge 1 ] && [ "$ENTITIES" -ge 1 ] ||
    { echo "run_stats: rounds, iterations and entities must be at least 1" >&2; exit 2; }
[ -n "${FS_CLUSTER_ENV:-}" ] && [ -f "$FS_CLUSTER_ENV" ] ||
    die "no cluster state file (FS_CLUSTER_ENV='${FS_CLUSTER_ENV:-}'): the part restarts the cluster of scripts/pgcluster.sh"

TMP="$(mktemp -d /tmp/feature_store_bench_stats.XXXXXX)"

# shared_preload_libraries as a comma-separated list, and the same list as
# the value of ALTER SYSTEM SET (one literal per library; '' for none).
ORIG_SPL="$(psql -X -At -c 'SHOW shared_preload_libraries')"
spl_value() {
    local list="$1" lib out=""
    local -a libs
    IFS=',' read -r -a libs <<<"$list"
    for lib in "${libs[@]}"; do
        lib="$(echo "$lib" | sed 's/^[[:space:]"]*//; s/[[:space:]"]*$//')"
        [ -n "$lib" ] || continue
        out="${out:+$out, }'${lib//\'/\'\'}'"
    done
    echo "${out:-''}"
}
# The list without feature_store, and with it.
SPL_OFF="$(echo "$ORIG_SPL" | tr ',' '\n' | sed 's/^[[:space:]"]*//; s/[[:space:]"]*$//' |
           grep -vx 'feature_store' | paste -sd, - || true)"
SPL_ON="${SPL_OFF:+$SPL_OFF,}feature_store"

# ALTER SYSTEM SET shared_preload_libraries = '' would write '""', a library
# with an empty name, and the server would not start: an empty list is a
# RESET (the cluster's postgresql.conf leaves the setting out).
set_spl() {
    local sql="ALTER SYSTEM RESET shared_preload_libraries"
    [ "$(spl_value "$1")" = "''" ] || sql="ALTER SYSTEM SET shared_preload_libraries = $(spl_value "$1")"
    psql -X -q -v ON_ERROR_STOP=1 -c "$sql" >/dev/null
}

# When the server is down (it did not start again), the setting goes back
# into its postgresql.auto.conf directly, the file kept (owner and mode),
# so that it starts as before.
set_spl_in_file() {
    local dir conf rest
    dir="$(sed -n 's/.*FS_CLUSTER_DIR=\([^ ]*\).*/\1/p' "$FS_CLUSTER_ENV" | tail -n 1)"
    conf="$dir/data/postgresql.auto.conf"
    [ -n "$dir" ] && [ -f "$conf" ] || return 1
    rest="$(grep -v '^shared_preload_libraries' "$conf" || true)"
    if [ "$(spl_value "$1")" = "''" ]; then
        printf '%s\n' "$rest" >"$conf"
    else
        printf '%s\nshared_preload_libraries = %s\n' "$rest" "'$1'" >"$conf"
    fi
}

# At exit: the original setting back, and the cluster restarted when it runs
# with another one.
restore() {
    local now
    rm -rf -- "$TMP"
    if ! set_spl "$ORIG_SPL" 2>/dev/null; then
        if set_spl_in_file "$ORIG_SPL"; then
            echo "run_stats: the server is down; shared_preload_libraries = '$ORIG_SPL' is back in its" \
                 "postgresql.auto.conf (start it with pg_ctl, as scripts/pgcluster.sh does)" >&2
        else
            echo "run_stats: could not set shared_preload_libraries back to '$ORIG_SPL':" \
                 "do it by hand (ALTER SYSTEM, then scripts/pgcluster.sh restart)" >&2
        fi
        return 0
    fi
    now="$(psql -X -At -c 'SHOW shared_preload_libraries' 2>/dev/null || true)"
    if [ "$now" != "$ORIG_SPL" ]; then
        bash "$ROOT/scripts/pgcluster.sh" restart >/dev/null ||
            echo "run_stats: the cluster did not restart with shared_preload_libraries = '$ORIG_SPL'" >&2
    fi
    say "shared_preload_libraries set back to '$ORIG_SPL'"
}
trap restore EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# One figure of bench_serving's table: field 1 rows/call, 2 KB/call, 3 p50,
# 4 p95, 5 p99, 6 mean, 7 max, of the method labelled $2 in file $1.
figure() {
    awk -v label="$2" -v f="$3" '
        substr($0, 1, 2) == "  " {
            l = substr($0, 3, 26); sub(/ +$/, "", l)
            if (l == label) { split(substr($0, 29), a, " "); print a[f]; found = 1; exit }
        }
        END { if (!found) exit 1 }' "$1" || die "no figures for '$2' in $1"
}

# fs_stats of both views: calls entities values, one line each, in view order.
stats_of() {
    psql -X -At -F' ' -c "SELECT feature_view, calls, entities,
                                 present + null_value + not_found + outside_max_age + unavailable
                            FROM fs_stats WHERE feature_view IN ('bench_a', 'bench_b')
                           ORDER BY feature_view"
}

LABELS=("fs_get_features, count(*)" "fs_get_features")
SHORT=("features-count" "features")
CMD=(env "BENCH_ITERATIONS=$ITERATIONS" "BENCH_WARMUP=$WARMUP" "BENCH_ENTITIES=$ENTITIES"
     "BENCH_ROWS=$ROWS" "BENCH_SEED=$SEED" "BENCH_METHODS=$METHODS" "BENCH_CLIENTS=1"
     "$BUILD/bench_serving")
PROBE=(env "BENCH_ITERATIONS=$PROBE_ITERATIONS" "BENCH_WARMUP=0" "BENCH_ENTITIES=$ENTITIES"
       "BENCH_ROWS=$ROWS" "BENCH_SEED=$PROBE_SEED" "BENCH_METHODS=$METHODS" "BENCH_CLIENTS=1"
       "$BUILD/bench_serving")

# One measurement: state on (preloaded) or off; results in $TMP/<round>.<state>.
measure() {
    local round="$1" state="$2" spl running out="$TMP/$1.$2" before after notice
    local want_calls want_entities
    if [ "$state" = on ]; then spl="$SPL_ON"; else spl="$SPL_OFF"; fi

    set_spl "$spl"
    bash scripts/pgcluster.sh restart >/dev/null
    running="$(psql -X -At -c 'SHOW shared_preload_libraries')"
    [ "$(spl_value "$running")" = "$(spl_value "$spl")" ] ||
        die "round $round: the cluster runs with shared_preload_libraries = '$running', not '$spl'"
    psql -X -q -v ON_ERROR_STOP=1 -v rows="$ROWS" -f "$BENCH/setup.sql" >"$out.setup" ||
        { cat "$out.setup" >&2; die "round $round: test/bench/setup.sql failed"; }

    "${PROBE[@]}" >"$out.probe"
    before="$(stats_of 2>"$out.notice.before")"
    "${CMD[@]}" >"$out.bench"
    after="$(stats_of 2>"$out.notice")"

    if [ "$state" = on ]; then
        # A fresh shared memory: the probe's calls, then the timed run's.
        want_calls=$((PROBE_ITERATIONS * CALLS_PER_ITERATION))
        echo "$before" | awk -v c="$want_calls" -v e="$ENTITIES" -v f="$FEATURES_PER_VIEW" '
            { ok += ($2 == c && $3 == c * e && $4 == c * e * f) } END { exit ok != 2 }' ||
            die "round $round, preloaded: after restart and $want_calls probe calls fs_stats shows" \
                "'$(echo "$before" | tr '\n' ';')', not $want_calls calls of each view"
        want_calls=$(((WARMUP + ITERATIONS) * CALLS_PER_ITERATION))
        want_entities=$((want_calls * ENTITIES))
        paste -d' ' <(echo "$before") <(echo "$after") |
            awk -v c="$want_calls" -v e="$want_entities" -v f="$FEATURES_PER_VIEW" '
                $1 == $5 { ok += ($6 - $2 == c && $7 - $3 == e && $8 - $4 == e * f) }
                END { exit ok != 2 }' ||
            die "round $round, preloaded: fs_stats grew from '$(echo "$before" | tr '\n' ';')'" \
                "to '$(echo "$after" | tr '\n' ';')', not by $want_calls calls of each view"
        echo "$(echo "$before" | awk '$1 == "bench_a" { print $2 }') -> $(echo "$after" | awk '$1 == "bench_a" { print $2 }')" \
            >"$out.calls"
    else
        notice="$(cat "$out.notice")"
        [ -z "$after" ] && [ -z "$before" ] ||
            die "round $round, not preloaded: fs_stats shows '$(echo "$after" | tr '\n' ';')'"
        [[ "$notice" == *"keeps no serving statistics"* ]] ||
            die "round $round, not preloaded: fs_stats is empty but without its NOTICE ('$notice')"
        echo "none" >"$out.calls"
    fi
}

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
say "the cost of statistics: $ROUNDS rounds x (preloaded, not), $ITERATIONS timed iterations after" \
    "$WARMUP warm-up of $METHODS each; the cluster is restarted $((2 * ROUNDS)) times" \
    "(load average before: $LOAD_BEFORE)"
echo "  shared_preload_libraries: preloaded '$SPL_ON', not '$SPL_OFF' (was '$ORIG_SPL')"
START=$SECONDS
for ((r = 1; r <= ROUNDS; r++)); do
    if ((r % 2)); then states=(off on); else states=(on off); fi
    for st in "${states[@]}"; do
        measure "$r" "$st"
        printf '  round %d %-3s done (%d s)\n' "$r" "$st" $((SECONDS - START))
    done
done
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"

# The figures.
echo
echo "  per round, ms (first 10: p50 of the first $PROBE_ITERATIONS calls after the restart and prewarm, untimed by the run)"
printf '  %-5s %-8s %-15s %9s %9s %9s %9s  %s\n' round preload method p50 p95 mean "first 10" "fs_stats calls of bench_a"
for ((r = 1; r <= ROUNDS; r++)); do
    for st in on off; do
        for i in 0 1; do
            f="$TMP/$r.$st"
            printf '  %-5s %-8s %-15s %9.3f %9.3f %9.3f %9.3f  %s\n' "$r" \
                "$([ "$st" = on ] && echo yes || echo no)" "${SHORT[i]}" \
                "$(figure "$f.bench" "${LABELS[i]}" 3)" "$(figure "$f.bench" "${LABELS[i]}" 4)" \
                "$(figure "$f.bench" "${LABELS[i]}" 6)" "$(figure "$f.probe" "${LABELS[i]}" 3)" \
                "$(cat "$f.calls")"
        done
    done
done

# Medians over the rounds, and the ratios preloaded / not: of the medians,
# and the median of each round's own ratio (both states of a round ran
# side by side).
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
echo
echo "  medians over $ROUNDS rounds, ms; ratio preloaded / not (target: within 2%, 0.98-1.02)"
printf '  %-15s %-5s %11s %11s %9s %17s %9s\n' method pct preloaded "not" ratio "median of rounds'" verdict
for i in 0 1; do
    for q in 3:p50 4:p95 6:mean; do
        fld="${q%%:*}"
        on_vals=(); off_vals=(); ratios=()
        for ((r = 1; r <= ROUNDS; r++)); do
            a="$(figure "$TMP/$r.on.bench" "${LABELS[i]}" "$fld")"
            b="$(figure "$TMP/$r.off.bench" "${LABELS[i]}" "$fld")"
            on_vals+=("$a"); off_vals+=("$b")
            ratios+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.4f", a / b }')")
        done
        m_on="$(printf '%s\n' "${on_vals[@]}" | median)"
        m_off="$(printf '%s\n' "${off_vals[@]}" | median)"
        m_r="$(printf '%s\n' "${ratios[@]}" | median)"
        awk -v m="${SHORT[i]}" -v q="${q#*:}" -v a="$m_on" -v b="$m_off" -v rr="$m_r" 'BEGIN {
            r = a / b
            printf "  %-15s %-5s %11.3f %11.3f %9.3f %17.3f %9s\n", m, q, a, b, r, rr,
                   (q == "mean") ? "" : (r > 1.02 ? "MISS" : (r < 0.98 ? "NOISE" : "PASS"))
        }'
    done
done
echo "  (the verdict judges the ratio of the medians: PASS within 2%, MISS above 1.02;"
echo "   NOISE below 0.98, since the preloaded calls do more work, not less: the"
echo "   machine's noise is then larger than what is measured, and so is the ratio's)"
echo
echo "  fs_stats checked in every round: preloaded, bench_a and bench_b each counted the"
echo "  $(((WARMUP + ITERATIONS) * CALLS_PER_ITERATION)) calls of the run (and $((PROBE_ITERATIONS * CALLS_PER_ITERATION)) of the first-calls probe), their entities"
echo "  and values; not preloaded, fs_stats was empty with its NOTICE."
echo
echo "seconds:  $((SECONDS - START)) for the part ($((2 * ROUNDS)) restarts and prewarms included)"
echo "load:     $LOAD_BEFORE before, $LOAD_AFTER after (1, 5, 15 min)"
echo "machine:  $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)," \
     "$(uname -sr), $(. /etc/os-release && echo "$PRETTY_NAME")"
echo "server:   $(psql -X -At -c 'SELECT version()' | sed 's/ on .*//')," \
     "shared_buffers=$(psql -X -At -c 'SHOW shared_buffers'), the client sets jit=off;" \
     "$(grep -h 'bench tables ready' "$TMP/1.on.setup" | sed 's/,.*//')"
echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "command:  BENCH_ONLY=stats make bench  (that is: for $ROUNDS rounds, for each of shared_preload_libraries"
echo "          = '$SPL_OFF' and '$SPL_ON' (in turn, the first alternating): ALTER SYSTEM SET"
echo "          shared_preload_libraries; scripts/pgcluster.sh restart; psql -f test/bench/setup.sql;"
echo "          PGHOST=$PGHOST PGPORT=$PGPORT PGUSER=$PGUSER PGDATABASE=$PGDATABASE ${PROBE[*]:1};"
echo "          PGHOST=$PGHOST PGPORT=$PGPORT PGUSER=$PGUSER PGDATABASE=$PGDATABASE ${CMD[*]:1})"
