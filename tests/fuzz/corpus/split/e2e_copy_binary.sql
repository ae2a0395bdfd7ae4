-- Binary COPY output contains NUL bytes: the result is bytes, not text.
COPY (SELECT 1::int4 AS i, 'text'::text AS t, NULL::int8 AS n, '\x00ff'::bytea AS b) TO STDOUT WITH (FORMAT binary);
SELECT 'after binary' AS marker;
