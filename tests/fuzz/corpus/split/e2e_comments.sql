-- Comments everywhere; every one of these contains a ; that must not end
-- a statement.
/* a block comment; at the top */
/* nested /* comments; */ still a comment; */
SELECT 1 AS one; -- trailing comment; after a statement
SELECT /* inline; */ 2 AS two;
SELECT 3 AS three /* /* nested; */ inside a statement */ ;
-- SELECT 'commented out';
SELECT '-- not a comment' AS dashes, '/* not a comment */' AS slashes;
SELECT 4 -- comment; ending the line
  AS four;
/*
 * A multi-line
 * block; comment
 */
SELECT 5 AS five;
SELECT 6 AS six -- a comment at the very end; of the last line
;
SELECT 7 AS "--seven";
/* a comment at the end of the file; */
-- and a line comment; too
