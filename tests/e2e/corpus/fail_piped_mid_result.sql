-- One statement whose error comes after rows were sent: psql prints none
-- of them; nor may the piped task keep them.
SELECT x, 100 / (5000 - x) AS quotient FROM generate_series(1, 10000) AS x;
