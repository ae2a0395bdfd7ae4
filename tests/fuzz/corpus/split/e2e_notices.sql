-- NOTICE, INFO and WARNING messages go to stderr (the task's log), never
-- into the result, also when they arrive between the rows of a result.
DO $$
BEGIN
    RAISE NOTICE 'starting; step %', 1;
    RAISE INFO 'info message';
    RAISE WARNING 'a warning, with DETAIL' USING DETAIL = 'some detail';
END
$$;
SELECT 'after do' AS marker;
CREATE FUNCTION pg_temp.corpus_noisy(i int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    RAISE NOTICE 'row %', i;
    RETURN i * 10;
END
$$;
SELECT i, pg_temp.corpus_noisy(i) AS tenfold FROM generate_series(1, 5) AS i;
SET client_min_messages = warning;
SELECT pg_temp.corpus_noisy(6) AS silenced_notice;
RESET client_min_messages;
DROP TABLE IF EXISTS corpus_notices_never_exists;
SELECT 'end' AS marker;
