-- COPY ... TO STDOUT in text and CSV formats, mixed with SELECT results;
-- psql prints COPY data as it comes, without a header of its own.
CREATE TEMP TABLE corpus_copy (id int, name text, note text, price numeric(6,2), tags text[]);
INSERT INTO corpus_copy VALUES
    (1, 'plain', NULL, 1.00, '{a,b}'),
    (2, E'tab\there', E'new\nline', 2.50, '{}'),
    (3, 'back\slash', '"quoted", with comma', NULL, '{"x y",NULL}'),
    (4, '', '\.', 0, NULL);
COPY corpus_copy TO STDOUT;
SELECT 'between copies' AS marker;
COPY (SELECT id, name, note FROM corpus_copy ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER);
COPY (SELECT id, price FROM corpus_copy ORDER BY id) TO STDOUT WITH (FORMAT csv, DELIMITER ';', NULL 'NULL', HEADER true);
COPY corpus_copy (id, tags) TO STDOUT WITH (FORMAT text, DELIMITER '|', NULL '-');
COPY (SELECT 'x' WHERE false) TO STDOUT;
COPY (SELECT 'empty result' AS c WHERE false) TO STDOUT WITH (FORMAT csv, HEADER);
SELECT count(*) AS rows FROM corpus_copy;
