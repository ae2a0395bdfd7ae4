-- Range and multirange types.
SET TimeZone = 'UTC';
SELECT int4range(1, 10) AS i4,
       int4range(1, 10, '[]') AS i4_closed_canonical,
       numrange(1.5, 2.5) AS num,
       numrange(NULL, 5) AS unbounded_lower,
       'empty'::int4range AS empty,
       daterange('2024-01-01', '2024-02-01') AS dates,
       tstzrange('2024-01-01 00:00+00', '2024-01-01 12:00+00', '(]') AS times,
       int8range(5, 5) AS degenerate;

SELECT int4range(1, 10) @> 5 AS contains_5,
       int4range(1, 10) && int4range(9, 20) AS overlaps,
       int4range(1, 10) * int4range(5, 15) AS intersection,
       int4range(1, 5) + int4range(5, 9) AS merged,
       upper(int4range(1, 10)) AS upper_bound,
       lower_inf(numrange(NULL, 5)) AS lower_inf,
       isempty(int4range(3, 3)) AS is_empty;

SELECT '{[1,3), [5,8)}'::int4multirange AS multi,
       int4multirange(int4range(1, 3), int4range(2, 6), int4range(10, 11)) AS normalised,
       '{}'::int4multirange AS empty_multi,
       range_agg(r ORDER BY r) AS aggregated
FROM (VALUES (int4range(1, 4)), (int4range(3, 7)), (int4range(20, 30))) AS v(r);
