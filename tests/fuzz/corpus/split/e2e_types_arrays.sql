-- Arrays: NULL elements, elements that need quoting, several dimensions.
SELECT ARRAY[1, 2, 3] AS ints,
       ARRAY[1, NULL, 3] AS with_null,
       '{}'::int[] AS empty,
       ARRAY[NULL]::int[] AS only_null,
       ARRAY['plain', 'with space', 'comma,inside', 'quote"inside', 'back\slash', '', 'NULL'] AS texts,
       ARRAY[[1, 2], [3, 4]] AS matrix,
       '[0:2]={7,8,9}'::int[] AS lower_bound_zero,
       ARRAY[1.5, 2.25]::numeric[] AS nums,
       ARRAY[date '2024-01-01', NULL] AS dates,
       ARRAY['{"a":1}'::jsonb] AS jsonbs;

SELECT array_length(ARRAY[[1, 2], [3, 4]], 2) AS len2,
       array_dims('[0:2]={7,8,9}'::int[]) AS dims,
       (ARRAY['x', 'y', 'z'])[2] AS second,
       (ARRAY['x', 'y', 'z'])[2:3] AS slice,
       ARRAY[3, 1, 2] @> ARRAY[1] AS contains,
       array_position(ARRAY['a', 'b', 'c'], 'c') AS pos,
       array_to_string(ARRAY['a', NULL, 'c'], ',', '*') AS joined;

SELECT g AS n, array_agg(x ORDER BY x) AS members
FROM generate_series(1, 10) AS x, LATERAL (SELECT x % 3 AS g) AS s
GROUP BY g
ORDER BY g;

SELECT unnest(ARRAY['first', NULL, 'third']) AS elem, generate_subscripts(ARRAY['first', NULL, 'third'], 1) AS i;
