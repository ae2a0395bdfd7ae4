SELECT x1; SELECT x2; \echo hi
SELECT x3;
