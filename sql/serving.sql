--
-- serving: fs_get_features and fs_get_feature_vectors over the embedded
-- store: order, duplicates, NULL ids, statuses, wildcards, services, integer
-- join keys, empty inputs and every error with its SQLSTATE.
--
-- pg_regress may have loaded the extension already; start from scratch.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_store CASCADE;
RESET client_min_messages;
CREATE EXTENSION feature_store;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
\set SHOW_CONTEXT never

-- SQLSTATE and message of a statement's error, or 'no error'.
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN EXECUTE q; RETURN 'no error'; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;

-- user_stats: a ttl of 100 years, so 2026 rows are fresh and 1900 rows stale
CREATE TABLE user_stats_t (
    user_id    text PRIMARY KEY,
    event_time timestamptz,
    clicks     bigint,
    ctr        float8,
    country    text
);
INSERT INTO user_stats_t VALUES
    ('u1', '2026-01-01 00:00:00+00', 10, 0.5,  'FR'),
    ('u2', '2026-01-02 00:00:00+00', NULL, 0.25, NULL),   -- NULL features
    ('u3', '1900-01-01 00:00:00+00', 30, 0.75, 'DE'),     -- older than the ttl
    ('u4', NULL,                     40, 1.0,  'IT');     -- no event time, with a ttl
-- user_profile: the same entity, no ttl
CREATE TABLE user_profile_t (
    user_id    text PRIMARY KEY,
    event_time timestamptz,
    age        int,
    segment    text
);
INSERT INTO user_profile_t VALUES
    ('u1', '2025-06-01 12:00:00+00', 31, 'pro'),
    ('u3', '1900-01-01 00:00:00+00', 77, 'old'),           -- no ttl: never expires
    ('u5', NULL,                     25, 'new');           -- no ttl: no event time is fine
-- items: an integer join key
CREATE TABLE item_stats_t (
    item_id    integer PRIMARY KEY,
    event_time timestamptz,
    price      numeric
);
INSERT INTO item_stats_t VALUES (1, '2026-03-01 00:00:00+00', 9.99), (42, '2026-03-02 00:00:00+00', 100);
-- a view without any feature column
CREATE TABLE user_seen_t (user_id text PRIMARY KEY, event_time timestamptz);
INSERT INTO user_seen_t VALUES ('u1', '2026-01-01 00:00:00+00');

SELECT name FROM fs_register_entity('user', 'user_id');
SELECT name FROM fs_register_entity('item', 'item_id');
SELECT name FROM fs_register_feature_view('user_stats', 'user_stats_t', 'user', ttl => '36500 days');
SELECT name FROM fs_register_feature_view('user_profile', 'user_profile_t', 'user');
SELECT name FROM fs_register_feature_view('item_stats', 'item_stats_t', 'item');
SELECT name FROM fs_register_feature_view('user_seen', 'user_seen_t', 'user');

--
-- Order: entity-major in input order, features in reference order.
--
SELECT * FROM fs_get_features(ARRAY['u2', 'u1'], ARRAY['user_stats:country', 'user_stats:clicks']);
SELECT ord, entity_id, feature_ref
  FROM fs_get_features(ARRAY['u3', 'u1', 'u2'], ARRAY['user_stats:ctr', 'user_stats:clicks'])
       WITH ORDINALITY AS t(entity_id, feature_ref, value, event_time, status, ord);

--
-- Statuses: PRESENT, NULL_VALUE, NOT_FOUND, OUTSIDE_MAX_AGE.
--
SELECT * FROM fs_get_features(ARRAY['u1', 'u2', 'u3', 'u4', 'nobody'],
                              ARRAY['user_stats:clicks', 'user_stats:country']);
-- without a ttl, old rows and rows without an event time are PRESENT
SELECT * FROM fs_get_features(ARRAY['u1', 'u3', 'u5', 'u2'], ARRAY['user_profile:age']);
-- the ttl is judged against the transaction's start: a 1-day ttl makes u1 stale
SELECT name FROM fs_alter_feature_view('user_stats', ttl => '1 day');
SELECT entity_id, feature_ref, value, status
  FROM fs_get_features(ARRAY['u1'], ARRAY['user_stats:clicks']);
SELECT name FROM fs_alter_feature_view('user_stats', ttl => '36500 days');
SELECT entity_id, feature_ref, value, status
  FROM fs_get_features(ARRAY['u1'], ARRAY['user_stats:clicks']);
-- a fresh row is PRESENT whatever the ttl
INSERT INTO user_stats_t VALUES ('fresh', now() - interval '1 minute', 1, 0.1, 'ES');
SELECT name FROM fs_alter_feature_view('user_stats', ttl => '1 hour');
SELECT entity_id, value, status,
       event_time = (SELECT event_time FROM user_stats_t WHERE user_id = 'fresh') AS same_time
  FROM fs_get_features(ARRAY['fresh'], ARRAY['user_stats:clicks']);
SELECT name FROM fs_alter_feature_view('user_stats', ttl => '36500 days');
DELETE FROM user_stats_t WHERE user_id = 'fresh';
-- the ttl's boundary: a row exactly ttl old is PRESENT, one a microsecond
-- older is OUTSIDE_MAX_AGE (now() is the transaction's start, as serving's)
BEGIN;
SELECT name FROM fs_alter_feature_view('user_stats', ttl => '1 hour');
INSERT INTO user_stats_t VALUES
    ('edge', now() - interval '1 hour', 1, 0.1, 'ES'),
    ('past', now() - interval '1 hour' - interval '1 microsecond', 1, 0.1, 'ES');
SELECT entity_id, value, status
  FROM fs_get_features(ARRAY['edge', 'past'], ARRAY['user_stats:clicks']);
ROLLBACK;

--
-- Duplicate ids are returned at every position; NULL ids give NOT_FOUND rows.
--
SELECT * FROM fs_get_features(ARRAY['u1', 'u2', 'u1', NULL, 'u1'], ARRAY['user_stats:clicks']);
SELECT * FROM fs_get_features(ARRAY[NULL, NULL]::text[], ARRAY['user_stats:clicks', 'user_profile:age']);

--
-- Wildcards expand in column order; explicit refs keep their place.
--
SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['user_stats:*']);
SELECT feature_ref, value FROM fs_get_features(ARRAY['u1'], ARRAY['user_stats:ctr', 'user_stats:*', 'user_profile:segment']);
-- a view without feature columns contributes no rows
SELECT count(*) FROM fs_get_features(ARRAY['u1'], ARRAY['user_seen:*']);
SELECT feature_ref, value FROM fs_get_features(ARRAY['u1'], ARRAY['user_seen:*', 'user_profile:age']);

--
-- Two views of one entity in one call, interleaved.
--
SELECT * FROM fs_get_features(ARRAY['u1', 'u3', 'u5'],
                              ARRAY['user_profile:segment', 'user_stats:clicks', 'user_profile:age']);

--
-- Feature services expand to their refs, in order, anywhere in the list.
--
SELECT name FROM fs_register_feature_service('ranking', ARRAY['user_profile:segment', 'user_stats:clicks']);
SELECT name FROM fs_register_feature_service('everything', ARRAY['user_stats:*', 'user_profile:*']);
SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['ranking']);
SELECT feature_ref, value, status
  FROM fs_get_features(ARRAY['u1'], ARRAY['user_stats:ctr', 'ranking', 'user_profile:age']);
SELECT feature_ref, value, status FROM fs_get_features(ARRAY['u1'], ARRAY['everything']);
SELECT feature_ref FROM fs_get_features(ARRAY['u1'], ARRAY['ranking', 'ranking']);

--
-- An integer join key: ids are converted, and named when they do not convert.
--
SELECT * FROM fs_get_features(ARRAY['42', '7', '1', NULL, '042'], ARRAY['item_stats:price']);
SELECT * FROM fs_get_features(ARRAY['1', 'abc'], ARRAY['item_stats:price']);
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['1', 'abc'], ARRAY['item_stats:price'])$$);
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['99999999999'], ARRAY['item_stats:price'])$$);
SELECT pg_temp.err($$SELECT * FROM fs_get_feature_vectors(ARRAY['1.5'], ARRAY['item_stats:price'])$$);

--
-- Serving sees the calling transaction's own writes.
--
BEGIN;
INSERT INTO user_stats_t VALUES ('u9', '2026-05-05 00:00:00+00', 90, 0.9, 'NL');
SELECT entity_id, feature_ref, value, status FROM fs_get_features(ARRAY['u9'], ARRAY['user_stats:clicks']);
UPDATE user_stats_t SET clicks = 91 WHERE user_id = 'u9';
UPDATE user_stats_t SET clicks = 92 WHERE user_id = 'u9';
SELECT entity_id, feature_ref, value, status FROM fs_get_features(ARRAY['u9', 'u9'], ARRAY['user_stats:clicks']);
DELETE FROM user_stats_t WHERE user_id = 'u9';
SELECT entity_id, feature_ref, value, status FROM fs_get_features(ARRAY['u9'], ARRAY['user_stats:clicks']);
ROLLBACK;
-- a row updated many times is served once, at its latest value
UPDATE user_stats_t SET clicks = clicks + 1 WHERE user_id = 'u1';
UPDATE user_stats_t SET clicks = clicks + 1 WHERE user_id = 'u1';
UPDATE user_stats_t SET clicks = clicks - 2 WHERE user_id = 'u1';
SELECT entity_id, feature_ref, value, status FROM fs_get_features(ARRAY['u1'], ARRAY['user_stats:clicks']);

--
-- Lookups are batched: one index probe per distinct id and view, whatever
-- the duplicates, NULL ids and number of features (index statistics count
-- the probes).
--
SELECT pg_stat_force_next_flush();
SELECT pg_stat_clear_snapshot();
SELECT (SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'user_stats_t_pkey') AS stats_before,
       (SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'user_profile_t_pkey') AS profile_before
\gset
SELECT count(*) FROM fs_get_features(ARRAY['u1', 'u1', 'u2', NULL, 'nobody', 'u2', 'u1'],
                                     ARRAY['user_stats:clicks', 'user_profile:age', 'user_stats:*', 'everything']);
SELECT count(*) FROM fs_get_feature_vectors(ARRAY['u3', 'u3', NULL], ARRAY['user_stats:*', 'user_profile:*']);
SELECT pg_stat_force_next_flush();
SELECT pg_stat_clear_snapshot();
SELECT (SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'user_stats_t_pkey') - :stats_before AS stats_probes,
       (SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'user_profile_t_pkey') - :profile_before AS profile_probes;

--
-- Empty and NULL inputs
--
SELECT count(*) FROM fs_get_features('{}', ARRAY['user_stats:clicks']);
SELECT count(*) FROM fs_get_features(ARRAY['u1'], '{}');
SELECT count(*) FROM fs_get_features(NULL, ARRAY['user_stats:clicks']);
SELECT count(*) FROM fs_get_features(ARRAY['u1'], NULL);
SELECT count(*) FROM fs_get_feature_vectors('{}', ARRAY['user_stats:clicks']);
SELECT * FROM fs_get_feature_vectors(ARRAY['u1', NULL], '{}');
-- references are checked even when no entity is asked for
SELECT pg_temp.err($$SELECT * FROM fs_get_features('{}', ARRAY['nope:x'])$$);

--
-- fs_get_feature_vectors: one row per input entity, in input order, NULL ids
-- and duplicates included; null for anything not PRESENT.
--
SELECT * FROM fs_get_feature_vectors(ARRAY['u3', 'u1', 'nobody', NULL, 'u2', 'u1', 'u4'],
                                     ARRAY['user_stats:clicks', 'user_stats:country']);
SELECT * FROM fs_get_feature_vectors(ARRAY['u1', 'u5'], ARRAY['ranking', 'user_profile:age']);
SELECT * FROM fs_get_feature_vectors(ARRAY['42', '1', '5'], ARRAY['item_stats:*']);
SELECT ord, entity_id, jsonb_object_keys(features) AS key
  FROM fs_get_feature_vectors(ARRAY['u5', 'u1'], ARRAY['user_stats:ctr', 'user_profile:age'])
       WITH ORDINALITY AS t(entity_id, features, ord)
 ORDER BY ord, key;

--
-- Errors
--
-- malformed references: 22023
SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY[':clicks']);
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY[':clicks'])$$);
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['user_stats:'])$$);
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY[':'])$$);
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY[''])$$);
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['user_stats:clicks', NULL])$$);
SELECT pg_temp.err($$SELECT * FROM fs_get_feature_vectors(ARRAY['u1'], ARRAY[NULL]::text[])$$);
SELECT pg_temp.err($$SELECT * FROM fs_get_feature_vectors(ARRAY['u1'], ARRAY['user_stats:'])$$);
-- unknown view, feature, service: 42704, with a hint naming what exists
SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['user_stat:clicks']);
SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['user_stats:click']);
SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['rankin']);
SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['user_seen:x']);
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['user_stat:clicks'])$$);
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['user_stats:click'])$$);
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['user_stats:clicks', 'rankin'])$$);
SELECT pg_temp.err($$SELECT * FROM fs_get_feature_vectors(ARRAY['u1'], ARRAY['nope:*'])$$);
SELECT pg_temp.err($$SELECT * FROM fs_get_feature_vectors(ARRAY['u1'], ARRAY['user_stats:nope'])$$);
SELECT pg_temp.err($$SELECT * FROM fs_get_feature_vectors(ARRAY['u1'], ARRAY['nope'])$$);
-- a long unknown name is still just unknown
SELECT pg_temp.err(format($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['%s:x'])$$, repeat('v', 100)));
-- references of two entities: 22023
SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['user_stats:clicks', 'item_stats:price']);
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['item_stats:price', 'ranking'])$$);
SELECT pg_temp.err($$SELECT * FROM fs_get_feature_vectors(ARRAY['u1'], ARRAY['user_stats:*', 'item_stats:*'])$$);
-- with no feature service registered, the hint says how to refer to features
SELECT fs_drop_feature_service('ranking');
SELECT fs_drop_feature_service('everything');
SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['ranking']);

-- the result columns
SELECT pg_typeof(entity_id), pg_typeof(feature_ref), pg_typeof(value),
       pg_typeof(event_time), pg_typeof(status)
  FROM fs_get_features(ARRAY['u1'], ARRAY['user_stats:clicks']);
SELECT pg_typeof(entity_id), pg_typeof(features)
  FROM fs_get_feature_vectors(ARRAY['u1'], ARRAY['user_stats:clicks']);

DROP EXTENSION feature_store;
DROP TABLE user_stats_t, user_profile_t, item_stats_t, user_seen_t;
