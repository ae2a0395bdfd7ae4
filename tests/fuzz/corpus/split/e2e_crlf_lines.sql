-- CRLF line endings, as written on Windows.
SELECT 1 AS a,
       'two' AS b;
SELECT 'multi
line' AS crlf_in_literal;
SELECT 3 AS c; -- comment
