-- leading comment; with a semicolon
/* A statement over several lines, with comments inside it: the error
   position is counted in the text psql sends, from its first line. */

SELECT 1 AS first;
/* block */ SELECT a,
       b -- trailing comment
  FROM corpus_no_such_table
 WHERE a > 1;
SELECT 'never runs' AS status;
