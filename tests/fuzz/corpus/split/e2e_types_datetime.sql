-- Dates, times, timestamps and intervals from fixed literals; the session
-- time zone is set here so that timestamptz output does not depend on the
-- server's default.
SET TimeZone = 'UTC';
SELECT date '2024-02-29' AS leap_day,
       date '2024-02-29' + 1 AS next_day,
       date 'infinity' AS d_inf,
       date '0044-03-15 BC' AS ides,
       time '23:59:59.999999' AS t_max,
       time with time zone '12:00:00+05:30' AS ttz,
       timestamp '2000-01-01 00:00:00' AS ts,
       timestamp '2024-06-30 12:34:56.789' AS ts_frac,
       timestamptz '2024-06-30 12:34:56+02' AS tstz_utc,
       timestamptz '-infinity' AS tstz_ninf;

SET TimeZone = 'America/New_York';
SELECT timestamptz '2024-03-10 06:59:59+00' AS before_dst,
       timestamptz '2024-03-10 07:00:00+00' AS after_dst,
       timestamptz '2024-11-03 05:30:00+00' AS ambiguous_hour,
       timestamp '2024-03-10 02:30' AT TIME ZONE 'America/New_York' AS gap_time,
       extract(epoch FROM timestamptz '2024-01-01 00:00:00+00') AS epoch;

SET TimeZone = 'Asia/Kolkata';
SELECT timestamptz '2024-01-01 00:00:00+00' AS kolkata,
       date_trunc('day', timestamptz '2024-01-01 20:00:00+00') AS truncated;

SELECT interval '1 year 2 months 3 days 04:05:06.789' AS iv,
       interval '-1 day +02:00' AS mixed_sign,
       interval '36 hours' AS hours,
       justify_hours(interval '36 hours') AS justified,
       interval '1 month' * 1.5 AS scaled,
       date '2024-01-31' + interval '1 month' AS month_end,
       age(timestamp '2024-03-01', timestamp '2023-01-15') AS age;

SET IntervalStyle = 'iso_8601';
SELECT interval '1 year 2 months 3 days 04:05:06.789' AS iso_iv;

SELECT d::date AS day, to_char(d, 'Dy DD Mon YYYY') AS formatted, extract(isodow FROM d) AS isodow
FROM generate_series(timestamp '2024-12-28', timestamp '2025-01-03', interval '1 day') AS d;
