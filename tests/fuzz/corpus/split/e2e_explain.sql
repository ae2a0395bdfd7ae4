-- EXPLAIN output is rows too (one column "QUERY PLAN"); JSON format is a
-- single multi-line value.
CREATE TEMP TABLE corpus_plan (id int PRIMARY KEY, grp int, label text);
EXPLAIN (COSTS OFF) SELECT * FROM generate_series(1, 10) AS g WHERE g > 5;
EXPLAIN (COSTS OFF) SELECT * FROM corpus_plan WHERE id = 7;
EXPLAIN (COSTS OFF) SELECT grp, count(*) FROM corpus_plan GROUP BY grp ORDER BY grp;
EXPLAIN (COSTS OFF, FORMAT JSON) SELECT 1 AS one;
EXPLAIN (COSTS OFF, VERBOSE) SELECT upper(label) FROM corpus_plan;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM generate_series(1, 100);
