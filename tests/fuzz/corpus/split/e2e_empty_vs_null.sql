-- In psql's CSV an empty string and a NULL both print as nothing; COPY CSV
-- tells them apart ("" vs nothing).  Both must come out as psql prints them.
CREATE TEMP TABLE corpus_evn (id int, s text);
INSERT INTO corpus_evn VALUES (1, ''), (2, NULL), (3, ' '), (4, '""'), (5, 'NULL');
SELECT id, s, s IS NULL AS is_null, length(s) AS len FROM corpus_evn ORDER BY id;
SELECT '' AS a, '' AS b, '' AS c;
SELECT NULL AS a, NULL AS b, NULL AS c;
COPY (SELECT id, s FROM corpus_evn ORDER BY id) TO STDOUT WITH (FORMAT csv);
COPY (SELECT id, s FROM corpus_evn ORDER BY id) TO STDOUT WITH (FORMAT csv, NULL 'N/A', FORCE_QUOTE (s));
COPY (SELECT id, s FROM corpus_evn ORDER BY id) TO STDOUT;
