#!/usr/bin/env bash
# run_interop.sh — interoperability of fs_dynamodb with another DynamoDB client,
# the AWS SDK for JavaScript v3 (test/dynamodb/interop.mjs), over the item
# layout of docs/dynamodb.md ("Item layout"), against the dynalite at
# FS_DYNALITE_ENDPOINT.
#
#   (a) the SDK creates two tables (a text and an integer partition key) and
#       writes items covering every row of the layout table; psql reads them
#       through foreign tables of fs_dynamodb (SELECT by key, by ANY, Scan),
#       then serves them with fs_get_features over feature views of those
#       foreign tables: values, statuses, event times, and the same answers
#       as an embedded-store copy of the rows.
#   (b) psql creates tables with fs_create_online_table and INSERTs rows of
#       every type through the FDW; the SDK reads them back with GetItem and
#       checks the layout exactly (attribute kinds and values, SQL NULL absent).
#
# Skips everything ("# skipped: ...", nothing counted) when FS_DYNALITE_ENDPOINT
# is unset or the installed extension has no fs_dynamodb wrapper, and skips
# the serving checks when serving from foreign tables is refused with 0A000.
#
# Needs PGHOST/PGPORT/PGUSER of a cluster with feature_store installed, node,
# and the repository's node_modules (npm ci).  Prints "ok - name" / "not ok -
# name" per check and, last, "N passed, N failed".  Exits 0 when it could run
# (whatever failed), 2 otherwise.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
JS="$HERE/interop.mjs"

# shellcheck source=../lib.sh
. "$HERE/../lib.sh"

PREFIX="fs_interop_$$"          # remote tables: ${PREFIX}_users, ${PREFIX}_w_users, ...

export PGCLIENTENCODING=UTF8
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning -c timezone=UTC"

# q_msg SQL...: as q, but an error shows as its whole message.
q_msg() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "$*" 2>&1 || true; }

# Run interop.mjs and count its ok / not ok lines as ours.
sdk_checks() {
    local out line rc=0
    out="$(node "$JS" "$@" 2>&1)" || rc=$?
    while IFS= read -r line; do
        case "$line" in
            "ok - "*)     PASS=$((PASS + 1)); printf '%s\n' "$line" ;;
            "not ok - "*) FAIL=$((FAIL + 1)); printf '%s\n' "$line" ;;
            "#"*)         printf '%s\n' "$line" ;;
            *)            [ -z "$line" ] || printf '#   %s\n' "$line" ;;
        esac
    done <<<"$out"
    if [ "$rc" -ne 0 ]; then
        not_ok "SDK: interop.mjs $1 ran to the end" "exit status $rc"
    fi
}

# --- preconditions ----------------------------------------------------------

need_dynalite
need_psql
need_node
[ -d "$REPO/node_modules/@aws-sdk/client-dynamodb" ] ||
    die "the AWS SDK is not installed (run: npm ci, in $REPO; scripts/setup.sh does)"

scratch_db "fs_interop_$$"
need_fs_dynamodb

# --- the columns --------------------------------------------------------------
# One feature per row of the layout table (interop.mjs FEATURES holds the
# same values as AttributeValues):
#   column|SQL type|SQL literal|the column read back, as to_jsonb(row) shows it|served value
COLUMNS=(
    'f_smallint|smallint|-12|-12|-12'
    'f_int|integer|2147483647|2147483647|2147483647'
    'f_bigint|bigint|9007199254740993|9007199254740993|9007199254740993'
    'f_real|real|0.1|0.1|0.1'
    'f_double|double precision|-0.0025|-0.0025|-0.0025'
    'f_numeric|numeric|12345678901234567890.123456789|12345678901234567890.123456789|12345678901234567890.123456789'
    "f_text|text|'héllo \"wörld\"'|\"héllo \\\"wörld\\\"\"|\"héllo \\\"wörld\\\"\""
    "f_varchar|varchar(20)|'abc'|\"abc\"|\"abc\""
    'f_bool|boolean|true|true|true'
    "f_bytea|bytea|'\\x00ff100a'|\"\\\\x00ff100a\"|\"AP8QCg==\""
    "f_embedding|real[]|'{0.1,-1.25,3}'|[0.1, -1.25, 3]|[0.1, -1.25, 3]"
    "f_tags|text[]|'{a,\"b c\",\"\"}'|[\"a\", \"b c\", \"\"]|[\"a\", \"b c\", \"\"]"
    "f_doc|jsonb|'{\"a\": 1, \"b\": [true, null, \"x\"], \"c\": {\"d\": 2.5}}'|{\"a\": 1, \"b\": [true, null, \"x\"], \"c\": {\"d\": 2.5}}|{\"a\": 1, \"b\": [true, null, \"x\"], \"c\": {\"d\": 2.5}}"
    "f_jlist|jsonb|'[1, \"two\", {}]'|[1, \"two\", {}]|[1, \"two\", {}]"
    "f_jstr|jsonb|'\"just text\"'|\"just text\"|\"just text\""
    "f_jnum|jsonb|'42.5'|42.5|42.5"
    "f_jbool|jsonb|'false'|false|false"
    "f_ts|timestamptz|'2024-05-01 12:34:56.789+02'|\"2024-05-01T10:34:56.789+00:00\"|\"2024-05-01T10:34:56.789+00:00\""
    'f_absent|text|NULL|null|NULL'
    'f_nulltrue|bigint|NULL|null|NULL'
)
# What each feature's attribute is, for the check names.
declare -A KIND=(
    [f_smallint]='N' [f_int]='N' [f_bigint]='N (2^53+1)' [f_real]='N' [f_double]='N'
    [f_numeric]='N (29 digits)' [f_text]='S' [f_varchar]='S' [f_bool]='BOOL' [f_bytea]='B'
    [f_embedding]='L of N' [f_tags]='L of S' [f_doc]='M with L, NULL, BOOL, S, N' [f_jlist]='L'
    [f_jstr]='S' [f_jnum]='N' [f_jbool]='BOOL' [f_ts]='S, ISO 8601 UTC'
    [f_absent]='an absent attribute' [f_nulltrue]='NULL:true'
)
DDL="user_id text, event_time timestamptz"
FEATURE_NAMES=()
W1_VALUES="'w1', '2024-05-01 12:34:56.789012+00'"
for spec in "${COLUMNS[@]}"; do
    IFS='|' read -r col type lit _ _ <<<"$spec"
    DDL="$DDL, $col $type"
    FEATURE_NAMES+=("$col")
    W1_VALUES="$W1_VALUES, $lit"
done
NFEAT=${#FEATURE_NAMES[@]}

# --- (a) items written by the SDK, read through the FDW ------------------------

drop_remote_on_exit "$PREFIX"
if ! seed_out="$(node "$JS" seed "$PREFIX" 2>&1)"; then
    not_ok "SDK: create tables and write items of every layout row" "$seed_out"
    finish
fi
NOW="$(sed -n 's/^now=\([0-9]*\)$/\1/p' <<<"$seed_out")"
[ -n "$NOW" ] || die "interop.mjs seed printed no now=: $seed_out"
ok "SDK: create tables and write items of every layout row"
# u1's event time, written as N "$NOW.123456"
ET_U1="(to_timestamp($NOW) + interval '0.123456 seconds')"

out="$(psql -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -d "$DB" 2>&1 <<EOF
$(dynamodb_server interop "$FS_DYNALITE_ENDPOINT")
CREATE FOREIGN TABLE r_users ($DDL)
    SERVER interop OPTIONS (table '${PREFIX}_users', key 'user_id');
CREATE FOREIGN TABLE r_items (item_id integer, event_time timestamptz, price numeric, name text)
    SERVER interop OPTIONS (table '${PREFIX}_items');
EOF
)" || true
if [ -n "$out" ]; then
    not_ok "FDW: CREATE SERVER, USER MAPPING and FOREIGN TABLEs with the documented options" "$out"
    finish
fi
ok "FDW: CREATE SERVER, USER MAPPING and FOREIGN TABLEs with the documented options"

# Every column of u1, as to_jsonb of the row shows it: one check per type.
read_u1="$(q "SELECT key || '=' || value::text FROM r_users t, jsonb_each(to_jsonb(t)) WHERE t.user_id = 'u1' ORDER BY key")"
if [[ "$read_u1" == ERROR* ]]; then
    not_ok "FDW: SELECT by key reads the item the SDK wrote" "$read_u1"
else
    check "FDW: SELECT by key reads the S partition key" 'user_id="u1"' "$(grep '^user_id=' <<<"$read_u1" || true)"
    for spec in "${COLUMNS[@]}"; do
        IFS='|' read -r col type _ want _ <<<"$spec"
        check "FDW: $type $col reads ${KIND[$col]}" "$col=$want" "$(grep "^$col=" <<<"$read_u1" || true)"
    done
fi
check "FDW: event time reads N seconds with 6 decimals, to the microsecond" "t" \
    "$(q "SELECT event_time = $ET_U1 FROM r_users WHERE user_id = 'u1'")"
check "FDW: event time reads N seconds with 1 decimal, and an integer N" "t|t" \
    "$(q "SELECT (SELECT event_time = to_timestamp(1000000000) + interval '0.5 seconds' FROM r_users WHERE user_id = 'u_old'),
                 (SELECT event_time = to_timestamp($NOW) FROM r_users WHERE user_id = 'u2')")"
check "FDW: NULL:true and absent attributes of every kind read as SQL NULL" "0|$NFEAT" \
    "$(q "SELECT count(*) FILTER (WHERE value <> 'null'), count(*)
            FROM r_users t, jsonb_each(to_jsonb(t) - 'user_id' - 'event_time') WHERE t.user_id = 'u2'")"
check "FDW: a Scan reads every item" "u1,u2,u_old" \
    "$(q "SELECT string_agg(user_id, ',' ORDER BY user_id) FROM r_users")"
check "FDW: key = ANY(array) reads the items that exist" "u2,u_old" \
    "$(q "SELECT string_agg(user_id, ',' ORDER BY user_id) FROM r_users WHERE user_id = ANY (ARRAY['u2', 'u_old', 'nope'])")"
check "FDW: an N partition key, the key from DescribeTable" "7|19.99|widget" \
    "$(q "SELECT item_id || '|' || price || '|' || name FROM r_items WHERE item_id = 7")"
check "FDW: a Scan of the N-keyed table" "7:0.5,8:0" \
    "$(q "SELECT string_agg(item_id || ':' || (extract(epoch FROM event_time) - $NOW)::float8, ',' ORDER BY item_id) FROM r_items")"

# --- (a) serving from the foreign tables ----------------------------------------

serve_skip=""
out="$(q "SELECT FROM fs_register_entity('iuser', 'user_id');
          SELECT FROM fs_register_entity('iitem', 'item_id');
          SELECT FROM fs_register_feature_view('r_users', 'r_users', 'iuser', ttl => '30 days');
          SELECT FROM fs_register_feature_view('r_items', 'r_items', 'iitem')" | grep -v '^$' || true)"
if [ "$out" = "ERROR:  0A000" ]; then
    serve_skip="fs_register_feature_view refuses a foreign table of fs_dynamodb (0A000)"
elif [ -n "$out" ]; then
    not_ok "serving: register feature views over foreign tables of fs_dynamodb" "$out"
    serve_skip="the feature views could not be registered"
else
    ok "serving: register feature views over foreign tables of fs_dynamodb"
    out="$(q "SELECT count(*) FROM fs_get_features(ARRAY['u1'], ARRAY['r_users:f_int'])")"
    if [ "$out" = "ERROR:  0A000" ]; then
        serve_skip="fs_get_features over a foreign table: $(q_msg "SELECT count(*) FROM fs_get_features(ARRAY['u1'], ARRAY['r_users:f_int'])" | head -n 1)"
    fi
fi

if [ -n "$serve_skip" ]; then
    echo "# skipped: serving from foreign tables: $serve_skip"
else
    served="$(q "SELECT entity_id || ' ' || feature_ref || ' ' || status || ' ' || coalesce(value::text, 'NULL')
                   FROM fs_get_features(ARRAY['u1', 'u2', 'u_old', 'nope'], ARRAY['r_users:*'])")"
    # u1: one check per type
    for spec in "${COLUMNS[@]}"; do
        IFS='|' read -r col type _ _ want <<<"$spec"
        status=PRESENT
        [ "$want" != NULL ] || status=NULL_VALUE
        check "serving: ${KIND[$col]} serves as $type: $status $want" \
            "u1 r_users:$col $status $want" "$(grep "^u1 r_users:$col " <<<"$served" || true)"
    done
    expect_all() {  # ENTITY STATUS: every feature of r_users, in column order
        local f
        for f in "${FEATURE_NAMES[@]}"; do echo "$1 r_users:$f $2 NULL"; done
    }
    check "serving: an item of NULL:true and absent attributes serves NULL_VALUE for every feature" \
        "$(expect_all u2 NULL_VALUE)" "$(grep '^u2 ' <<<"$served" || true)"
    check "serving: an item older than the ttl serves OUTSIDE_MAX_AGE" \
        "$(expect_all u_old OUTSIDE_MAX_AGE)" "$(grep '^u_old ' <<<"$served" || true)"
    check "serving: a missing item serves NOT_FOUND" \
        "$(expect_all nope NOT_FOUND)" "$(grep '^nope ' <<<"$served" || true)"
    check "serving: one row per (entity, feature), entity-major, in column order" \
        "$(for e in u1 u2 u_old nope; do for f in "${FEATURE_NAMES[@]}"; do echo "$e r_users:$f"; done; done)" \
        "$(cut -d' ' -f1,2 <<<"$served")"
    check "serving: event_time is the item's N seconds, to the microsecond" "t|1" \
        "$(q "SELECT bool_and(event_time = $ET_U1), count(DISTINCT event_time)
                FROM fs_get_features(ARRAY['u1'], ARRAY['r_users:*'])")"
    check "serving: fs_get_feature_vectors over the foreign table" "t" \
        "$(q "SELECT features = '{\"r_users:f_bigint\": 9007199254740993, \"r_users:f_tags\": [\"a\", \"b c\", \"\"], \"r_users:f_absent\": null}'::jsonb
                FROM fs_get_feature_vectors(ARRAY['u1'], ARRAY['r_users:f_bigint', 'r_users:f_tags', 'r_users:f_absent'])")"
    check "serving: an N partition key, duplicate ids at every position" \
        "$(printf '%s\n' '8 r_items:price PRESENT 0' '8 r_items:name PRESENT "gadget"' \
            '7 r_items:price PRESENT 19.99' '7 r_items:name PRESENT "widget"' \
            '7 r_items:price PRESENT 19.99' '7 r_items:name PRESENT "widget"')" \
        "$(q "SELECT entity_id || ' ' || feature_ref || ' ' || status || ' ' || coalesce(value::text, 'NULL')
                FROM fs_get_features(ARRAY['8', '7', '7'], ARRAY['r_items:*'])")"
    # The same rows in the embedded store serve exactly the same.
    served_as() {  # VIEW: everything it serves, without the view's name
        q "SELECT entity_id, split_part(feature_ref, ':', 2), status, value, event_time
             FROM fs_get_features(ARRAY['u1', 'u2', 'u_old', 'nope'], ARRAY['$1:*'])"
    }
    check "serving: an embedded-store copy of the foreign table's rows" "" \
        "$(q "CREATE TABLE l_users AS SELECT * FROM r_users;
              ALTER TABLE l_users ADD PRIMARY KEY (user_id);
              SELECT FROM fs_register_feature_view('l_users', 'l_users', 'iuser', ttl => '30 days')" | grep -v '^$' || true)"
    check "serving: a foreign table serves what an embedded-store copy of its rows serves" \
        "$(served_as l_users)" "$(served_as r_users)"
fi

# --- (b) rows written through the FDW, read by the SDK ---------------------------

out="$(psql -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -d "$DB" 2>&1 <<EOF
CREATE FOREIGN TABLE w_users ($DDL)
    SERVER interop OPTIONS (table '${PREFIX}_w_users', key 'user_id');
CREATE FOREIGN TABLE w_items (item_id integer, event_time timestamptz, price numeric, name text)
    SERVER interop OPTIONS (table '${PREFIX}_w_items', key 'item_id');
EOF
)" || true
check "FDW: CREATE FOREIGN TABLEs for tables that do not exist yet" "" "$out"
for t in "w_users user_id S" "w_items item_id N"; do
    read -r ft key type <<<"$t"
    out="$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "SELECT fs_create_online_table('$ft')" 2>&1;
           echo "psql exit status $?")"
    if [ "$(tail -n 1 <<<"$out")" != "psql exit status 0" ]; then
        not_ok "FDW: fs_create_online_table('$ft') creates the table" "$out"
        # Let the write checks run all the same.
        node "$JS" create "${PREFIX}_$ft" "$key" "$type" >/dev/null 2>&1 || true
    else
        ok "FDW: fs_create_online_table('$ft') creates the table"
        sdk_checks describe "${PREFIX}_$ft" "$key" "$type"
    fi
done

check "FDW: INSERT a row of every type" "" \
    "$(q "INSERT INTO w_users VALUES ($W1_VALUES)")"
check "FDW: INSERT a row of SQL NULLs" "" \
    "$(q "INSERT INTO w_users (user_id, event_time) VALUES ('w2', '2024-05-01 00:00:00+00')")"
check "FDW: INSERT a row with an integer key" "" \
    "$(q "INSERT INTO w_items VALUES (9, '2024-05-01 00:00:00.5+00', 5.5, 'thing')")"
sdk_checks verify "$PREFIX"
check "FDW: what it wrote reads back as what the SDK wrote (every column but key and event time)" "t" \
    "$(q "SELECT (to_jsonb(w) - 'user_id' - 'event_time') = (to_jsonb(r) - 'user_id' - 'event_time')
            FROM w_users w, r_users r WHERE w.user_id = 'w1' AND r.user_id = 'u1'")"
out="$(q_msg "INSERT INTO w_users (user_id, event_time, f_double) VALUES ('w3', now(), 'NaN')")"
if [[ "$out" == ERROR* && "$out" == *f_double* && "$out" == *w3* ]]; then
    ok "FDW: NaN, which DynamoDB cannot hold, is an error naming column and entity"
else
    not_ok "FDW: NaN, which DynamoDB cannot hold, is an error naming column and entity" "got: $out"
fi

finish
