-- No newline at the end of the file, no final semicolon.
SELECT 1 AS first;
SELECT 'unterminated last line' AS last