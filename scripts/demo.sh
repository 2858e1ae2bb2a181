#!/usr/bin/env bash
# demo.sh — install everything and run the feature_store demo (scripts/demo.sql)
# on the embedded store, in a fresh database "feature_store_demo" of a
# throwaway cluster (scripts/pgcluster.sh; a running one is reused and left
# running, one started here is stopped on exit).
#
# Environment:
#   FS_CLUSTER_ENV   cluster state file (see scripts/pgcluster.sh)
#   FS_SKIP_SETUP=1  skip scripts/setup.sh (packages and build already done)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export FS_CLUSTER_ENV="${FS_CLUSTER_ENV:-/tmp/feature_store_cluster.env}"
DB=feature_store_demo
STARTED_CLUSTER=0

cleanup() {
    if [ "$STARTED_CLUSTER" = 1 ]; then
        bash "$REPO/scripts/pgcluster.sh" stop >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "${FS_SKIP_SETUP:-0}" != 1 ]; then
    bash "$REPO/scripts/setup.sh"
fi

start_out="$(bash "$REPO/scripts/pgcluster.sh" start)"
grep -q '^pgcluster: reusing' <<<"$start_out" || STARTED_CLUSTER=1
grep '^pgcluster:' <<<"$start_out"
# shellcheck disable=SC1090
. "$FS_CLUSTER_ENV"

psql -X -q -v ON_ERROR_STOP=1 -d postgres \
    -c "SET client_min_messages = warning" \
    -c "DROP DATABASE IF EXISTS $DB" \
    -c "CREATE DATABASE $DB"
psql -X -v ON_ERROR_STOP=1 -d "$DB" -f "$REPO/scripts/demo.sql"

if [ "$STARTED_CLUSTER" = 1 ]; then
    echo
    echo "(the cluster is stopped on exit; to keep one: scripts/pgcluster.sh start, then rerun)"
else
    echo
    echo "Database $DB stays on the running cluster: . $FS_CLUSTER_ENV && psql -d $DB"
fi
