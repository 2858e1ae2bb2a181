/*
 * feature_store 0.1.0 -> 0.2.0
 *
 * Every object that 0.2.0 changes, as feature_store.sql (the 0.2.0 install
 * script) has it: after ALTER EXTENSION feature_store UPDATE a database holds
 * the same extension objects as a fresh install (test/upgrade/run_upgrade.sh).
 */

\echo Use "ALTER EXTENSION feature_store UPDATE TO '0.2.0'" to load this file. \quit

/*
 * fs_ingest: a comment in its body names the file of the remote gold step,
 * src/ddb_ingest.c since the DynamoDB store's files share the ddb_ prefix.
 */
CREATE OR REPLACE FUNCTION @extschema@.fs_ingest(feature_view text, source regclass,
                                      mode text DEFAULT 'upsert')
RETURNS TABLE (run_id bigint, rows_read bigint, rows_rejected bigint, rows_stale bigint,
               rows_unchanged bigint, rows_inserted bigint, rows_updated bigint,
               rows_deleted bigint, online_writes bigint)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    vname     text := $1;
    rel       regclass;
    relkind   "char";
    key       name;
    ts        name;
    feats     text[];
    missing   text;
    run       bigint;
    started   timestamptz;
    t0        timestamptz;
    t1        timestamptz;
    t2        timestamptz;
    silver    record;
    remote    record;
    n_requests bigint;
    n_rejected bigint := 0;
    n_wait    double precision;
    n_stale   bigint;
    n_same    bigint;
    n_ins     bigint := 0;
    n_upd     bigint := 0;
    n_del     bigint := 0;
    n_written bigint := 0;
    qkey      text;
    qts       text;
    qrel      text;
    allcols   text;
    sets      text;
    silvercols text;
    gold      text;
    gold_some text;
    chunk     bigint[];
    one       bigint;
    c_ins     bigint;
    c_upd     bigint;
    why       text;
    cname     text;
    ccol      name;
    cgen      "char";
BEGIN
    SELECT v.relation, e.join_key, v.event_time_column INTO rel, key, ts
      FROM @extschema@.fs_feature_view v
      JOIN @extschema@.fs_entity e ON e.name OPERATOR(pg_catalog.=) v.entity
     WHERE v.name OPERATOR(pg_catalog.=) vname;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'feature view "%" does not exist', vname USING ERRCODE = '42704';
    END IF;
    IF source IS NULL THEN
        RAISE EXCEPTION 'source must not be null' USING ERRCODE = '22004';
    END IF;
    IF mode IS NULL OR mode OPERATOR(pg_catalog.<>) ALL (ARRAY['upsert', 'snapshot']) THEN
        RAISE EXCEPTION 'invalid ingestion mode %', coalesce(quote_literal(mode), 'NULL')
            USING ERRCODE = '22023',
                  HINT = 'The mode is ''upsert'' (write what changed) or ''snapshot'' (also delete entities the source no longer has).';
    END IF;
    SELECT c.relkind INTO relkind FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) rel;
    IF NOT @extschema@.fs_owns_relation(rel, false) THEN
        RAISE EXCEPTION 'must be owner of table %', rel USING ERRCODE = '42501',
              DETAIL = format('Ingesting into feature view "%s" writes its table.', vname);
    END IF;
    IF NOT pg_catalog.has_table_privilege(source, 'SELECT') THEN
        RAISE EXCEPTION 'permission denied for source %', source USING ERRCODE = '42501';
    END IF;
    /*
     * Generated columns are computed, never ingested.  The table computes
     * them on the embedded store; fs_ingest_remote writes items itself and
     * cannot, and an item without them would serve them as NULL.
     */
    IF relkind OPERATOR(pg_catalog.=) 'f' AND EXISTS (
           SELECT FROM pg_catalog.pg_attribute a
            WHERE a.attrelid OPERATOR(pg_catalog.=) rel AND a.attnum OPERATOR(pg_catalog.>) 0
              AND NOT a.attisdropped AND a.attgenerated OPERATOR(pg_catalog.<>) '') THEN
        RAISE EXCEPTION 'fs_ingest does not support generated columns of foreign table %', rel
            USING ERRCODE = '0A000',
                  DETAIL = format('Feature view "%s" has generated columns, which fs_ingest cannot compute for the remote store.', vname),
                  HINT = 'Make them plain columns computed in the source, or write the rows with INSERT into the foreign table.';
    END IF;

    SELECT array_agg(a.attname::text ORDER BY a.attnum) INTO feats
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid OPERATOR(pg_catalog.=) rel AND a.attnum OPERATOR(pg_catalog.>) 0
       AND NOT a.attisdropped AND a.attgenerated OPERATOR(pg_catalog.=) ''
       AND a.attname OPERATOR(pg_catalog.<>) key AND a.attname OPERATOR(pg_catalog.<>) ts;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
                    WHERE a.attrelid OPERATOR(pg_catalog.=) source
                      AND a.attname OPERATOR(pg_catalog.=) key
                      AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped) THEN
        RAISE EXCEPTION 'source % has no column "%", the join key of feature view "%"',
                        source, key, vname USING ERRCODE = '42703';
    END IF;
    SELECT string_agg(quote_ident(f), ', ' ORDER BY o) INTO missing
      FROM unnest(feats) WITH ORDINALITY AS u(f, o)
     WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
                        WHERE a.attrelid OPERATOR(pg_catalog.=) source
                          AND a.attname OPERATOR(pg_catalog.=) u.f
                          AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'source % lacks feature columns of feature view "%": %',
                        source, vname, missing
            USING ERRCODE = '42703',
                  HINT = 'A source has the join key, every feature column and optionally the event time; fs_create_staging_table makes one.';
    END IF;

    /*
     * One run per view at a time: a second run waits here until the first
     * commits, then compares with the state the first wrote.  The lock's
     * class id, 0x46530001 ("FS", 1 for ingestion), keeps it apart from
     * users' advisory locks; the key is a hash of the view's name.
     */
    PERFORM pg_catalog.pg_advisory_xact_lock(1179844609, pg_catalog.hashtext(vname));

    started := clock_timestamp();
    INSERT INTO @extschema@.fs_ingest_runs (feature_view, source, mode, started_at)
    VALUES (vname, source::text, mode, started)
    RETURNING fs_ingest_runs.run_id INTO run;

    /* Silver: typed, valid rows, one per entity, classified against the state. */
    IF pg_catalog.to_regclass('pg_temp.fs_ingest_silver_rows') IS NOT NULL THEN
        DROP TABLE pg_temp.fs_ingest_silver_rows;
    END IF;
    IF pg_catalog.to_regclass('pg_temp.fs_ingest_seen_keys') IS NOT NULL THEN
        DROP TABLE pg_temp.fs_ingest_seen_keys;
    END IF;
    /*
     * The view's columns (as LIKE copies them: type, collation, NOT NULL)
     * but the generated ones, which the table computes; fs_ingest_silver
     * fills every column from the source's column of that name.
     */
    SELECT string_agg(format('%I %s%s%s', a.attname, format_type(a.atttypid, a.atttypmod),
                             CASE WHEN a.attcollation OPERATOR(pg_catalog.<>) 0
                                  THEN ' COLLATE ' OPERATOR(pg_catalog.||) a.attcollation::regcollation::text END,
                             CASE WHEN a.attnotnull THEN ' NOT NULL' END), ', ' ORDER BY a.attnum)
      INTO silvercols
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid OPERATOR(pg_catalog.=) rel AND a.attnum OPERATOR(pg_catalog.>) 0
       AND NOT a.attisdropped AND a.attgenerated OPERATOR(pg_catalog.=) '';
    EXECUTE format('CREATE TEMP TABLE fs_ingest_silver_rows (%s, fs_row bigint, fs_digest bytea) ON COMMIT DROP',
                   silvercols);
    IF mode OPERATOR(pg_catalog.=) 'snapshot' THEN
        EXECUTE format('CREATE TEMP TABLE fs_ingest_seen_keys ON COMMIT DROP AS SELECT %I FROM %s WITH NO DATA',
                       key, rel);
    END IF;
    SELECT * INTO silver
      FROM @extschema@.fs_ingest_silver(run, vname, source, 'pg_temp.fs_ingest_silver_rows'::regclass,
                                        pg_catalog.to_regclass('pg_temp.fs_ingest_seen_keys'),
                                        key, ts, started);
    t0 := clock_timestamp();
    /*
     * A snapshot of nothing would delete every entity: far more often an
     * empty file than an intent.  A source whose rows were all rejected was
     * read, and its entities are kept, so it goes on.
     */
    IF mode OPERATOR(pg_catalog.=) 'snapshot' AND silver.rows_read OPERATOR(pg_catalog.=) 0 THEN
        RAISE EXCEPTION 'snapshot source % has no rows', source
            USING ERRCODE = '22023',
                  DETAIL = format('A snapshot deletes every entity its source does not have; this one would empty feature view "%s".', vname),
                  HINT = 'To empty the view, delete the rows of its table and its rows of fs_ingest_state. An upsert of an empty source changes nothing.';
    END IF;

    qkey := quote_ident(key);
    qts := quote_ident(ts);
    qrel := rel::text;
    SELECT string_agg(quote_ident(f), ', ') INTO allcols FROM unnest(ARRAY[key, ts]::text[] || feats) f;
    SELECT string_agg(format('%I = EXCLUDED.%I', f, f), ', ') INTO sets
      FROM unnest(ts::text || feats) f;

    IF relkind OPERATOR(pg_catalog.=) 'f' THEN
        /*
         * Gold on the remote store (src/ddb_ingest.c): compare with what
         * it holds, write with a condition on the event time, advance the
         * state for what it acknowledged; a snapshot's deletes too.
         */
        SELECT * INTO remote
          FROM @extschema@.fs_ingest_remote(run, vname, rel, 'pg_temp.fs_ingest_silver_rows'::regclass,
                                            pg_catalog.to_regclass('pg_temp.fs_ingest_seen_keys'));
        n_ins := remote.rows_inserted;
        n_upd := remote.rows_updated;
        n_del := remote.rows_deleted;
        n_stale := silver.rows_stale OPERATOR(pg_catalog.+) remote.rows_stale;
        n_same := silver.rows_unchanged OPERATOR(pg_catalog.+) remote.rows_unchanged;
        n_requests := remote.store_requests;
        n_rejected := remote.rows_rejected;
        n_wait := remote.store_wait_ms;
        t1 := clock_timestamp();
    ELSE
    /*
     * Gold: write what changed, never an older value over a newer one, and
     * the state of what was written.  gold writes every silver row;
     * gold_some only those whose fs_row is in $2.
     */
    gold := $q$
        WITH w AS (
            INSERT INTO %1$s AS t (%2$s)
            SELECT %2$s FROM pg_temp.fs_ingest_silver_rows s%6$s
            ON CONFLICT (%3$s) DO UPDATE SET %4$s
             WHERE t.%5$s IS NULL OR t.%5$s OPERATOR(pg_catalog.<=) EXCLUDED.%5$s
            RETURNING t.%3$s AS k, (t.xmax OPERATOR(pg_catalog.=) '0'::pg_catalog.xid) AS inserted),
        -- The state's key is the key's output text, as the silver step hashes it
        -- (a cast to text differs for char(n) and boolean).
        st AS (
            INSERT INTO @extschema@.fs_ingest_state AS st (feature_view, entity_id, digest, event_time)
            SELECT $1, pg_catalog.format('%%s', s.%3$s), s.fs_digest, s.%5$s
              FROM w JOIN pg_temp.fs_ingest_silver_rows s ON s.%3$s OPERATOR(pg_catalog.=) w.k%6$s
            ON CONFLICT (feature_view, entity_id) DO UPDATE
               SET digest = EXCLUDED.digest, event_time = EXCLUDED.event_time)
        SELECT count(*) FILTER (WHERE w.inserted), count(*) FILTER (WHERE NOT w.inserted) FROM w$q$;
    gold_some := format(gold, qrel, allcols, qkey, sets, qts,
                        ' WHERE s.fs_row OPERATOR(pg_catalog.=) ANY ($2)');
    gold := format(gold, qrel, allcols, qkey, sets, qts, '');
    BEGIN
        EXECUTE gold INTO n_ins, n_upd USING vname;
    EXCEPTION WHEN integrity_constraint_violation THEN
        /*
         * A row breaks a constraint of the table (a CHECK, a foreign key,
         * another unique index): the statement wrote nothing.  Write a
         * thousand rows at a time, and the rows of a thousand that fail one
         * by one, rejecting those that break a constraint.
         */
        n_ins := 0;
        n_upd := 0;
        CREATE INDEX ON pg_temp.fs_ingest_silver_rows (fs_row);
        ANALYZE pg_temp.fs_ingest_silver_rows;
        FOR chunk IN
            SELECT pg_catalog.array_agg(c.fs_row ORDER BY c.fs_row)
              FROM (SELECT s.fs_row,
                           (pg_catalog.row_number() OVER (ORDER BY s.fs_row) OPERATOR(pg_catalog.-) 1)
                           OPERATOR(pg_catalog./) 1000 AS n
                      FROM pg_temp.fs_ingest_silver_rows s) c
             GROUP BY c.n ORDER BY c.n
        LOOP
            BEGIN
                EXECUTE gold_some INTO c_ins, c_upd USING vname, chunk;
                n_ins := n_ins OPERATOR(pg_catalog.+) c_ins;
                n_upd := n_upd OPERATOR(pg_catalog.+) c_upd;
            EXCEPTION WHEN integrity_constraint_violation THEN
                FOREACH one IN ARRAY chunk LOOP
                    BEGIN
                        EXECUTE gold_some INTO c_ins, c_upd USING vname, ARRAY[one];
                        n_ins := n_ins OPERATOR(pg_catalog.+) c_ins;
                        n_upd := n_upd OPERATOR(pg_catalog.+) c_upd;
                    EXCEPTION WHEN integrity_constraint_violation THEN
                        GET STACKED DIAGNOSTICS why = MESSAGE_TEXT, cname = CONSTRAINT_NAME;
                        /* The constraint's column, and its value, if it has one column. */
                        ccol := NULL;
                        cgen := NULL;
                        SELECT a.attname, a.attgenerated INTO ccol, cgen
                          FROM pg_catalog.pg_constraint k
                          JOIN pg_catalog.pg_attribute a
                            ON a.attrelid OPERATOR(pg_catalog.=) k.conrelid
                           AND a.attnum OPERATOR(pg_catalog.=) k.conkey[1]
                         WHERE k.conrelid OPERATOR(pg_catalog.=) rel
                           AND k.conname OPERATOR(pg_catalog.=) cname
                           AND pg_catalog.cardinality(k.conkey) OPERATOR(pg_catalog.=) 1;
                        EXECUTE format($q$
                            INSERT INTO @extschema@.fs_ingest_rejects
                                   (run_id, entity_id, "column", raw_value, reason)
                            SELECT $1, pg_catalog.format('%%s', s.%1$s), $2, %2$s, $3
                              FROM pg_temp.fs_ingest_silver_rows s
                             WHERE s.fs_row OPERATOR(pg_catalog.=) $4$q$,
                            qkey,
                            CASE WHEN cgen OPERATOR(pg_catalog.=) ''
                                 THEN format('pg_catalog.format(''%%s'', s.%I)', ccol)
                                 ELSE 'NULL' END)
                        USING run, ccol, why, one;
                        n_rejected := n_rejected OPERATOR(pg_catalog.+) 1;
                    END;
                END LOOP;
            END;
        END LOOP;
    END;
    t1 := clock_timestamp();
    /* Rows the table already held newer (written by another lane) are stale too. */
    n_stale := silver.rows_stale OPERATOR(pg_catalog.+) silver.rows_changed
               OPERATOR(pg_catalog.-) n_ins OPERATOR(pg_catalog.-) n_upd
               OPERATOR(pg_catalog.-) n_rejected;
    n_same := silver.rows_unchanged;
    END IF;

    IF mode OPERATOR(pg_catalog.=) 'snapshot' AND relkind OPERATOR(pg_catalog.<>) 'f' THEN
        /*
         * Entities the source no longer has; a rejected row's entity is kept.
         * Set differences, not anti-joins: the planner's row estimates for
         * one view's rows of the state can be off by millions, and a nested
         * loop over a million keys would not end.
         */
        EXECUTE format($q$
            WITH gone AS (
                SELECT t.%2$s AS k FROM %1$s t
                EXCEPT
                SELECT s.%2$s FROM pg_temp.fs_ingest_seen_keys s),
            d AS (
                DELETE FROM %1$s t USING gone g
                 WHERE t.%2$s OPERATOR(pg_catalog.=) g.k
                   AND NOT EXISTS (SELECT FROM @extschema@.fs_ingest_rejects r
                                    WHERE r.run_id OPERATOR(pg_catalog.=) $2
                                      AND r.entity_id OPERATOR(pg_catalog.=) g.k::pg_catalog.text)
                RETURNING 1)
            SELECT count(*) FROM d$q$, qrel, qkey)
        INTO n_del USING vname, run;
    END IF;
    IF mode OPERATOR(pg_catalog.=) 'snapshot' THEN
        EXECUTE format($q$
            WITH gone AS (
                SELECT st.entity_id FROM @extschema@.fs_ingest_state st
                 WHERE st.feature_view OPERATOR(pg_catalog.=) $1
                EXCEPT
                SELECT pg_catalog.format('%%s', s.%1$s) FROM pg_temp.fs_ingest_seen_keys s
                EXCEPT
                SELECT r.entity_id FROM @extschema@.fs_ingest_rejects r
                 WHERE r.run_id OPERATOR(pg_catalog.=) $2)
            DELETE FROM @extschema@.fs_ingest_state st USING gone g
             WHERE st.feature_view OPERATOR(pg_catalog.=) $1
               AND st.entity_id OPERATOR(pg_catalog.=) g.entity_id$q$, qkey)
        USING vname, run;
        DROP TABLE pg_temp.fs_ingest_seen_keys;
    END IF;
    t2 := clock_timestamp();
    n_written := n_ins + n_upd + n_del;

    UPDATE @extschema@.fs_ingest_runs r
       SET status = 'succeeded', finished_at = clock_timestamp(),
           rows_read = silver.rows_read,
           rows_rejected = silver.rows_rejected OPERATOR(pg_catalog.+) n_rejected,
           rows_stale = n_stale, rows_unchanged = n_same,
           rows_inserted = n_ins, rows_updated = n_upd, rows_deleted = n_del,
           online_writes = n_written, store_requests = n_requests, store_wait_ms = n_wait,
           silver_ms = extract(epoch FROM t0 OPERATOR(pg_catalog.-) started) OPERATOR(pg_catalog.*) 1000,
           gold_ms = extract(epoch FROM t1 OPERATOR(pg_catalog.-) t0) OPERATOR(pg_catalog.*) 1000,
           write_ms = extract(epoch FROM t2 OPERATOR(pg_catalog.-) t1) OPERATOR(pg_catalog.*) 1000
     WHERE r.run_id OPERATOR(pg_catalog.=) run;
    DROP TABLE pg_temp.fs_ingest_silver_rows;

    RETURN QUERY SELECT run, silver.rows_read, silver.rows_rejected OPERATOR(pg_catalog.+) n_rejected,
                        n_stale, n_same,
                        n_ins, n_upd, n_del, n_written;
END
$$;

/*
 * fs_ingest_state (issue 10, items 4 and 7): an entity is identified by its
 * join key type's equality, through entity_hash, the key type's hash of its
 * entity_id, at the head of the primary key; and PUBLIC may only read the
 * table, which the extension's functions write as its owner.  The rows of
 * 0.1.0 get their hashes (read as each view's owner), keeping their digests,
 * so that the next run finds them unchanged.
 */
ALTER TABLE @extschema@.fs_ingest_state ADD COLUMN entity_hash integer NOT NULL DEFAULT 0;
ALTER TABLE @extschema@.fs_ingest_state ALTER COLUMN entity_hash DROP DEFAULT;
CREATE FUNCTION @extschema@.fs_ingest_state_rehash(feature_view text, relation regclass,
                                                   join_key name)
RETURNS bigint LANGUAGE c
AS 'MODULE_PATHNAME', 'fs_ingest_state_rehash';
SELECT @extschema@.fs_ingest_state_rehash(v.name, v.relation, e.join_key)
  FROM @extschema@.fs_feature_view v
  JOIN @extschema@.fs_entity e ON e.name OPERATOR(pg_catalog.=) v.entity;
DROP FUNCTION @extschema@.fs_ingest_state_rehash(text, regclass, name);
ALTER TABLE @extschema@.fs_ingest_state DROP CONSTRAINT fs_ingest_state_pkey,
    ADD PRIMARY KEY (feature_view, entity_hash, entity_id);
REVOKE INSERT, UPDATE, DELETE ON @extschema@.fs_ingest_state FROM PUBLIC;

/*
 * Gold's state on the embedded store (src/ingest_state.c): record the state
 * of the silver rows the view's table took (their fs_row in written).  It
 * checks that the caller owns the view's table, and writes the state as
 * its owner.
 */
CREATE FUNCTION @extschema@.fs_ingest_record_state(feature_view text, silver regclass,
                                                   written bigint[])
RETURNS void LANGUAGE c
AS 'MODULE_PATHNAME', 'fs_ingest_record_state';

/*
 * Forget what fs_ingest wrote to a view: for every entity, or for those of
 * entity_ids (by the join key type's equality), so that the next run writes
 * them again.  For the owner of the view's table; returns the rows forgotten.
 */
CREATE FUNCTION @extschema@.fs_forget_ingest_state(feature_view text,
                                                   entity_ids text[] DEFAULT NULL)
RETURNS bigint LANGUAGE c
AS 'MODULE_PATHNAME', 'fs_forget_ingest_state';

CREATE OR REPLACE FUNCTION @extschema@.fs_drop_feature_view(name text)
RETURNS void LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rel      regclass;
    users    text;
BEGIN
    SELECT v.relation INTO rel FROM @extschema@.fs_feature_view v
     WHERE v.name OPERATOR(pg_catalog.=) $1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'feature view "%" does not exist', name USING ERRCODE = '42704';
    END IF;
    IF NOT @extschema@.fs_owns_relation(rel) THEN
        RAISE EXCEPTION 'must be owner of table %', rel USING ERRCODE = '42501';
    END IF;
    SELECT string_agg(s.name, ', ' ORDER BY s.name) INTO users
      FROM @extschema@.fs_feature_service s
     WHERE EXISTS (SELECT FROM unnest(s.feature_refs) r
                    WHERE split_part(r, ':', 1) OPERATOR(pg_catalog.=) $1);
    IF users IS NOT NULL THEN
        RAISE EXCEPTION 'cannot drop feature view "%" because feature services use it', name
            USING ERRCODE = '2BP01',
                  DETAIL = 'Used by: ' || users || '.',
                  HINT = 'Drop those feature services first.';
    END IF;
    /* A view registered again under this name starts from no state. */
    PERFORM @extschema@.fs_forget_ingest_state($1);
    DELETE FROM @extschema@.fs_feature_view v WHERE v.name OPERATOR(pg_catalog.=) $1;
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.fs_ingest(feature_view text, source regclass,
                                      mode text DEFAULT 'upsert')
RETURNS TABLE (run_id bigint, rows_read bigint, rows_rejected bigint, rows_stale bigint,
               rows_unchanged bigint, rows_inserted bigint, rows_updated bigint,
               rows_deleted bigint, online_writes bigint)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    vname     text := $1;
    rel       regclass;
    relkind   "char";
    key       name;
    ts        name;
    feats     text[];
    missing   text;
    run       bigint;
    started   timestamptz;
    t0        timestamptz;
    t1        timestamptz;
    t2        timestamptz;
    silver    record;
    remote    record;
    n_requests bigint;
    n_rejected bigint := 0;
    n_wait    double precision;
    n_stale   bigint;
    n_same    bigint;
    n_ins     bigint := 0;
    n_upd     bigint := 0;
    n_del     bigint := 0;
    n_written bigint := 0;
    qkey      text;
    qts       text;
    qrel      text;
    allcols   text;
    sets      text;
    silvercols text;
    gold      text;
    gold_some text;
    chunk     bigint[];
    one       bigint;
    c_ins     bigint;
    c_upd     bigint;
    written   bigint[];
    keyeq     text;
    why       text;
    cname     text;
    ccol      name;
    cgen      "char";
BEGIN
    SELECT v.relation, e.join_key, v.event_time_column INTO rel, key, ts
      FROM @extschema@.fs_feature_view v
      JOIN @extschema@.fs_entity e ON e.name OPERATOR(pg_catalog.=) v.entity
     WHERE v.name OPERATOR(pg_catalog.=) vname;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'feature view "%" does not exist', vname USING ERRCODE = '42704';
    END IF;
    IF source IS NULL THEN
        RAISE EXCEPTION 'source must not be null' USING ERRCODE = '22004';
    END IF;
    IF mode IS NULL OR mode OPERATOR(pg_catalog.<>) ALL (ARRAY['upsert', 'snapshot']) THEN
        RAISE EXCEPTION 'invalid ingestion mode %', coalesce(quote_literal(mode), 'NULL')
            USING ERRCODE = '22023',
                  HINT = 'The mode is ''upsert'' (write what changed) or ''snapshot'' (also delete entities the source no longer has).';
    END IF;
    SELECT c.relkind INTO relkind FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) rel;
    IF NOT @extschema@.fs_owns_relation(rel, false) THEN
        RAISE EXCEPTION 'must be owner of table %', rel USING ERRCODE = '42501',
              DETAIL = format('Ingesting into feature view "%s" writes its table.', vname);
    END IF;
    IF NOT pg_catalog.has_table_privilege(source, 'SELECT') THEN
        RAISE EXCEPTION 'permission denied for source %', source USING ERRCODE = '42501';
    END IF;
    /*
     * Generated columns are computed, never ingested.  The table computes
     * them on the embedded store; fs_ingest_remote writes items itself and
     * cannot, and an item without them would serve them as NULL.
     */
    IF relkind OPERATOR(pg_catalog.=) 'f' AND EXISTS (
           SELECT FROM pg_catalog.pg_attribute a
            WHERE a.attrelid OPERATOR(pg_catalog.=) rel AND a.attnum OPERATOR(pg_catalog.>) 0
              AND NOT a.attisdropped AND a.attgenerated OPERATOR(pg_catalog.<>) '') THEN
        RAISE EXCEPTION 'fs_ingest does not support generated columns of foreign table %', rel
            USING ERRCODE = '0A000',
                  DETAIL = format('Feature view "%s" has generated columns, which fs_ingest cannot compute for the remote store.', vname),
                  HINT = 'Make them plain columns computed in the source, or write the rows with INSERT into the foreign table.';
    END IF;

    SELECT array_agg(a.attname::text ORDER BY a.attnum) INTO feats
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid OPERATOR(pg_catalog.=) rel AND a.attnum OPERATOR(pg_catalog.>) 0
       AND NOT a.attisdropped AND a.attgenerated OPERATOR(pg_catalog.=) ''
       AND a.attname OPERATOR(pg_catalog.<>) key AND a.attname OPERATOR(pg_catalog.<>) ts;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
                    WHERE a.attrelid OPERATOR(pg_catalog.=) source
                      AND a.attname OPERATOR(pg_catalog.=) key
                      AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped) THEN
        RAISE EXCEPTION 'source % has no column "%", the join key of feature view "%"',
                        source, key, vname USING ERRCODE = '42703';
    END IF;
    SELECT string_agg(quote_ident(f), ', ' ORDER BY o) INTO missing
      FROM unnest(feats) WITH ORDINALITY AS u(f, o)
     WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
                        WHERE a.attrelid OPERATOR(pg_catalog.=) source
                          AND a.attname OPERATOR(pg_catalog.=) u.f
                          AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'source % lacks feature columns of feature view "%": %',
                        source, vname, missing
            USING ERRCODE = '42703',
                  HINT = 'A source has the join key, every feature column and optionally the event time; fs_create_staging_table makes one.';
    END IF;

    /*
     * One run per view at a time: a second run waits here until the first
     * commits, then compares with the state the first wrote.  The lock's
     * class id, 0x46530001 ("FS", 1 for ingestion), keeps it apart from
     * users' advisory locks; the key is a hash of the view's name.
     */
    PERFORM pg_catalog.pg_advisory_xact_lock(1179844609, pg_catalog.hashtext(vname));

    started := clock_timestamp();
    INSERT INTO @extschema@.fs_ingest_runs (feature_view, source, mode, started_at)
    VALUES (vname, source::text, mode, started)
    RETURNING fs_ingest_runs.run_id INTO run;

    /* Silver: typed, valid rows, one per entity, classified against the state. */
    IF pg_catalog.to_regclass('pg_temp.fs_ingest_silver_rows') IS NOT NULL THEN
        DROP TABLE pg_temp.fs_ingest_silver_rows;
    END IF;
    IF pg_catalog.to_regclass('pg_temp.fs_ingest_seen_keys') IS NOT NULL THEN
        DROP TABLE pg_temp.fs_ingest_seen_keys;
    END IF;
    /*
     * The view's columns (as LIKE copies them: type, collation, NOT NULL)
     * but the generated ones, which the table computes; fs_ingest_silver
     * fills every column from the source's column of that name.
     */
    SELECT string_agg(format('%I %s%s%s', a.attname, format_type(a.atttypid, a.atttypmod),
                             CASE WHEN a.attcollation OPERATOR(pg_catalog.<>) 0
                                  THEN ' COLLATE ' OPERATOR(pg_catalog.||) a.attcollation::regcollation::text END,
                             CASE WHEN a.attnotnull THEN ' NOT NULL' END), ', ' ORDER BY a.attnum)
      INTO silvercols
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid OPERATOR(pg_catalog.=) rel AND a.attnum OPERATOR(pg_catalog.>) 0
       AND NOT a.attisdropped AND a.attgenerated OPERATOR(pg_catalog.=) '';
    EXECUTE format('CREATE TEMP TABLE fs_ingest_silver_rows (%s, fs_row bigint, fs_digest bytea, '
                   'fs_entity text, fs_entity_hash integer) ON COMMIT DROP',
                   silvercols);
    IF mode OPERATOR(pg_catalog.=) 'snapshot' THEN
        EXECUTE format('CREATE TEMP TABLE fs_ingest_seen_keys ON COMMIT DROP AS SELECT %I FROM %s WITH NO DATA',
                       key, rel);
    END IF;
    SELECT * INTO silver
      FROM @extschema@.fs_ingest_silver(run, vname, source, 'pg_temp.fs_ingest_silver_rows'::regclass,
                                        pg_catalog.to_regclass('pg_temp.fs_ingest_seen_keys'),
                                        key, ts, started);
    t0 := clock_timestamp();
    /*
     * A snapshot of nothing would delete every entity: far more often an
     * empty file than an intent.  A source whose rows were all rejected was
     * read, and its entities are kept, so it goes on.
     */
    IF mode OPERATOR(pg_catalog.=) 'snapshot' AND silver.rows_read OPERATOR(pg_catalog.=) 0 THEN
        RAISE EXCEPTION 'snapshot source % has no rows', source
            USING ERRCODE = '22023',
                  DETAIL = format('A snapshot deletes every entity its source does not have; this one would empty feature view "%s".', vname),
                  HINT = 'To empty the view, delete the rows of its table and its rows of fs_ingest_state. An upsert of an empty source changes nothing.';
    END IF;

    qkey := quote_ident(key);
    qts := quote_ident(ts);
    qrel := rel::text;
    SELECT string_agg(quote_ident(f), ', ') INTO allcols FROM unnest(ARRAY[key, ts]::text[] || feats) f;
    SELECT string_agg(format('%I = EXCLUDED.%I', f, f), ', ') INTO sets
      FROM unnest(ts::text || feats) f;
    /*
     * The key type's own equality, of its default btree operator class (or
     * its base type's), as the unique index and the silver step have it:
     * citext's is not pg_catalog's text =.  Types that borrow an operator
     * class by binary coercion (varchar) compare as pg_catalog's =.
     */
    SELECT format('OPERATOR(%I.%s)', n.nspname, o.oprname) INTO keyeq
      FROM pg_catalog.pg_attribute att
      JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) att.atttypid
      JOIN pg_catalog.pg_opclass c
        ON c.opcintype OPERATOR(pg_catalog.=) ANY (ARRAY[t.oid, t.typbasetype]) AND c.opcdefault
       AND c.opcmethod OPERATOR(pg_catalog.=) (SELECT am.oid FROM pg_catalog.pg_am am
                                                WHERE am.amname OPERATOR(pg_catalog.=) 'btree')
      JOIN pg_catalog.pg_amop a
        ON a.amopfamily OPERATOR(pg_catalog.=) c.opcfamily
       AND a.amoplefttype OPERATOR(pg_catalog.=) c.opcintype
       AND a.amoprighttype OPERATOR(pg_catalog.=) c.opcintype
       AND a.amopstrategy OPERATOR(pg_catalog.=) 3
      JOIN pg_catalog.pg_operator o ON o.oid OPERATOR(pg_catalog.=) a.amopopr
      JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) o.oprnamespace
     WHERE att.attrelid OPERATOR(pg_catalog.=) rel AND att.attname OPERATOR(pg_catalog.=) key
     ORDER BY c.opcintype OPERATOR(pg_catalog.=) t.oid DESC
     LIMIT 1;
    keyeq := coalesce(keyeq, 'OPERATOR(pg_catalog.=)');

    IF relkind OPERATOR(pg_catalog.=) 'f' THEN
        /*
         * Gold on the remote store (src/ddb_ingest.c): compare with what
         * it holds, write with a condition on the event time, advance the
         * state for what it acknowledged; a snapshot's deletes too.
         */
        SELECT * INTO remote
          FROM @extschema@.fs_ingest_remote(run, vname, rel, 'pg_temp.fs_ingest_silver_rows'::regclass,
                                            pg_catalog.to_regclass('pg_temp.fs_ingest_seen_keys'));
        n_ins := remote.rows_inserted;
        n_upd := remote.rows_updated;
        n_del := remote.rows_deleted;
        n_stale := silver.rows_stale OPERATOR(pg_catalog.+) remote.rows_stale;
        n_same := silver.rows_unchanged OPERATOR(pg_catalog.+) remote.rows_unchanged;
        n_requests := remote.store_requests;
        n_rejected := remote.rows_rejected;
        n_wait := remote.store_wait_ms;
        t1 := clock_timestamp();
    ELSE
    /*
     * Gold: write what changed, never an older value over a newer one, then
     * the state of what was written (fs_ingest_record_state, which writes it
     * as its owner).  gold writes every silver row; gold_some only those
     * whose fs_row is in $2.  Both return the fs_rows written.
     */
    gold := $q$
        WITH w AS (
            INSERT INTO %1$s AS t (%2$s)
            SELECT %2$s FROM pg_temp.fs_ingest_silver_rows s%6$s
            ON CONFLICT (%3$s) DO UPDATE SET %4$s
             WHERE t.%5$s IS NULL OR t.%5$s OPERATOR(pg_catalog.<=) EXCLUDED.%5$s
            RETURNING t.%3$s AS k, (t.xmax OPERATOR(pg_catalog.=) '0'::pg_catalog.xid) AS inserted)
        SELECT count(*) FILTER (WHERE w.inserted), count(*) FILTER (WHERE NOT w.inserted),
               pg_catalog.array_agg(s.fs_row)
          FROM w JOIN pg_temp.fs_ingest_silver_rows s ON s.%3$s %7$s w.k%6$s$q$;
    gold_some := format(gold, qrel, allcols, qkey, sets, qts,
                        ' WHERE s.fs_row OPERATOR(pg_catalog.=) ANY ($2)', keyeq);
    gold := format(gold, qrel, allcols, qkey, sets, qts, '', keyeq);
    BEGIN
        EXECUTE gold INTO n_ins, n_upd, written USING vname;
        PERFORM @extschema@.fs_ingest_record_state(vname, 'pg_temp.fs_ingest_silver_rows'::regclass,
                                                   written);
    EXCEPTION WHEN integrity_constraint_violation THEN
        /*
         * A row breaks a constraint of the table (a CHECK, a foreign key,
         * another unique index): the statement wrote nothing.  Write a
         * thousand rows at a time, and the rows of a thousand that fail one
         * by one, rejecting those that break a constraint.
         */
        n_ins := 0;
        n_upd := 0;
        CREATE INDEX ON pg_temp.fs_ingest_silver_rows (fs_row);
        ANALYZE pg_temp.fs_ingest_silver_rows;
        FOR chunk IN
            SELECT pg_catalog.array_agg(c.fs_row ORDER BY c.fs_row)
              FROM (SELECT s.fs_row,
                           (pg_catalog.row_number() OVER (ORDER BY s.fs_row) OPERATOR(pg_catalog.-) 1)
                           OPERATOR(pg_catalog./) 1000 AS n
                      FROM pg_temp.fs_ingest_silver_rows s) c
             GROUP BY c.n ORDER BY c.n
        LOOP
            BEGIN
                EXECUTE gold_some INTO c_ins, c_upd, written USING vname, chunk;
                PERFORM @extschema@.fs_ingest_record_state(vname, 'pg_temp.fs_ingest_silver_rows'::regclass,
                                                           written);
                n_ins := n_ins OPERATOR(pg_catalog.+) c_ins;
                n_upd := n_upd OPERATOR(pg_catalog.+) c_upd;
            EXCEPTION WHEN integrity_constraint_violation THEN
                FOREACH one IN ARRAY chunk LOOP
                    BEGIN
                        EXECUTE gold_some INTO c_ins, c_upd, written USING vname, ARRAY[one];
                        PERFORM @extschema@.fs_ingest_record_state(vname, 'pg_temp.fs_ingest_silver_rows'::regclass,
                                                                   written);
                        n_ins := n_ins OPERATOR(pg_catalog.+) c_ins;
                        n_upd := n_upd OPERATOR(pg_catalog.+) c_upd;
                    EXCEPTION WHEN integrity_constraint_violation THEN
                        GET STACKED DIAGNOSTICS why = MESSAGE_TEXT, cname = CONSTRAINT_NAME;
                        /* The constraint's column, and its value, if it has one column. */
                        ccol := NULL;
                        cgen := NULL;
                        SELECT a.attname, a.attgenerated INTO ccol, cgen
                          FROM pg_catalog.pg_constraint k
                          JOIN pg_catalog.pg_attribute a
                            ON a.attrelid OPERATOR(pg_catalog.=) k.conrelid
                           AND a.attnum OPERATOR(pg_catalog.=) k.conkey[1]
                         WHERE k.conrelid OPERATOR(pg_catalog.=) rel
                           AND k.conname OPERATOR(pg_catalog.=) cname
                           AND pg_catalog.cardinality(k.conkey) OPERATOR(pg_catalog.=) 1;
                        EXECUTE format($q$
                            INSERT INTO @extschema@.fs_ingest_rejects
                                   (run_id, entity_id, "column", raw_value, reason)
                            SELECT $1, pg_catalog.format('%%s', s.%1$s), $2, %2$s, $3
                              FROM pg_temp.fs_ingest_silver_rows s
                             WHERE s.fs_row OPERATOR(pg_catalog.=) $4$q$,
                            qkey,
                            CASE WHEN cgen OPERATOR(pg_catalog.=) ''
                                 THEN format('pg_catalog.format(''%%s'', s.%I)', ccol)
                                 ELSE 'NULL' END)
                        USING run, ccol, why, one;
                        n_rejected := n_rejected OPERATOR(pg_catalog.+) 1;
                    END;
                END LOOP;
            END;
        END LOOP;
    END;
    t1 := clock_timestamp();
    /* Rows the table already held newer (written by another lane) are stale too. */
    n_stale := silver.rows_stale OPERATOR(pg_catalog.+) silver.rows_changed
               OPERATOR(pg_catalog.-) n_ins OPERATOR(pg_catalog.-) n_upd
               OPERATOR(pg_catalog.-) n_rejected;
    n_same := silver.rows_unchanged;
    END IF;

    IF mode OPERATOR(pg_catalog.=) 'snapshot' AND relkind OPERATOR(pg_catalog.<>) 'f' THEN
        /*
         * Entities the source no longer has; a rejected row's entity is kept.
         * Set differences, not anti-joins: the planner's row estimates for
         * one view's rows of the state can be off by millions, and a nested
         * loop over a million keys would not end.
         */
        EXECUTE format($q$
            WITH gone AS (
                SELECT t.%2$s AS k FROM %1$s t
                EXCEPT
                SELECT s.%2$s FROM pg_temp.fs_ingest_seen_keys s),
            d AS (
                DELETE FROM %1$s t USING gone g
                 WHERE t.%2$s OPERATOR(pg_catalog.=) g.k
                   AND NOT EXISTS (SELECT FROM @extschema@.fs_ingest_rejects r
                                    WHERE r.run_id OPERATOR(pg_catalog.=) $2
                                      AND r.entity_id OPERATOR(pg_catalog.=) g.k::pg_catalog.text)
                RETURNING 1)
            SELECT count(*) FROM d$q$, qrel, qkey)
        INTO n_del USING vname, run;
    END IF;
    IF mode OPERATOR(pg_catalog.=) 'snapshot' THEN
        /*
         * The state of the entities the source no longer names is forgotten
         * already: by the silver step, or for a remote view with its deletes.
         */
        DROP TABLE pg_temp.fs_ingest_seen_keys;
    END IF;
    t2 := clock_timestamp();
    n_written := n_ins + n_upd + n_del;

    UPDATE @extschema@.fs_ingest_runs r
       SET status = 'succeeded', finished_at = clock_timestamp(),
           rows_read = silver.rows_read,
           rows_rejected = silver.rows_rejected OPERATOR(pg_catalog.+) n_rejected,
           rows_stale = n_stale, rows_unchanged = n_same,
           rows_inserted = n_ins, rows_updated = n_upd, rows_deleted = n_del,
           online_writes = n_written, store_requests = n_requests, store_wait_ms = n_wait,
           silver_ms = extract(epoch FROM t0 OPERATOR(pg_catalog.-) started) OPERATOR(pg_catalog.*) 1000,
           gold_ms = extract(epoch FROM t1 OPERATOR(pg_catalog.-) t0) OPERATOR(pg_catalog.*) 1000,
           write_ms = extract(epoch FROM t2 OPERATOR(pg_catalog.-) t1) OPERATOR(pg_catalog.*) 1000
     WHERE r.run_id OPERATOR(pg_catalog.=) run;
    DROP TABLE pg_temp.fs_ingest_silver_rows;

    RETURN QUERY SELECT run, silver.rows_read, silver.rows_rejected OPERATOR(pg_catalog.+) n_rejected,
                        n_stale, n_same,
                        n_ins, n_upd, n_del, n_written;
END
$$;
