-- Division by zero in the middle of a result: the server sends some rows
-- before the error, psql prints none of them (only earlier results).
SELECT x, 100 / x AS quotient FROM generate_series(1, 3) AS x;
SELECT x, 100 / (5000 - x) AS quotient FROM generate_series(1, 10000) AS x;
SELECT 'never runs' AS status;
