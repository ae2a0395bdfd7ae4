-- Statements other than SELECT that return rows: SHOW, VALUES, TABLE,
-- EXECUTE, FETCH, CALL with output parameters, data-modifying WITH.
SHOW server_encoding;
VALUES (1, 'a'), (2, NULL);
CREATE TEMP TABLE corpus_rc (k int, v text);
INSERT INTO corpus_rc SELECT g, 'v' || g FROM generate_series(1, 6) AS g;
TABLE corpus_rc ORDER BY k LIMIT 2;
PREPARE corpus_rc_by_key(int) AS SELECT k, v FROM corpus_rc WHERE k = $1;
EXECUTE corpus_rc_by_key(4);
BEGIN;
DECLARE corpus_rc_cur SCROLL CURSOR FOR SELECT k FROM corpus_rc ORDER BY k;
FETCH 2 FROM corpus_rc_cur;
FETCH LAST FROM corpus_rc_cur;
MOVE ABSOLUTE 1 IN corpus_rc_cur;
FETCH NEXT FROM corpus_rc_cur;
CLOSE corpus_rc_cur;
COMMIT;
WITH upd AS (UPDATE corpus_rc SET v = upper(v) WHERE k % 2 = 0 RETURNING k, v)
SELECT * FROM upd ORDER BY k;
SELECT * FROM (SELECT k FROM corpus_rc) AS s WHERE k > 5;
DEALLOCATE ALL;
