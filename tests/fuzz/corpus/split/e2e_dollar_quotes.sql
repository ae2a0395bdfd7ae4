-- Dollar-quoted bodies containing semicolons, quotes, comments and other
-- dollar quotes; $1 parameters that are not dollar quotes.
CREATE FUNCTION pg_temp.corpus_classify(n int) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $body$
DECLARE
    result text := '';  -- a comment; with a semicolon
BEGIN
    /* block comment; with 'quote' and $$ inside */
    IF n < 0 THEN
        result := 'negative; really';
    ELSIF n = 0 THEN
        result := $$zero 'quoted' $x$ not a tag end$$;
    ELSE
        result := format('positive: %s', n);
    END IF;
    RETURN result;
END;
$body$;

CREATE FUNCTION pg_temp.corpus_add(a int, b int) RETURNS int
LANGUAGE sql IMMUTABLE AS 'SELECT $1 + $2';

CREATE FUNCTION pg_temp.corpus_tagged() RETURNS text LANGUAGE sql AS $fn$SELECT $q$it's $$ "fine" ; -- really$q$$fn$;

SELECT n, pg_temp.corpus_classify(n) AS class FROM generate_series(-1, 1) AS n ORDER BY n;
SELECT pg_temp.corpus_add(40, 2) AS answer, pg_temp.corpus_tagged() AS tagged;
SELECT $$dollar; quoted -- not a comment /* nor this */$$ AS literal, $_$with $ signs $1 $$_$ AS odd_tag, 'cost: $5' AS money_text;
PREPARE corpus_dq_stmt(int, text) AS SELECT $1 * 2 AS doubled, $2 || '$1' AS suffixed;
EXECUTE corpus_dq_stmt(21, 'x');
DEALLOCATE corpus_dq_stmt;
DO $do$
BEGIN
    PERFORM 1; -- nothing to print
END
$do$;
SELECT 'done' AS status;
