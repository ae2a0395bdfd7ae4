-- A result of 20000 rows and a single value of about 600 kB: more than any
-- single buffer, so it is streamed in many chunks.
SELECT g AS id, md5(g::text) AS hash, g * 1.5 AS half_again, repeat('*', g % 13) AS stars,
       CASE WHEN g % 1000 = 0 THEN E'milestone\n' || g END AS note
FROM generate_series(1, 20000) AS g;
SELECT length(repeat('ab', 300000)) AS len, repeat('ab', 300000) AS big;
COPY (SELECT g, md5(g::text) FROM generate_series(1, 5000) AS g) TO STDOUT;
