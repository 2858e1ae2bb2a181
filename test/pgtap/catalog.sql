-- The catalog rows registration writes, the feature_registry rows they
-- show as, what drops remove, and resolution after drop and re-register in
-- one transaction.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION feature_store;
SELECT plan(22);

SET LOCAL search_path = public;
SET LOCAL timezone = 'UTC';
CREATE TABLE cat_stats (user_id text PRIMARY KEY, event_time timestamptz, clicks bigint, ctr float8);
COMMENT ON COLUMN cat_stats.ctr IS 'click-through rate';
CREATE TABLE cat_other (user_id text PRIMARY KEY, updated timestamptz, clicks text, extra int);
INSERT INTO cat_stats VALUES ('u1', '2026-01-01 00:00:00+00', 3, 0.5);
INSERT INTO cat_other VALUES ('u1', '2026-02-01 00:00:00+00', 'three', 4);

SELECT name FROM fs_register_entity('user', 'user_id', 'a person');
SELECT results_eq($$SELECT name, join_key::text COLLATE "default", description, registered_by::text COLLATE "default" FROM fs_entity$$,
                  $$VALUES ('user', 'user_id', 'a person', current_user::text COLLATE "default")$$,
                  'fs_entity row');

-- defaults: no ttl, event_time, no description or owner, tags '{}'
SELECT name FROM fs_register_feature_view('stats', 'cat_stats', 'user');
SELECT results_eq($$SELECT relation, entity, ttl, event_time_column::text COLLATE "default", description, owner, tags
                      FROM fs_feature_view WHERE name = 'stats'$$,
                  $$VALUES ('cat_stats'::regclass, 'user', NULL::interval, 'event_time', NULL::text,
                            NULL::text, '{}'::jsonb)$$,
                  'fs_feature_view row with the defaults');
SELECT name FROM fs_register_feature_view('other', 'cat_other', 'user', ttl => '2 hours',
                                event_time_column => 'updated', description => 'the other one',
                                owner => 'team-a', tags => '{"tier": 1}');
SELECT results_eq($$SELECT relation, entity, ttl, event_time_column::text COLLATE "default", description, owner, tags
                      FROM fs_feature_view WHERE name = 'other'$$,
                  $$VALUES ('cat_other'::regclass, 'user', '2 hours'::interval, 'updated', 'the other one',
                            'team-a', '{"tier": 1}'::jsonb)$$,
                  'fs_feature_view row with every argument');
SELECT is((SELECT registered_by::text FROM fs_feature_view WHERE name = 'other'), current_user::text,
          'registered_by is the caller');
SELECT ok((SELECT created_at = now() FROM fs_feature_view WHERE name = 'other'),
          'created_at is the transaction time');

SELECT name FROM fs_register_feature_service('svc', ARRAY['stats:ctr', 'other:*'], 'ranking');
SELECT results_eq($$SELECT name, feature_refs, description FROM fs_feature_service$$,
                  $$VALUES ('svc', ARRAY['stats:ctr', 'other:*'], 'ranking')$$,
                  'fs_feature_service row keeps the references as given');

-- feature_registry
SELECT results_eq($$SELECT feature_view, feature COLLATE "default", type, entity,
                           join_key COLLATE "default", store COLLATE "default", relation::text,
                           ttl, description, owner, tags
                      FROM feature_registry$$,
                  $$VALUES ('other', 'clicks', 'text', 'user', 'user_id', 'local', 'cat_other',
                            '2 hours'::interval, 'the other one', 'team-a', '{"tier": 1}'::jsonb),
                           ('other', 'extra', 'integer', 'user', 'user_id', 'local', 'cat_other',
                            '2 hours'::interval, 'the other one', 'team-a', '{"tier": 1}'::jsonb),
                           ('stats', 'clicks', 'bigint', 'user', 'user_id', 'local', 'cat_stats',
                            NULL, NULL, NULL, '{}'::jsonb),
                           ('stats', 'ctr', 'double precision', 'user', 'user_id', 'local', 'cat_stats',
                            NULL, 'click-through rate', NULL, '{}'::jsonb)$$,
                  'feature_registry: one row per feature, by view then column');
COMMENT ON COLUMN cat_other.extra IS 'overrides';
SELECT is((SELECT description FROM feature_registry WHERE feature_view = 'other' AND feature = 'extra'),
          'overrides', 'a column comment overrides the view description');

-- serving reads what was registered
SELECT results_eq($$SELECT feature_ref, value, status FROM fs_get_features(ARRAY['u1'], ARRAY['svc'])$$,
                  $$VALUES ('stats:ctr', '0.5'::jsonb, 'PRESENT'),
                           ('other:clicks', NULL, 'OUTSIDE_MAX_AGE'),
                           ('other:extra', NULL, 'OUTSIDE_MAX_AGE')$$,
                  'the service serves with each view''s ttl');

-- drops remove exactly their rows
SELECT fs_drop_feature_service('svc');
SELECT is_empty($$SELECT * FROM fs_feature_service$$, 'fs_drop_feature_service removes the row');
SELECT fs_drop_feature_view('other');
SELECT results_eq($$SELECT name FROM fs_feature_view$$, ARRAY['stats'],
                  'fs_drop_feature_view removes that view only');
SELECT results_eq($$SELECT DISTINCT feature_view FROM feature_registry$$, ARRAY['stats'],
                  'feature_registry no longer lists the dropped view');
SELECT throws_ok($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['other:extra'])$$, '42704',
                 'feature view "other" does not exist', 'a dropped view is not served');
SELECT throws_ok($$SELECT fs_drop_entity('user')$$, '2BP01', NULL,
                 'the entity is still used by stats');

-- drop and re-register in the same transaction: resolution follows
SELECT fs_drop_feature_view('stats');
SELECT name FROM fs_register_feature_view('stats', 'cat_other', 'user', event_time_column => 'updated');
SELECT results_eq($$SELECT feature_ref, type FROM fs_resolve_refs(ARRAY['stats:*'])$$,
                  $$VALUES ('stats:clicks', 'text'), ('stats:extra', 'integer')$$,
                  'the re-registered view resolves against its new relation');
SELECT results_eq($$SELECT feature_ref, value, event_time, status
                      FROM fs_get_features(ARRAY['u1'], ARRAY['stats:clicks'])$$,
                  $$VALUES ('stats:clicks', '"three"'::jsonb, '2026-02-01 00:00:00+00'::timestamptz, 'PRESENT')$$,
                  'and serves from it');
SELECT throws_ok($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['stats:ctr'])$$, '42704',
                 'feature view "stats" has no feature "ctr"', 'the old relation''s features are gone');
SELECT fs_drop_feature_view('stats');
SELECT name FROM fs_register_feature_view('stats', 'cat_stats', 'user');
SELECT results_eq($$SELECT feature_ref, value FROM fs_get_features(ARRAY['u1'], ARRAY['stats:*'])$$,
                  $$VALUES ('stats:clicks', '3'::jsonb), ('stats:ctr', '0.5'::jsonb)$$,
                  'and back again');

-- the last drops empty the catalog
SELECT fs_drop_feature_view('stats');
SELECT fs_drop_entity('user');
SELECT is_empty($$SELECT * FROM fs_entity$$, 'fs_drop_entity removes the row');
SELECT is_empty($$SELECT * FROM fs_feature_view$$, 'no view left');
SELECT is_empty($$SELECT * FROM feature_registry$$, 'feature_registry is empty');
SELECT throws_ok($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['stats:*'])$$, '42704',
                 'feature view "stats" does not exist', 'nothing is served');

SELECT * FROM finish();
ROLLBACK;
