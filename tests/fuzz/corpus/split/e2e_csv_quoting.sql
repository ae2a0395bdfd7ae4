-- Values that need CSV quoting: separators, quotes, CR, LF, CRLF, and the
-- value \. that psql always quotes; values that do not: tabs, spaces,
-- semicolons, backslashes.
SELECT 'a,b' AS comma,
       'say "hi"' AS dquote,
       '"' AS lone_quote,
       E'line1\nline2' AS lf,
       E'line1\r\nline2' AS crlf,
       E'cr\ronly' AS cr,
       E'\n' AS just_newline,
       '\.' AS backslash_dot,
       '\.x' AS backslash_dot_x,
       E'tab\there' AS tab,
       '  padded  ' AS spaces,
       'semi;colon' AS semicolon,
       'back\slash' AS backslash,
       '''' AS single_quote;

SELECT v AS value, length(v) AS len
FROM (VALUES ('\.'), (E'\\.\n'), ('.'), ('\'), (E'x\n\\.'), (',')) AS t(v)
ORDER BY len, v;

SELECT E'multi\nline\n' AS trailing_newline, E'\r\n' AS bare_crlf, ',' AS bare_comma, '"",""' AS quoted_pair;
