-- A statement cancelled by statement_timeout (SQLSTATE 57014).
SET statement_timeout = '100ms';
SELECT 'fast enough' AS status;
SELECT pg_sleep(5);
