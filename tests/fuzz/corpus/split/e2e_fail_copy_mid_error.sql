-- An error in the middle of COPY ... TO STDOUT: unlike a SELECT, the rows
-- the server sent before the error are printed (psql streams COPY data).
SELECT 'before copy' AS marker;
COPY (SELECT x, 1000 / (3000 - x) AS q FROM generate_series(1, 5000) AS x) TO STDOUT;
SELECT 'never runs' AS status;
