-- SET inside the task changes how later results print.
SET TimeZone = 'Europe/Paris';
SELECT date '2024-03-01' AS d, timestamp '2024-03-01 14:05:00' AS ts, timestamptz '2024-07-01 12:00:00+00' AS tstz;
SET DateStyle = 'SQL, DMY';
SELECT date '2024-03-01' AS d, timestamp '2024-03-01 14:05:00' AS ts, timestamptz '2024-07-01 12:00:00+00' AS tstz;
SET DateStyle = 'German';
SELECT date '2024-03-01' AS d, timestamptz '2024-07-01 12:00:00+00' AS tstz;
SET DateStyle TO Postgres, MDY;
SELECT date '2024-03-01' AS d, timestamp '2024-03-01 14:05:00' AS ts, '03/04/2024'::date AS parsed_mdy;
SET IntervalStyle = 'postgres_verbose';
SELECT interval '1 day 02:03:04' AS verbose_interval, interval '-3 months' AS negative;
SET extra_float_digits = 0;
SELECT 0.1::float8 + 0.2::float8 AS rounded_sum, pi() AS pi;
RESET ALL;
SET TimeZone = 'UTC';
SELECT date '2024-03-01' AS d, interval '1 day 02:03:04' AS iv, 0.1::float8 + 0.2::float8 AS sum;
