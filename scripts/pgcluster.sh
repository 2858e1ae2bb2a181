#!/usr/bin/env bash
# pgcluster.sh — a throwaway PostgreSQL 15 cluster for tests and the demo.
#
#   scripts/pgcluster.sh start          initdb a fresh cluster in a temp dir and start it,
#                                       feature_store preloaded (reuses the recorded
#                                       cluster if it is still running)
#   scripts/pgcluster.sh stop           stop it and remove its temp dir and state file
#   scripts/pgcluster.sh restart        stop it cleanly (a checkpoint, every commit kept)
#                                       and start it again: after ALTER SYSTEM SET
#                                       shared_preload_libraries, or a make install
#   scripts/pgcluster.sh crash-restart  stop it as a crash would (immediate: no
#                                       checkpoint, and with fsync = off and
#                                       synchronous_commit = off the last commits
#                                       may be lost) and start it again
#   scripts/pgcluster.sh status         say whether it runs (exit 0 if so, 3 if not)
#   scripts/pgcluster.sh env            print the state file (source it to reach the cluster)
#
# The server runs as the unprivileged OS user fs_pg (PostgreSQL refuses root),
# listens on 127.0.0.1 only, on the first free port from 54320 up, and trusts
# every local connection.  Clients connect over TCP as PGUSER=postgres.
#
# It is a throwaway cluster, tuned for speed, not durability: fsync = off,
# synchronous_commit = off and full_page_writes = off.  A clean stop or
# restart keeps every commit; a crash (crash-restart, a killed server, a
# power cut) may lose the last ones.  max_worker_processes is 16 (8 by
# default), so that the stream workers never leave fs_ingest's tests
# without a slot for its parallel worker.
#
# Environment:
#   FS_CLUSTER_ENV     state file (default /tmp/feature_store_cluster.env); it holds
#                      export PGHOST=127.0.0.1 PGPORT=... PGUSER=postgres
#                      PGDATABASE=postgres FS_CLUSTER_DIR=...
#   FS_PG_EXTRA_CONF   extra postgresql.conf lines for a new cluster; unset, they are
#                      shared_preload_libraries = 'feature_store' (the stream
#                      workers need it); set, they replace that line, so
#                      FS_PG_EXTRA_CONF='' starts a cluster without the preload
#   PG_CONFIG          pg_config to take the binaries from (default: PostgreSQL 15's)
set -euo pipefail

STATE_FILE="${FS_CLUSTER_ENV:-/tmp/feature_store_cluster.env}"
PG_OS_USER=fs_pg
PORT_FIRST=54320
PORT_LAST=54420
DIR_PREFIX=feature_store_pg

die() { echo "pgcluster: $*" >&2; exit 1; }

bindir() {
    local pgc="${PG_CONFIG:-}"
    if [ -z "$pgc" ]; then
        pgc=pg_config
        [ -x /usr/lib/postgresql/15/bin/pg_config ] && pgc=/usr/lib/postgresql/15/bin/pg_config
    fi
    command -v "$pgc" >/dev/null 2>&1 || die "pg_config not found (run scripts/setup.sh)"
    "$pgc" --bindir
}

# Run a command as the cluster's OS user (or as ourselves when not root).
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "$PG_OS_USER" -- "$@" 9>&-
    else
        "$@" 9>&-
    fi
}

ensure_os_user() {
    [ "$(id -u)" -eq 0 ] || return 0
    if ! id -u "$PG_OS_USER" >/dev/null 2>&1; then
        useradd --system --no-create-home --home-dir /nonexistent \
                --shell /usr/sbin/nologin "$PG_OS_USER"
    fi
}

# Load FS_CLUSTER_DIR and PGPORT from the state file, if any; returns 1 if none.
read_state() {
    [ -f "$STATE_FILE" ] || return 1
    FS_CLUSTER_DIR="$(sed -n 's/.*FS_CLUSTER_DIR=\([^ ]*\).*/\1/p' "$STATE_FILE" | tail -n 1)"
    STATE_PORT="$(sed -n 's/.*PGPORT=\([0-9]*\).*/\1/p' "$STATE_FILE" | tail -n 1)"
    [ -n "$FS_CLUSTER_DIR" ]
}

# True when the cluster in $1 has a live postmaster.
cluster_running() {
    local dir="$1"
    [ -d "$dir/data" ] || return 1
    ( cd "$dir" && as_pg "$(bindir)/pg_ctl" status -D "$dir/data" >/dev/null 2>&1 )
}

# Remove a cluster dir, but only one this script made.
remove_dir() {
    local dir="$1"
    case "$dir" in
        /tmp/"$DIR_PREFIX".*) rm -rf -- "$dir" ;;
        *) echo "pgcluster: not removing unexpected dir '$dir'" >&2 ;;
    esac
}

port_free() {
    local port="$1"
    # Something answers: taken.
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        return 1
    fi
    # Bound but not accepting (or on another address): also taken.
    if command -v ss >/dev/null 2>&1 && ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
        return 1
    fi
    return 0
}

# The extra configuration of a new cluster: FS_PG_EXTRA_CONF, or the preload.
DEFAULT_EXTRA_CONF="shared_preload_libraries = 'feature_store'"

cmd_start() {
    local bin dir port log tries extra_conf="${FS_PG_EXTRA_CONF-$DEFAULT_EXTRA_CONF}"
    if read_state; then
        if cluster_running "$FS_CLUSTER_DIR"; then
            echo "pgcluster: reusing running cluster on 127.0.0.1:$STATE_PORT ($FS_CLUSTER_DIR)"
            cat "$STATE_FILE"
            return 0
        fi
        echo "pgcluster: recorded cluster is not running; starting a new one"
        remove_dir "$FS_CLUSTER_DIR"
        rm -f -- "$STATE_FILE"
    fi

    ensure_os_user
    bin="$(bindir)"
    dir="$(mktemp -d "/tmp/$DIR_PREFIX.XXXXXX")"
    chmod 700 "$dir"
    [ "$(id -u)" -ne 0 ] || chown "$PG_OS_USER:" "$dir"
    log="$dir/postgres.log"

    ( cd "$dir" && as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust \
            -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 ) \
        || { cat "$dir/initdb.log" >&2; remove_dir "$dir"; die "initdb failed"; }

    tries=0
    port=$PORT_FIRST
    while :; do
        while [ "$port" -le "$PORT_LAST" ] && ! port_free "$port"; do
            port=$((port + 1))
        done
        [ "$port" -le "$PORT_LAST" ] || { remove_dir "$dir"; die "no free port in $PORT_FIRST-$PORT_LAST"; }

        cat >"$dir/data/postgresql.auto.conf" <<EOF
# written by scripts/pgcluster.sh
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 512MB
max_connections = 50
max_worker_processes = 16
EOF
        if [ -n "$extra_conf" ]; then
            printf '%s\n' "$extra_conf" >>"$dir/data/postgresql.auto.conf"
        fi
        [ "$(id -u)" -ne 0 ] || chown "$PG_OS_USER:" "$dir/data/postgresql.auto.conf"

        if ( cd "$dir" && as_pg "$bin/pg_ctl" start -w -t 60 -D "$dir/data" -l "$log" >"$dir/pg_ctl.out" 2>&1 ); then
            break
        fi
        # Most likely someone took the port between the probe and the bind.
        echo "pgcluster: server did not start on port $port: $(grep -E 'FATAL|ERROR|could not' "$log" 2>/dev/null | tail -n 1)" >&2
        tries=$((tries + 1))
        if [ "$tries" -ge 3 ]; then
            cat "$dir/pg_ctl.out" >&2 || true
            tail -n 30 "$log" >&2 || true
            remove_dir "$dir"
            die "server did not start (log above)"
        fi
        port=$((port + 1))
    done

    umask 022
    printf 'export PGHOST=127.0.0.1 PGPORT=%s PGUSER=postgres PGDATABASE=postgres FS_CLUSTER_DIR=%s\n' \
        "$port" "$dir" >"$STATE_FILE"
    echo "pgcluster: started PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port ($dir, log $log)"
    cat "$STATE_FILE"
}

cmd_stop() {
    if ! read_state; then
        rm -f -- "$STATE_FILE"
        echo "pgcluster: no cluster recorded in $STATE_FILE"
        return 0
    fi
    if cluster_running "$FS_CLUSTER_DIR"; then
        ( cd "$FS_CLUSTER_DIR" && as_pg "$(bindir)/pg_ctl" stop -m fast -w -D "$FS_CLUSTER_DIR/data" >/dev/null )
        echo "pgcluster: stopped cluster on 127.0.0.1:$STATE_PORT"
    else
        echo "pgcluster: recorded cluster was not running"
    fi
    remove_dir "$FS_CLUSTER_DIR"
    rm -f -- "$STATE_FILE"
}

# Stop the recorded cluster (MODE: fast, a clean shutdown; immediate, as a
# crash would) and start it again on the same port and data.  The clean one
# is how settings that need a restart take effect; the tests of durability
# use the crash.
restart_as() {
    local mode="$1"
    read_state || die "no cluster recorded in $STATE_FILE (run: $0 start)"
    cluster_running "$FS_CLUSTER_DIR" || die "the recorded cluster is not running"
    ( cd "$FS_CLUSTER_DIR" && as_pg "$(bindir)/pg_ctl" stop -m "$mode" -w -D "$FS_CLUSTER_DIR/data" >/dev/null )
    ( cd "$FS_CLUSTER_DIR" && as_pg "$(bindir)/pg_ctl" start -w -t 60 -D "$FS_CLUSTER_DIR/data" \
          -l "$FS_CLUSTER_DIR/postgres.log" >"$FS_CLUSTER_DIR/pg_ctl.out" 2>&1 ) ||
        die "server did not start again: $(tail -n 5 "$FS_CLUSTER_DIR/postgres.log" 2>/dev/null | tr '\n' '|')"
}

cmd_restart() {
    restart_as fast
    echo "pgcluster: restarted cluster on 127.0.0.1:$STATE_PORT (clean stop, then start)"
}

cmd_crash_restart() {
    restart_as immediate
    echo "pgcluster: restarted cluster on 127.0.0.1:$STATE_PORT (immediate stop, as a crash, then start)"
}

cmd_status() {
    if read_state && cluster_running "$FS_CLUSTER_DIR"; then
        echo "pgcluster: running on 127.0.0.1:$STATE_PORT ($FS_CLUSTER_DIR)"
        return 0
    fi
    echo "pgcluster: not running"
    return 3
}

cmd_env() {
    [ -f "$STATE_FILE" ] || die "no cluster recorded in $STATE_FILE (run: $0 start)"
    cat "$STATE_FILE"
}

# Serialise start/stop so two callers never race on the state file.  The
# lock fd is closed for every child (9>&-): a postmaster must not inherit it.
with_lock() {
    exec 9>"$STATE_FILE.lck"
    flock -w 120 9 || die "could not lock $STATE_FILE.lck"
    "$@"
}

case "${1:-}" in
    start)  with_lock cmd_start ;;
    stop)   with_lock cmd_stop ;;
    restart) with_lock cmd_restart ;;
    crash-restart) with_lock cmd_crash_restart ;;
    status) cmd_status ;;
    env)    cmd_env ;;
    *)      echo "usage: $0 start|stop|restart|crash-restart|status|env" >&2; exit 2 ;;
esac
