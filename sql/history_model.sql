--
-- history_model: fs_get_features_as_of and a training view against a
-- brute-force model, on randomized data (setseed: the same every run).
--
-- Two views of one entity, one with a ttl of 3 days, are written 4,000
-- times in random order by three writers: INSERT ... ON CONFLICT (some of
-- them over a row with a later event time), DELETE and fs_write_features.
-- Event times fall on whole hours, so many are equal; features are often
-- NULL; some writes change nothing; entities 201-220 are never written.  After each write the row as it then is (or
-- its absence) goes into a log, hm_log: the model reads only the log, never
-- the history tables.
--
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_store CASCADE;
DROP TABLE IF EXISTS hm_a, hm_b, hm_a_history, hm_b_history, hm_log, hm_spine CASCADE;
RESET client_min_messages;
CREATE EXTENSION feature_store;
SET timezone = 'UTC';

SELECT (fs_register_entity('customer', 'customer_id')).name;
CREATE TABLE hm_a (customer_id bigint PRIMARY KEY, event_time timestamptz NOT NULL,
                   x int, y text, z float8);
CREATE TABLE hm_b (customer_id bigint PRIMARY KEY, event_time timestamptz NOT NULL,
                   p numeric, q boolean);
SELECT name FROM fs_register_feature_view('hm_a', 'hm_a', 'customer', ttl => '3 days');
SELECT name FROM fs_register_feature_view('hm_b', 'hm_b', 'customer');
SELECT fs_enable_history('hm_a'), fs_enable_history('hm_b');

-- The log: each view's row after each write, in the order written.
CREATE TABLE hm_log (seq bigserial, view text, customer_id bigint, event_time timestamptz,
                     deleted boolean, x int, y text, z float8, p numeric, q boolean);

SELECT setseed(0.15);
DO $$
DECLARE
    v   text;
    c   bigint;
    et  timestamptz;
    op  float8;
    st  text;
    had boolean;
BEGIN
    FOR i IN 1..4000 LOOP
        v := CASE WHEN random() < 0.5 THEN 'hm_a' ELSE 'hm_b' END;
        c := 1 + floor(random() * 200)::bigint;
        et := '2026-01-01'::timestamptz + floor(random() * 24 * 20) * interval '1 hour';
        op := random();
        EXECUTE format('SELECT EXISTS (SELECT FROM %I WHERE customer_id = $1)', v) INTO had USING c;
        IF op < 0.08 THEN
            EXECUTE format('DELETE FROM %I WHERE customer_id = $1', v) USING c;
        ELSIF op < 0.13 THEN
            -- a write of what is already there
            EXECUTE format('UPDATE %I SET event_time = event_time WHERE customer_id = $1', v) USING c;
        ELSIF op < 0.35 THEN
            -- a direct write of one feature, refused if older than the row's
            st := fs_write_features(v, c::text,
                    CASE v WHEN 'hm_a' THEN jsonb_build_object('x', floor(random() * 5)::int)
                           ELSE jsonb_build_object('q', random() < 0.5) END, et);
        ELSIF v = 'hm_a' THEN
            INSERT INTO hm_a VALUES (c, et,
                    CASE WHEN random() < 0.2 THEN NULL ELSE floor(random() * 5)::int END,
                    CASE WHEN random() < 0.2 THEN NULL ELSE chr(97 + floor(random() * 3)::int) END,
                    CASE WHEN random() < 0.2 THEN NULL ELSE round(random()::numeric, 2)::float8 END)
            ON CONFLICT (customer_id) DO UPDATE
               SET event_time = excluded.event_time, x = excluded.x, y = excluded.y, z = excluded.z
             WHERE hm_a.event_time <= excluded.event_time OR op < 0.45;   -- some go back in time
        ELSE
            INSERT INTO hm_b VALUES (c, et,
                    CASE WHEN random() < 0.2 THEN NULL ELSE round(random()::numeric * 100, 1) END,
                    CASE WHEN random() < 0.2 THEN NULL ELSE random() < 0.5 END)
            ON CONFLICT (customer_id) DO UPDATE
               SET event_time = excluded.event_time, p = excluded.p, q = excluded.q
             WHERE hm_b.event_time <= excluded.event_time OR op < 0.45;
        END IF;
        -- the row as it is now; a row gone is gone from now on
        IF v = 'hm_a' THEN
            INSERT INTO hm_log (view, customer_id, event_time, deleted, x, y, z)
            SELECT v, c, coalesce(a.event_time, now()), a.customer_id IS NULL, a.x, a.y, a.z
              FROM (SELECT 1) one LEFT JOIN hm_a a ON a.customer_id = c
             WHERE had OR a.customer_id IS NOT NULL;
        ELSE
            INSERT INTO hm_log (view, customer_id, event_time, deleted, p, q)
            SELECT v, c, coalesce(b.event_time, now()), b.customer_id IS NULL, b.p, b.q
              FROM (SELECT 1) one LEFT JOIN hm_b b ON b.customer_id = c
             WHERE had OR b.customer_id IS NOT NULL;
        END IF;
    END LOOP;
END $$;

-- What was written: every kind of case the model must get right.
SELECT count(*) AS log_entries,
       count(*) FILTER (WHERE deleted) AS absent,
       count(DISTINCT customer_id) AS entities,
       (SELECT count(*) FROM (SELECT view, customer_id, event_time FROM hm_log WHERE NOT deleted
                              GROUP BY 1, 2, 3 HAVING count(DISTINCT (x, y, z, p, q)) > 1) t) AS ties_with_different_values,
       count(*) FILTER (WHERE NOT deleted AND x IS NULL AND view = 'hm_a') AS null_x
  FROM hm_log;

-- The model: for a view, an entity and a time, the latest logged row at or
-- before it (by event time, then the write that came last); absent, or past
-- the ttl, is no row.
CREATE FUNCTION pg_temp.model(v text, c bigint, t timestamptz)
RETURNS TABLE (status text, event_time timestamptz, x int, y text, z float8, p numeric, q boolean)
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN l.seq IS NULL OR l.deleted THEN 'NOT_FOUND'
                WHEN v = 'hm_a' AND l.event_time < t - interval '3 days' THEN 'OUTSIDE_MAX_AGE'
                ELSE 'FOUND' END,
           CASE WHEN l.deleted THEN NULL ELSE l.event_time END,
           l.x, l.y, l.z, l.p, l.q
      FROM (SELECT 1) one
      LEFT JOIN (SELECT * FROM hm_log l
                  WHERE l.view = v AND l.customer_id = c AND l.event_time <= t
                  ORDER BY l.event_time DESC, l.seq DESC LIMIT 1) l ON true
$$;

-- The times asked: random ones, every logged event time, and each shifted
-- by the ttl (the last instant within it, and the first past it), plus
-- times before any write.
CREATE TEMP TABLE hm_times AS
SELECT DISTINCT t FROM (
    SELECT '2026-01-01'::timestamptz + random() * interval '24 days' AS t FROM generate_series(1, 15)
    UNION ALL (SELECT event_time FROM hm_log WHERE NOT deleted ORDER BY random() LIMIT 15)
    UNION ALL (SELECT event_time + interval '3 days' FROM hm_log WHERE view = 'hm_a' ORDER BY random() LIMIT 5)
    UNION ALL (SELECT event_time + interval '3 days 1 microsecond' FROM hm_log WHERE view = 'hm_a' ORDER BY random() LIMIT 5)
    UNION ALL VALUES ('2025-12-31'::timestamptz), ('2026-01-01'), ('infinity'), (now())) t;

--
-- fs_get_features_as_of against the model, every entity at every time
--
CREATE TEMP TABLE hm_asof AS
SELECT ts.t, a.entity_id::bigint AS customer_id, a.feature_ref, a.value, a.event_time, a.status
  FROM hm_times ts,
       fs_get_features_as_of(ARRAY(SELECT g::text FROM generate_series(1, 220) g),
                             ARRAY['hm_a:*', 'hm_b:*'], ts.t) a;
CREATE TEMP TABLE hm_expected AS
SELECT ts.t, g AS customer_id, f.ref AS feature_ref,
       CASE WHEN m.status = 'FOUND' THEN f.value END AS value,
       CASE WHEN m.status <> 'NOT_FOUND' THEN m.event_time END AS event_time,
       CASE WHEN m.status <> 'FOUND' THEN m.status
            WHEN f.value IS NULL THEN 'NULL_VALUE' ELSE 'PRESENT' END AS status
  FROM hm_times ts, generate_series(1, 220) g,
       LATERAL (SELECT * FROM pg_temp.model('hm_a', g, ts.t)) m,
       LATERAL (VALUES ('hm_a:x', to_jsonb(m.x)), ('hm_a:y', to_jsonb(m.y)), ('hm_a:z', to_jsonb(m.z))) f(ref, value)
UNION ALL
SELECT ts.t, g, f.ref,
       CASE WHEN m.status = 'FOUND' THEN f.value END,
       CASE WHEN m.status <> 'NOT_FOUND' THEN m.event_time END,
       CASE WHEN m.status <> 'FOUND' THEN m.status
            WHEN f.value IS NULL THEN 'NULL_VALUE' ELSE 'PRESENT' END
  FROM hm_times ts, generate_series(1, 220) g,
       LATERAL (SELECT * FROM pg_temp.model('hm_b', g, ts.t)) m,
       LATERAL (VALUES ('hm_b:p', to_jsonb(m.p)), ('hm_b:q', to_jsonb(m.q))) f(ref, value);

SELECT (SELECT count(*) FROM hm_asof) AS rows_served,
       (SELECT count(*) FROM hm_expected) AS rows_expected,
       (SELECT count(*) FROM (TABLE hm_asof EXCEPT ALL TABLE hm_expected) d) AS served_not_expected,
       (SELECT count(*) FROM (TABLE hm_expected EXCEPT ALL TABLE hm_asof) d) AS expected_not_served;
-- every status came up
SELECT status, count(*) > 0 AS seen FROM hm_asof GROUP BY status ORDER BY status;
-- now, it answers as fs_get_features does for every entity whose rows were
-- never deleted nor written over with an older event time (docs/training.md:
-- as of now, those answer by event time, and serving by what was written last)
CREATE TEMP TABLE hm_in_order AS
SELECT g AS customer_id FROM generate_series(1, 220) g
 WHERE NOT EXISTS (SELECT FROM hm_log l WHERE l.customer_id = g AND l.deleted)
   AND NOT EXISTS (SELECT FROM hm_a a WHERE a.customer_id = g
                      AND a.event_time < (SELECT max(l.event_time) FROM hm_log l
                                           WHERE l.view = 'hm_a' AND l.customer_id = g))
   AND NOT EXISTS (SELECT FROM hm_b b WHERE b.customer_id = g
                      AND b.event_time < (SELECT max(l.event_time) FROM hm_log l
                                           WHERE l.view = 'hm_b' AND l.customer_id = g));
SELECT count(*) AS entities_in_order FROM hm_in_order;
SELECT count(*) AS differences_from_serving FROM (
    SELECT a.* FROM fs_get_features_as_of(ARRAY(SELECT customer_id::text FROM hm_in_order),
                                          ARRAY['hm_a:*', 'hm_b:*'], now()) a
    EXCEPT ALL
    SELECT f.* FROM fs_get_features(ARRAY(SELECT customer_id::text FROM hm_in_order),
                                    ARRAY['hm_a:*', 'hm_b:*']) f) d;

--
-- A training view against the model
--
CREATE TABLE hm_spine (row_id int, customer_id bigint, event_timestamp timestamptz, label boolean);
INSERT INTO hm_spine
SELECT i, 1 + floor(random() * 220)::bigint,
       CASE WHEN i % 10 = 0 THEN '2025-12-30'::timestamptz    -- before any version
            ELSE '2026-01-01'::timestamptz + floor(random() * 24 * 24) * interval '1 hour' END,
       random() < 0.5
  FROM generate_series(1, 3000) i;
-- spine rows at exact event times, ttl boundaries, and duplicates of one another
INSERT INTO hm_spine
SELECT 3000 + row_number() OVER (), customer_id, t, true
  FROM (SELECT customer_id, event_time AS t FROM hm_log ORDER BY random() LIMIT 300) e
UNION ALL
SELECT 3300 + row_number() OVER (), customer_id, event_time + interval '3 days', false
  FROM (SELECT * FROM hm_log WHERE view = 'hm_a' ORDER BY random() LIMIT 100) e;
INSERT INTO hm_spine SELECT row_id + 10000, customer_id, event_timestamp, label FROM hm_spine WHERE row_id % 7 = 0;
INSERT INTO hm_spine VALUES (20000, NULL, '2026-01-10', true), (20001, 5, NULL, false);

SELECT fs_create_training_view('hm_training', 'hm_spine', ARRAY['hm_a:*', 'hm_b:q', 'hm_b:p']);
SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute
 WHERE attrelid = 'hm_training'::regclass AND attnum > 0 ORDER BY attnum;

CREATE TEMP TABLE hm_training_expected AS
SELECT s.*,
       CASE WHEN a.status = 'FOUND' THEN a.x END AS hm_a__x,
       CASE WHEN a.status = 'FOUND' THEN a.y END AS hm_a__y,
       CASE WHEN a.status = 'FOUND' THEN a.z END AS hm_a__z,
       CASE WHEN b.status = 'FOUND' THEN b.q END AS hm_b__q,
       CASE WHEN b.status = 'FOUND' THEN b.p END AS hm_b__p
  FROM hm_spine s,
       LATERAL pg_temp.model('hm_a', s.customer_id, s.event_timestamp) a,
       LATERAL pg_temp.model('hm_b', s.customer_id, s.event_timestamp) b;

SELECT (SELECT count(*) FROM hm_spine) AS spine_rows,
       (SELECT count(*) FROM hm_training) AS training_rows,
       (SELECT count(*) FROM (TABLE hm_training EXCEPT ALL TABLE hm_training_expected) d) AS training_not_expected,
       (SELECT count(*) FROM (TABLE hm_training_expected EXCEPT ALL TABLE hm_training) d) AS expected_not_in_training;
-- no spine row dropped or repeated
SELECT count(*) AS spine_rows_missing_or_repeated FROM (
    (SELECT row_id, customer_id, event_timestamp, label FROM hm_training
     EXCEPT ALL TABLE hm_spine)
    UNION ALL
    (TABLE hm_spine
     EXCEPT ALL SELECT row_id, customer_id, event_timestamp, label FROM hm_training)) d;
-- no value from after a row's timestamp: each value the training view has for
-- hm_a:y was logged at or before the row's timestamp, and within the ttl
SELECT count(*) AS values_from_the_future FROM hm_training t
 WHERE t.hm_a__y IS NOT NULL
   AND NOT EXISTS (SELECT FROM hm_log l
                    WHERE l.view = 'hm_a' AND l.customer_id = t.customer_id AND l.y = t.hm_a__y
                      AND l.event_time <= t.event_timestamp
                      AND l.event_time >= t.event_timestamp - interval '3 days');
-- what the rows hold: values, NULLs of each kind
SELECT count(*) FILTER (WHERE hm_a__x IS NOT NULL) > 0 AS some_x,
       count(*) FILTER (WHERE hm_a__x IS NULL) > 0 AS some_null_x,
       count(*) FILTER (WHERE hm_b__p IS NOT NULL) > 0 AS some_p,
       count(*) FILTER (WHERE event_timestamp < '2026-01-01' AND (hm_a__x IS NOT NULL OR hm_b__p IS NOT NULL)) AS before_any_version_with_values
  FROM hm_training;

-- The plan: the spine sorted, then an index probe of each history per row.
EXPLAIN (COSTS OFF) SELECT * FROM hm_training;
