SELECT 1 AS "a;""b", x1; SELECT x2 AS "x
;y";
