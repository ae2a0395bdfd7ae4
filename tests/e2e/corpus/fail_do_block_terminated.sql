-- An error from a DO block: CONTEXT names the inline code block; the
-- failing statement is the last one, its semicolon after the dollar quote.
SELECT 'before' AS status;
DO $$
DECLARE
    n int;
BEGIN
    SELECT count(*) INTO STRICT n FROM generate_series(1, 2);
    PERFORM 1 / (n - 2);
END
$$;
