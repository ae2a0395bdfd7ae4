SELECT (x1;
x2);
SELECT ((x3);
