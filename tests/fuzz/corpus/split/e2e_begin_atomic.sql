-- SQL-standard function and procedure bodies (BEGIN ATOMIC ... END): the
-- semicolons inside belong to the body, and END; closes the statement.
CREATE TEMP TABLE corpus_ledger (id int PRIMARY KEY, amount numeric NOT NULL);
INSERT INTO corpus_ledger VALUES (1, 10), (2, 20.5);

CREATE FUNCTION pg_temp.corpus_total() RETURNS numeric
LANGUAGE sql
BEGIN ATOMIC
    SELECT sum(amount) FROM corpus_ledger;
END;

CREATE PROCEDURE pg_temp.corpus_add_entry(p_id int, p_amount numeric)
LANGUAGE sql
BEGIN ATOMIC
    INSERT INTO corpus_ledger VALUES (p_id, p_amount);
    UPDATE corpus_ledger SET amount = amount + 0 WHERE id = p_id;
END;

CREATE FUNCTION pg_temp.corpus_case(x int) RETURNS text
LANGUAGE sql IMMUTABLE
BEGIN ATOMIC
    SELECT CASE WHEN x > 0 THEN 'pos' ELSE 'non-pos' END;
END;

CALL pg_temp.corpus_add_entry(3, 1.25);
SELECT pg_temp.corpus_total() AS total, pg_temp.corpus_case(1) AS c1, pg_temp.corpus_case(-1) AS c2;

CREATE PROCEDURE pg_temp.corpus_out(INOUT a int, INOUT b text)
LANGUAGE plpgsql AS $$
BEGIN
    a := a * 10;
    b := b || '!';
END;
$$;
CALL pg_temp.corpus_out(4, 'hey');
SELECT id, amount FROM corpus_ledger ORDER BY id;
