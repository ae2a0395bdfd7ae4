-- Column names that need quoting in CSV, case, duplicates and defaults.
SELECT 1 AS "MixedCase",
       2 AS "with space",
       3 AS "a,b",
       4 AS "say ""hi""",
       5 AS "semi;colon",
       6 AS "new
line",
       7 AS "ünïcode",
       8 AS "select",
       9 AS "\.";
SELECT 1, 'two', 3.0, 1 < 2, count(*) FROM (VALUES (1)) AS v(x);
SELECT 1 AS dup, 2 AS dup, 3 AS "DUP";
SELECT a.x, b.x FROM (VALUES (1)) AS a(x), (VALUES (2)) AS b(x);
VALUES (1, 'one'), (2, 'two');
SELECT * FROM (VALUES (1, 2)) AS "T,1"("c 1", "c""2");
