/*
 * feature_store 0.1.0 -> 0.2.0
 *
 * Every object that 0.2.0 changes, as feature_store.sql (the 0.2.0 install
 * script) has it: after ALTER EXTENSION feature_store UPDATE a database holds
 * the same extension objects as a fresh install (test/upgrade/run_upgrade.sh).
 */

\echo Use "ALTER EXTENSION feature_store UPDATE TO '0.2.0'" to load this file. \quit

/*
 * The catalog is written only through the extension's functions, which
 * check as the caller and write as the catalog's owner: PUBLIC keeps SELECT
 * alone, for a privilege to write a table is one to LOCK it too.  The
 * policies that checked direct writes go; their rules are in src/catalog.c.
 */
REVOKE ALL ON @extschema@.fs_entity, @extschema@.fs_feature_view,
    @extschema@.fs_feature_service, @extschema@.fs_ingest_runs,
    @extschema@.fs_ingest_rejects FROM PUBLIC;
GRANT SELECT ON @extschema@.fs_entity, @extschema@.fs_feature_view,
    @extschema@.fs_feature_service TO PUBLIC;
GRANT SELECT ON @extschema@.fs_ingest_runs, @extschema@.fs_ingest_rejects TO PUBLIC;
REVOKE ALL ON SEQUENCE @extschema@.fs_ingest_runs_run_id_seq FROM PUBLIC;
DROP POLICY fs_entity_insert ON @extschema@.fs_entity;
DROP POLICY fs_entity_delete ON @extschema@.fs_entity;
DROP POLICY fs_feature_view_insert ON @extschema@.fs_feature_view;
DROP POLICY fs_feature_view_update ON @extschema@.fs_feature_view;
DROP POLICY fs_feature_view_delete ON @extschema@.fs_feature_view;
DROP POLICY fs_feature_service_insert ON @extschema@.fs_feature_service;
DROP POLICY fs_feature_service_update ON @extschema@.fs_feature_service;
DROP POLICY fs_feature_service_delete ON @extschema@.fs_feature_service;
DROP POLICY fs_ingest_runs_insert ON @extschema@.fs_ingest_runs;
DROP POLICY fs_ingest_runs_update ON @extschema@.fs_ingest_runs;
DROP POLICY fs_ingest_rejects_insert ON @extschema@.fs_ingest_rejects;

/*
 * The registry functions are C functions of src/catalog.c now: each runs its
 * check, fs_check_<what it does> (0.1.0's PL/pgSQL body, without the write),
 * as the caller, then writes as the catalog's owner.
 */
CREATE FUNCTION @extschema@.fs_check_register_entity(name text, join_key text,
                                                     description text)
RETURNS boolean LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF name IS NULL OR name OPERATOR(pg_catalog.!~) '^[^:]+$'
       OR octet_length(name) OPERATOR(pg_catalog.>=) 64 THEN
        RAISE EXCEPTION 'invalid entity name %', coalesce(quote_literal(name), 'NULL')
            USING ERRCODE = '22023',
                  HINT = 'A name is 1 to 63 bytes long and has no colon.';
    END IF;
    IF join_key IS NULL OR join_key OPERATOR(pg_catalog.=) ''
       OR octet_length(join_key) OPERATOR(pg_catalog.>=) 64 THEN
        RAISE EXCEPTION 'invalid join key %', coalesce(quote_literal(join_key), 'NULL')
            USING ERRCODE = '22023',
                  HINT = 'The join key is a column name of 1 to 63 bytes.';
    END IF;
    IF EXISTS (SELECT FROM @extschema@.fs_entity e WHERE e.name OPERATOR(pg_catalog.=) $1) THEN
        RAISE EXCEPTION 'entity "%" already exists', name USING ERRCODE = '42710';
    END IF;
    RETURN true;
END
$$;

CREATE FUNCTION @extschema@.fs_check_register_feature_view(name text, relation regclass,
    entity text, ttl interval, event_time_column name, description text, owner text, tags jsonb)
RETURNS boolean LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rel      pg_catalog.pg_class%ROWTYPE;
    key      name;
    key_att  smallint;
    ts_type  oid;
    fdw      name;
    known    text;
BEGIN
    IF name IS NULL OR name OPERATOR(pg_catalog.!~) '^[^:]+$'
       OR octet_length(name) OPERATOR(pg_catalog.>=) 64 THEN
        RAISE EXCEPTION 'invalid feature view name %', coalesce(quote_literal(name), 'NULL')
            USING ERRCODE = '22023',
                  HINT = 'A name is 1 to 63 bytes long and has no colon.';
    END IF;
    IF relation IS NULL OR entity IS NULL OR event_time_column IS NULL THEN
        RAISE EXCEPTION 'relation, entity and event_time_column must not be null'
            USING ERRCODE = '22004';
    END IF;
    IF ttl IS NOT NULL AND ttl OPERATOR(pg_catalog.<=) '0 seconds'::interval THEN
        RAISE EXCEPTION 'ttl must be positive, not %', ttl USING ERRCODE = '22023';
    END IF;
    IF EXISTS (SELECT FROM @extschema@.fs_feature_view v WHERE v.name OPERATOR(pg_catalog.=) $1) THEN
        RAISE EXCEPTION 'feature view "%" already exists', name USING ERRCODE = '42710';
    END IF;

    SELECT e.join_key INTO key FROM @extschema@.fs_entity e
     WHERE e.name OPERATOR(pg_catalog.=) $3;
    IF NOT FOUND THEN
        SELECT string_agg(e.name, ', ' ORDER BY e.name) INTO known FROM @extschema@.fs_entity e;
        RAISE EXCEPTION 'entity "%" does not exist', entity
            USING ERRCODE = '42704',
                  HINT = CASE WHEN known IS NULL
                              THEN 'No entity is registered yet: call fs_register_entity first.'
                              ELSE 'Registered entities: ' || known || '.' END;
    END IF;

    SELECT * INTO rel FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) relation;
    IF NOT pg_catalog.pg_has_role(CURRENT_USER, rel.relowner, 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', relation USING ERRCODE = '42501';
    END IF;
    IF rel.relkind OPERATOR(pg_catalog.=) 'f' THEN
        SELECT w.fdwname INTO fdw
          FROM pg_catalog.pg_foreign_table ft
          JOIN pg_catalog.pg_foreign_server s ON s.oid OPERATOR(pg_catalog.=) ft.ftserver
          JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid OPERATOR(pg_catalog.=) s.srvfdw
         WHERE ft.ftrelid OPERATOR(pg_catalog.=) relation;
    END IF;
    IF rel.relkind OPERATOR(pg_catalog.<>) 'r'
       AND (rel.relkind OPERATOR(pg_catalog.<>) 'f' OR fdw OPERATOR(pg_catalog.<>) 'fs_dynamodb') THEN
        RAISE EXCEPTION '"%" is not a table or a foreign table of fs_dynamodb', relation
            USING ERRCODE = '42809',
                  HINT = 'A feature view reads a plain table with a unique index on the join key, or a foreign table of a server of fs_dynamodb.';
    END IF;
    IF rel.relpersistence OPERATOR(pg_catalog.=) 't' THEN
        RAISE EXCEPTION '% is a temporary table', relation
            USING ERRCODE = '42809',
                  DETAIL = 'A temporary table goes away without notice, and its registration would outlive it.';
    END IF;
    /* The wrapper writes its event_time_column as epoch seconds (the item layout). */
    IF rel.relkind OPERATOR(pg_catalog.=) 'f' THEN
        SELECT coalesce((SELECT o.option_value
                           FROM pg_catalog.pg_foreign_table ft,
                                pg_catalog.pg_options_to_table(ft.ftoptions) o
                          WHERE ft.ftrelid OPERATOR(pg_catalog.=) relation
                            AND o.option_name OPERATOR(pg_catalog.=) 'event_time_column'),
                        'event_time')
          INTO known;
        IF known OPERATOR(pg_catalog.<>) event_time_column THEN
            RAISE EXCEPTION 'event-time column "%" is not the event_time_column of foreign table %',
                            event_time_column, relation
                USING ERRCODE = '22023',
                      DETAIL = format('The foreign table writes column "%s" as the event time.', known),
                      HINT = format('ALTER FOREIGN TABLE %s OPTIONS (ADD event_time_column %L).',
                                    relation, event_time_column);
        END IF;
    END IF;
    IF rel.relrowsecurity THEN
        RAISE EXCEPTION 'table % has row-level security enabled', relation
            USING ERRCODE = '0A000',
                  DETAIL = 'Serving reads rows by index and cannot apply row security policies.';
    END IF;

    SELECT a.attnum INTO key_att FROM pg_catalog.pg_attribute a
     WHERE a.attrelid OPERATOR(pg_catalog.=) relation AND a.attname OPERATOR(pg_catalog.=) key
       AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        /* The column the table's one-column primary key is on, if any, is likely the key. */
        SELECT a.attname INTO known FROM pg_catalog.pg_index i
          JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) i.indrelid
               AND a.attnum OPERATOR(pg_catalog.=) i.indkey[0]
         WHERE i.indrelid OPERATOR(pg_catalog.=) relation AND i.indisprimary
           AND i.indnkeyatts OPERATOR(pg_catalog.=) 1 AND i.indkey[0] OPERATOR(pg_catalog.>) 0;
        RAISE EXCEPTION 'table % has no column "%", the join key of entity "%"',
                        relation, key, entity
            USING ERRCODE = '42703',
                  HINT = format('A feature view''s table holds its entity''s join key under that name: rename the key column (%s), or register the view for an entity whose join key the table has.',
                                format('ALTER %sTABLE %s RENAME COLUMN %s TO %I',
                                       CASE WHEN rel.relkind OPERATOR(pg_catalog.=) 'f' THEN 'FOREIGN ' ELSE '' END,
                                       relation, coalesce(quote_ident(known), '...'), key));
    END IF;

    SELECT a.atttypid INTO ts_type FROM pg_catalog.pg_attribute a
     WHERE a.attrelid OPERATOR(pg_catalog.=) relation
       AND a.attname OPERATOR(pg_catalog.=) event_time_column
       AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table % has no event-time column "%"', relation, event_time_column
            USING ERRCODE = '42703',
                  HINT = 'Name the column with event_time_column => ''...''.';
    END IF;
    IF ts_type OPERATOR(pg_catalog.<>) 'pg_catalog.timestamptz'::pg_catalog.regtype THEN
        RAISE EXCEPTION 'event-time column "%" of table % is of type %, not timestamp with time zone',
                        event_time_column, relation, ts_type::pg_catalog.regtype
            USING ERRCODE = '42804',
                  HINT = CASE
                      WHEN rel.relkind OPERATOR(pg_catalog.=) 'f'
                      THEN format('Declare it timestamptz: ALTER FOREIGN TABLE %s ALTER COLUMN %I TYPE timestamptz.',
                                  relation, event_time_column)
                      WHEN ts_type OPERATOR(pg_catalog.=) 'pg_catalog.timestamp'::pg_catalog.regtype
                      THEN format('Change its type, reading the stored times as UTC (or name their time zone): ALTER TABLE %s ALTER COLUMN %I TYPE timestamptz USING %I AT TIME ZONE ''UTC''.',
                                  relation, event_time_column, event_time_column)
                      ELSE format('Change its type: ALTER TABLE %s ALTER COLUMN %I TYPE timestamptz USING ...',
                                  relation, event_time_column) END;
    END IF;
    IF event_time_column OPERATOR(pg_catalog.=) key THEN
        RAISE EXCEPTION 'the event-time column cannot be the join key' USING ERRCODE = '22023';
    END IF;

    IF rel.relkind OPERATOR(pg_catalog.=) 'r' AND NOT EXISTS (
        SELECT FROM pg_catalog.pg_index i
         WHERE i.indrelid OPERATOR(pg_catalog.=) relation AND i.indisunique AND i.indisvalid
           AND i.indnkeyatts OPERATOR(pg_catalog.=) 1
           AND i.indkey[0] OPERATOR(pg_catalog.=) key_att
           AND i.indexprs IS NULL AND i.indpred IS NULL) THEN
        RAISE EXCEPTION 'table % has no unique index on its join key "%"', relation, key
            USING ERRCODE = '42P10',
                  HINT = format('Add one: ALTER TABLE %s ADD PRIMARY KEY (%I).', relation, key);
    END IF;
    /*
     * Every lane tells entities apart by the join key type's equality (its
     * default btree operator class) under the column's collation; the
     * table's unique index must agree, or one entity to the lanes would be
     * two rows to the table, or two entities one row.
     */
    IF rel.relkind OPERATOR(pg_catalog.=) 'r' AND NOT EXISTS (
        SELECT FROM pg_catalog.pg_index i
          JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) i.indrelid
               AND a.attnum OPERATOR(pg_catalog.=) key_att
          JOIN pg_catalog.pg_type ty ON ty.oid OPERATOR(pg_catalog.=) a.atttypid
          JOIN pg_catalog.pg_opclass oc ON oc.oid OPERATOR(pg_catalog.=) i.indclass[0]
          JOIN pg_catalog.pg_am am ON am.oid OPERATOR(pg_catalog.=) oc.opcmethod
          JOIN pg_catalog.pg_type it ON it.oid OPERATOR(pg_catalog.=) oc.opcintype
         WHERE i.indrelid OPERATOR(pg_catalog.=) relation AND i.indisunique AND i.indisvalid
           AND i.indnkeyatts OPERATOR(pg_catalog.=) 1
           AND i.indkey[0] OPERATOR(pg_catalog.=) key_att
           AND i.indexprs IS NULL AND i.indpred IS NULL
           AND am.amname OPERATOR(pg_catalog.=) 'btree' AND oc.opcdefault
           AND i.indcollation[0] OPERATOR(pg_catalog.=) a.attcollation
           -- the type's own class (or its domain's base type's); a class of
           -- another type only if this one has none (varchar uses text's)
           AND (it.typtype OPERATOR(pg_catalog.=) 'p'
                OR oc.opcintype OPERATOR(pg_catalog.=) ANY (ARRAY[a.atttypid, ty.typbasetype])
                OR NOT EXISTS (SELECT FROM pg_catalog.pg_opclass o2
                                WHERE o2.opcmethod OPERATOR(pg_catalog.=) am.oid AND o2.opcdefault
                                  AND o2.opcintype OPERATOR(pg_catalog.=) ANY (ARRAY[a.atttypid, ty.typbasetype])))) THEN
        RAISE EXCEPTION 'the unique index on join key "%" of table % does not compare keys as their type does',
                        key, relation
            USING ERRCODE = '42P10',
                  DETAIL = 'Entities are told apart by the equality of the join key type''s default btree operator class, under the column''s collation; the index uses another operator class or collation.',
                  HINT = format('Index the join key with its type''s default operator class and the column''s collation, as ALTER TABLE %s ADD PRIMARY KEY (%I) does.', relation, key);
    END IF;

    RETURN true;
END
$$;

CREATE FUNCTION @extschema@.fs_check_alter_feature_view(name text, ttl interval,
    description text, owner text, tags jsonb, reset text[])
RETURNS boolean LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rel     regclass;
    bad     text;
BEGIN
    SELECT v.relation INTO rel FROM @extschema@.fs_feature_view v
     WHERE v.name OPERATOR(pg_catalog.=) $1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'feature view "%" does not exist', name USING ERRCODE = '42704';
    END IF;
    IF NOT @extschema@.fs_owns_relation(rel, false) THEN
        RAISE EXCEPTION 'must be owner of table %', rel USING ERRCODE = '42501';
    END IF;
    IF ttl IS NOT NULL AND ttl OPERATOR(pg_catalog.<=) '0 seconds'::interval THEN
        RAISE EXCEPTION 'ttl must be positive, not %', ttl USING ERRCODE = '22023';
    END IF;
    IF tags IS NOT NULL AND jsonb_typeof(tags) OPERATOR(pg_catalog.<>) 'object' THEN
        RAISE EXCEPTION 'tags must be a JSON object, not %', jsonb_typeof(tags)
            USING ERRCODE = '22023';
    END IF;
    SELECT string_agg(coalesce(quote_literal(r), 'NULL'), ', ') INTO bad
      FROM unnest(coalesce(reset, '{}')) r
     WHERE r IS NULL OR r OPERATOR(pg_catalog.<>) ALL (ARRAY['ttl', 'description', 'owner', 'tags']);
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'cannot reset %', bad
            USING ERRCODE = '22023',
                  HINT = 'reset lists some of ''ttl'', ''description'', ''owner'' and ''tags''.';
    END IF;
    SELECT string_agg(r, ', ') INTO bad
      FROM unnest(coalesce(reset, '{}')) r
     WHERE (r OPERATOR(pg_catalog.=) 'ttl' AND ttl IS NOT NULL)
        OR (r OPERATOR(pg_catalog.=) 'description' AND description IS NOT NULL)
        OR (r OPERATOR(pg_catalog.=) 'owner' AND owner IS NOT NULL);
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'cannot both set and reset %', bad USING ERRCODE = '22023';
    END IF;
    RETURN true;
END
$$;

CREATE FUNCTION @extschema@.fs_check_register_feature_service(name text, feature_refs text[],
                                                              description text)
RETURNS boolean LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r text;
BEGIN
    IF name IS NULL OR name OPERATOR(pg_catalog.!~) '^[^:]+$'
       OR octet_length(name) OPERATOR(pg_catalog.>=) 64 THEN
        RAISE EXCEPTION 'invalid feature service name %', coalesce(quote_literal(name), 'NULL')
            USING ERRCODE = '22023',
                  HINT = 'A name is 1 to 63 bytes long and has no colon.';
    END IF;
    IF feature_refs IS NULL OR cardinality(feature_refs) OPERATOR(pg_catalog.=) 0 THEN
        RAISE EXCEPTION 'a feature service needs at least one feature reference'
            USING ERRCODE = '22023';
    END IF;
    /* Every backend that serves keeps every service's references. */
    IF cardinality(feature_refs) OPERATOR(pg_catalog.>) 10000 THEN
        RAISE EXCEPTION 'a feature service holds at most 10000 feature references, not %',
                        cardinality(feature_refs)
            USING ERRCODE = '22023';
    END IF;
    FOREACH r IN ARRAY feature_refs LOOP
        IF r IS NULL OR strpos(r, ':') OPERATOR(pg_catalog.=) 0 THEN
            RAISE EXCEPTION 'invalid feature reference % in a feature service',
                            coalesce(quote_literal(r), 'NULL')
                USING ERRCODE = '22023',
                      HINT = 'A service lists references of the form ''view:feature'' or ''view:*''.';
        END IF;
    END LOOP;
    IF EXISTS (SELECT FROM @extschema@.fs_feature_service s WHERE s.name OPERATOR(pg_catalog.=) $1) THEN
        RAISE EXCEPTION 'feature service "%" already exists', name USING ERRCODE = '42710';
    END IF;
    /* Every reference must resolve, to one entity: the same errors as serving. */
    PERFORM count(*) FROM @extschema@.fs_resolve_refs(feature_refs);
    RETURN true;
END
$$;

CREATE FUNCTION @extschema@.fs_check_drop_feature_view(name text)
RETURNS boolean LANGUAGE plpgsql
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
    RETURN true;
END
$$;

CREATE FUNCTION @extschema@.fs_check_drop_feature_service(name text)
RETURNS boolean LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    who name;
BEGIN
    SELECT s.registered_by INTO who FROM @extschema@.fs_feature_service s
     WHERE s.name OPERATOR(pg_catalog.=) $1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'feature service "%" does not exist', name USING ERRCODE = '42704';
    END IF;
    IF NOT @extschema@.fs_acts_for(who) THEN
        RAISE EXCEPTION 'must be a member of role "%" to drop feature service "%"', who, name
            USING ERRCODE = '42501';
    END IF;
    RETURN true;
END
$$;

CREATE FUNCTION @extschema@.fs_check_drop_entity(name text)
RETURNS boolean LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    who   name;
    users text;
BEGIN
    SELECT e.registered_by INTO who FROM @extschema@.fs_entity e
     WHERE e.name OPERATOR(pg_catalog.=) $1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'entity "%" does not exist', name USING ERRCODE = '42704';
    END IF;
    IF NOT @extschema@.fs_acts_for(who) THEN
        RAISE EXCEPTION 'must be a member of role "%" to drop entity "%"', who, name
            USING ERRCODE = '42501';
    END IF;
    SELECT string_agg(v.name, ', ' ORDER BY v.name) INTO users
      FROM @extschema@.fs_feature_view v WHERE v.entity OPERATOR(pg_catalog.=) $1;
    IF users IS NOT NULL THEN
        RAISE EXCEPTION 'cannot drop entity "%" because feature views use it', name
            USING ERRCODE = '2BP01',
                  DETAIL = 'Used by: ' || users || '.',
                  HINT = 'Drop those feature views first.';
    END IF;
    RETURN true;
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.fs_register_entity(name text, join_key text,
                                               description text DEFAULT NULL)
RETURNS void LANGUAGE c AS 'MODULE_PATHNAME', 'fs_register_entity';
CREATE OR REPLACE FUNCTION @extschema@.fs_register_feature_view(name text, relation regclass,
    entity text, ttl interval DEFAULT NULL,
    event_time_column name DEFAULT 'event_time', description text DEFAULT NULL,
    owner text DEFAULT NULL, tags jsonb DEFAULT '{}')
RETURNS void LANGUAGE c AS 'MODULE_PATHNAME', 'fs_register_feature_view';
CREATE OR REPLACE FUNCTION @extschema@.fs_register_feature_service(name text, feature_refs text[],
                                                        description text DEFAULT NULL)
RETURNS void LANGUAGE c AS 'MODULE_PATHNAME', 'fs_register_feature_service';
CREATE OR REPLACE FUNCTION @extschema@.fs_drop_feature_view(name text)
RETURNS void LANGUAGE c AS 'MODULE_PATHNAME', 'fs_drop_feature_view';
CREATE OR REPLACE FUNCTION @extschema@.fs_drop_feature_service(name text)
RETURNS void LANGUAGE c AS 'MODULE_PATHNAME', 'fs_drop_feature_service';
CREATE OR REPLACE FUNCTION @extschema@.fs_drop_entity(name text)
RETURNS void LANGUAGE c AS 'MODULE_PATHNAME', 'fs_drop_entity';

/* New: change a view's ttl, description, owner or tags. */
CREATE FUNCTION @extschema@.fs_alter_feature_view(name text, ttl interval DEFAULT NULL,
    description text DEFAULT NULL, owner text DEFAULT NULL, tags jsonb DEFAULT NULL,
    reset text[] DEFAULT '{}')
RETURNS void LANGUAGE c AS 'MODULE_PATHNAME', 'fs_alter_feature_view';

/*
 * A view's identity: view_id, kept by dump and restore.  Runs are tied to
 * it; a run of 0.1.0 belongs to the view of its name registered before it
 * started, if its role could ingest into that view (a run older than the
 * view of that name was another view's, and one by another role was
 * recorded by hand: both are left to whoever ran them).
 */
ALTER TABLE @extschema@.fs_feature_view ADD COLUMN view_id bigserial UNIQUE;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.fs_feature_view_view_id_seq', '');
ALTER TABLE @extschema@.fs_ingest_runs ADD COLUMN view_id bigint;
UPDATE @extschema@.fs_ingest_runs r SET view_id = v.view_id
  FROM @extschema@.fs_feature_view v
  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) v.relation
 WHERE v.name OPERATOR(pg_catalog.=) r.feature_view
   AND r.started_at OPERATOR(pg_catalog.>=) v.created_at
   AND r.started_at OPERATOR(pg_catalog.<=) pg_catalog.now()
   -- 0.1.0 let any role record runs under any view's name: a run is the
   -- view's only if its role may ingest into the view
   AND EXISTS (SELECT FROM pg_catalog.pg_roles ro
                WHERE ro.rolname OPERATOR(pg_catalog.=) r.run_by
                  AND pg_catalog.pg_has_role(ro.oid, c.relowner, 'USAGE'));

DROP POLICY fs_ingest_runs_read ON @extschema@.fs_ingest_runs;
DROP POLICY fs_ingest_rejects_read ON @extschema@.fs_ingest_rejects;
CREATE POLICY fs_ingest_runs_read ON @extschema@.fs_ingest_runs FOR SELECT
    USING (@extschema@.fs_acts_for(run_by)
           OR view_id IN (SELECT v.view_id FROM @extschema@.fs_feature_view v
                           WHERE pg_catalog.has_table_privilege(v.relation, 'SELECT')));
CREATE POLICY fs_ingest_rejects_read ON @extschema@.fs_ingest_rejects FOR SELECT
    USING (run_id IN (SELECT r.run_id FROM @extschema@.fs_ingest_runs r));

/* Ingestion's record is written through these, by fs_ingest. */
CREATE FUNCTION @extschema@.fs_ingest_begin_run(feature_view text, source text, mode text,
                                                started_at timestamptz)
RETURNS bigint LANGUAGE c AS 'MODULE_PATHNAME', 'fs_ingest_begin_run';
CREATE FUNCTION @extschema@.fs_ingest_end_run(run_id bigint, rows_read bigint,
    rows_rejected bigint, rows_stale bigint, rows_unchanged bigint, rows_inserted bigint,
    rows_updated bigint, rows_deleted bigint, online_writes bigint, store_requests bigint,
    store_wait_ms double precision, silver_ms double precision, gold_ms double precision,
    write_ms double precision)
RETURNS void LANGUAGE c AS 'MODULE_PATHNAME', 'fs_ingest_end_run';
CREATE FUNCTION @extschema@.fs_ingest_add_reject(run_id bigint, entity_id text,
                                                 "column" text, raw_value text, reason text)
RETURNS void LANGUAGE c AS 'MODULE_PATHNAME', 'fs_ingest_add_reject';

/*
 * fs_ingest records its run, its rejects and its end through the functions
 * above, and the run's catalog row lock replaces the advisory lock any role
 * could take: its 0.2.0 body is created once, at the end of this script
 * (where the PL/pgSQL run becomes fs_ingest_run).
 */

/*
 * The stream worker: the launcher starts one in every database with the
 * extension when events are committed there; the queue's statement trigger
 * calls it, and fs_stream_status describes this database's worker (its
 * worker_state column is new).
 */
CREATE FUNCTION @extschema@.fs_stream_queue_wake()
RETURNS trigger LANGUAGE c
AS 'MODULE_PATHNAME', 'fs_stream_queue_wake';
CREATE TRIGGER fs_stream_queue_wake AFTER INSERT ON @extschema@.fs_stream_queue
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.fs_stream_queue_wake();

CREATE FUNCTION @extschema@.fs_stream_wake_workers()
RETURNS void LANGUAGE c
AS 'MODULE_PATHNAME', 'fs_stream_wake_workers';
REVOKE EXECUTE ON FUNCTION @extschema@.fs_stream_wake_workers() FROM PUBLIC;

DROP VIEW @extschema@.fs_stream_status;
DROP FUNCTION @extschema@.fs_stream_worker_status();
CREATE FUNCTION @extschema@.fs_stream_worker_status(
    OUT worker_pid integer, OUT events_per_second double precision,
    OUT last_flush timestamptz, OUT events_flushed bigint, OUT events_stale bigint,
    OUT events_rejected bigint, OUT failed_flushes bigint,
    OUT last_error text, OUT last_error_at timestamptz, OUT worker_state text)
RETURNS record LANGUAGE c
AS 'MODULE_PATHNAME', 'fs_stream_worker_status';

CREATE VIEW @extschema@.fs_stream_status AS
SELECT q.queue_depth, q.oldest_event_age, w.events_per_second, w.last_flush,
       w.last_error, w.last_error_at, w.worker_pid, w.events_flushed,
       w.events_stale, w.events_rejected, w.failed_flushes,
       CASE WHEN w.worker_state OPERATOR(pg_catalog.=) 'idle'
                 AND q.queue_depth OPERATOR(pg_catalog.>) 0
            THEN 'waiting' ELSE w.worker_state END AS worker_state
  FROM @extschema@.fs_stream_queue_depth() q, @extschema@.fs_stream_worker_status() w;
GRANT SELECT ON @extschema@.fs_stream_status TO PUBLIC;

/* Events queued before the update, when no trigger called a worker, are drained now. */
SELECT @extschema@.fs_stream_wake_workers();

/*
 * Set-aside stream events go back to the queue, or away, through functions
 * that check the caller: PUBLIC no longer deletes from fs_stream_rejects
 * (DELETE let any role LOCK the table ACCESS EXCLUSIVE).
 */
REVOKE DELETE ON @extschema@.fs_stream_rejects FROM PUBLIC;

/*
 * Put the caller's set-aside events back in the queue, or discard them: of
 * a view (NULL: any), among ids (NULL: all).  The caller acts for the role
 * that queued them (fs_acts_for, as the table's policy); the owner of the
 * table writes.  Return how many.
 */
CREATE FUNCTION @extschema@.fs_stream_requeue_rejects(feature_view text DEFAULT NULL,
                                                      ids bigint[] DEFAULT NULL)
RETURNS bigint LANGUAGE c
AS 'MODULE_PATHNAME', 'fs_stream_requeue_rejects';
CREATE FUNCTION @extschema@.fs_stream_discard_rejects(feature_view text DEFAULT NULL,
                                                      ids bigint[] DEFAULT NULL)
RETURNS bigint LANGUAGE c
AS 'MODULE_PATHNAME', 'fs_stream_discard_rejects';

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
 * of the silver rows the view's table took (their fs_row in the table
 * written).  It checks that the caller owns the view's table, and writes the
 * state as its owner.
 */
CREATE FUNCTION @extschema@.fs_ingest_record_state(feature_view text, silver regclass,
                                                   written regclass)
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

/*
 * Rejects users can act on (issue 11, item 9): every refused value of a row
 * is a reject of its own, and each says which row of the source it came
 * from (source_row: the row's ordinal as fs_ingest read the source, NULL
 * for the rejects of earlier versions), so that fs_ingest_add_reject takes
 * it too.
 */
ALTER TABLE @extschema@.fs_ingest_rejects ADD COLUMN source_row bigint;
DROP FUNCTION @extschema@.fs_ingest_add_reject(bigint, text, text, text, text);
CREATE FUNCTION @extschema@.fs_ingest_add_reject(run_id bigint, entity_id text,
                                                 "column" text, raw_value text, reason text,
                                                 source_row bigint DEFAULT NULL)
RETURNS void LANGUAGE c AS 'MODULE_PATHNAME', 'fs_ingest_add_reject';

/*
 * Issue 11, items 1 and 6: lanes that share a view, and staging tables.  A
 * batch source may carry a subset of the view's features: fs_ingest writes
 * and compares only those (and fs_ingest_remote updates only those
 * attributes).  fs_create_staging_table takes the features to stage and
 * replace => true; the old signature goes.
 */
DROP FUNCTION @extschema@.fs_create_staging_table(text, text);

/*
 * Create a table to COPY a view's data into, every column text: the join
 * key, the event time and every feature but generated ones, in the order of
 * the view's table; or, with features, the join key, the event time and
 * those features, in the order given.  Named <view>_staging unless
 * staging_table says otherwise; in the schema of the view's relation unless
 * that name has one.  replace drops a plain table of that name first.
 */
CREATE FUNCTION @extschema@.fs_create_staging_table(feature_view text,
                                                    staging_table text DEFAULT NULL,
                                                    features text[] DEFAULT NULL,
                                                    replace boolean DEFAULT false)
RETURNS regclass LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rel      regclass;
    key      name;
    ts       name;
    known    text;
    bad      text;
    nbad     integer;
    parts    text[];
    target   text;
    cols     text;
    old      regclass;
BEGIN
    SELECT v.relation, e.join_key, v.event_time_column INTO rel, key, ts
      FROM @extschema@.fs_feature_view v
      JOIN @extschema@.fs_entity e ON e.name OPERATOR(pg_catalog.=) v.entity
     WHERE v.name OPERATOR(pg_catalog.=) $1;
    IF NOT FOUND THEN
        /* As serving says it: the registered views, sorted, twenty at most. */
        SELECT string_agg(u.name, ', ' ORDER BY u.o)
               OPERATOR(pg_catalog.||) CASE WHEN max(u.total) OPERATOR(pg_catalog.>) 20
                                            THEN format(', ... (%s in all)', max(u.total)) ELSE '' END
          INTO known
          FROM (SELECT v.name, row_number() OVER (ORDER BY v.name COLLATE "C") AS o,
                       count(*) OVER () AS total
                  FROM @extschema@.fs_feature_view v) u
         WHERE u.o OPERATOR(pg_catalog.<=) 20;
        RAISE EXCEPTION 'feature view "%" does not exist', feature_view
            USING ERRCODE = '42704',
                  HINT = CASE WHEN known IS NULL
                              THEN 'No feature view is registered yet: call fs_register_feature_view first.'
                              ELSE format('Registered feature views: %s.', known) END;
    END IF;

    IF features IS NOT NULL THEN
        /* The features a source may carry: every one but generated ones. */
        SELECT string_agg(f.attname, ', ' ORDER BY f.attnum)
               OPERATOR(pg_catalog.||) CASE WHEN max(f.total) OPERATOR(pg_catalog.>) 20
                                            THEN format(', ... (%s in all)', max(f.total)) ELSE '' END
          INTO known
          FROM (SELECT a.attname, a.attnum, row_number() OVER (ORDER BY a.attnum) AS o,
                       count(*) OVER () AS total
                  FROM pg_catalog.pg_attribute a
                 WHERE a.attrelid OPERATOR(pg_catalog.=) rel
                   AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
                   AND a.attgenerated OPERATOR(pg_catalog.=) ''
                   AND a.attname OPERATOR(pg_catalog.<>) key AND a.attname OPERATOR(pg_catalog.<>) ts) f
         WHERE f.o OPERATOR(pg_catalog.<=) 20;
        known := CASE WHEN known IS NULL THEN 'It has no feature columns.'
                      ELSE format('Its features: %s.', known) END;
        IF cardinality(features) OPERATOR(pg_catalog.=) 0 THEN
            RAISE EXCEPTION 'features must name at least one feature' USING ERRCODE = '22023',
                  HINT = 'Leave features out (NULL) for every feature of the view. ' OPERATOR(pg_catalog.||) known;
        END IF;
        IF array_position(features, NULL) IS NOT NULL THEN
            RAISE EXCEPTION 'features must not contain null' USING ERRCODE = '22004';
        END IF;
        IF key OPERATOR(pg_catalog.=) ANY (features) OR ts OPERATOR(pg_catalog.=) ANY (features) THEN
            RAISE EXCEPTION '"%" is the % column of feature view "%", not a feature',
                            CASE WHEN key OPERATOR(pg_catalog.=) ANY (features) THEN key ELSE ts END,
                            CASE WHEN key OPERATOR(pg_catalog.=) ANY (features) THEN 'join key' ELSE 'event-time' END,
                            feature_view
                USING ERRCODE = '22023',
                      HINT = 'A staging table always has the join key and the event time; name only features.';
        END IF;
        SELECT string_agg(format('"%s"', d.f), ', ' ORDER BY d.f) INTO bad
          FROM (SELECT u.f FROM unnest(features) u(f) GROUP BY u.f
                HAVING count(*) OPERATOR(pg_catalog.>) 1) d;
        IF bad IS NOT NULL THEN
            RAISE EXCEPTION 'features names % more than once', bad USING ERRCODE = '42701';
        END IF;
        SELECT string_agg(format('"%s"', u.f), ', ' ORDER BY u.o), count(*) INTO bad, nbad
          FROM unnest(features) WITH ORDINALITY u(f, o)
         WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
                            WHERE a.attrelid OPERATOR(pg_catalog.=) rel
                              AND a.attname OPERATOR(pg_catalog.=) u.f
                              AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped);
        IF bad IS NOT NULL THEN
            RAISE EXCEPTION 'feature view "%" has no %', feature_view,
                            CASE WHEN nbad OPERATOR(pg_catalog.=) 1 THEN 'feature ' ELSE 'features ' END
                            OPERATOR(pg_catalog.||) bad
                USING ERRCODE = '42703', HINT = known;
        END IF;
        SELECT string_agg(format('"%s"', u.f), ', ' ORDER BY u.o) INTO bad
          FROM unnest(features) WITH ORDINALITY u(f, o)
          JOIN pg_catalog.pg_attribute a
            ON a.attrelid OPERATOR(pg_catalog.=) rel AND a.attname OPERATOR(pg_catalog.=) u.f
         WHERE a.attgenerated OPERATOR(pg_catalog.<>) '';
        IF bad IS NOT NULL THEN
            RAISE EXCEPTION 'generated columns of feature view "%" are not ingested: %', feature_view, bad
                USING ERRCODE = '428C9',
                      DETAIL = 'Its table computes them from the other columns.',
                      HINT = known;
        END IF;
    END IF;

    /* An unqualified name goes where the view's table is, never into pg_catalog. */
    parts := CASE WHEN staging_table IS NULL THEN ARRAY[feature_view OPERATOR(pg_catalog.||) '_staging']
                  ELSE parse_ident(staging_table) END;
    IF cardinality(parts) OPERATOR(pg_catalog.=) 1 THEN
        SELECT ARRAY[n.nspname::text] OPERATOR(pg_catalog.||) parts INTO parts
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
         WHERE c.oid OPERATOR(pg_catalog.=) rel;
    END IF;
    SELECT string_agg(quote_ident(p), '.' ORDER BY o) INTO target
      FROM unnest(parts) WITH ORDINALITY AS u(p, o);
    /* The view's schema may be one where the caller may not create tables. */
    IF cardinality(parts) OPERATOR(pg_catalog.=) 2 AND parts[1] OPERATOR(pg_catalog.<>) 'pg_temp' THEN
        IF to_regnamespace(quote_ident(parts[1])) IS NULL THEN
            RAISE EXCEPTION 'schema "%" does not exist', parts[1] USING ERRCODE = '3F000';
        END IF;
        IF NOT has_schema_privilege(to_regnamespace(quote_ident(parts[1]))::oid, 'CREATE') THEN
            RAISE EXCEPTION 'permission denied for schema %', quote_ident(parts[1])
                USING ERRCODE = '42501',
                      DETAIL = CASE WHEN staging_table IS NULL
                                    THEN format('A staging table named without a schema goes into the schema of the table of feature view "%s".', feature_view)
                                    ELSE format('Creating %s needs CREATE on its schema.', target) END,
                      HINT = format('Name a staging_table in a schema where you may create tables, or a temporary one: fs_create_staging_table(%L, %L).',
                                    feature_view, 'pg_temp.' OPERATOR(pg_catalog.||) quote_ident(parts[2]));
        END IF;
    END IF;
    IF features IS NULL THEN
        SELECT string_agg(format('%I text', a.attname), ', ' ORDER BY a.attnum) INTO cols
          FROM pg_catalog.pg_attribute a
         WHERE a.attrelid OPERATOR(pg_catalog.=) rel
           AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
           AND a.attgenerated OPERATOR(pg_catalog.=) '';
    ELSE
        SELECT format('%I text, %I text, ', key, ts)
               OPERATOR(pg_catalog.||) string_agg(format('%I text', u.f), ', ' ORDER BY u.o)
          INTO cols
          FROM unnest(features) WITH ORDINALITY u(f, o);
    END IF;

    /*
     * A staging table made before the view's table changed (ALTER TABLE ...
     * ADD COLUMN) is made again on request: only a plain table, and only by
     * a role that may drop it.
     */
    old := to_regclass(target);
    IF old IS NOT NULL THEN
        IF NOT replace THEN
            RAISE EXCEPTION 'relation % already exists', old
                USING ERRCODE = '42P07',
                      HINT = 'Pass replace => true to drop it and create it again (its rows are lost), or name another staging_table.';
        END IF;
        IF (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) old)
           OPERATOR(pg_catalog.<>) 'r' THEN
            RAISE EXCEPTION '% is not a table', old
                USING ERRCODE = '42809',
                      DETAIL = 'replace => true drops only a plain table.';
        END IF;
        IF NOT @extschema@.fs_owns_relation(old, false) THEN
            RAISE EXCEPTION 'must be owner of table %', old USING ERRCODE = '42501';
        END IF;
        /* Never CASCADE: a view over the staging table is someone's. */
        SELECT string_agg(DISTINCT o.what, ', ' ORDER BY o.what) INTO bad
          FROM (SELECT CASE WHEN r.oid IS NOT NULL   -- a view's rule: the view
                            THEN pg_describe_object('pg_catalog.pg_class'::pg_catalog.regclass, r.ev_class, 0)
                            ELSE pg_describe_object(d.classid, d.objid, d.objsubid) END AS what
                  FROM pg_catalog.pg_depend d
                  LEFT JOIN pg_catalog.pg_rewrite r
                    ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_rewrite'::pg_catalog.regclass
                   AND r.oid OPERATOR(pg_catalog.=) d.objid
                 WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                   AND d.refobjid OPERATOR(pg_catalog.=) old
                   AND d.deptype OPERATOR(pg_catalog.=) 'n') o;
        IF bad IS NOT NULL THEN
            RAISE EXCEPTION 'cannot drop table % because other objects depend on it', old
                USING ERRCODE = '2BP01',
                      DETAIL = format('Depending on it: %s.', bad),
                      HINT = 'Drop them first, or name another staging_table.';
        END IF;
        EXECUTE format('DROP TABLE %s', target);
    END IF;
    /*
     * UNLOGGED: a staging table holds a copy of a file for one run, which
     * need not survive a crash or reach a standby, and COPY into it writes
     * no WAL.  A temporary one is neither.
     */
    EXECUTE format('CREATE %sTABLE %s (%s)',
                   CASE WHEN cardinality(parts) OPERATOR(pg_catalog.>=) 2
                             AND parts[cardinality(parts) OPERATOR(pg_catalog.-) 1] OPERATOR(pg_catalog.~~) 'pg\_temp%'
                        THEN '' ELSE 'UNLOGGED ' END,
                   target, cols);
    RETURN target::regclass;
END
$$;
COMMENT ON FUNCTION @extschema@.fs_create_staging_table(text, text, text[], boolean) IS
    'Create an all-text table to COPY a feature view''s data into (join key, event time, its features or those named); replace => true re-creates it.';

/*
 * fs_ingest takes sources that carry a subset of the view's features: its
 * 0.2.0 body is created once, at the end of this script.
 */

/*
 * ==========================================================================
 * Issue 11, item 11 (psql habits): the registry functions return the
 * catalog row they wrote (a return type cannot be replaced: drop and create
 * again), and every object of the extension has a comment (at the end).
 * ==========================================================================
 */
DROP FUNCTION @extschema@.fs_register_entity(text, text, text);
CREATE FUNCTION @extschema@.fs_register_entity(name text, join_key text,
                                               description text DEFAULT NULL)
RETURNS @extschema@.fs_entity LANGUAGE c AS 'MODULE_PATHNAME', 'fs_register_entity';
DROP FUNCTION @extschema@.fs_register_feature_view(text, regclass, text, interval, name,
                                                   text, text, jsonb);
CREATE FUNCTION @extschema@.fs_register_feature_view(name text, relation regclass,
    entity text, ttl interval DEFAULT NULL,
    event_time_column name DEFAULT 'event_time', description text DEFAULT NULL,
    owner text DEFAULT NULL, tags jsonb DEFAULT '{}')
RETURNS @extschema@.fs_feature_view LANGUAGE c AS 'MODULE_PATHNAME', 'fs_register_feature_view';
DROP FUNCTION @extschema@.fs_alter_feature_view(text, interval, text, text, jsonb, text[]);
CREATE FUNCTION @extschema@.fs_alter_feature_view(name text, ttl interval DEFAULT NULL,
    description text DEFAULT NULL, owner text DEFAULT NULL, tags jsonb DEFAULT NULL,
    reset text[] DEFAULT '{}')
RETURNS @extschema@.fs_feature_view LANGUAGE c AS 'MODULE_PATHNAME', 'fs_alter_feature_view';
DROP FUNCTION @extschema@.fs_register_feature_service(text, text[], text);
CREATE FUNCTION @extschema@.fs_register_feature_service(name text, feature_refs text[],
                                                        description text DEFAULT NULL)
RETURNS @extschema@.fs_feature_service LANGUAGE c AS 'MODULE_PATHNAME', 'fs_register_feature_service';

/*
 * Comments: what \dd, \df+, \dt+ and \dv+ say about every object of the
 * extension.  Internal objects say so, and who calls them.  Keep one per
 * object (test/pgtap/comments.sql checks every member has one), and the
 * same block in the upgrade script.
 */
COMMENT ON TABLE @extschema@.fs_entity IS
    'Registered entities (what features describe) and their join keys; written by fs_register_entity and fs_drop_entity';
COMMENT ON TABLE @extschema@.fs_feature_view IS
    'Registered feature views: a relation holding one row of latest values per entity; written by fs_register_feature_view, fs_alter_feature_view and fs_drop_feature_view';
COMMENT ON TABLE @extschema@.fs_feature_service IS
    'Registered feature services: named, ordered lists of feature references; written by fs_register_feature_service and fs_drop_feature_service';
COMMENT ON TABLE @extschema@.fs_ingest_runs IS
    'One row per fs_ingest run: its counts, timings and status';
COMMENT ON TABLE @extschema@.fs_ingest_rejects IS
    'Source rows fs_ingest set aside, with the column, raw value and reason';
COMMENT ON TABLE @extschema@.fs_ingest_state IS
    'Internal: per view and entity, a digest of what fs_ingest last wrote (change detection); fs_forget_ingest_state clears it';
COMMENT ON TABLE @extschema@.fs_stream_queue IS
    'Streamed events waiting for the stream worker: fs_push (or INSERT) appends, the worker drains';
COMMENT ON TABLE @extschema@.fs_stream_rejects IS
    'Streamed events the stream worker could not write, and why; see fs_stream_requeue_rejects and fs_stream_discard_rejects';
COMMENT ON SEQUENCE @extschema@.fs_feature_view_view_id_seq IS
    'Internal: numbers feature views (fs_feature_view.view_id)';
COMMENT ON SEQUENCE @extschema@.fs_ingest_runs_run_id_seq IS
    'Internal: numbers ingestion runs (fs_ingest_runs.run_id)';
COMMENT ON SEQUENCE @extschema@.fs_stream_queue_id_seq IS
    'Internal: numbers streamed events (fs_stream_queue.id), used by fs_stream_queue_stamp';
COMMENT ON SEQUENCE @extschema@.fs_stream_flush_seq IS
    'Internal: numbers the stream worker''s flushes (fs_stream_queue.flush_id)';
COMMENT ON VIEW @extschema@.feature_registry IS
    'One row per registered feature: its view, type, entity, join key, store, relation, ttl, description, owner and tags';
COMMENT ON VIEW @extschema@.fs_stream_status IS
    'The streaming lane at a glance: queue depth, oldest event age, this database''s stream worker and its figures';
COMMENT ON FOREIGN DATA WRAPPER fs_dynamodb IS
    'Foreign data wrapper for DynamoDB-compatible stores over HTTP (DynamoDB JSON 1.0 API, SigV4); tested against dynalite only';
COMMENT ON EVENT TRIGGER fs_on_sql_drop IS
    'Drops the registration of a feature view whose relation is dropped';
COMMENT ON TRIGGER fs_entity_changed ON @extschema@.fs_entity IS
    'Invalidates every backend''s cache of resolved references when entities change';
COMMENT ON TRIGGER fs_feature_view_changed ON @extschema@.fs_feature_view IS
    'Invalidates every backend''s cache of resolved references when feature views change';
COMMENT ON TRIGGER fs_feature_service_changed ON @extschema@.fs_feature_service IS
    'Invalidates every backend''s cache of resolved references when feature services change';
COMMENT ON TRIGGER fs_stream_queue_stamp ON @extschema@.fs_stream_queue IS
    'Numbers each queued event and records who queued it and when';
COMMENT ON TRIGGER fs_stream_queue_wake ON @extschema@.fs_stream_queue IS
    'Calls the database''s stream worker when the inserting transaction commits';

-- the registry
COMMENT ON FUNCTION @extschema@.fs_register_entity(text, text, text) IS
    'Register an entity and its join key column; returns the fs_entity row';
COMMENT ON FUNCTION @extschema@.fs_register_feature_view(text, regclass, text, interval, name, text, text, jsonb) IS
    'Register a feature view over a table with a unique index on the join key, or a foreign table of fs_dynamodb; returns the fs_feature_view row';
COMMENT ON FUNCTION @extschema@.fs_alter_feature_view(text, interval, text, text, jsonb, text[]) IS
    'Change a feature view''s ttl, description, owner or tags (only what is given; reset clears); returns the altered fs_feature_view row';
COMMENT ON FUNCTION @extschema@.fs_register_feature_service(text, text[], text) IS
    'Register a feature service: a named, ordered list of feature references; returns the fs_feature_service row';
COMMENT ON FUNCTION @extschema@.fs_drop_feature_view(text) IS
    'Drop a feature view''s registration (not its relation); refused while a feature service uses it';
COMMENT ON FUNCTION @extschema@.fs_drop_feature_service(text) IS
    'Drop a feature service';
COMMENT ON FUNCTION @extschema@.fs_drop_entity(text) IS
    'Drop an entity; refused while feature views use it';
COMMENT ON FUNCTION @extschema@.fs_resolve_refs(text[]) IS
    'Expand feature references (view:feature, view:*, service names) to features, in order, with the errors serving gives';
COMMENT ON FUNCTION @extschema@.fs_check_register_entity(text, text, text) IS
    'Internal: the checks of fs_register_entity, run as the caller; raises its errors';
COMMENT ON FUNCTION @extschema@.fs_check_register_feature_view(text, regclass, text, interval, name, text, text, jsonb) IS
    'Internal: the checks of fs_register_feature_view, run as the caller; raises its errors';
COMMENT ON FUNCTION @extschema@.fs_check_alter_feature_view(text, interval, text, text, jsonb, text[]) IS
    'Internal: the checks of fs_alter_feature_view, run as the caller; raises its errors';
COMMENT ON FUNCTION @extschema@.fs_check_register_feature_service(text, text[], text) IS
    'Internal: the checks of fs_register_feature_service, run as the caller; raises its errors';
COMMENT ON FUNCTION @extschema@.fs_check_drop_feature_view(text) IS
    'Internal: the checks of fs_drop_feature_view, run as the caller; raises its errors';
COMMENT ON FUNCTION @extschema@.fs_check_drop_feature_service(text) IS
    'Internal: the checks of fs_drop_feature_service, run as the caller; raises its errors';
COMMENT ON FUNCTION @extschema@.fs_check_drop_entity(text) IS
    'Internal: the checks of fs_drop_entity, run as the caller; raises its errors';
COMMENT ON FUNCTION @extschema@.fs_owns_relation(oid, boolean) IS
    'Internal: whether the current role acts for the owner of a relation; used by the registry''s checks and fs_ingest';
COMMENT ON FUNCTION @extschema@.fs_acts_for(name) IS
    'Internal: whether the current role acts for a role; used by the registry''s checks and the row-level security policies';
COMMENT ON FUNCTION @extschema@.fs_owns_view(text) IS
    'Internal: whether the current role owns a feature view''s relation; used by the policies of fs_ingest_state';
COMMENT ON FUNCTION @extschema@.fs_registry_changed() IS
    'Internal: trigger on the registry tables; invalidates every backend''s cache of resolved references at commit';
COMMENT ON FUNCTION @extschema@.fs_on_sql_drop() IS
    'Internal: function of event trigger fs_on_sql_drop; drops the registration of a feature view whose relation is dropped';

-- serving
COMMENT ON FUNCTION @extschema@.fs_get_features(text[], text[]) IS
    'Serve features: one row per entity and feature, entity-major in input order, features in reference order, with value, event time and status';
COMMENT ON FUNCTION @extschema@.fs_get_feature_vectors(text[], text[]) IS
    'Serve features: one row per entity, in input order, with a jsonb object {"view:feature": value} (keys in jsonb''s order)';

-- batch ingestion
COMMENT ON FUNCTION @extschema@.fs_ingest(text, regclass, text) IS
    'Ingest a batch source into a feature view: cast and validate (rejects to fs_ingest_rejects), then write only what changed; mode upsert or snapshot';
COMMENT ON FUNCTION @extschema@.fs_forget_ingest_state(text, text[]) IS
    'Forget what fs_ingest wrote to a view (all entities, or those given), so that the next run writes them again; returns the rows forgotten';
COMMENT ON FUNCTION @extschema@.fs_ingest_begin_run(text, text, text, timestamptz) IS
    'Internal: records the start of a run in fs_ingest_runs; called by fs_ingest';
COMMENT ON FUNCTION @extschema@.fs_ingest_end_run(bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, double precision, double precision, double precision, double precision) IS
    'Internal: records a run''s counts and timings in fs_ingest_runs; called by fs_ingest';
COMMENT ON FUNCTION @extschema@.fs_ingest_add_reject(bigint, text, text, text, text, bigint) IS
    'Internal: records a rejected row in fs_ingest_rejects; called by fs_ingest';
COMMENT ON FUNCTION @extschema@.fs_ingest_silver(bigint, text, regclass, regclass, regclass, text, text, timestamptz) IS
    'Internal: the silver step of fs_ingest (cast, validate, deduplicate, detect changes); called by fs_ingest';
COMMENT ON FUNCTION @extschema@.fs_ingest_remote(bigint, text, regclass, regclass, regclass) IS
    'Internal: the gold step of fs_ingest for a view stored in fs_dynamodb; called by fs_ingest';
COMMENT ON FUNCTION @extschema@.fs_ingest_record_state(text, regclass, regclass) IS
    'Internal: records in fs_ingest_state what the gold step wrote to an embedded view; called by fs_ingest';

-- direct writes and the DynamoDB-compatible store
COMMENT ON FUNCTION @extschema@.fs_write_features(text, text, jsonb, timestamptz) IS
    'Write some features of one entity to the online store before returning: WRITTEN, or STALE when a newer event time is stored';
COMMENT ON FUNCTION @extschema@.fs_dynamodb_handler() IS
    'Internal: handler of foreign data wrapper fs_dynamodb';
COMMENT ON FUNCTION @extschema@.fs_dynamodb_validator(text[], oid) IS
    'Internal: option validator of foreign data wrapper fs_dynamodb';
COMMENT ON FUNCTION @extschema@.fs_create_online_table(regclass) IS
    'Create a foreign table''s remote table in its DynamoDB-compatible store (CreateTable) and wait until it is ACTIVE';

-- streaming
COMMENT ON FUNCTION @extschema@.fs_push(text, text, jsonb, timestamptz, text) IS
    'Queue an event for the stream worker (mode set, or add for counters), checked as fs_write_features would; returns its id';
COMMENT ON FUNCTION @extschema@.fs_stream_requeue_rejects(text, bigint[]) IS
    'Put the caller''s events of fs_stream_rejects back in the queue (of a view, among ids; NULL: all); returns how many';
COMMENT ON FUNCTION @extschema@.fs_stream_discard_rejects(text, bigint[]) IS
    'Discard the caller''s events of fs_stream_rejects (of a view, among ids; NULL: all); returns how many';
COMMENT ON FUNCTION @extschema@.fs_stream_worker_status() IS
    'Internal: this database''s stream worker and its figures, from shared memory; read through view fs_stream_status';
COMMENT ON FUNCTION @extschema@.fs_stream_queue_depth() IS
    'Internal: the queue''s depth and the age of its oldest event; read through view fs_stream_status';
COMMENT ON FUNCTION @extschema@.fs_stream_queue_stamp() IS
    'Internal: trigger on fs_stream_queue; numbers each event and records who queued it and when';
COMMENT ON FUNCTION @extschema@.fs_stream_queue_wake() IS
    'Internal: trigger on fs_stream_queue; calls the database''s stream worker at commit';
COMMENT ON FUNCTION @extschema@.fs_stream_wake_workers() IS
    'Internal: calls the database''s stream worker at commit; called by the extension''s install and upgrade scripts';

/*
 * Issue 11, item 3: a rerun after the remote store lost its data.
 */

/*
 * The remote table fs_ingest last wrote for a view stored in fs_dynamodb,
 * told by its creation time (DescribeTable's CreationDateTime): a run that
 * finds the table created again since (the store lost its data) forgets the
 * view's ingestion state first (fs_ingest_check_remote, src/ddb_table.c).
 * Written as its owner by that function; PUBLIC may only read it.
 */
CREATE TABLE @extschema@.fs_ingest_remote_table (
    view_id      bigint PRIMARY KEY
                 REFERENCES @extschema@.fs_feature_view (view_id) ON DELETE CASCADE,
    remote_table text NOT NULL,
    created_at   timestamptz NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.fs_ingest_remote_table', '');
GRANT SELECT ON @extschema@.fs_ingest_remote_table TO PUBLIC;
ALTER TABLE @extschema@.fs_ingest_remote_table ENABLE ROW LEVEL SECURITY;
CREATE POLICY fs_ingest_remote_table_read ON @extschema@.fs_ingest_remote_table FOR SELECT
    USING (view_id IN (SELECT v.view_id FROM @extschema@.fs_feature_view v
                        WHERE pg_catalog.has_table_privilege(v.relation, 'SELECT')));
COMMENT ON TABLE @extschema@.fs_ingest_remote_table IS
    'The remote table fs_ingest last wrote for each view over fs_dynamodb, by its creation time: one created again makes the next run forget the view''s ingestion state';

/*
 * Before fs_ingest's silver step, for a view stored in fs_dynamodb: ask
 * DescribeTable afresh whether the remote table is the one the view's state
 * describes, and forget the state if it was created again since (a NOTICE
 * says so); record the table either way.  For the owner of the view's
 * table; returns whether the state was forgotten.
 */
CREATE FUNCTION @extschema@.fs_ingest_check_remote(feature_view text)
RETURNS boolean LANGUAGE c
AS 'MODULE_PATHNAME', 'fs_ingest_check_remote';
COMMENT ON FUNCTION @extschema@.fs_ingest_check_remote(text) IS
    'Internal: called by fs_ingest; forgets a view''s ingestion state if its remote table was created again since the last run';

/*
 * Issue 11, item 8: fs_ingest raises its errors as the user should see
 * them.  The PL/pgSQL run becomes fs_ingest_run (same arguments and result;
 * whatever body fs_ingest has at this point of the script), and fs_ingest
 * is a C function (src/ingest_run.c) that calls it and raises its errors
 * without our internal SQL and PL/pgSQL lines.  Keep this section after
 * every other change to fs_ingest's body.
 */
ALTER FUNCTION @extschema@.fs_ingest(text, regclass, text) RENAME TO fs_ingest_run;
CREATE FUNCTION @extschema@.fs_ingest(feature_view text, source regclass,
                                      mode text DEFAULT 'upsert')
RETURNS TABLE (run_id bigint, rows_read bigint, rows_rejected bigint, rows_stale bigint,
               rows_unchanged bigint, rows_inserted bigint, rows_updated bigint,
               rows_deleted bigint, online_writes bigint)
LANGUAGE c AS 'MODULE_PATHNAME', 'fs_ingest';
COMMENT ON FUNCTION @extschema@.fs_ingest(text, regclass, text) IS
    'Ingest a batch source into a feature view: cast and validate (rejects to fs_ingest_rejects), then write only what changed; mode upsert or snapshot';
COMMENT ON FUNCTION @extschema@.fs_ingest_run(text, regclass, text) IS
    'Internal: the run of fs_ingest (PL/pgSQL); fs_ingest calls it and raises its errors without our internal SQL';

/*
 * Issue 11, item 8: fs_create_staging_table raises its errors as the user
 * should see them, as fs_ingest does (above).  The PL/pgSQL function becomes
 * fs_create_staging_table_run (same arguments and result), and
 * fs_create_staging_table is a C function (src/ingest_run.c) that calls it
 * and raises its errors without our internal SQL and PL/pgSQL lines.
 */
ALTER FUNCTION @extschema@.fs_create_staging_table(text, text, text[], boolean)
    RENAME TO fs_create_staging_table_run;
CREATE FUNCTION @extschema@.fs_create_staging_table(feature_view text,
                                                    staging_table text DEFAULT NULL,
                                                    features text[] DEFAULT NULL,
                                                    replace boolean DEFAULT false)
RETURNS regclass
LANGUAGE c AS 'MODULE_PATHNAME', 'fs_create_staging_table';
COMMENT ON FUNCTION @extschema@.fs_create_staging_table_run(text, text, text[], boolean) IS
    'Internal: the work of fs_create_staging_table (PL/pgSQL); fs_create_staging_table calls it and raises its errors without our internal SQL';
COMMENT ON FUNCTION @extschema@.fs_create_staging_table(text, text, text[], boolean) IS
    'Create an all-text table to COPY a feature view''s data into (join key, event time, its features or those named); replace => true re-creates it.';

/*
 * fs_ingest_run, the run of fs_ingest, as 0.2.0 has it: the one copy of its
 * body in this script (issue 11, item 8: a row that a constraint of the
 * view's table refuses in fs_ingest's gold step keeps PostgreSQL's detail
 * in its reject's reason when it says what to fix, a foreign key's or
 * unique index's "Key (x)=(5) ...", not a CHECK's or NOT NULL's "Failing
 * row contains (...)").
 */
CREATE OR REPLACE FUNCTION @extschema@.fs_ingest_run(feature_view text, source regclass,
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
    carried   text[];
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
    fresh     boolean;
    chunk     bigint[];
    one       bigint;
    c_ins     bigint;
    c_upd     bigint;
    keyeq     text;
    why       text;
    wstate    text;
    wdetail   text;
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
                        source, key, vname
            USING ERRCODE = '42703',
                  HINT = format('Source columns are matched by name: name the source''s entity id column %I (ALTER TABLE %s RENAME COLUMN ... TO %I, or select it AS %I in a view over the source).',
                                key, source, key, key);
    END IF;
    /*
     * The features the source carries: the run writes and compares only
     * those, and leaves the others, which other lanes may write, as stored.
     */
    SELECT array_agg(u.f ORDER BY u.o) INTO carried
      FROM unnest(feats) WITH ORDINALITY AS u(f, o)
     WHERE EXISTS (SELECT FROM pg_catalog.pg_attribute a
                    WHERE a.attrelid OPERATOR(pg_catalog.=) source
                      AND a.attname OPERATOR(pg_catalog.=) u.f
                      AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped);
    IF carried IS NULL AND feats IS NOT NULL THEN
        RAISE EXCEPTION 'source % has no feature column of feature view "%"', source, vname
            USING ERRCODE = '42703',
                  DETAIL = format('Its features: %s%s.', array_to_string(feats[1:20], ', '),
                                  CASE WHEN cardinality(feats) OPERATOR(pg_catalog.>) 20
                                       THEN format(', ... (%s in all)', cardinality(feats)) ELSE '' END),
                  HINT = 'A source has the join key, one or more feature columns and optionally the event time; fs_create_staging_table(view, features => ...) makes one.';
    END IF;
    feats := carried;

    /*
     * One run per view at a time: recording the run locks the view's
     * catalog row, so a second run waits here until the first commits, then
     * compares with the state the first wrote.  Only roles that may ingest
     * into the view can take that lock.
     */
    started := clock_timestamp();
    run := @extschema@.fs_ingest_begin_run(vname, source::text, mode, started);

    /* A remote table created again since the last run: its state is forgotten. */
    IF relkind OPERATOR(pg_catalog.=) 'f' THEN
        PERFORM @extschema@.fs_ingest_check_remote(vname);
    END IF;

    /* Silver: typed, valid rows, one per entity, classified against the state. */
    IF pg_catalog.to_regclass('pg_temp.fs_ingest_silver_rows') IS NOT NULL THEN
        DROP TABLE pg_temp.fs_ingest_silver_rows;
    END IF;
    IF pg_catalog.to_regclass('pg_temp.fs_ingest_seen_keys') IS NOT NULL THEN
        DROP TABLE pg_temp.fs_ingest_seen_keys;
    END IF;
    /*
     * The view's join key, event time and the features the source carries
     * (as LIKE copies them: type, collation, NOT NULL); fs_ingest_silver
     * fills every column from the source's column of that name, and its
     * digest covers these features, by name and type.
     */
    SELECT string_agg(format('%I %s%s%s', a.attname, format_type(a.atttypid, a.atttypmod),
                             CASE WHEN a.attcollation OPERATOR(pg_catalog.<>) 0
                                  THEN ' COLLATE ' OPERATOR(pg_catalog.||) a.attcollation::regcollation::text END,
                             CASE WHEN a.attnotnull THEN ' NOT NULL' END), ', ' ORDER BY a.attnum)
      INTO silvercols
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid OPERATOR(pg_catalog.=) rel AND a.attnum OPERATOR(pg_catalog.>) 0
       AND NOT a.attisdropped
       AND a.attname OPERATOR(pg_catalog.=) ANY (ARRAY[key, ts]::text[] OPERATOR(pg_catalog.||) feats);
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
                  HINT = 'To empty the view, delete the rows of its table and call fs_forget_ingest_state(view). An upsert of an empty source changes nothing.';
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
     * whose fs_row is in $2.  Both put the fs_rows written into
     * fs_ingest_written (a table, not an array: a first load writes every
     * entity, and memory must not grow with them).
     */
    IF pg_catalog.to_regclass('pg_temp.fs_ingest_written') IS NOT NULL THEN
        DROP TABLE pg_temp.fs_ingest_written;
    END IF;
    CREATE TEMP TABLE fs_ingest_written (fs_row bigint) ON COMMIT DROP;
    gold := $q$
        WITH w AS (
            INSERT INTO %1$s AS t (%2$s)
            SELECT %2$s FROM pg_temp.fs_ingest_silver_rows s%6$s
            ON CONFLICT (%3$s) DO UPDATE SET %4$s
             WHERE t.%5$s IS NULL OR t.%5$s OPERATOR(pg_catalog.<=) EXCLUDED.%5$s
            RETURNING t.%3$s AS k, (t.xmax OPERATOR(pg_catalog.=) '0'::pg_catalog.xid) AS inserted),
        r AS (
            INSERT INTO pg_temp.fs_ingest_written (fs_row)
            SELECT s.fs_row FROM w JOIN pg_temp.fs_ingest_silver_rows s ON s.%3$s %7$s w.k%6$s)
        SELECT count(*) FILTER (WHERE w.inserted), count(*) FILTER (WHERE NOT w.inserted)
          FROM w$q$;
    gold_some := format(gold, qrel, allcols, qkey, sets, qts,
                        ' WHERE s.fs_row OPERATOR(pg_catalog.=) ANY ($2)', keyeq);
    gold := format(gold, qrel, allcols, qkey, sets, qts, '', keyeq);
    /*
     * Into an empty table (a first load), plain INSERTs: no conflict to look
     * for, and every silver row is written, so the silver table is its own
     * table of rows written: twice as fast.  A row another lane adds
     * meanwhile makes it fail (23505), and the upserts below write the rows
     * a thousand at a time.  If the table took fewer rows than it was given
     * (a BEFORE trigger returned NULL, a rule), the INSERT is undone and
     * the upsert, which knows which rows it wrote, runs instead.
     */
    EXECUTE format('SELECT NOT EXISTS (SELECT FROM %s)', qrel) INTO fresh;
    BEGIN
        IF fresh THEN
            BEGIN
                EXECUTE format('INSERT INTO %1$s (%2$s) SELECT %2$s FROM pg_temp.fs_ingest_silver_rows',
                               qrel, allcols);
                GET DIAGNOSTICS n_ins = ROW_COUNT;
                IF n_ins OPERATOR(pg_catalog.<>) silver.rows_changed THEN
                    RAISE EXCEPTION 'rows kept out' USING ERRCODE = 'FS001';
                END IF;
                n_upd := 0;
                PERFORM @extschema@.fs_ingest_record_state(vname, 'pg_temp.fs_ingest_silver_rows'::regclass,
                                                           'pg_temp.fs_ingest_silver_rows'::regclass);
            EXCEPTION WHEN SQLSTATE 'FS001' THEN
                fresh := false;
            END;
        END IF;
        IF NOT fresh THEN
            EXECUTE gold INTO n_ins, n_upd USING vname;
            PERFORM @extschema@.fs_ingest_record_state(vname, 'pg_temp.fs_ingest_silver_rows'::regclass,
                                                       'pg_temp.fs_ingest_written'::regclass);
        END IF;
    EXCEPTION WHEN integrity_constraint_violation THEN
        /*
         * A row breaks a constraint of the table (a CHECK, a foreign key,
         * another unique index), or another lane added a row to an empty
         * table: the statement wrote nothing.  Write a
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
                PERFORM @extschema@.fs_ingest_record_state(vname, 'pg_temp.fs_ingest_silver_rows'::regclass,
                                                           'pg_temp.fs_ingest_written'::regclass);
                DELETE FROM pg_temp.fs_ingest_written;
                n_ins := n_ins OPERATOR(pg_catalog.+) c_ins;
                n_upd := n_upd OPERATOR(pg_catalog.+) c_upd;
            EXCEPTION WHEN integrity_constraint_violation THEN
                FOREACH one IN ARRAY chunk LOOP
                    BEGIN
                        EXECUTE gold_some INTO c_ins, c_upd USING vname, ARRAY[one];
                        PERFORM @extschema@.fs_ingest_record_state(vname, 'pg_temp.fs_ingest_silver_rows'::regclass,
                                                                   'pg_temp.fs_ingest_written'::regclass);
                        DELETE FROM pg_temp.fs_ingest_written;
                        n_ins := n_ins OPERATOR(pg_catalog.+) c_ins;
                        n_upd := n_upd OPERATOR(pg_catalog.+) c_upd;
                    EXCEPTION WHEN integrity_constraint_violation THEN
                        GET STACKED DIAGNOSTICS why = MESSAGE_TEXT, wstate = RETURNED_SQLSTATE,
                                                wdetail = PG_EXCEPTION_DETAIL, cname = CONSTRAINT_NAME;
                        /*
                         * The detail too, as silver gives it, when it says
                         * what to fix: a key's ("Key (x)=(5) is not present
                         * in table ..."), not the row proposed ("Failing
                         * row contains (...)") of a CHECK or NOT NULL,
                         * which is our internal row, with NULL for every
                         * feature the source does not carry.
                         */
                        IF wdetail OPERATOR(pg_catalog.<>) ''
                           AND wstate OPERATOR(pg_catalog.<>) ALL (ARRAY['23514', '23502']) THEN
                            why := why OPERATOR(pg_catalog.||) '. ' OPERATOR(pg_catalog.||) wdetail;
                        END IF;
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
                            SELECT @extschema@.fs_ingest_add_reject($1,
                                       pg_catalog.format('%%s', s.%1$s), $2, %2$s, $3, s.fs_row)
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
    DROP TABLE pg_temp.fs_ingest_written;
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

    PERFORM @extschema@.fs_ingest_end_run(run, silver.rows_read,
        silver.rows_rejected OPERATOR(pg_catalog.+) n_rejected, n_stale, n_same,
        n_ins, n_upd, n_del, n_written, n_requests, n_wait,
        extract(epoch FROM t0 OPERATOR(pg_catalog.-) started) OPERATOR(pg_catalog.*) 1000,
        extract(epoch FROM t1 OPERATOR(pg_catalog.-) t0) OPERATOR(pg_catalog.*) 1000,
        extract(epoch FROM t2 OPERATOR(pg_catalog.-) t1) OPERATOR(pg_catalog.*) 1000);
    DROP TABLE pg_temp.fs_ingest_silver_rows;

    RETURN QUERY SELECT run, silver.rows_read, silver.rows_rejected OPERATOR(pg_catalog.+) n_rejected,
                        n_stale, n_same,
                        n_ins, n_upd, n_del, n_written;
END
$$;

/*
 * fs_on_sql_drop's warning reads alike for one feature service or several
 * that refer to a view dropped with its table.
 */
CREATE OR REPLACE FUNCTION @extschema@.fs_on_sql_drop()
RETURNS event_trigger LANGUAGE plpgsql
SECURITY DEFINER    -- any role's DROP must work, whatever it may see of this schema
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    dropped record;
    users   text;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_event_trigger_dropped_objects() d
                    WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                      AND d.objsubid OPERATOR(pg_catalog.=) 0) THEN
        RETURN;
    END IF;
    /* The catalog itself may be going away (DROP EXTENSION, DROP SCHEMA). */
    IF to_regclass('@extschema@.fs_feature_view') IS NULL THEN
        RETURN;
    END IF;
    FOR dropped IN
        DELETE FROM @extschema@.fs_feature_view v
         USING pg_catalog.pg_event_trigger_dropped_objects() d
         WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
           AND d.objsubid OPERATOR(pg_catalog.=) 0
           AND d.objid OPERATOR(pg_catalog.=) v.relation::pg_catalog.oid
        RETURNING v.name
    LOOP
        RAISE NOTICE 'feature view "%" was dropped with its table', dropped.name;
        DELETE FROM @extschema@.fs_ingest_state st
         WHERE st.feature_view OPERATOR(pg_catalog.=) dropped.name;
        users := (SELECT string_agg(s.name, ', ' ORDER BY s.name)
                    FROM @extschema@.fs_feature_service s
                   WHERE EXISTS (SELECT FROM unnest(s.feature_refs) r
                                  WHERE split_part(r, ':', 1) OPERATOR(pg_catalog.=) dropped.name));
        IF users IS NOT NULL THEN
            RAISE WARNING 'feature view "%" no longer exists, and feature services refer to it: %',
                          dropped.name, users
                USING HINT = 'Drop or re-register them.';
        END IF;
    END LOOP;
END
$$;

/*
 * Issue 11, item 10: a bad row inserted into the queue is refused by the
 * stamping trigger, now in C (src/stream.c), with an error that names the
 * column and the value and says what an event needs, before the table's
 * constraints would show its internal columns.
 */
CREATE OR REPLACE FUNCTION @extschema@.fs_stream_queue_stamp()
RETURNS trigger LANGUAGE c
AS 'MODULE_PATHNAME', 'fs_stream_queue_stamp';

/*
 * Issue 12, item 4: fs_get_feature_matrix serves numeric and boolean
 * features as one float8 array [entity][feature], with no jsonb on its path.
 */
CREATE FUNCTION @extschema@.fs_get_feature_matrix(entity_ids text[], feature_refs text[])
RETURNS float8[]
LANGUAGE c STABLE STRICT PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'fs_get_feature_matrix';

COMMENT ON FUNCTION @extschema@.fs_get_feature_matrix(text[], text[]) IS
    'Serve numeric and boolean features as one float8 array [entity][feature], rows in input order, columns in reference order; NULL where a value is not PRESENT';

/*
 * Issue 13: serving statistics in shared memory (fs_stats, fs_stats_reset)
 * and fs_metrics for a Prometheus scraper.
 */
CREATE FUNCTION @extschema@.fs_cache_status_internal(
    OUT size_bytes bigint, OUT used_bytes bigint, OUT entries bigint, OUT hits bigint,
    OUT misses bigint, OUT evictions bigint, OUT invalidations bigint)
RETURNS SETOF record LANGUAGE c
AS 'MODULE_PATHNAME', 'fs_cache_status_internal';

CREATE FUNCTION @extschema@.fs_cache_reset() RETURNS bigint LANGUAGE c
AS 'MODULE_PATHNAME', 'fs_cache_reset';
REVOKE ALL ON FUNCTION @extschema@.fs_cache_reset() FROM PUBLIC;

/* The cache of items read from DynamoDB-compatible stores: one row, when on. */
CREATE VIEW @extschema@.fs_cache_status AS
SELECT c.size_bytes, c.used_bytes, c.entries, c.hits, c.misses, c.evictions, c.invalidations
  FROM @extschema@.fs_cache_status_internal() c;
GRANT SELECT ON @extschema@.fs_cache_status TO PUBLIC;

CREATE FUNCTION @extschema@.fs_stats_internal(
    OUT feature_view text, OUT calls bigint, OUT entities bigint,
    OUT present bigint, OUT null_value bigint, OUT not_found bigint,
    OUT outside_max_age bigint, OUT unavailable bigint,
    OUT store_requests bigint, OUT retries bigint, OUT throttles bigint,
    OUT store_errors bigint, OUT cache_hits bigint, OUT cache_misses bigint,
    OUT total_ms double precision,
    OUT p50_ms double precision, OUT p95_ms double precision,
    OUT p99_ms double precision, OUT call_time_buckets bigint[],
    OUT stats_reset timestamptz)
RETURNS SETOF record LANGUAGE c
AS 'MODULE_PATHNAME', 'fs_stats_internal';

CREATE FUNCTION @extschema@.fs_stats_untracked() RETURNS bigint LANGUAGE c
AS 'MODULE_PATHNAME', 'fs_stats_untracked';

CREATE FUNCTION @extschema@.fs_stats_reset() RETURNS bigint LANGUAGE c
AS 'MODULE_PATHNAME', 'fs_stats_reset';
REVOKE ALL ON FUNCTION @extschema@.fs_stats_reset() FROM PUBLIC;

/* One row per registered feature view that has been served. */
CREATE VIEW @extschema@.fs_stats AS
SELECT s.feature_view, s.calls, s.entities, s.present, s.null_value, s.not_found,
       s.outside_max_age, s.unavailable, s.store_requests, s.retries, s.throttles,
       s.store_errors, s.cache_hits, s.cache_misses, s.total_ms, s.p50_ms, s.p95_ms, s.p99_ms,
       s.stats_reset
  FROM @extschema@.fs_stats_internal() s
 WHERE EXISTS (SELECT FROM @extschema@.fs_feature_view v
                WHERE v.name OPERATOR(pg_catalog.=) s.feature_view);
GRANT SELECT ON @extschema@.fs_stats TO PUBLIC;

/*
 * The figures of serving, the stream worker and ingestion in the Prometheus
 * text exposition format (0.0.4), for a scraper: names and counts only,
 * never a feature value, an entity id or an error text.  Families in a
 * fixed order, each HELP and TYPE line first, its samples by view.
 */
CREATE FUNCTION @extschema@.fs_metrics() RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
WITH s AS (
    SELECT i.*,
           'view="' || replace(replace(replace(i.feature_view, E'\\', E'\\\\'), '"', E'\\"'), E'\n', E'\\n')
               || '"' AS l
      FROM @extschema@.fs_stats_internal() i
     WHERE EXISTS (SELECT FROM @extschema@.fs_feature_view v WHERE v.name = i.feature_view)
), ing AS (
    SELECT 'view="' || replace(replace(replace(r.feature_view, E'\\', E'\\\\'), '"', E'\\"'), E'\n', E'\\n')
               || '"' AS l,
           r.feature_view,
           count(*) FILTER (WHERE r.status = 'succeeded') AS succeeded,
           count(*) FILTER (WHERE r.status = 'failed') AS failed,
           count(*) FILTER (WHERE r.status = 'running') AS running,
           coalesce(sum(r.rows_read), 0) AS rows_read,
           coalesce(sum(r.rows_rejected), 0) AS rows_rejected,
           coalesce(sum(r.online_writes), 0) AS online_writes,
           extract(epoch FROM max(r.finished_at) FILTER (WHERE r.status = 'succeeded')) AS last_success
      FROM @extschema@.fs_ingest_runs r
     GROUP BY r.feature_view
), st AS (
    SELECT * FROM @extschema@.fs_stream_status
), cs AS (
    -- the cache, when it is on (no NOTICE at every scrape when it is off)
    SELECT c.* FROM @extschema@.fs_cache_status_internal() c
     WHERE coalesce(current_setting('feature_store.cache_size', true), '0') NOT IN ('0', '0kB')
), fam(f, name, type, help) AS (VALUES
    (1, 'feature_store_serving_calls_total', 'counter', 'Serving calls that returned, per feature view (a call serving several views counts for each).'),
    (2, 'feature_store_serving_entities_total', 'counter', 'Entity ids asked of each feature view by the calls that returned.'),
    (3, 'feature_store_serving_values_total', 'counter', 'Values served per feature view and status (one per entity id and feature reference).'),
    (4, 'feature_store_serving_call_duration_seconds', 'histogram', 'Time of the serving calls that returned, per feature view.'),
    (5, 'feature_store_store_requests_total', 'counter', 'HTTP requests to DynamoDB-compatible stores per feature view, retries included.'),
    (6, 'feature_store_store_retries_total', 'counter', 'Requests to DynamoDB-compatible stores sent again, per feature view.'),
    (7, 'feature_store_store_throttles_total', 'counter', 'Throttling answers from DynamoDB-compatible stores, per feature view.'),
    (8, 'feature_store_store_errors_total', 'counter', 'Serving calls whose store failed for a feature view (raised, or served UNAVAILABLE).'),
    (9, 'feature_store_serving_untracked_calls_total', 'counter', 'Serving calls of every database not counted: feature_store.stats_max_views entries were in use.'),
    (10, 'feature_store_stream_queue_depth', 'gauge', 'Events in this database''s stream queue.'),
    (11, 'feature_store_stream_oldest_event_age_seconds', 'gauge', 'Age of the oldest queued event (0 when the queue is empty).'),
    (12, 'feature_store_stream_worker_up', 'gauge', 'Whether this database''s stream worker is running.'),
    (13, 'feature_store_stream_events_flushed_total', 'counter', 'Events the stream worker wrote since it started.'),
    (14, 'feature_store_stream_events_stale_total', 'counter', 'Events the stream worker found older than the stored value, since it started.'),
    (15, 'feature_store_stream_events_rejected_total', 'counter', 'Events the stream worker set aside in fs_stream_rejects, since it started.'),
    (16, 'feature_store_stream_failed_flushes_total', 'counter', 'Flushes of the stream worker that failed and were retried, since it started.'),
    (17, 'feature_store_ingest_runs_total', 'counter', 'Finished fs_ingest runs recorded in fs_ingest_runs, per feature view and status.'),
    (18, 'feature_store_ingest_runs_running', 'gauge', 'fs_ingest runs in progress, per feature view.'),
    (19, 'feature_store_ingest_rows_read_total', 'counter', 'Source rows read by the fs_ingest runs recorded, per feature view.'),
    (20, 'feature_store_ingest_rows_rejected_total', 'counter', 'Source rows rejected by the fs_ingest runs recorded, per feature view.'),
    (21, 'feature_store_ingest_online_writes_total', 'counter', 'Rows written to the online store by the fs_ingest runs recorded, per feature view.'),
    (22, 'feature_store_ingest_last_success_timestamp_seconds', 'gauge', 'When the last successful fs_ingest run of a feature view finished (Unix time).'),
    (23, 'feature_store_cache_hits_total', 'counter', 'Keys of a feature view the cache answered.'),
    (24, 'feature_store_cache_misses_total', 'counter', 'Keys of a cached feature view asked of the store.'),
    (25, 'feature_store_cache_size_bytes', 'gauge', 'Room for entries in the cache (feature_store.cache_size).'),
    (26, 'feature_store_cache_used_bytes', 'gauge', 'Bytes of the cache''s entries in use.'),
    (27, 'feature_store_cache_entries', 'gauge', 'Entries in the cache (of every database).'),
    (28, 'feature_store_cache_evictions_total', 'counter', 'Entries evicted to make room (of every database).'),
    (29, 'feature_store_cache_invalidations_total', 'counter', 'Entries dropped because a write through the extension changed their item (of every database).')
), sample(f, v, n, line) AS (
    -- one sample per view: the counters of fs_stats
    SELECT x.f, s.feature_view, 0, x.name || '{' || s.l || '} ' || x.val
      FROM s CROSS JOIN LATERAL (VALUES
               (1, 'feature_store_serving_calls_total', s.calls),
               (2, 'feature_store_serving_entities_total', s.entities),
               (5, 'feature_store_store_requests_total', s.store_requests),
               (6, 'feature_store_store_retries_total', s.retries),
               (7, 'feature_store_store_throttles_total', s.throttles),
               (8, 'feature_store_store_errors_total', s.store_errors),
               (23, 'feature_store_cache_hits_total', s.cache_hits),
               (24, 'feature_store_cache_misses_total', s.cache_misses)) x(f, name, val)
    UNION ALL
    SELECT 3, s.feature_view, x.n,
           'feature_store_serving_values_total{' || s.l || ',status="' || x.status || '"} ' || x.val
      FROM s CROSS JOIN LATERAL (VALUES (1, 'present', s.present), (2, 'null_value', s.null_value),
                                        (3, 'not_found', s.not_found),
                                        (4, 'outside_max_age', s.outside_max_age),
                                        (5, 'unavailable', s.unavailable)) x(n, status, val)
    UNION ALL
    -- the histogram: buckets under 2^k ms, k = -2 .. 14, then +Inf, sum, count
    SELECT 4, s.feature_view, b.k,
           'feature_store_serving_call_duration_seconds_bucket{' || s.l || ',le="'
               || trim_scale(2::numeric ^ (b.k - 3) / 1000) || '"} ' || b.calls
      FROM s CROSS JOIN LATERAL unnest(s.call_time_buckets) WITH ORDINALITY b(calls, k)
    UNION ALL
    SELECT 4, s.feature_view, 100 + x.n, 'feature_store_serving_call_duration_seconds_' || x.line
      FROM s CROSS JOIN LATERAL (VALUES
               (0, 'bucket{' || s.l || ',le="+Inf"} ' || s.calls),
               (1, 'sum{' || s.l || '} ' || (s.total_ms / 1000)),
               (2, 'count{' || s.l || '} ' || s.calls)) x(n, line)
    UNION ALL
    SELECT 9, '', 0, 'feature_store_serving_untracked_calls_total ' || u.n
      FROM @extschema@.fs_stats_untracked() u(n) WHERE u.n IS NOT NULL
    UNION ALL
    -- this database's stream worker: its counters only while it runs
    SELECT x.f, '', 0, x.name || ' ' || x.val
      FROM st CROSS JOIN LATERAL (VALUES
               (10, 'feature_store_stream_queue_depth', st.queue_depth::numeric),
               (11, 'feature_store_stream_oldest_event_age_seconds',
                coalesce(extract(epoch FROM st.oldest_event_age), 0)),
               (12, 'feature_store_stream_worker_up', (st.worker_pid IS NOT NULL)::int::numeric),
               (13, 'feature_store_stream_events_flushed_total', st.events_flushed),
               (14, 'feature_store_stream_events_stale_total', st.events_stale),
               (15, 'feature_store_stream_events_rejected_total', st.events_rejected),
               (16, 'feature_store_stream_failed_flushes_total', st.failed_flushes)) x(f, name, val)
     WHERE x.val IS NOT NULL
    UNION ALL
    -- ingestion, per view, from the runs recorded
    SELECT x.f, ing.feature_view, x.n, x.name || '{' || ing.l || x.status || '} ' || x.val
      FROM ing CROSS JOIN LATERAL (VALUES
               (17, 1, 'feature_store_ingest_runs_total', ',status="succeeded"', ing.succeeded::numeric),
               (17, 2, 'feature_store_ingest_runs_total', ',status="failed"', ing.failed),
               (18, 0, 'feature_store_ingest_runs_running', '', ing.running),
               (19, 0, 'feature_store_ingest_rows_read_total', '', ing.rows_read),
               (20, 0, 'feature_store_ingest_rows_rejected_total', '', ing.rows_rejected),
               (21, 0, 'feature_store_ingest_online_writes_total', '', ing.online_writes),
               (22, 0, 'feature_store_ingest_last_success_timestamp_seconds', '', ing.last_success))
             x(f, n, name, status, val)
     WHERE x.val IS NOT NULL
    UNION ALL
    -- the cache, of every database
    SELECT x.f, '', 0, x.name || ' ' || x.val
      FROM cs CROSS JOIN LATERAL (VALUES
               (25, 'feature_store_cache_size_bytes', cs.size_bytes),
               (26, 'feature_store_cache_used_bytes', cs.used_bytes),
               (27, 'feature_store_cache_entries', cs.entries),
               (28, 'feature_store_cache_evictions_total', cs.evictions),
               (29, 'feature_store_cache_invalidations_total', cs.invalidations)) x(f, name, val)
)
SELECT string_agg(x.line, E'\n' ORDER BY x.f, x.part, x.v COLLATE "C", x.n) || E'\n'
  FROM (SELECT fam.f, 0 AS part, '' AS v, 0 AS n,
               '# HELP ' || fam.name || ' ' || fam.help || E'\n# TYPE ' || fam.name || ' ' || fam.type AS line
          FROM fam
        UNION ALL
        SELECT sample.f, 1, sample.v, sample.n, sample.line FROM sample) x
$$;

COMMENT ON FUNCTION @extschema@.fs_stats_internal() IS
    'Internal: the serving statistics of this database''s feature views, from shared memory; read through view fs_stats and by fs_metrics';
COMMENT ON FUNCTION @extschema@.fs_stats_untracked() IS
    'Internal: serving calls (of every database) not counted because feature_store.stats_max_views entries were in use; read by fs_metrics';
COMMENT ON FUNCTION @extschema@.fs_stats_reset() IS
    'Forget this database''s serving statistics (fs_stats); returns how many feature views'' figures were removed; not granted to PUBLIC';
COMMENT ON VIEW @extschema@.fs_stats IS
    'Serving statistics per feature view of this database: calls, entities, values per status, store requests, retries, throttles and errors, call time total and percentiles';
COMMENT ON FUNCTION @extschema@.fs_metrics() IS
    'Serving, stream worker and ingestion figures in the Prometheus text exposition format, for a scraper such as postgres_exporter';
COMMENT ON FUNCTION @extschema@.fs_cache_status_internal() IS
    'Internal: the figures of the cache of items read from DynamoDB-compatible stores, from shared memory; read through view fs_cache_status and by fs_metrics';
COMMENT ON FUNCTION @extschema@.fs_cache_reset() IS
    'Forget this database''s entries of the cache of items read from DynamoDB-compatible stores; returns how many; not granted to PUBLIC';
COMMENT ON VIEW @extschema@.fs_cache_status IS
    'The cache of items read from DynamoDB-compatible stores (all databases): its size, bytes and entries in use, hits, misses, evictions and invalidations';

/*
 * History and training sets (docs/training.md): the catalog of views that
 * keep history, the triggers' function, fs_enable_history and its kin,
 * fs_get_features_as_of and fs_create_training_view; fs_on_sql_drop and
 * fs_check_drop_feature_view learn of history tables; feature_registry shows
 * whether a view keeps history.
 */
/*
 * Which views keep history (fs_enable_history), in which table, and for how
 * long.  A view's history goes when its registration does.
 */
CREATE TABLE @extschema@.fs_feature_history (
    feature_view  text PRIMARY KEY
                  REFERENCES @extschema@.fs_feature_view (name) ON DELETE CASCADE,
    history       regclass NOT NULL UNIQUE,
    retention     interval CHECK (retention OPERATOR(pg_catalog.>) '0 seconds'::interval),
    enabled_by    name NOT NULL DEFAULT CURRENT_USER,
    enabled_at    timestamptz NOT NULL DEFAULT pg_catalog.now()
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.fs_feature_history', '');
GRANT SELECT ON @extschema@.fs_feature_history TO PUBLIC;
ALTER TABLE @extschema@.fs_feature_history ENABLE ROW LEVEL SECURITY;
CREATE POLICY fs_feature_history_read ON @extschema@.fs_feature_history FOR SELECT USING (true);


CREATE OR REPLACE VIEW @extschema@.feature_registry AS
SELECT v.name                                           AS feature_view,
       a.attname::text                                  AS feature,
       pg_catalog.format_type(a.atttypid, a.atttypmod)  AS type,
       v.entity                                         AS entity,
       e.join_key::text                                 AS join_key,
       CASE WHEN c.relkind OPERATOR(pg_catalog.=) 'f' THEN s.srvname::text
            ELSE 'local' END                            AS store,
       v.relation                                       AS relation,
       v.ttl                                            AS ttl,
       coalesce(pg_catalog.col_description(v.relation, a.attnum),
                v.description)                          AS description,
       v.owner                                          AS owner,
       v.tags                                           AS tags,
       h.feature_view IS NOT NULL                       AS history,
       h.retention                                      AS history_retention
  FROM @extschema@.fs_feature_view v
  JOIN @extschema@.fs_entity e ON e.name OPERATOR(pg_catalog.=) v.entity
  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) v.relation
  JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) v.relation
       AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
       AND a.attname OPERATOR(pg_catalog.<>) e.join_key
       AND a.attname OPERATOR(pg_catalog.<>) v.event_time_column
  LEFT JOIN pg_catalog.pg_foreign_table ft ON ft.ftrelid OPERATOR(pg_catalog.=) c.oid
  LEFT JOIN pg_catalog.pg_foreign_server s ON s.oid OPERATOR(pg_catalog.=) ft.ftserver
  LEFT JOIN @extschema@.fs_feature_history h ON h.feature_view OPERATOR(pg_catalog.=) v.name
 ORDER BY v.name, a.attnum;

CREATE OR REPLACE FUNCTION @extschema@.fs_on_sql_drop()
RETURNS event_trigger LANGUAGE plpgsql
SECURITY DEFINER    -- any role's DROP must work, whatever it may see of this schema
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    dropped record;
    users   text;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_event_trigger_dropped_objects() d
                    WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                      AND d.objsubid OPERATOR(pg_catalog.=) 0) THEN
        RETURN;
    END IF;
    /* The catalog itself may be going away (DROP EXTENSION, DROP SCHEMA). */
    IF to_regclass('@extschema@.fs_feature_view') IS NULL THEN
        RETURN;
    END IF;
    FOR dropped IN
        DELETE FROM @extschema@.fs_feature_view v
         USING pg_catalog.pg_event_trigger_dropped_objects() d
         WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
           AND d.objsubid OPERATOR(pg_catalog.=) 0
           AND d.objid OPERATOR(pg_catalog.=) v.relation::pg_catalog.oid
        RETURNING v.name
    LOOP
        RAISE NOTICE 'feature view "%" was dropped with its table', dropped.name;
        DELETE FROM @extschema@.fs_ingest_state st
         WHERE st.feature_view OPERATOR(pg_catalog.=) dropped.name;
        users := (SELECT string_agg(s.name, ', ' ORDER BY s.name)
                    FROM @extschema@.fs_feature_service s
                   WHERE EXISTS (SELECT FROM unnest(s.feature_refs) r
                                  WHERE split_part(r, ':', 1) OPERATOR(pg_catalog.=) dropped.name));
        IF users IS NOT NULL THEN
            RAISE WARNING 'feature view "%" no longer exists, and feature services refer to it: %',
                          dropped.name, users
                USING HINT = 'Drop or re-register them.';
        END IF;
    END LOOP;
    FOR dropped IN
        DELETE FROM @extschema@.fs_feature_history h
         USING pg_catalog.pg_event_trigger_dropped_objects() d
         WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
           AND d.objsubid OPERATOR(pg_catalog.=) 0
           AND d.objid OPERATOR(pg_catalog.=) h.history::pg_catalog.oid
        RETURNING h.feature_view AS name
    LOOP
        RAISE NOTICE 'feature view "%" keeps no history from now on: its history table was dropped', dropped.name
            USING HINT = format('Call fs_enable_history(%L) to keep it again.', dropped.name);
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.fs_check_drop_feature_view(name text)
RETURNS boolean LANGUAGE plpgsql
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
    IF EXISTS (SELECT FROM @extschema@.fs_feature_history h
                WHERE h.feature_view OPERATOR(pg_catalog.=) $1) THEN
        RAISE EXCEPTION 'cannot drop feature view "%" because it keeps history', name
            USING ERRCODE = '2BP01',
                  HINT = format('Call fs_disable_history(%L) first; with drop_history => true it drops the history table too.', name);
    END IF;
    RETURN true;
END
$$;

/*
 * History and training sets (docs/training.md)
 *
 * A view with history keeps every version of its rows in a history table
 * beside its table (fs_enable_history): the entity, the event time, when the
 * version was recorded (fs_recorded_at) and in which order (fs_version),
 * whether it says the entity is gone (fs_deleted), and the features.
 * Statement triggers on the view's table write the versions, in the
 * transaction of the write, whatever lane or role wrote it.
 */

/* Record (or change) a view's history table and retention; as its owner. */
CREATE FUNCTION @extschema@.fs_record_history(feature_view text, history regclass,
                                              retention interval)
RETURNS regclass LANGUAGE c AS 'MODULE_PATHNAME', 'fs_record_history';

/* Forget a view's history table. */
CREATE FUNCTION @extschema@.fs_forget_history(feature_view text)
RETURNS void LANGUAGE c AS 'MODULE_PATHNAME', 'fs_forget_history';

/*
 * The columns a view's table and its history table share by name, apart
 * from the key and the event time, each quoted and prefixed: what the
 * triggers copy.  ALTER TABLE of the view's table changes it at once.
 */
CREATE FUNCTION @extschema@.fs_history_columns(rel regclass, history regclass,
                                               join_key name, event_time_column name,
                                               prefix text)
RETURNS text LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(string_agg(', ' OPERATOR(pg_catalog.||) prefix
                               OPERATOR(pg_catalog.||) quote_ident(a.attname), ''
                               ORDER BY a.attnum), '')
      FROM pg_catalog.pg_attribute a
      JOIN pg_catalog.pg_attribute b ON b.attrelid OPERATOR(pg_catalog.=) history
           AND b.attname OPERATOR(pg_catalog.=) a.attname
           AND b.attnum OPERATOR(pg_catalog.>) 0 AND NOT b.attisdropped
     WHERE a.attrelid OPERATOR(pg_catalog.=) rel
       AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
       AND a.attname OPERATOR(pg_catalog.<>) join_key
       AND a.attname OPERATOR(pg_catalog.<>) event_time_column
       AND a.attname OPERATOR(pg_catalog.<>) ALL (ARRAY['fs_recorded_at', 'fs_version', 'fs_deleted']::name[])
$$;

/*
 * The statement triggers of a view's table (fs_history_insert, _update,
 * _delete, _truncate): write the statement's versions into the view's
 * history table (src/history.c).
 */
CREATE FUNCTION @extschema@.fs_history_capture()
RETURNS trigger LANGUAGE c AS 'MODULE_PATHNAME', 'fs_history_capture';

/*
 * Turn history on for a view, or bring it up to date with its table:
 * create the history table (or keep it), add columns the view's table
 * gained, grant on it what the table grants, put the triggers on the table
 * and record a version of each row the history does not already end with.
 */
CREATE FUNCTION @extschema@.fs_enable_history(feature_view text, retention interval DEFAULT NULL)
RETURNS regclass LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v        record;
    hist     regclass;
    hname    text;
    cols     text;
    tcols    text;
    lcols    text;
    col      record;
    g        record;
    seq      text;
BEGIN
    SELECT fv.name, fv.relation, e.join_key, fv.event_time_column, c.relkind,
           c.relnamespace::pg_catalog.regnamespace::pg_catalog.text AS nsp, c.relname, c.relowner
      INTO v
      FROM @extschema@.fs_feature_view fv
      JOIN @extschema@.fs_entity e ON e.name OPERATOR(pg_catalog.=) fv.entity
      JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) fv.relation
     WHERE fv.name OPERATOR(pg_catalog.=) $1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'feature view "%" does not exist', $1 USING ERRCODE = '42704';
    END IF;
    IF NOT @extschema@.fs_owns_relation(v.relation, false) THEN
        RAISE EXCEPTION 'must be owner of table %', v.relation USING ERRCODE = '42501';
    END IF;
    IF $2 IS NOT NULL AND $2 OPERATOR(pg_catalog.<=) '0 seconds'::interval THEN
        RAISE EXCEPTION 'retention must be positive, not %', $2 USING ERRCODE = '22023';
    END IF;
    IF v.relkind OPERATOR(pg_catalog.<>) ALL (ARRAY['r', 'f']::"char"[]) THEN
        RAISE EXCEPTION 'history of feature view "%" is not supported: its relation % is neither a table nor a foreign table',
                        v.name, v.relation
            USING ERRCODE = '0A000';
    END IF;
    IF EXISTS (SELECT FROM pg_catalog.pg_attribute a
                WHERE a.attrelid OPERATOR(pg_catalog.=) v.relation AND NOT a.attisdropped
                  AND a.attname OPERATOR(pg_catalog.=) ANY (ARRAY['fs_recorded_at', 'fs_version', 'fs_deleted']::name[])) THEN
        RAISE EXCEPTION 'table % has a column named fs_recorded_at, fs_version or fs_deleted', v.relation
            USING ERRCODE = '42701',
                  DETAIL = 'Its history table needs those names for its own columns.';
    END IF;

    /*
     * Writers wait until the table's history is complete and its triggers
     * are on.  (A foreign table cannot be locked: a write to the store while
     * this runs may miss its first version until the entity is written again.)
     */
    IF v.relkind OPERATOR(pg_catalog.=) 'r' THEN
        EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', v.relation);
    END IF;

    SELECT fh.history INTO hist FROM @extschema@.fs_feature_history fh
     WHERE fh.feature_view OPERATOR(pg_catalog.=) v.name;
    IF hist IS NULL OR to_regclass(hist::text) IS NULL THEN
        hname := left(v.relname, 55) OPERATOR(pg_catalog.||) '_history';
        hist := to_regclass(format('%s.%I', v.nsp, hname));
        /*
         * A table of that name is taken as the view's history only if it
         * looks like one, belongs to the table's owner, has no trigger, and
         * is no other view's.
         */
        IF hist IS NOT NULL AND
           ((SELECT count(*) FROM pg_catalog.pg_attribute a
              WHERE a.attrelid OPERATOR(pg_catalog.=) hist AND NOT a.attisdropped
                AND a.attname OPERATOR(pg_catalog.=) ANY (ARRAY[v.join_key, v.event_time_column,
                    'fs_recorded_at', 'fs_version', 'fs_deleted']::name[])) OPERATOR(pg_catalog.<>) 5
            OR (SELECT c.relowner OPERATOR(pg_catalog.<>) v.relowner OR c.relkind OPERATOR(pg_catalog.<>) 'r'
                  FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) hist)
            OR EXISTS (SELECT FROM pg_catalog.pg_trigger tg WHERE tg.tgrelid OPERATOR(pg_catalog.=) hist)
            OR EXISTS (SELECT FROM @extschema@.fs_feature_history fh
                        WHERE fh.history OPERATOR(pg_catalog.=) hist)) THEN
            RAISE EXCEPTION 'relation % already exists and is not a history table', hist
                USING ERRCODE = '42P07',
                      DETAIL = 'A history table has the view''s key and event time and fs_recorded_at, fs_version and fs_deleted, belongs to the owner of the view''s table, has no trigger and is no other view''s.',
                      HINT = 'Rename or drop it; the history of a view''s table is kept in <table>_history beside it.';
        END IF;
        IF hist IS NULL THEN
            SELECT format('%I %s NOT NULL', a.attname, format_type(a.atttypid, a.atttypmod))
                   OPERATOR(pg_catalog.||) CASE WHEN a.attcollation OPERATOR(pg_catalog.<>) 0
                        AND a.attcollation OPERATOR(pg_catalog.<>) t.typcollation
                        THEN format(' COLLATE %s', a.attcollation::regcollation) ELSE '' END
              INTO cols
              FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) a.atttypid
             WHERE a.attrelid OPERATOR(pg_catalog.=) v.relation
               AND a.attname OPERATOR(pg_catalog.=) v.join_key;
            EXECUTE format('CREATE TABLE %s.%I (%s, %I timestamptz, '
                           'fs_recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(), '
                           'fs_version bigint GENERATED ALWAYS AS IDENTITY, '
                           'fs_deleted boolean NOT NULL DEFAULT false)',
                           v.nsp, hname, cols, v.event_time_column);
            hist := format('%s.%I', v.nsp, hname)::regclass;
            EXECUTE format('CREATE INDEX ON %s (%I, %I DESC, fs_version DESC)',
                           hist, v.join_key, v.event_time_column);
            EXECUTE format('COMMENT ON TABLE %s IS %L', hist,
                           format('History of feature view "%s": every version of its rows (fs_enable_history)', v.name));
        END IF;
    END IF;

    /* Features the history table lacks: columns added to the view's table. */
    FOR col IN
        SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type,
               CASE WHEN a.attcollation OPERATOR(pg_catalog.<>) 0
                     AND a.attcollation OPERATOR(pg_catalog.<>) t.typcollation
                    THEN format(' COLLATE %s', a.attcollation::regcollation) ELSE '' END AS coll
          FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) a.atttypid
         WHERE a.attrelid OPERATOR(pg_catalog.=) v.relation AND a.attnum OPERATOR(pg_catalog.>) 0
           AND NOT a.attisdropped
           AND a.attname OPERATOR(pg_catalog.<>) ALL (ARRAY[v.join_key, v.event_time_column]::name[])
           AND NOT EXISTS (SELECT FROM pg_catalog.pg_attribute b
                            WHERE b.attrelid OPERATOR(pg_catalog.=) hist AND NOT b.attisdropped
                              AND b.attname OPERATOR(pg_catalog.=) a.attname)
         ORDER BY a.attnum
    LOOP
        EXECUTE format('ALTER TABLE %s ADD COLUMN %I %s%s', hist, col.attname, col.type, col.coll);
    END LOOP;

    /* The history belongs to the table's owner, and is readable by its readers. */
    IF (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) hist)
       OPERATOR(pg_catalog.<>) v.relowner THEN
        EXECUTE format('ALTER TABLE %s OWNER TO %I', hist, pg_catalog.pg_get_userbyid(v.relowner));
    END IF;
    seq := pg_catalog.pg_get_serial_sequence(hist::text, 'fs_version');
    FOR g IN
        SELECT CASE WHEN u.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                    ELSE quote_ident(pg_catalog.pg_get_userbyid(u.grantee)) END AS who
          FROM (SELECT x.grantee
                  FROM pg_catalog.pg_class c, aclexplode(c.relacl) x
                 WHERE c.oid OPERATOR(pg_catalog.=) hist AND x.grantee OPERATOR(pg_catalog.<>) v.relowner
                UNION
                SELECT x.grantee
                  FROM pg_catalog.pg_attribute a, aclexplode(a.attacl) x
                 WHERE a.attrelid OPERATOR(pg_catalog.=) hist) u
    LOOP
        EXECUTE format('REVOKE ALL ON %s FROM %s', hist, g.who);
        EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM %s', seq, g.who);
    END LOOP;
    FOR g IN
        SELECT CASE WHEN u.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                    ELSE quote_ident(pg_catalog.pg_get_userbyid(u.grantee)) END AS who,
               u.privilege_type, u.col
          FROM (SELECT x.grantee, x.privilege_type, NULL::name AS col
                  FROM pg_catalog.pg_class c, aclexplode(c.relacl) x
                 WHERE c.oid OPERATOR(pg_catalog.=) v.relation AND x.grantee OPERATOR(pg_catalog.<>) v.relowner
                UNION ALL
                SELECT x.grantee, x.privilege_type, a.attname
                  FROM pg_catalog.pg_attribute a, aclexplode(a.attacl) x
                 WHERE a.attrelid OPERATOR(pg_catalog.=) v.relation AND NOT a.attisdropped
                   AND EXISTS (SELECT FROM pg_catalog.pg_attribute b
                                WHERE b.attrelid OPERATOR(pg_catalog.=) hist AND NOT b.attisdropped
                                  AND b.attname OPERATOR(pg_catalog.=) a.attname)) u
    LOOP
        /*
         * A column grant reaches the same column of the history, and its
         * bookkeeping.  Writers get nothing: versions are written as the
         * history's owner, so that no one else can write one.
         */
        IF g.privilege_type OPERATOR(pg_catalog.=) 'SELECT' THEN
            EXECUTE format('GRANT SELECT %s ON %s TO %s',
                           CASE WHEN g.col IS NULL THEN ''
                                ELSE format('(%I, fs_recorded_at, fs_version, fs_deleted)', g.col) END,
                           hist, g.who);
        END IF;
    END LOOP;

    /* The triggers. */
    FOR g IN
        SELECT tg.tgname FROM pg_catalog.pg_trigger tg
         WHERE tg.tgrelid OPERATOR(pg_catalog.=) v.relation
           AND tg.tgname OPERATOR(pg_catalog.=) ANY (ARRAY['fs_history_insert', 'fs_history_update',
                                                          'fs_history_delete', 'fs_history_truncate'])
    LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', g.tgname, v.relation);
    END LOOP;
    IF v.relkind OPERATOR(pg_catalog.=) 'r' THEN
        EXECUTE format('CREATE TRIGGER fs_history_insert AFTER INSERT ON %s '
                       'REFERENCING NEW TABLE AS fs_new FOR EACH STATEMENT '
                       'EXECUTE FUNCTION @extschema@.fs_history_capture()', v.relation);
        EXECUTE format('CREATE TRIGGER fs_history_update AFTER UPDATE ON %s '
                       'REFERENCING OLD TABLE AS fs_old NEW TABLE AS fs_new FOR EACH STATEMENT '
                       'EXECUTE FUNCTION @extschema@.fs_history_capture()', v.relation);
        EXECUTE format('CREATE TRIGGER fs_history_delete AFTER DELETE ON %s '
                       'REFERENCING OLD TABLE AS fs_old FOR EACH STATEMENT '
                       'EXECUTE FUNCTION @extschema@.fs_history_capture()', v.relation);
        EXECUTE format('CREATE TRIGGER fs_history_truncate BEFORE TRUNCATE ON %s '
                       'FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.fs_history_capture()',
                       v.relation);
    ELSE
        /*
         * A foreign table has no transition tables: each row written through
         * it is read back from the store (the lanes record their own writes).
         */
        EXECUTE format('CREATE TRIGGER fs_history_insert AFTER INSERT ON %s FOR EACH ROW '
                       'EXECUTE FUNCTION @extschema@.fs_history_capture()', v.relation);
        EXECUTE format('CREATE TRIGGER fs_history_update AFTER UPDATE ON %s FOR EACH ROW '
                       'EXECUTE FUNCTION @extschema@.fs_history_capture()', v.relation);
        EXECUTE format('CREATE TRIGGER fs_history_delete AFTER DELETE ON %s FOR EACH ROW '
                       'EXECUTE FUNCTION @extschema@.fs_history_capture()', v.relation);
    END IF;

    /*
     * What the history does not end with: each row whose latest version
     * differs, and each entity whose latest version is a row no longer there.
     */
    tcols := @extschema@.fs_history_columns(v.relation, hist, v.join_key, v.event_time_column, 't.');
    lcols := @extschema@.fs_history_columns(v.relation, hist, v.join_key, v.event_time_column, 'l.');
    cols := @extschema@.fs_history_columns(v.relation, hist, v.join_key, v.event_time_column, '');
    EXECUTE format('INSERT INTO %1$s (%2$I, %3$I%4$s) '
                   'SELECT t.%2$I, t.%3$I%5$s FROM %6$s t '
                   'LEFT JOIN LATERAL (SELECT * FROM %1$s h WHERE h.%2$I OPERATOR(pg_catalog.=) t.%2$I '
                   'ORDER BY h.%3$I DESC NULLS LAST, h.fs_version DESC LIMIT 1) l ON true '
                   'WHERE l.fs_deleted IS NOT false '
                   'OR NOT pg_catalog.record_image_eq(ROW(l.%3$I%7$s), ROW(t.%3$I%5$s))',
                   hist, v.join_key, v.event_time_column, cols, tcols, v.relation, lcols);
    EXECUTE format('INSERT INTO %1$s (%2$I, %3$I, fs_deleted) '
                   'SELECT l.%2$I, greatest(l.%3$I, now()), true '
                   'FROM (SELECT DISTINCT ON (h.%2$I) h.%2$I, h.%3$I, h.fs_deleted FROM %1$s h '
                   'ORDER BY h.%2$I, h.%3$I DESC NULLS LAST, h.fs_version DESC) l '
                   'WHERE NOT l.fs_deleted AND NOT EXISTS (SELECT FROM %4$s t '
                   'WHERE t.%2$I OPERATOR(pg_catalog.=) l.%2$I)',
                   hist, v.join_key, v.event_time_column, v.relation);

    RETURN @extschema@.fs_record_history(v.name, hist, $2);
END
$$;

/* Turn history off: the triggers go; the history table stays, or is dropped. */
CREATE FUNCTION @extschema@.fs_disable_history(feature_view text, drop_history boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rel  regclass;
    hist regclass;
    trig name;
BEGIN
    SELECT fv.relation, fh.history INTO rel, hist
      FROM @extschema@.fs_feature_view fv
      LEFT JOIN @extschema@.fs_feature_history fh ON fh.feature_view OPERATOR(pg_catalog.=) fv.name
     WHERE fv.name OPERATOR(pg_catalog.=) $1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'feature view "%" does not exist', $1 USING ERRCODE = '42704';
    END IF;
    IF NOT @extschema@.fs_owns_relation(rel, false) THEN
        RAISE EXCEPTION 'must be owner of table %', rel USING ERRCODE = '42501';
    END IF;
    IF hist IS NULL THEN
        RAISE NOTICE 'feature view "%" keeps no history, skipping', $1;
        RETURN;
    END IF;
    FOR trig IN
        SELECT tg.tgname FROM pg_catalog.pg_trigger tg
         WHERE tg.tgrelid OPERATOR(pg_catalog.=) rel
           AND tg.tgname OPERATOR(pg_catalog.=) ANY (ARRAY['fs_history_insert', 'fs_history_update',
                                                          'fs_history_delete', 'fs_history_truncate'])
    LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', trig, rel);
    END LOOP;
    PERFORM @extschema@.fs_forget_history($1);
    IF drop_history AND to_regclass(hist::text) IS NOT NULL THEN
        EXECUTE format('DROP TABLE %s', hist);
    END IF;
END
$$;

/*
 * Purge versions older than their view's retention that no as-of question
 * inside it can reach: every version but the latest one at the window's
 * start, and that one too when it says the entity was gone.  Views whose
 * history the caller does not own are left alone.  Returns how many went.
 */
CREATE FUNCTION @extschema@.fs_purge_history(feature_view text DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v       record;
    n       bigint;
    total   bigint := 0;
BEGIN
    IF $1 IS NOT NULL AND NOT EXISTS (SELECT FROM @extschema@.fs_feature_history fh
                                       WHERE fh.feature_view OPERATOR(pg_catalog.=) $1) THEN
        RAISE EXCEPTION 'feature view "%" keeps no history', $1
            USING ERRCODE = '55000',
                  HINT = format('Call fs_enable_history(%L) to keep it.', $1);
    END IF;
    FOR v IN
        SELECT fh.feature_view, fh.history, fh.retention, e.join_key, fv.event_time_column
          FROM @extschema@.fs_feature_history fh
          JOIN @extschema@.fs_feature_view fv ON fv.name OPERATOR(pg_catalog.=) fh.feature_view
          JOIN @extschema@.fs_entity e ON e.name OPERATOR(pg_catalog.=) fv.entity
         WHERE ($1 IS NULL OR fh.feature_view OPERATOR(pg_catalog.=) $1)
           AND fh.retention IS NOT NULL
           AND to_regclass(fh.history::text) IS NOT NULL
           AND ($1 IS NOT NULL OR @extschema@.fs_owns_relation(fh.history, false))
         ORDER BY fh.feature_view
    LOOP
        EXECUTE format('DELETE FROM %1$s h WHERE h.%3$I OPERATOR(pg_catalog.<=) $1 AND '
                       '(h.fs_deleted OR EXISTS (SELECT FROM %1$s n '
                       'WHERE n.%2$I OPERATOR(pg_catalog.=) h.%2$I '
                       'AND n.%3$I OPERATOR(pg_catalog.<=) $1 '
                       'AND (n.%3$I, n.fs_version) OPERATOR(pg_catalog.>) (h.%3$I, h.fs_version))) '
                       'OR (h.%3$I IS NULL AND h.fs_recorded_at OPERATOR(pg_catalog.<) $1)',
                       v.history, v.join_key, v.event_time_column)
            USING now() OPERATOR(pg_catalog.-) v.retention;
        GET DIAGNOSTICS n = ROW_COUNT;
        total := total OPERATOR(pg_catalog.+) n;
    END LOOP;
    RETURN total;
END
$$;

/* Serve features as they were at a past time, from their views' history. */
CREATE FUNCTION @extschema@.fs_get_features_as_of(entity_ids text[], feature_refs text[],
                                                  as_of timestamptz)
RETURNS TABLE (entity_id text, feature_ref text, value jsonb,
               event_time timestamptz, status text)
LANGUAGE c STABLE STRICT AS 'MODULE_PATHNAME', 'fs_get_features_as_of';

/*
 * Create a training view: the spine's columns, then each feature's value as
 * of each spine row's timestamp, from its view's history.  The views' ttls
 * are read now, into the view's definition.
 */
CREATE FUNCTION @extschema@.fs_create_training_view(name text, spine regclass, feature_refs text[],
    entity_column name DEFAULT NULL, timestamp_column name DEFAULT 'event_timestamp')
RETURNS regclass LANGUAGE plpgsql
AS $$
DECLARE
    target   text[];
    qname    text;
    ent      text;
    key      name;
    keytype  oid;
    ecol     record;
    tcol     record;
    r        record;
    sel      text := '';
    joins    text := '';
    seen     text[] := '{}';
    colname  text;
    feat     name;
    n        int := 0;
    created  regclass;
BEGIN
    target := pg_catalog.parse_ident(name);
    IF pg_catalog.array_length(target, 1) OPERATOR(pg_catalog.>) 2 THEN
        RAISE EXCEPTION 'improper training view name "%"', name USING ERRCODE = '42601';
    END IF;
    SELECT pg_catalog.string_agg(pg_catalog.quote_ident(p), '.') INTO qname
      FROM pg_catalog.unnest(target) p;

    /* The features, with the same errors as serving. */
    SELECT pg_catalog.min(x.entity) INTO ent FROM @extschema@.fs_resolve_refs(feature_refs) x;
    IF ent IS NULL THEN
        RAISE EXCEPTION 'a training view needs at least one feature' USING ERRCODE = '22023';
    END IF;
    SELECT e.join_key INTO key FROM @extschema@.fs_entity e WHERE e.name OPERATOR(pg_catalog.=) ent;

    SELECT a.attname, a.atttypid INTO ecol FROM pg_catalog.pg_attribute a
     WHERE a.attrelid OPERATOR(pg_catalog.=) spine AND a.attnum OPERATOR(pg_catalog.>) 0
       AND NOT a.attisdropped AND a.attname OPERATOR(pg_catalog.=) coalesce(entity_column, key);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of the entity does not exist in spine %', coalesce(entity_column, key), spine
            USING ERRCODE = '42703',
                  HINT = 'Name the spine''s entity column with entity_column.';
    END IF;
    SELECT a.attname, a.atttypid INTO tcol FROM pg_catalog.pg_attribute a
     WHERE a.attrelid OPERATOR(pg_catalog.=) spine AND a.attnum OPERATOR(pg_catalog.>) 0
       AND NOT a.attisdropped AND a.attname OPERATOR(pg_catalog.=) timestamp_column;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'timestamp column "%" does not exist in spine %', timestamp_column, spine
            USING ERRCODE = '42703',
                  HINT = 'Name the spine''s timestamp column with timestamp_column.';
    END IF;
    IF tcol.atttypid OPERATOR(pg_catalog.<>) 'pg_catalog.timestamptz'::pg_catalog.regtype THEN
        RAISE EXCEPTION 'timestamp column "%" of spine % is of type %, not timestamp with time zone',
                        tcol.attname, spine, tcol.atttypid::pg_catalog.regtype
            USING ERRCODE = '42804',
                  HINT = CASE WHEN tcol.atttypid OPERATOR(pg_catalog.=) 'pg_catalog.timestamp'::pg_catalog.regtype
                         THEN 'A timestamp without time zone names no point in time; convert it in a view over the spine, e.g. with AT TIME ZONE ''UTC''.'
                         ELSE 'Convert it to timestamptz in a view over the spine.' END;
    END IF;

    FOR r IN
        SELECT x.feature_view, fh.history, fv.ttl, fv.event_time_column,
               pg_catalog.array_agg(x.feature ORDER BY x.ord) AS features
          FROM @extschema@.fs_resolve_refs(feature_refs) WITH ORDINALITY x(feature_ref, feature_view, feature, type, entity, ord)
          JOIN @extschema@.fs_feature_view fv ON fv.name OPERATOR(pg_catalog.=) x.feature_view
          LEFT JOIN @extschema@.fs_feature_history fh ON fh.feature_view OPERATOR(pg_catalog.=) x.feature_view
         GROUP BY x.feature_view, fh.history, fv.ttl, fv.event_time_column
         ORDER BY pg_catalog.min(x.ord)
    LOOP
        IF r.history IS NULL OR pg_catalog.to_regclass(r.history::text) IS NULL THEN
            RAISE EXCEPTION 'feature view "%" keeps no history', r.feature_view
                USING ERRCODE = '55000',
                      HINT = pg_catalog.format('Call fs_enable_history(%L) to keep it from now on.', r.feature_view);
        END IF;
        n := n OPERATOR(pg_catalog.+) 1;
        SELECT a.atttypid INTO keytype FROM pg_catalog.pg_attribute a
         WHERE a.attrelid OPERATOR(pg_catalog.=) r.history AND a.attname OPERATOR(pg_catalog.=) key;
        joins := joins OPERATOR(pg_catalog.||) pg_catalog.format(
            E'\n  LEFT JOIN LATERAL (SELECT %s FROM %s h'
            '\n                      WHERE h.%I OPERATOR(pg_catalog.=) s.%I%s'
            '\n                        AND h.%I OPERATOR(pg_catalog.<=) s.%I%s'
            '\n                      ORDER BY h.%I DESC, h.fs_version DESC LIMIT 1) t%s ON true',
            (SELECT pg_catalog.string_agg(DISTINCT pg_catalog.format('h.%I', f), ', ')
               FROM pg_catalog.unnest(r.features) f),
            r.history, key, ecol.attname,
            CASE WHEN ecol.atttypid OPERATOR(pg_catalog.=) keytype THEN ''
                 ELSE pg_catalog.format('::%s', keytype::pg_catalog.regtype) END,
            r.event_time_column, tcol.attname,
            CASE WHEN r.ttl IS NULL THEN ''
                 ELSE pg_catalog.format(E'\n                        AND h.%I OPERATOR(pg_catalog.>=) (s.%I OPERATOR(pg_catalog.-) %L::interval)',
                                        r.event_time_column, tcol.attname, r.ttl) END,
            r.event_time_column, n);
        FOR colname, feat IN
            SELECT r.feature_view OPERATOR(pg_catalog.||) '__' OPERATOR(pg_catalog.||) f, f
              FROM pg_catalog.unnest(r.features) f
        LOOP
            IF NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
                            WHERE a.attrelid OPERATOR(pg_catalog.=) r.history AND NOT a.attisdropped
                              AND a.attname OPERATOR(pg_catalog.=) feat) THEN
                RAISE EXCEPTION 'history of feature view "%" has no feature "%"', r.feature_view, feat
                    USING ERRCODE = '55000',
                          HINT = pg_catalog.format('Call fs_enable_history(%L) to bring its history up to date with its table.', r.feature_view);
            END IF;
            IF colname OPERATOR(pg_catalog.=) ANY (seen) THEN
                CONTINUE;
            END IF;
            IF pg_catalog.octet_length(colname) OPERATOR(pg_catalog.>) 63 THEN
                RAISE EXCEPTION 'column name "%" of the training view is too long', colname
                    USING ERRCODE = '42622',
                          DETAIL = 'Column names are at most 63 bytes.',
                          HINT = 'Use a shorter feature view or feature name.';
            END IF;
            IF EXISTS (SELECT FROM pg_catalog.pg_attribute a
                        WHERE a.attrelid OPERATOR(pg_catalog.=) spine AND a.attnum OPERATOR(pg_catalog.>) 0
                          AND NOT a.attisdropped AND a.attname OPERATOR(pg_catalog.=) colname) THEN
                RAISE EXCEPTION 'column "%" of the training view is also a column of spine %', colname, spine
                    USING ERRCODE = '42701',
                          HINT = 'Rename the spine''s column in a view over it.';
            END IF;
            seen := seen OPERATOR(pg_catalog.||) colname;
            sel := sel OPERATOR(pg_catalog.||) pg_catalog.format(E',\n       t%s.%I AS %I', n, feat, colname);
        END LOOP;
    END LOOP;

    /*
     * The spine in (entity, timestamp) order: each probe then reads the
     * index pages and rows the one before it read.
     */
    EXECUTE pg_catalog.format(E'CREATE VIEW %s WITH (security_invoker = true) AS\nSELECT s.*%s\n  FROM (SELECT * FROM %s ORDER BY %I, %I) s%s',
                              qname, sel, spine, ecol.attname, tcol.attname, joins);
    created := qname::regclass;
    EXECUTE pg_catalog.format('COMMENT ON VIEW %s IS %L', created,
        pg_catalog.format('Training view: spine %s with features %s as of each row''s %s (fs_create_training_view)',
                          spine, feature_refs::text, tcol.attname));
    RETURN created;
END
$$;

-- history and training sets
COMMENT ON TABLE @extschema@.fs_feature_history IS
    'Feature views that keep history: the history table of each and its retention; written by fs_enable_history and fs_disable_history';
COMMENT ON FUNCTION @extschema@.fs_record_history(text, regclass, interval) IS
    'Internal: records a view''s history table and retention in fs_feature_history, as the owner of the view''s table; called by fs_enable_history';
COMMENT ON FUNCTION @extschema@.fs_forget_history(text) IS
    'Internal: removes a view from fs_feature_history, as the owner of the view''s table; called by fs_disable_history';
COMMENT ON FUNCTION @extschema@.fs_history_columns(regclass, regclass, name, name, text) IS
    'Internal: the features a view''s table and its history table share, as a column list; used by fs_enable_history';
COMMENT ON FUNCTION @extschema@.fs_history_capture() IS
    'Internal: trigger on a feature view''s table; writes each statement''s new, changed and removed rows to the view''s history table';
COMMENT ON FUNCTION @extschema@.fs_enable_history(text, interval) IS
    'Keep every version of a view''s rows in its history table <table>_history (created, or brought up to date with the table and its grants); returns the history table';
COMMENT ON FUNCTION @extschema@.fs_disable_history(text, boolean) IS
    'Stop keeping a view''s history; its history table stays unless drop_history';
COMMENT ON FUNCTION @extschema@.fs_purge_history(text) IS
    'Delete history versions older than their view''s retention that no as-of answer within it reads (one view, or every view whose history the caller owns); returns how many';
COMMENT ON FUNCTION @extschema@.fs_get_features_as_of(text[], text[], timestamptz) IS
    'Serve features as fs_get_features would have at a past time (by event time), from the views'' history';
COMMENT ON FUNCTION @extschema@.fs_create_training_view(text, regclass, text[], name, name) IS
    'Create a training view: every column of a spine of labelled events, then each feature''s value as of each row''s timestamp, from the views'' history';
COMMENT ON VIEW @extschema@.feature_registry IS
    'One row per registered feature: its view, type, entity, join key, store, relation, ttl, description, owner, tags, and whether its view keeps history and for how long';
