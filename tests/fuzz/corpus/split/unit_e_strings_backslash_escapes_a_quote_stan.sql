SELECT E'\';', 'a\', x1;
SELECT e'\\', x2;
