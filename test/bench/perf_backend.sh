#!/usr/bin/env bash
# perf_backend.sh — where one backend's CPU goes while bench_serving runs
# one method (sourced by run_dynamodb.sh and run_canned.sh; needs perf).
#
#   perf_backend CALLS ANSWERS ENTRIES -- ENV... BENCH_SERVING
#
# runs "env ENV... BENCH_SERVING" with PGAPPNAME=fs_bench_perf and
# BENCH_ITERATIONS=CALLS (plus 3 warm-up calls), attaches perf stat and
# perf record (-F 499, DWARF call graphs) to its backend, and prints the
# backend's CPU per call and, for each entry of ENTRIES ("symbol:label|..."),
# the share of the backend's samples in that symbol and all it calls.
# ANSWERS, when not 0, is the store's answers per call: the parse and decode
# entries (the symbols fs_jparse, json_loadb, json_delete and lookup_item) are
# then also given as CPU time per answer.
perf_backend() {
    local calls="$1" answers="$2" entries="$3"
    shift 4
    local data stat bpid pid cpu_ms
    data="$(mktemp /tmp/feature_store_bench_perf.XXXXXX)"
    stat="$data.stat"
    env PGAPPNAME=fs_bench_perf BENCH_ITERATIONS="$calls" BENCH_WARMUP=3 "$@" >"$data.out" 2>&1 &
    bpid=$!
    pid=""
    for _ in $(seq 1 100); do
        pid="$(psql -X -At -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'fs_bench_perf' LIMIT 1")"
        [ -n "$pid" ] && break
        sleep 0.05
    done
    if [ -z "$pid" ]; then
        wait "$bpid" || true
        echo "  (no backend to profile)"
        rm -f -- "$data" "$data.out"
        return 0
    fi
    # Both end when the backend does, i.e. when the client disconnects.
    perf stat -e task-clock -x, -o "$stat" -p "$pid" >/dev/null 2>&1 &
    local spid=$!
    perf record -q -F 499 --call-graph dwarf,16384 -o "$data" -p "$pid" >/dev/null 2>&1 || true
    wait "$spid" || true
    wait "$bpid" || { cat "$data.out" >&2; rm -f -- "$data" "$data.old" "$stat" "$data.out"; return 1; }
    cpu_ms="$(awk -F, '/task-clock/ {printf "%.0f", $1}' "$stat")"
    perf report -i "$data" --children --sort symbol -g none --stdio 2>/dev/null |
    awk -v calls="$((calls + 3))" -v cpu="${cpu_ms:-0}" -v answers="$answers" -v entries="$entries" '
        # children percentages (a frame and all it calls) of the backend samples
        /%/ && $3 == "[.]" { pct = $1; sub("%", "", pct); sym = $4;
                             if (!(sym in p) || pct + 0 > p[sym] + 0) p[sym] = pct }
        END {
            percall = cpu / calls
            printf "  backend CPU: %.1f ms per call (%d calls, perf stat task-clock)\n", percall, calls
            printf "  share of the backend CPU samples, each with what it calls:\n"
            n = split(entries, item, "|")
            for (i = 1; i <= n; i++) {
                c = index(item[i], ":")
                printf "    %-66s %6.1f%%\n", substr(item[i], c + 1), p[substr(item[i], 1, c - 1)] + 0
            }
            if (answers > 0) {
                parse = p["fs_jparse"] + p["json_loadb"] + p["json_delete"]
                printf "  per answer (%d per call): parsing (and freeing) %.3f ms, with decoding its items %.3f ms\n",
                       answers, percall * parse / 100 / answers,
                       percall * (parse + p["lookup_item"]) / 100 / answers
            }
        }'
    echo "  (perf record -F 499 --call-graph dwarf -p BACKEND; perf report --children --sort symbol)"
    rm -f -- "$data" "$data.old" "$stat" "$data.out"
}
