-- Several successful results (SELECT, COPY) and then a bad cast: all the
-- earlier output stays.
SELECT g AS n, g * g AS square FROM generate_series(1, 3) AS g;
COPY (SELECT 'copied', g FROM generate_series(1, 2) AS g) TO STDOUT WITH (FORMAT csv);
SELECT 'third result' AS r;
SELECT 'abc'::int AS not_a_number;
SELECT 'never runs' AS status;
