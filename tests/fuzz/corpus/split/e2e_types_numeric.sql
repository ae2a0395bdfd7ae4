-- Integer, numeric and floating point types, including their edge values.
SELECT 0::int2 AS i2_zero,
       (-32768)::int2 AS i2_min,
       32767::int2 AS i2_max,
       (-2147483648)::int4 AS i4_min,
       2147483647 AS i4_max,
       (-9223372036854775808)::int8 AS i8_min,
       9223372036854775807::int8 AS i8_max;

SELECT 1.50::numeric(10,2) AS scale2,
       0.000::numeric(6,3) AS zero_scale3,
       (-123456789.123456789)::numeric AS negative,
       12345678901234567890123456789012345678901234567890.5::numeric AS huge,
       (1::numeric / 3)::numeric(20,18) AS third,
       2.5::numeric(10,0) AS rounded_half,
       'NaN'::numeric AS numeric_nan,
       'Infinity'::numeric AS numeric_inf,
       '-Infinity'::numeric AS numeric_ninf;

SELECT 'NaN'::float8 AS f8_nan,
       'Infinity'::float8 AS f8_inf,
       '-Infinity'::float8 AS f8_ninf,
       '-0'::float8 AS f8_negzero,
       0.1::float8 + 0.2::float8 AS f8_sum,
       1e300::float8 * 10 AS f8_big,
       2.2250738585072014e-308::float8 AS f8_tiny,
       3.14159265358979::float4 AS f4_pi,
       'NaN'::float4 AS f4_nan,
       1::float4 / 3 AS f4_third;

SELECT x, x * 2.5 AS scaled, x::float8 / 7 AS seventh, x % 3 AS mod3
FROM generate_series(-3, 3) AS x
ORDER BY x;
