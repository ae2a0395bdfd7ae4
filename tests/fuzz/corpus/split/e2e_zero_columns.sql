-- Results with no columns: psql prints one empty header line and no row
-- lines, however many rows the result has.
SELECT;
SELECT FROM generate_series(1, 3);
CREATE TEMP TABLE corpus_nocols ();
INSERT INTO corpus_nocols DEFAULT VALUES;
INSERT INTO corpus_nocols DEFAULT VALUES;
TABLE corpus_nocols;
SELECT count(*) AS rows_without_columns FROM corpus_nocols;
SELECT FROM corpus_nocols WHERE false;
SELECT 'after' AS marker;
