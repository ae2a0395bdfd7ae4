-- A lone statement with a syntax error, a few lines down: the error's
-- line, excerpt and caret are psql's.

SELECT 1 AS one,
       2 AS two
  FROMM nowhere;
