-- Values whose text depends on session settings, printed with the server's
-- defaults.  A connection reused from a task that changed TimeZone,
-- DateStyle or IntervalStyle without a reset would print these differently.
SELECT timestamptz '2024-06-30 12:34:56+00' AS tstz,
       timestamp '2024-06-30 12:34:56' AS ts,
       date '2024-06-30' AS d,
       interval '1 day 02:03:04' AS iv,
       1.5::float8 / 7 AS f8,
       '\x0a'::bytea AS b;
SHOW DateStyle;
SHOW IntervalStyle;
SHOW TimeZone;
SHOW search_path;
SHOW extra_float_digits;
SHOW bytea_output;
