-- An exception raised in PL/pgSQL, with DETAIL, HINT, its own SQLSTATE and
-- the CONTEXT line naming the function.  (Not in pg_temp: CONTEXT would
-- name the session's pg_temp_N schema, which differs between sessions.)
CREATE OR REPLACE FUNCTION corpus_check_stock(item text, wanted int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    available int := 3;
BEGIN
    IF wanted > available THEN
        RAISE EXCEPTION 'not enough stock for %', item
            USING DETAIL = format('wanted %s, available %s', wanted, available),
                  HINT = 'Order less; or restock.',
                  ERRCODE = 'PQ001';
    END IF;
    RETURN available - wanted;
END
$$;
SELECT corpus_check_stock('widget', 2) AS left_over;
SELECT corpus_check_stock('gadget', 5) AS left_over;
SELECT 'never runs' AS status;
