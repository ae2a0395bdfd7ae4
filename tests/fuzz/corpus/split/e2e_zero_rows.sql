-- Results with no rows print their header only.
SELECT 1 AS a, 'x' AS b WHERE false;
CREATE TEMP TABLE corpus_zero (id int, name text, "Quoted, Name" date);
SELECT * FROM corpus_zero;
TABLE corpus_zero;
SELECT id FROM corpus_zero WHERE id > 0 ORDER BY id;
SELECT count(*) AS n FROM corpus_zero;
DELETE FROM corpus_zero RETURNING *;
SELECT x FROM generate_series(1, 0) AS x;
