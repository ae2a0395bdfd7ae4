SELECT E'a' '\';', x1;
SELECT x2;
