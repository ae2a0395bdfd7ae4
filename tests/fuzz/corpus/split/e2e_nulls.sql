-- NULL in every position of a row, whole rows of NULLs, NULLs in
-- aggregates and sorting.
SELECT NULL AS only_column;
SELECT NULL AS first, 'middle' AS mid, 1 AS last;
SELECT 'first' AS first, NULL::int AS mid, 'last' AS last;
SELECT 1 AS first, 2 AS mid, NULL::text AS last;
SELECT NULL::int AS a, NULL::text AS b, NULL::date AS c, NULL::jsonb AS d, NULL::int[] AS e;

SELECT v, v IS NULL AS is_null, coalesce(v, '<null>') AS shown
FROM (VALUES ('b'), (NULL), ('a'), (NULL)) AS t(v)
ORDER BY v NULLS FIRST;

SELECT count(*) AS all_rows, count(v) AS non_null, sum(v) AS total, avg(v) AS mean, max(v) AS biggest
FROM (VALUES (NULL::int), (NULL)) AS t(v);

SELECT NULL = NULL AS eq, NULL IS DISTINCT FROM NULL AS distinct_from, NULL::text || 'x' AS concat,
       concat(NULL, 'x', NULL) AS concat_fn, nullif('', '') AS nullif_empty;
