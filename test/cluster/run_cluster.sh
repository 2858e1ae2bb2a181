#!/usr/bin/env bash
# run_cluster.sh — the getting-started path of README.md (Development) and
# docs/settings.md (Setting them with ALTER SYSTEM), on clusters of their own:
#
#   1. scripts/pgcluster.sh start, with FS_PG_EXTRA_CONF unset, preloads the
#      library; the throwaway cluster runs with fsync and synchronous_commit
#      off, as the docs say; in a fresh session ALTER SYSTEM SET
#      feature_store.* works; `restart` is a clean stop (no crash recovery,
#      same port), `crash-restart` an immediate one (crash recovery);
#   2. with FS_PG_EXTRA_CONF='' it does not preload; ALTER SYSTEM SET
#      feature_store.* in a fresh session is 42704; the documented steps
#      work: LOAD then ALTER SYSTEM, and preloading with ALTER SYSTEM SET
#      shared_preload_libraries and a restart; a feature_store setting given
#      in the same session as shared_preload_libraries does not stick;
#      serving works without the preload, the statistics (fs_stats,
#      fs_metrics, fs_stats_reset, and the cache's fs_cache_status) are
#      empty with a NOTICE (as is setting cache_ttl_ms), and count once
#      preloaded; feature_store.stats_max_views bounds the views counted.
#
# Each cluster is started with a private state file and stopped at the end,
# one at a time; the suite's own cluster is not touched.  Needs PG_CONFIG
# (or PostgreSQL 15's default) and `make install` done.
# Prints "ok - name" / "not ok - name" and, last, "N passed, N failed".
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"

make_work fs_cluster FS_CLUSTER_KEEP
PGCLUSTER="$REPO/scripts/pgcluster.sh"
CLUSTER_STATE=""

# The scratch cluster's psql: its PG* from its state file, not the suite's.
cq() {
    (
        # shellcheck disable=SC1090
        . "$CLUSTER_STATE"
        export PGHOST PGPORT PGUSER PGDATABASE
        psql -X -q -At -v VERBOSITY=sqlstate "$@" 2>&1
    ) || true
}

# start_cluster NAME [EXTRA_CONF]: start a cluster with state file
# $WORK/NAME.env, FS_PG_EXTRA_CONF unset when no EXTRA_CONF is given.
start_cluster() {
    CLUSTER_STATE="$WORK/$1.env"
    local out
    if [ "$#" -ge 2 ]; then
        out="$(FS_CLUSTER_ENV="$CLUSTER_STATE" FS_PG_EXTRA_CONF="$2" bash "$PGCLUSTER" start 2>&1)" ||
            die "cannot start cluster $1: $out"
    else
        out="$(env -u FS_PG_EXTRA_CONF FS_CLUSTER_ENV="$CLUSTER_STATE" bash "$PGCLUSTER" start 2>&1)" ||
            die "cannot start cluster $1: $out"
    fi
}
stop_cluster() {
    [ -n "$CLUSTER_STATE" ] || return 0
    FS_CLUSTER_ENV="$CLUSTER_STATE" bash "$PGCLUSTER" stop >/dev/null 2>&1 || true
    CLUSTER_STATE=""
}
at_exit stop_cluster
pgcluster() { FS_CLUSTER_ENV="$CLUSTER_STATE" bash "$PGCLUSTER" "$@" 2>&1; }
cluster_log() { cat "$(sed -n 's/.*FS_CLUSTER_DIR=\([^ ]*\).*/\1/p' "$CLUSTER_STATE")/postgres.log"; }
recoveries() { cluster_log | grep -c 'automatic recovery in progress' || true; }

command -v psql >/dev/null 2>&1 || die "psql not found"

# --- 1. the default: preloaded ---------------------------------------------------

echo "# 1. scripts/pgcluster.sh start, FS_PG_EXTRA_CONF unset"
start_cluster preloaded
check "pgcluster.sh start preloads feature_store by default" \
    "feature_store" "$(cq -c "SHOW shared_preload_libraries")"
check "the throwaway cluster runs with fsync, synchronous_commit and full_page_writes off, as documented" \
    "off|off|off" \
    "$(cq -c "SELECT current_setting('fsync') || '|' || current_setting('synchronous_commit') || '|' || current_setting('full_page_writes')")"
check "preloaded: ALTER SYSTEM SET feature_store.* works in a fresh session" \
    "t" \
    "$(cq -c "ALTER SYSTEM SET feature_store.on_store_error = 'unavailable'" \
          -c "ALTER SYSTEM SET feature_store.request_timeout_ms = '5s'" -c "SELECT pg_reload_conf()")"
check "preloaded: the next session shows the settings" \
    "unavailable|5s" \
    "$(cq -c "SELECT current_setting('feature_store.on_store_error') || '|' || current_setting('feature_store.request_timeout_ms')")"

port0="$(cq -c "SHOW port")"
cq -c "CREATE TABLE kept (n int)" -c "INSERT INTO kept SELECT generate_series(1, 1000)" >/dev/null
rec0="$(recoveries)"
out="$(pgcluster restart)" || not_ok "pgcluster.sh restart" "$out"
check "pgcluster.sh restart is a clean stop: no crash recovery, the same port, every commit kept" \
    "0|$port0|1000" "$(( $(recoveries) - rec0 ))|$(cq -c "SHOW port")|$(cq -c "SELECT count(*) FROM kept")"
check "after pgcluster.sh restart the library is still preloaded, the settings kept" \
    "feature_store|unavailable" \
    "$(cq -c "SELECT current_setting('shared_preload_libraries') || '|' || current_setting('feature_store.on_store_error')")"
out="$(pgcluster crash-restart)" || not_ok "pgcluster.sh crash-restart" "$out"
check "pgcluster.sh crash-restart stops as a crash would: crash recovery, the same port" \
    "1|$port0" "$(( $(recoveries) - rec0 ))|$(cq -c "SHOW port")"
stop_cluster

# --- 2. FS_PG_EXTRA_CONF='': no preload; the documented steps -----------------

echo "# 2. FS_PG_EXTRA_CONF='': no preload"
start_cluster plain ''
check "FS_PG_EXTRA_CONF='' starts a cluster without the preload" \
    "" "$(cq -c "SHOW shared_preload_libraries")"
check "not preloaded: ALTER SYSTEM SET feature_store.* in a fresh session is 42704 (docs/settings.md)" \
    "ERROR:  42704" "$(cq -c "ALTER SYSTEM SET feature_store.on_store_error = 'unavailable'")"
check "not preloaded: LOAD and ALTER SYSTEM in one string are refused, as documented" \
    "ERROR:  25001" \
    "$(cq -c "LOAD 'feature_store'; ALTER SYSTEM SET feature_store.on_store_error = 'unavailable'")"
check "not preloaded: LOAD 'feature_store', then ALTER SYSTEM SET, then pg_reload_conf() work" \
    "t" \
    "$(cq -c "LOAD 'feature_store'" -c "ALTER SYSTEM SET feature_store.on_store_error = 'unavailable'" \
          -c "SELECT pg_reload_conf()")"
check "not preloaded: a new session shows the value set" \
    "unavailable" "$(cq -c "SHOW feature_store.on_store_error")"

# Serving works without the preload; the statistics are off, and say why.
cq -c "CREATE EXTENSION feature_store" \
   -c "CREATE TABLE u (user_id text PRIMARY KEY, event_time timestamptz, x int)" \
   -c "INSERT INTO u VALUES ('a', now(), 1)" \
   -c "SELECT fs_register_entity('user', 'user_id')" \
   -c "SELECT fs_register_feature_view('u', 'u', 'user')" >/dev/null
check "not preloaded: serving works; fs_stats is empty, with a NOTICE that says why" \
    "PRESENT
NOTICE:  feature_store keeps no serving statistics: it is not in shared_preload_libraries
0" \
    "$(cq -v VERBOSITY=terse -c "SELECT status FROM fs_get_features(ARRAY['a'], ARRAY['u:x'])" \
          -c "SELECT count(*) FROM fs_stats")"
check "not preloaded: fs_cache_status is empty and says why; asking a table for cache_ttl_ms says the cache is off" \
    "NOTICE:  feature_store's cache is off: it is not in shared_preload_libraries
0
NOTICE:  feature_store's cache is off: option \"cache_ttl_ms\" has no effect until it is on" \
    "$(cq -v VERBOSITY=terse -c "SELECT count(*) FROM fs_cache_status" \
          -c "CREATE SERVER nocache FOREIGN DATA WRAPPER fs_dynamodb OPTIONS (endpoint 'http://127.0.0.1:1', cache_ttl_ms '1s')")"
check "not preloaded: fs_metrics and fs_stats_reset say the same, and show no view" \
    "NOTICE:  feature_store keeps no serving statistics: it is not in shared_preload_libraries
0
NOTICE:  feature_store keeps no serving statistics: it is not in shared_preload_libraries
0" \
    "$(cq -v VERBOSITY=terse -c "SELECT count(*) FROM regexp_split_to_table(fs_metrics(), E'\\n') l WHERE l LIKE '%view=%'" \
          -c "SELECT fs_stats_reset()")"

# The preload, as docs/settings.md and README.md give it, with the trap:
# a feature_store setting in the same session as shared_preload_libraries.
out="$(cq <<'EOF'
ALTER SYSTEM SET shared_preload_libraries = 'feature_store';
ALTER SYSTEM SET feature_store.max_retries = 3;
EOF
)"
check "in the session that sets shared_preload_libraries, ALTER SYSTEM SET feature_store.* fails (42704)" \
    "ERROR:  42704" "$out"
out="$(pgcluster restart)" || not_ok "pgcluster.sh restart" "$out"
check "after ALTER SYSTEM SET shared_preload_libraries and a restart, SHOW shared_preload_libraries shows it" \
    "feature_store" "$(cq -c "SHOW shared_preload_libraries")"
check "the setting given in that session did not stick: SHOW after the restart shows the default" \
    "8" "$(cq -c "SHOW feature_store.max_retries")"
check "after the restart, ALTER SYSTEM SET feature_store.* works in a fresh session" \
    "t" \
    "$(cq -c "ALTER SYSTEM SET feature_store.request_timeout_ms = '5s'" -c "SELECT pg_reload_conf()")"
check "and the next session shows it, with the value set before" \
    "5s|unavailable" \
    "$(cq -c "SELECT current_setting('feature_store.request_timeout_ms') || '|' || current_setting('feature_store.on_store_error')")"
check "preloaded after the restart: a serving call is counted in fs_stats" \
    "1
1|1" \
    "$(cq -c "SELECT count(*) FROM fs_get_features(ARRAY['a'], ARRAY['u:x'])" \
          -c "SELECT calls || '|' || present FROM fs_stats WHERE feature_view = 'u'")"

# feature_store.stats_max_views bounds the views counted, of all databases:
# the calls of the others are untracked, until a reset frees entries.
cq -c "ALTER SYSTEM SET feature_store.stats_max_views = 10" >/dev/null
out="$(pgcluster restart)" || not_ok "pgcluster.sh restart" "$out"
cq -c "SELECT fs_register_feature_view('v' || i, 'u', 'user') FROM generate_series(1, 11) i" >/dev/null
check "stats_max_views = 10: 12 views served, 10 counted, the calls of the other 2 untracked" \
    "12
10|2" \
    "$(cq -c "SELECT count(*) FROM unnest(array(SELECT name FROM fs_feature_view ORDER BY name)) v,
                                 LATERAL (SELECT count(*) FROM fs_get_features(ARRAY['a'], ARRAY[v || ':x'])) c" \
          -c "SELECT (SELECT count(*) FROM fs_stats) || '|'
                     || substring(fs_metrics() FROM 'feature_store_serving_untracked_calls_total (\\d+)')")"
check "after fs_stats_reset() the views are counted again" \
    "10" \
    "$(cq -c "SELECT fs_stats_reset()" >/dev/null;
       cq -c "SELECT count(*) FROM unnest(array(SELECT name FROM fs_feature_view ORDER BY name DESC)) v,
                                  LATERAL (SELECT count(*) FROM fs_get_features(ARRAY['a'], ARRAY[v || ':x'])) c" >/dev/null;
       cq -c "SELECT count(*) FROM fs_stats")"
stop_cluster

finish
