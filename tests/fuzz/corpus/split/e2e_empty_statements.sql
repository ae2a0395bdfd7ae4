;
-- A file that starts with an empty statement and has others in between.
;;
SELECT 1 AS one;
;
/* only a comment */ ;
SELECT 2 AS two;
