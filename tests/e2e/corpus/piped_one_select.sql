-- One plain statement: pgqfs sends it in pipeline mode (its naming, the
-- statement and the reset in one write); the result must be psql's.
SELECT g AS n, 'row ' || g AS label, g % 2 = 0 AS even, NULL::text AS nothing,
       E'quote " and, comma' AS tricky
  FROM generate_series(1, 5) AS g;
