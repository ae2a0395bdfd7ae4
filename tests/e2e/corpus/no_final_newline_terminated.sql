-- No newline at the end of the file; the last statement has its semicolon.
SELECT 1 AS first;
SELECT 'last line' AS last; -- and a comment