-- Explicit transaction blocks: committed work stays, rolled-back work goes,
-- savepoints, transaction-local settings, and a COMMIT outside a
-- transaction (a WARNING on stderr, nothing on stdout).
CREATE TEMP TABLE corpus_accounts (name text PRIMARY KEY, balance int NOT NULL);
INSERT INTO corpus_accounts VALUES ('alice', 100), ('bob', 50);

BEGIN;
UPDATE corpus_accounts SET balance = balance - 30 WHERE name = 'alice';
UPDATE corpus_accounts SET balance = balance + 30 WHERE name = 'bob';
SELECT name, balance FROM corpus_accounts ORDER BY name;
COMMIT;

BEGIN;
DELETE FROM corpus_accounts;
SELECT count(*) AS inside_rollback FROM corpus_accounts;
ROLLBACK;
SELECT count(*) AS after_rollback FROM corpus_accounts;

START TRANSACTION ISOLATION LEVEL REPEATABLE READ;
SHOW transaction_isolation;
SET LOCAL TimeZone = 'Pacific/Auckland';
SELECT timestamptz '2024-01-01 00:00:00+00' AS local_tz;
SAVEPOINT sp1;
INSERT INTO corpus_accounts VALUES ('carol', 1);
ROLLBACK TO SAVEPOINT sp1;
INSERT INTO corpus_accounts VALUES ('dave', 2);
RELEASE SAVEPOINT sp1;
END;
SELECT timestamptz '2024-01-01 00:00:00+00' AS default_tz_again;
SELECT name, balance FROM corpus_accounts ORDER BY name;
COMMIT;
BEGIN; SELECT 'one-line transaction' AS t; COMMIT;
SHOW transaction_isolation;
