-- An error inside an explicit transaction: the rows printed inside it
-- stay in the result, the transaction is rolled back, COMMIT never runs.
CREATE TEMP TABLE corpus_fail_tx (id int PRIMARY KEY, note text);
BEGIN;
INSERT INTO corpus_fail_tx VALUES (1, 'inserted in the transaction');
SELECT id, note FROM corpus_fail_tx;
UPDATE corpus_fail_tx SET id = id / 0;
COMMIT;
SELECT 'never runs' AS status;
