-- A fresh session: no settings, prepared statements, cursors, temporary
-- tables or advisory locks left by earlier tasks on the same connection.
SELECT current_setting('TimeZone') = reset_val AS timezone_default FROM pg_settings WHERE name = 'TimeZone';
SELECT name FROM pg_settings
WHERE source = 'session' AND name NOT IN ('application_name', 'client_encoding')
ORDER BY name;
SHOW DateStyle;
SHOW search_path;
SHOW statement_timeout;
SELECT count(*) AS prepared FROM pg_prepared_statements WHERE name LIKE 'corpus%';
SELECT count(*) AS cursors FROM pg_cursors WHERE name LIKE 'corpus%';
SELECT to_regclass('pg_temp.corpus_left_temp') IS NULL AS no_leftover_temp_table;
SELECT count(*) AS advisory_locks FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid();
SELECT pg_try_advisory_lock(4243) AS got_lock;
SELECT timestamptz '2024-01-01 00:00:00+00' AS default_tz;
