-- Leaves session state behind on purpose: settings, a prepared statement,
-- a WITH HOLD cursor, a temporary table, a session advisory lock.  psql's
-- session ends with the file; a daemon reusing the connection must reset
-- it (see session_clean.sql, which checks for leftovers).
SET TimeZone = 'Pacific/Chatham';
SET DateStyle = 'SQL, DMY';
SET search_path = pg_catalog;
SET statement_timeout = '123s';
SET application_name = 'corpus-left-behind';
PREPARE corpus_left_stmt AS SELECT 1 AS one;
BEGIN;
DECLARE corpus_left_cursor CURSOR WITH HOLD FOR SELECT g FROM generate_series(1, 5) AS g;
COMMIT;
FETCH 2 FROM corpus_left_cursor;
CREATE TEMP TABLE corpus_left_temp (id int);
SELECT pg_advisory_lock(4242) AS locked;
SELECT timestamptz '2024-01-01 00:00:00+00' AS chatham, current_setting('statement_timeout') AS timeout;
EXECUTE corpus_left_stmt;
