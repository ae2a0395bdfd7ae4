-- A parameter symbol in a lone statement: the simple protocol psql uses
-- and the extended one of a pipeline must say the same.
SELECT $1::int AS p;
