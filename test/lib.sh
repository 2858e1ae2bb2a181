# lib.sh — what the shell test scripts share; sourced, not run, by
# test/run_extra.sh and the scripts of test/dynamodb/.
#
# Checks print "ok - name" or "not ok - name" (with "#   " diagnostic lines)
# and count into PASS and FAIL; a script ends with finish, whose last line
# "N passed, N failed" is what scripts/test.sh and run_extra.sh read.
# die exits 2 (the script could not run), naming the script.

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

# --- fault servers (test/dynamodb/fault_server.js) -------------------------
# A script using these sets FAULT_JS (the server's path), WORK (a scratch
# directory), FAULT_PIDS=() and NFAULT=0, and kills "${FAULT_PIDS[@]}" on exit.
# A proxy mode forwards to $FS_FAULT_UPSTREAM, exported by the caller.

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

