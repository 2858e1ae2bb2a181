#!/usr/bin/env bash
# demo.sh — install everything and run the feature_store demo (scripts/demo.sql)
# on the embedded store, in a fresh database "feature_store_demo" of a
# throwaway cluster (scripts/pgcluster.sh; a running one is reused and left
# running, one started here is stopped on exit).
#
# With FS_STORE=dynamodb the feature view user_activity lives in a
# DynamoDB-compatible store instead: dynalite (scripts/dynalite.sh; a running
# one is reused and left running, one started here is stopped on exit), reached
# through a foreign table of fs_dynamodb; user_profile stays a local table.
#
# Environment:
#   FS_STORE         local (default) or dynamodb
#   FS_CLUSTER_ENV   cluster state file (see scripts/pgcluster.sh)
#   FS_DYNALITE_ENV  dynalite state file (see scripts/dynalite.sh)
#   FS_SKIP_SETUP=1  skip scripts/setup.sh (packages and build already done)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export FS_CLUSTER_ENV="${FS_CLUSTER_ENV:-/tmp/feature_store_cluster.env}"
export FS_DYNALITE_ENV="${FS_DYNALITE_ENV:-/tmp/feature_store_dynalite.env}"
FS_STORE="${FS_STORE:-local}"
DB=feature_store_demo
STARTED_CLUSTER=0
STARTED_DYNALITE=0
PSQL_VARS=()

case "$FS_STORE" in
    local|dynamodb) ;;
    *) echo "demo.sh: FS_STORE must be local or dynamodb, not '$FS_STORE'" >&2; exit 2 ;;
esac

cleanup() {
    if [ "$STARTED_DYNALITE" = 1 ]; then
        bash "$REPO/scripts/dynalite.sh" stop >/dev/null 2>&1 || true
    fi
    if [ "$STARTED_CLUSTER" = 1 ]; then
        bash "$REPO/scripts/pgcluster.sh" stop >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "${FS_SKIP_SETUP:-0}" != 1 ]; then
    bash "$REPO/scripts/setup.sh"
fi

# A stream worker drains the demo database's queue (a reused cluster keeps
# its own settings; the demo says so if it was started without the preload).
export FS_PG_EXTRA_CONF="${FS_PG_EXTRA_CONF:-shared_preload_libraries = 'feature_store'}"
start_out="$(bash "$REPO/scripts/pgcluster.sh" start)"
grep -q '^pgcluster: reusing' <<<"$start_out" || STARTED_CLUSTER=1
grep '^pgcluster:' <<<"$start_out"
# shellcheck disable=SC1090
. "$FS_CLUSTER_ENV"

if [ "$FS_STORE" = dynamodb ]; then
    dyn_out="$(bash "$REPO/scripts/dynalite.sh" start)"
    grep -q '^dynalite: reusing' <<<"$dyn_out" || STARTED_DYNALITE=1
    grep '^dynalite:' <<<"$dyn_out"
    FS_DYNALITE_ENDPOINT="$(sed -n 's/.*FS_DYNALITE_ENDPOINT=\([^ ]*\).*/\1/p' "$FS_DYNALITE_ENV" | tail -n 1)"
    [ -n "$FS_DYNALITE_ENDPOINT" ] || { echo "demo.sh: no endpoint in $FS_DYNALITE_ENV" >&2; exit 1; }
    PSQL_VARS=(-v "ddb_endpoint=$FS_DYNALITE_ENDPOINT")
fi

psql -X -q -v ON_ERROR_STOP=1 -d postgres \
    -c "SET client_min_messages = warning" \
    -c "DROP DATABASE IF EXISTS $DB" \
    -c "CREATE DATABASE $DB"
psql -X -v ON_ERROR_STOP=1 ${PSQL_VARS[@]+"${PSQL_VARS[@]}"} -d "$DB" -f "$REPO/scripts/demo.sql"

if [ "$STARTED_CLUSTER" = 1 ]; then
    echo
    echo "(the cluster is stopped on exit; to keep one: scripts/pgcluster.sh start, then rerun)"
else
    echo
    echo "Database $DB stays on the running cluster: . $FS_CLUSTER_ENV && psql -d $DB"
fi
if [ "$STARTED_DYNALITE" = 1 ]; then
    echo "(dynalite is stopped on exit, and its tables are gone with it; to keep one: scripts/dynalite.sh start, then rerun)"
elif [ "$FS_STORE" = dynamodb ]; then
    echo "dynalite stays running at $FS_DYNALITE_ENDPOINT (scripts/dynalite.sh stop stops it)"
fi
