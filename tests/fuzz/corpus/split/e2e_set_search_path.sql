-- search_path decides which of two same-named functions runs and how
-- regclass values print.
CREATE SCHEMA IF NOT EXISTS corpus_sp_a;
CREATE SCHEMA IF NOT EXISTS corpus_sp_b;
CREATE OR REPLACE FUNCTION corpus_sp_a.corpus_whoami() RETURNS text LANGUAGE sql AS $$SELECT 'schema a'$$;
CREATE OR REPLACE FUNCTION corpus_sp_b.corpus_whoami() RETURNS text LANGUAGE sql AS $$SELECT 'schema b'$$;
DROP TABLE IF EXISTS corpus_sp_b.corpus_sp_things;
CREATE TABLE corpus_sp_b.corpus_sp_things (id int);
SET search_path = corpus_sp_a, public;
SELECT corpus_whoami() AS who, current_schema() AS current, current_schemas(false) AS path,
       'corpus_sp_b.corpus_sp_things'::regclass AS qualified;
SET search_path TO corpus_sp_b, corpus_sp_a;
SELECT corpus_whoami() AS who, current_schema() AS current,
       'corpus_sp_things'::regclass AS unqualified;
SHOW search_path;
RESET search_path;
SHOW search_path;
SELECT corpus_sp_a.corpus_whoami() AS qualified_call;
DROP TABLE corpus_sp_b.corpus_sp_things;
