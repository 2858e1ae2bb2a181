-- training_baseline.sql — the hand-written baseline of issue 15's training
-- set benchmark (test/bench/run_training.sh), committed before
-- fs_create_training_view exists and to be left unchanged: what an
-- engineer who knows PostgreSQL writes by hand for a point-in-time correct
-- training set over two history tables.
--
-- For each spine row and each view, the latest version with event_time at
-- or before the row's timestamp (equal event times: the one recorded last),
-- one index probe a row and view (LATERAL ... ORDER BY ... LIMIT 1 over an
-- index on (user_id, event_time DESC, recorded_at DESC)); its features, or
-- NULL when there is none, when it says the entity was deleted, or when it
-- is older than the view's ttl (7 days for bench_a, none for bench_b).
-- Every spine row once: LEFT JOIN.
CREATE VIEW bench_training_baseline AS
SELECT s.spine_id, s.user_id, s.event_timestamp, s.label,
       CASE WHEN a.keep THEN a.f1 END AS bench_a__f1,
       CASE WHEN a.keep THEN a.f2 END AS bench_a__f2,
       CASE WHEN a.keep THEN a.f3 END AS bench_a__f3,
       CASE WHEN a.keep THEN a.f4 END AS bench_a__f4,
       CASE WHEN a.keep THEN a.f5 END AS bench_a__f5,
       CASE WHEN a.keep THEN a.f6 END AS bench_a__f6,
       CASE WHEN a.keep THEN a.f7 END AS bench_a__f7,
       CASE WHEN a.keep THEN a.f8 END AS bench_a__f8,
       CASE WHEN a.keep THEN a.f9 END AS bench_a__f9,
       CASE WHEN a.keep THEN a.f10 END AS bench_a__f10,
       CASE WHEN b.keep THEN b.g1 END AS bench_b__g1,
       CASE WHEN b.keep THEN b.g2 END AS bench_b__g2,
       CASE WHEN b.keep THEN b.g3 END AS bench_b__g3,
       CASE WHEN b.keep THEN b.g4 END AS bench_b__g4,
       CASE WHEN b.keep THEN b.g5 END AS bench_b__g5,
       CASE WHEN b.keep THEN b.g6 END AS bench_b__g6,
       CASE WHEN b.keep THEN b.g7 END AS bench_b__g7,
       CASE WHEN b.keep THEN b.g8 END AS bench_b__g8,
       CASE WHEN b.keep THEN b.g9 END AS bench_b__g9,
       CASE WHEN b.keep THEN b.g10 END AS bench_b__g10
  FROM bench_spine s
  LEFT JOIN LATERAL (
        SELECT NOT h.deleted AND h.event_time >= s.event_timestamp - interval '7 days' AS keep,
               h.f1, h.f2, h.f3, h.f4, h.f5, h.f6, h.f7, h.f8, h.f9, h.f10
          FROM bench_hist_a h
         WHERE h.user_id = s.user_id AND h.event_time <= s.event_timestamp
         ORDER BY h.event_time DESC, h.recorded_at DESC
         LIMIT 1) a ON true
  LEFT JOIN LATERAL (
        SELECT NOT h.deleted AS keep,
               h.g1, h.g2, h.g3, h.g4, h.g5, h.g6, h.g7, h.g8, h.g9, h.g10
          FROM bench_hist_b h
         WHERE h.user_id = s.user_id AND h.event_time <= s.event_timestamp
         ORDER BY h.event_time DESC, h.recorded_at DESC
         LIMIT 1) b ON true;
