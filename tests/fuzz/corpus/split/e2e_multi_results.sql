-- Many result sets of different shapes in one file, mixed with statements
-- that return nothing (their command tags are not printed with -q).
CREATE TEMP TABLE corpus_orders (id serial PRIMARY KEY, customer text NOT NULL, amount numeric(10,2));
SELECT 'after create' AS step;
INSERT INTO corpus_orders (customer, amount) VALUES ('acme', 10.00), ('acme', 5.50), ('globex', 99.99);
UPDATE corpus_orders SET amount = amount * 2 WHERE customer = 'globex';
SELECT customer, sum(amount) AS total, count(*) AS n FROM corpus_orders GROUP BY customer ORDER BY customer;
DELETE FROM corpus_orders WHERE amount < 6;
SELECT id, customer, amount FROM corpus_orders ORDER BY id;
SHOW client_encoding;
VALUES ('v1', 1), ('v2', 2);
TABLE corpus_orders;
CREATE TEMP TABLE corpus_orders_copy AS SELECT * FROM corpus_orders;
SELECT * INTO TEMP corpus_orders_into FROM corpus_orders WHERE false;
SELECT (SELECT count(*) FROM corpus_orders_copy) AS copied, (SELECT count(*) FROM corpus_orders_into) AS selected_into;
WITH moved AS (DELETE FROM corpus_orders_copy RETURNING customer)
SELECT customer, count(*) AS moved FROM moved GROUP BY customer ORDER BY customer;
SELECT 'last' AS step;
