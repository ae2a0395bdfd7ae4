-- pg_cursors lists the extended protocol's unnamed portal: a statement
-- that names it goes as psql sends it.
SELECT name, statement FROM pg_cursors;
