-- One push of the streaming benchmark, a pgbench script (run_stream.sh):
--
--   pgbench -n -M prepared -c 4 -j 2 -T 60 -R 5000 -D view=VIEW -D entities=N \
--           -f test/bench/stream_push.sql
--
-- -M prepared (or extended) is needed: :view travels as a parameter.  Each
-- transaction pushes, in autocommit, one event for an entity drawn uniformly
-- from 1..N, with the push's own clock (clock_timestamp(), taken once) as
-- its event time and as the feature ts_us (epoch microseconds), and its
-- transaction id as push_xid, whose commit timestamp the observer reads.
\set id random(1, :entities)
SELECT fs_push(:view, :id,
               jsonb_build_object('ts_us', (extract(epoch FROM t) * 1000000)::bigint,
                                  'push_xid', pg_current_xact_id()::text::bigint,
                                  'v', random()),
               t)
  FROM (SELECT clock_timestamp() AS t) s;
