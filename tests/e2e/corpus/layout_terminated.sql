-- Layout, as layout.sql but complete: statements spanning many lines, several
-- statements on one line, blank lines and indentation; the last statement
-- has its semicolon, and blank lines and comments follow it.
SELECT 1 AS a; SELECT 2 AS b; SELECT 3 AS c;


    SELECT
        x,
        x * x
            AS square
    FROM
        generate_series(1, 3)
            AS x
    ORDER BY
        x
    ;
SELECT 'tabs'	AS	tabbed;
SELECT 'semi' AS s;;; SELECT 'after empty statements' AS t;
SELECT 'multi
line
literal' AS literal;
SELECT 'the last statement has its semicolon' AS final
;

-- a comment after the last statement ;
/* and a block comment */

