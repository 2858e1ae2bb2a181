--
-- ingest_float: fs_ingest reads the common decimal forms of a float8 itself
-- (fs_float8_fast, src/value.c) and leaves the others to float8in.  Every
-- value must be the double float8in gives, bit for bit: random decimals of
-- every length and power (around 2^53 and the powers 10^22 and 10^23,
-- where the shortcut ends), the server's own output, and forms only
-- float8in reads; and text that is no number is rejected with float8in's
-- message.
--
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_store CASCADE;
DROP TABLE IF EXISTS float_stats, float_src;
RESET client_min_messages;
CREATE EXTENSION feature_store;
SET timezone = 'UTC';
\set VERBOSITY terse

CREATE TABLE float_stats (id bigint PRIMARY KEY, event_time timestamptz, x float8, y float8);
SELECT name FROM fs_register_entity('float_id', 'id');
SELECT name FROM fs_register_feature_view('float_stats', 'float_stats', 'float_id');
CREATE TABLE float_src (id text, event_time text, x text, y text);

SELECT setseed(0.14);
INSERT INTO float_src
SELECT g, '2026-01-01 00:00:00+00', x, '1' FROM (
    SELECT g,
           CASE g % 5
               -- the server's shortest output, from 1e-30 to 1e30
               WHEN 0 THEN (random() * 10 ^ (random() * 60 - 30))::float8::text
               -- up to 19 digits, a point anywhere, a power from -30 to 30
               WHEN 1 THEN (SELECT CASE WHEN random() < 0.3 THEN '-' ELSE '' END
                                   || overlay(d placing '.' from 1 + (random() * length(d))::int for 0)
                                   || CASE WHEN random() < 0.5
                                           THEN (ARRAY['e', 'E'])[1 + (random() < 0.5)::int]
                                                || (random() * 60 - 30)::int
                                           ELSE '' END
                              FROM (SELECT floor(random() * 10 ^ (1 + random() * 18))::numeric::text AS d) m)
               -- integers around 2^53 = 9007199254740992, powers around +-22
               WHEN 2 THEN (9007199254740992 + (random() * 40)::int - 20)::text
                           || 'e' || (random() * 50 - 25)::int
               -- small integers with a power near the shortcut's ends
               WHEN 3 THEN (random() * 1000)::int::text || 'e' || (ARRAY[-23, -22, -21, 21, 22, 23])[1 + (random() * 5)::int]
               -- a fraction with leading zeros
               ELSE '0.' || repeat('0', (random() * 25)::int) || (random() * 1e6)::int
           END AS x
      FROM generate_series(1, 30000) g) s;
-- Forms float8in reads that the shortcut leaves to it, and -0.
INSERT INTO float_src VALUES
    (30001, '2026-01-01 00:00:00+00', ' 1.5', '1.5 '),
    (30002, '2026-01-01 00:00:00+00', 'Infinity', '-inf'),
    (30003, '2026-01-01 00:00:00+00', 'NaN', '1e308'),
    (30004, '2026-01-01 00:00:00+00', '4.9e-324', '123456789012345678901234567890'),
    (30005, '2026-01-01 00:00:00+00', '-0', '+0.0'),
    (30006, '2026-01-01 00:00:00+00', '.5', '5.'),
    (30007, '2026-01-01 00:00:00+00', '9007199254740993', '0.1e-5'),
    (30008, '2026-01-01 00:00:00+00', '0x10', '1e0023');
-- No number: each rejected, with float8in's message.
INSERT INTO float_src VALUES
    (30101, '2026-01-01 00:00:00+00', '', '1'),
    (30102, '2026-01-01 00:00:00+00', '.', '1'),
    (30103, '2026-01-01 00:00:00+00', '-', '1'),
    (30104, '2026-01-01 00:00:00+00', '1e', '1'),
    (30105, '2026-01-01 00:00:00+00', '1e+', '1'),
    (30106, '2026-01-01 00:00:00+00', '1.5x', '1'),
    (30107, '2026-01-01 00:00:00+00', '1_000', '1'),
    (30108, '2026-01-01 00:00:00+00', '1e400', '1');

SELECT rows_read, rows_rejected, rows_inserted FROM fs_ingest('float_stats', 'float_src');

-- Every value read is float8in's, bit for bit (float8send), -0 included.
SELECT count(*) AS compared,
       count(*) FILTER (WHERE float8send(t.x) IS DISTINCT FROM float8send(s.x::float8)
                           OR float8send(t.y) IS DISTINCT FROM float8send(s.y::float8)) AS differ
  FROM float_src s JOIN float_stats t ON t.id = s.id::bigint;
SELECT id, x, y FROM float_stats WHERE id > 30000 ORDER BY id;
SELECT entity_id, "column", raw_value, reason FROM fs_ingest_rejects ORDER BY entity_id::bigint;

SELECT fs_drop_feature_view('float_stats');
SELECT fs_drop_entity('float_id');
DROP TABLE float_stats, float_src;
