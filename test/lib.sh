# shellcheck shell=bash
# lib.sh — what the shell test scripts share; sourced, not run, by
# test/run_extra.sh and the scripts of test/dynamodb/, test/stream/ and
# test/upgrade/.
#
# Checks print "ok - name" or "not ok - name" (with "#   " diagnostic lines)
# and count into PASS and FAIL; a script ends with finish, whose last line
# "N passed, N failed" is what scripts/test.sh and run_extra.sh read.
# die exits 2 (the script could not run), naming the script.
#
# Sourcing it sets TEST_DIR (test/) and REPO, and traps EXIT with cleanup,
# which undoes what the helpers made: scratch databases, dynalite tables,
# fault servers, the scratch directory.

TEST_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$TEST_DIR/.." && pwd)"
FAULT_JS="$TEST_DIR/dynamodb/fault_server.js"
INTEROP_JS="$TEST_DIR/dynamodb/interop.mjs"

PASS=0
FAIL=0

die() { echo "$(basename "$0" .sh): $*" >&2; exit 2; }

ok() { PASS=$((PASS + 1)); echo "ok - $1"; }
not_ok() {
    FAIL=$((FAIL + 1)); echo "not ok - $1"
    shift
    local line
    for line in "$@"; do printf '%s\n' "$line" | sed 's/^/#   /'; done
}

# check NAME EXPECTED ACTUAL
check() {
    if [ "$2" = "$3" ]; then
        ok "$1"
    else
        not_ok "$1" "expected: $2" "actual:   $3"
    fi
}

# check_true NAME ACTUAL [DIAGNOSTIC...]: ACTUAL must be "t"
check_true() {
    local name="$1" actual="$2"
    shift 2
    if [ "$actual" = t ]; then ok "$name"; else not_ok "$name" "actual: $actual" "$@"; fi
}

# check_same NAME FILE_A FILE_B: both non-empty and identical
check_same() {
    if [ -s "$2" ] && cmp -s "$2" "$3"; then
        ok "$1"
    else
        not_ok "$1" "$(diff "$2" "$3" 2>&1 | head -n 20 | tr '\n' '|')"
    fi
}

# check_differ NAME FILE_A FILE_B: the two files are not identical
check_differ() {
    if cmp -s "$2" "$3"; then not_ok "$1" "the files are identical"; else ok "$1"; fi
}

# skip_all REASON: count nothing, say why, and end the run.
skip_all() {
    echo "# skipped: $*"
    echo "0 passed, 0 failed"
    exit 0
}

# finish: the count line, last; exit 0 whatever failed (it could run).
finish() {
    echo "$PASS passed, $FAIL failed"
    exit 0
}

# --- preconditions -----------------------------------------------------------

# need_psql: psql is on PATH and reaches the cluster (its PG* exported).
need_psql() {
    command -v psql >/dev/null 2>&1 || die "psql not found"
    psql -X -q -At -d postgres -c 'SELECT 1' >/dev/null 2>&1 ||
        die "cannot connect to PostgreSQL (is the cluster env exported?)"
}

# need_node: node is on PATH.
need_node() {
    command -v node >/dev/null 2>&1 || die "node not found (scripts/setup.sh installs it)"
}

# have_dynalite: whether FS_DYNALITE_ENDPOINT is set; dies unless it is on loopback.
have_dynalite() {
    [ -n "${FS_DYNALITE_ENDPOINT:-}" ] || return 1
    case "$FS_DYNALITE_ENDPOINT" in
        http://127.0.0.1:*|http://localhost:*|"http://[::1]:"*) ;;
        *) die "FS_DYNALITE_ENDPOINT must be a loopback http URL, not $FS_DYNALITE_ENDPOINT" ;;
    esac
}

# need_dynalite: skip everything unless FS_DYNALITE_ENDPOINT is set (on loopback).
need_dynalite() {
    have_dynalite ||
        skip_all "FS_DYNALITE_ENDPOINT is not set (scripts/test.sh starts dynalite; or scripts/dynalite.sh start)"
}

# need_fs_dynamodb: skip everything unless $DB's feature_store has fs_dynamodb.
need_fs_dynamodb() {
    [ "$(q "SELECT 1 FROM pg_foreign_data_wrapper WHERE fdwname = 'fs_dynamodb'")" = 1 ] ||
        skip_all "the installed feature_store has no foreign data wrapper fs_dynamodb"
}

# --- scratch things, undone on exit -------------------------------------------

WORK=                   # make_work's directory
WORK_KEEP=              # the variable that, set, keeps it
SCRATCH_DBS=()          # new_db's databases
REMOTE_PREFIXES=()      # drop_remote_on_exit's table prefixes
AT_EXIT=()              # at_exit's functions

# make_work NAME [KEEP_VAR]: a scratch directory /tmp/NAME.XXXXXX in WORK,
# removed on exit unless the environment variable KEEP_VAR is set.
make_work() {
    WORK="$(mktemp -d "/tmp/$1.XXXXXX")"
    WORK_KEEP="${2:-}"
}

# new_db NAME: create database NAME (dropped first if it exists), dropped on exit.
new_db() {
    SCRATCH_DBS+=("$1")
    psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "SET client_min_messages = warning" \
        -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" \
        >/dev/null || die "cannot create database $1"
}

# scratch_db NAME: new_db NAME with feature_store created in it; it becomes $DB.
scratch_db() {
    local out
    new_db "$1"
    DB="$1"
    out="$(q "CREATE EXTENSION feature_store")"
    [ -z "$out" ] || die "CREATE EXTENSION feature_store failed: $out"
}

# drop_remote_on_exit PREFIX: delete dynalite's tables PREFIX_* on exit.
drop_remote_on_exit() { REMOTE_PREFIXES+=("$1"); }

# at_exit FUNCTION: call FUNCTION on exit, before the rest is undone.
at_exit() { AT_EXIT+=("$1"); }

# cleanup: the EXIT trap; undoes all of the above, whatever fails.
cleanup() {
    local f pid db prefix
    for f in "${AT_EXIT[@]}"; do "$f" || true; done
    for pid in "${FAULT_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for db in "${SCRATCH_DBS[@]}"; do
        psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    done
    for prefix in "${REMOTE_PREFIXES[@]}"; do
        node "$INTEROP_JS" cleanup "$prefix" >/dev/null 2>&1 || true
    done
    if [ -z "$WORK" ]; then
        :
    elif [ -n "$WORK_KEEP" ] && [ -n "${!WORK_KEEP:-}" ]; then
        echo "# kept $WORK" >&2
    else
        rm -rf -- "$WORK"
    fi
}
trap cleanup EXIT

# --- SQL -------------------------------------------------------------------------

# q_in DB SQL...: SQL in DB, unaligned, tuples only, "|" between columns; an
# error shows as "ERROR:  SQLSTATE" on stdout.
q_in() {
    local db="$1"
    shift
    psql -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -d "$db" -c "$*" 2>&1 || true
}

# q SQL...: q_in the script's database, $DB.
q() { q_in "$DB" "$@"; }

# setup_sql WHAT: run the SQL script on stdin in $DB, stopping at the first
# error; if one stops it, die "cannot set up WHAT" with psql's output.
setup_sql() {
    local out
    out="$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" 2>&1)" || die "cannot set up $1: $out"
}

# The credentials every test's user mappings sign with.
TEST_KEY_ID='AKIDFSTEST'
TEST_SECRET='fs-test-secret'

# dynamodb_server NAME ENDPOINT [OPTION...]: SQL creating server NAME of
# fs_dynamodb at ENDPOINT (region us-east-1, then each OPTION, as
# "max_retries '1'") and a user mapping for PUBLIC with the test credentials.
dynamodb_server() {
    local name="$1" endpoint="$2" opts="" opt
    shift 2
    for opt in "$@"; do opts="$opts, $opt"; done
    printf "CREATE SERVER %s FOREIGN DATA WRAPPER fs_dynamodb\n  OPTIONS (endpoint '%s', region 'us-east-1'%s);\n" \
        "$name" "$endpoint" "$opts"
    printf "CREATE USER MAPPING FOR PUBLIC SERVER %s\n  OPTIONS (access_key_id '%s', secret_access_key '%s');\n" \
        "$name" "$TEST_KEY_ID" "$TEST_SECRET"
}

# How long wait_for and wait_in poll, in seconds.
WAIT_SECONDS=20

# wait_in DB SQL EXPECTED: poll SQL in DB every 50 ms until it prints
# EXPECTED, WAIT_SECONDS at most; print what it printed last, and leave how
# long it waited, in ms, in $WORK/waited.
wait_in() {
    local out="" t0 _
    t0="$(date +%s%N)"
    for _ in $(seq 1 $((WAIT_SECONDS * 20))); do
        out="$(q_in "$1" "$2")"
        [ "$out" = "$3" ] && break
        sleep 0.05
    done
    [ -z "$WORK" ] || echo $(( ($(date +%s%N) - t0) / 1000000 )) >"$WORK/waited"
    printf '%s' "$out"
}

# wait_for SQL EXPECTED: wait_in the script's database, $DB.
wait_for() { wait_in "$DB" "$@"; }

# --- fault servers (test/dynamodb/fault_server.js) -------------------------
# They log to $WORK (make_work first) and are killed on exit.  A proxy mode
# forwards to $FS_FAULT_UPSTREAM, exported by the caller.

FAULT_PIDS=()
NFAULT=0
FPID=
FPORT=
FLOG=

# start_fault MODE: start a fault server; sets FPID, FPORT, FLOG.
start_fault() {
    local _ line
    NFAULT=$((NFAULT + 1))
    FLOG="$WORK/fault.$NFAULT.log"
    FPORT=
    node "$FAULT_JS" 0 "$1" 120 >"$FLOG" 2>&1 &
    FPID=$!
    FAULT_PIDS+=("$FPID")
    for _ in $(seq 1 200); do
        line="$(head -n 1 "$FLOG" 2>/dev/null || true)"
        case "$line" in
            "listening "[0-9]*) FPORT="${line#listening }"; return 0 ;;
        esac
        kill -0 "$FPID" 2>/dev/null || break
        sleep 0.05
    done
    die "the fault server ($1) did not start: $(head -n 3 "$FLOG" | tr '\n' '|')"
}

# stop_fault: kill the current fault server and wait until it is gone.
stop_fault() {
    [ -n "$FPID" ] || return 0
    kill "$FPID" 2>/dev/null || true
    wait "$FPID" 2>/dev/null || true
    FPID=
}

# The statuses the current fault server answered, space-separated.
answered() { grep -oE 'status=[^ ]+' "$FLOG" | sed 's/status=//' | tr '\n' ' ' | sed 's/ $//'; }
requests() { grep -c '^request ' "$FLOG" || true; }
