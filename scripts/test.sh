#!/usr/bin/env bash
# test.sh — install everything and run feature_store's whole test suite:
#   1. scripts/setup.sh (packages, build with -Werror, install)
#   2. a throwaway cluster (scripts/pgcluster.sh; reused if one is running)
#      and an in-memory dynalite on 127.0.0.1 (scripts/dynalite.sh), whose URL
#      is exported as FS_DYNALITE_ENDPOINT to every test below
#   3. pg_regress: make installcheck (sql/*.sql against expected/*.out, then
#      the isolation specs test/isolation/specs/*.spec against
#      test/isolation/expected/*.out)
#   4. pgTAP: pg_prove over test/pgtap/*.sql, each file in a fresh database
#   5. test/run_extra.sh, if present and executable (integration tests); it
#      must print "N passed, N failed" as its last such line
# Prints a per-section summary and ends with one line "N passed, N failed".
# Exits 0 only if nothing failed and something passed.
#
# Environment:
#   FS_CLUSTER_ENV   cluster state file (see scripts/pgcluster.sh)
#   FS_SKIP_SETUP=1  skip scripts/setup.sh (packages and build already done)
#   FS_DYNALITE_ENV  dynalite state file (see scripts/dynalite.sh); default
#                    /tmp/feature_store_dynalite.env with the default cluster,
#                    else FS_CLUSTER_ENV's name with .dynalite.env, so that
#                    runs with separate clusters get separate dynalites
#   FS_DYNALITE_ENDPOINT  if set, tests use this DynamoDB-compatible endpoint
#                    (it must be on 127.0.0.1) and no dynalite is started
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

export FS_CLUSTER_ENV="${FS_CLUSTER_ENV:-/tmp/feature_store_cluster.env}"
if [ -z "${PG_CONFIG:-}" ] && [ -x /usr/lib/postgresql/15/bin/pg_config ]; then
    export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
fi
export PG_CONFIG="${PG_CONFIG:-pg_config}"
if [ -z "${FS_DYNALITE_ENV:-}" ]; then
    if [ "$FS_CLUSTER_ENV" = /tmp/feature_store_cluster.env ]; then
        FS_DYNALITE_ENV=/tmp/feature_store_dynalite.env
    else
        FS_DYNALITE_ENV="${FS_CLUSTER_ENV%.env}.dynalite.env"
    fi
fi
export FS_DYNALITE_ENV

TOTAL_PASS=0
TOTAL_FAIL=0
SUMMARY=()
SHOW_DIFFS=""
WORK="$(mktemp -d /tmp/feature_store_test.XXXXXX)"
STARTED_CLUSTER=0
STARTED_DYNALITE=0

cleanup() {
    if [ "$STARTED_DYNALITE" = 1 ]; then
        bash "$REPO/scripts/dynalite.sh" stop >/dev/null 2>&1 || true
        STARTED_DYNALITE=0
    fi
    if [ "$STARTED_CLUSTER" = 1 ]; then
        bash "$REPO/scripts/pgcluster.sh" stop >/dev/null 2>&1 || true
        STARTED_CLUSTER=0
    fi
    rm -rf -- "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

banner() { printf '\n==== %s ====\n' "$*"; }

# psql for housekeeping: no echo, no NOTICEs.
psql_quiet() {
    PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning" psql -X -q "$@"
}

# Wait until the server accepts connections again (after a crash it recovers).
wait_ready() {
    local n=0
    until "$("$PG_CONFIG" --bindir)/pg_isready" -q -d postgres; do
        n=$((n + 1))
        [ "$n" -lt 60 ] || return 1
        sleep 1
    done
}

# record SECTION PASSED FAILED [NOTE]
record() {
    TOTAL_PASS=$((TOTAL_PASS + $2))
    TOTAL_FAIL=$((TOTAL_FAIL + $3))
    SUMMARY+=("$(printf '  %-12s %5d ok  %5d failed  %s' "$1" "$2" "$3" "${4:-}")")
}

finish() {
    cleanup
    banner "summary"
    local line
    for line in "${SUMMARY[@]}"; do echo "$line"; done
    echo "$TOTAL_PASS passed, $TOTAL_FAIL failed"
    if [ "$TOTAL_FAIL" -eq 0 ] && [ "$TOTAL_PASS" -gt 0 ]; then
        exit 0
    fi
    exit 1
}

# Count a TAP stream (one pg_prove --verbose file): prints "PASS FAIL SKIP".
# Only numbered top-level lines count (pg_prove's own per-file "ok" does not).
# "not ok # TODO" passes, "ok # SKIP" is skipped; planned tests that never
# ran count as failures.
count_tap() {
    awk '
        /^1\.\.[0-9]+/ && plan < 0 { plan = substr($1, 4) + 0; next }
        /^not ok [0-9]+/ { if ($0 ~ /# *TODO/) pass++; else fail++; next }
        /^ok [0-9]+/     { if ($0 ~ /# *[Ss][Kk][Ii][Pp]/) skip++; else pass++; next }
        BEGIN { plan = -1 }
        END {
            ran = pass + fail + skip
            if (plan > ran) fail += plan - ran
            printf "%d %d %d\n", pass, fail, skip
        }' "$1"
}

# 1. packages and build ------------------------------------------------------
banner "setup"
if [ "${FS_SKIP_SETUP:-0}" = 1 ]; then
    echo "test: FS_SKIP_SETUP=1, not running scripts/setup.sh"
elif ! bash "$REPO/scripts/setup.sh"; then
    echo "test: scripts/setup.sh failed (packages, build or install)" >&2
    record setup 0 1 "setup.sh failed"
    finish
fi

# 2. cluster -----------------------------------------------------------------
banner "cluster"
# The stream worker runs only when the library is preloaded.
export FS_PG_EXTRA_CONF="${FS_PG_EXTRA_CONF:-shared_preload_libraries = 'feature_store'}"
if ! start_out="$(bash "$REPO/scripts/pgcluster.sh" start 2>&1)"; then
    echo "$start_out" >&2
    record cluster 0 1 "could not start PostgreSQL"
    finish
fi
echo "$start_out"
if ! grep -q '^pgcluster: reusing' <<<"$start_out"; then
    STARTED_CLUSTER=1
fi
# shellcheck disable=SC1090
. "$FS_CLUSTER_ENV"
export PGHOST PGPORT PGUSER PGDATABASE FS_CLUSTER_DIR

# DynamoDB-compatible test server, for the fs_dynamodb tests in every section.
banner "dynalite"
if [ -n "${FS_DYNALITE_ENDPOINT:-}" ]; then
    echo "test: using FS_DYNALITE_ENDPOINT=$FS_DYNALITE_ENDPOINT (not starting dynalite)"
    export FS_DYNALITE_ENDPOINT
else
    # Ours to stop unless one was already running (set first: ^C during start).
    bash "$REPO/scripts/dynalite.sh" status >/dev/null 2>&1 || STARTED_DYNALITE=1
    if dyn_out="$(bash "$REPO/scripts/dynalite.sh" start 2>&1)"; then
        echo "$dyn_out"
        FS_DYNALITE_ENDPOINT="$(sed -n 's/.*FS_DYNALITE_ENDPOINT=\([^ ]*\).*/\1/p' "$FS_DYNALITE_ENV" | tail -n 1)"
        export FS_DYNALITE_ENDPOINT
    else
        echo "$dyn_out" >&2
        record dynalite 0 1 "could not start dynalite (scripts/dynalite.sh; tests needing it will fail or skip)"
    fi
fi

# 3. pg_regress --------------------------------------------------------------
banner "pg_regress (sql/, expected/) and isolation (test/isolation/)"
regress_tests=()
for f in sql/*.sql; do
    [ -e "$f" ] || continue
    regress_tests+=("$(basename "$f" .sql)")
done
if [ "${#regress_tests[@]}" -eq 0 ]; then
    echo "no pg_regress tests"
else
    set +e
    # -k: the isolation tests run even when a pg_regress test failed.
    make -C "$REPO" -s -k installcheck PG_CONFIG="$PG_CONFIG" 2>&1 | tee "$WORK/regress.log"
    rc=${PIPESTATUS[0]}
    set -e
    # PG15: "test name ... ok   12 ms" (or indented within a parallel group),
    # "... FAILED", "... failed (ignored)"; PG16+: "ok 1 - name", "not ok 2 - name".
    read -r pass fail < <(awk '
        /\.\.\. +ok( |$)/              { pass++; next }
        /\.\.\. +failed \(ignored\)/   { pass++; next }
        /\.\.\. +FAILED/               { fail++; next }
        /^not ok [0-9]+ /              { fail++; next }
        /^ok [0-9]+ /                  { pass++; next }
        END { printf "%d %d\n", pass, fail }' "$WORK/regress.log")
    note=""
    if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
        fail=1
        note="pg_regress exited $rc before reporting a failing test"
    elif [ "$rc" -eq 0 ] && [ "$pass" -eq 0 ]; then
        fail=1
        note="no test results found in pg_regress output"
    fi
    if [ "$rc" -ne 0 ]; then
        for d in regression.diffs output_iso/regression.diffs; do
            if [ -s "$d" ]; then SHOW_DIFFS="$d"; break; fi
        done
    fi
    record pg_regress "$pass" "$fail" "$note"
fi

# 4. pgTAP -------------------------------------------------------------------
banner "pgTAP (test/pgtap/)"
tap_files=()
for f in test/pgtap/*.sql; do
    [ -e "$f" ] && tap_files+=("$f")
done
if [ "${#tap_files[@]}" -eq 0 ]; then
    echo "no pgTAP tests"
else
    tpass=0 tfail=0 tskip=0 notes=()
    # Each file gets its own database, cloned from one that has pgtap.
    if ! psql_quiet -v ON_ERROR_STOP=1 -d postgres \
            -c 'DROP DATABASE IF EXISTS fs_pgtap_template' \
            -c 'CREATE DATABASE fs_pgtap_template' ||
       ! psql_quiet -v ON_ERROR_STOP=1 -d fs_pgtap_template -c 'CREATE EXTENSION pgtap'; then
        tfail=1
        notes+=("could not create a database with pgtap")
        tap_files=()
    fi
    i=0
    for f in "${tap_files[@]}"; do
        i=$((i + 1))
        db="fs_pgtap_$i"
        if ! wait_ready || ! psql_quiet -v ON_ERROR_STOP=1 -d postgres \
                -c "DROP DATABASE IF EXISTS $db" \
                -c "CREATE DATABASE $db TEMPLATE fs_pgtap_template"; then
            tfail=$((tfail + 1))
            notes+=("$(basename "$f"): could not create database $db")
            continue
        fi
        set +e
        pg_prove --verbose -d "$db" "$f" 2>&1 | tee "$WORK/tap_$i.log"
        rc=${PIPESTATUS[0]}
        set -e
        read -r p fl s < <(count_tap "$WORK/tap_$i.log")
        if [ "$rc" -ne 0 ] && [ "$fl" -eq 0 ]; then
            fl=1
            notes+=("$(basename "$f"): pg_prove exited $rc")
        fi
        [ "$fl" -eq 0 ] || notes+=("$(basename "$f"): $fl failed")
        tpass=$((tpass + p)) tfail=$((tfail + fl)) tskip=$((tskip + s))
        wait_ready && psql_quiet -d postgres -c "DROP DATABASE IF EXISTS $db" || true
    done
    wait_ready && psql_quiet -d postgres -c 'DROP DATABASE IF EXISTS fs_pgtap_template' || true
    note="files: $i"
    [ "$tskip" -eq 0 ] || note="$note, $tskip skipped"
    for n in "${notes[@]}"; do note="$note; $n"; done
    record pgTAP "$tpass" "$tfail" "$note"
fi

# 5. extra (integration) tests ------------------------------------------------
if [ -e test/run_extra.sh ]; then
    banner "extra (test/run_extra.sh)"
    if [ ! -x test/run_extra.sh ]; then
        echo "test: test/run_extra.sh exists but is not executable; not run" >&2
    else
        set +e
        FS_REPO="$REPO" test/run_extra.sh 2>&1 | tee "$WORK/extra.log"
        rc=${PIPESTATUS[0]}
        set -e
        last="$(grep -E '^([[:alnum:]_-]+: *)?[0-9]+ passed, [0-9]+ failed' "$WORK/extra.log" | tail -n 1 || true)"
        pass=0 fail=0 note=""
        if [ -n "$last" ]; then
            pass="$(sed -E 's/^([[:alnum:]_-]+: *)?([0-9]+) passed.*/\2/' <<<"$last")"
            fail="$(sed -E 's/^.* ([0-9]+) failed.*/\1/' <<<"$last")"
        else
            fail=1
            note="printed no 'N passed, N failed' line"
        fi
        if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
            fail=1
            note="${note:+$note; }exited $rc"
        fi
        record extra "$pass" "$fail" "$note"
    fi
fi

# Differences last, so they are the first thing seen above the summary.
if [ -n "$SHOW_DIFFS" ]; then
    banner "pg_regress differences ($SHOW_DIFFS, first 300 lines)"
    head -n 300 "$SHOW_DIFFS"
    n="$(wc -l <"$SHOW_DIFFS")"
    [ "$n" -le 300 ] || echo "... ($((n - 300)) more lines in $SHOW_DIFFS)"
fi

finish
