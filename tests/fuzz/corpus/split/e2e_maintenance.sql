-- Commands that refuse to run inside a transaction block (VACUUM, CREATE /
-- REINDEX / DROP INDEX CONCURRENTLY) beside ordinary statements: each
-- statement must be sent on its own, in autocommit.
DROP TABLE IF EXISTS corpus_maint_events;
CREATE TABLE corpus_maint_events (id int PRIMARY KEY, kind text NOT NULL, payload text);
INSERT INTO corpus_maint_events SELECT g, CASE WHEN g % 3 = 0 THEN 'click' ELSE 'view' END, repeat('x', g % 7)
FROM generate_series(1, 300) AS g;
CREATE INDEX CONCURRENTLY corpus_maint_events_kind ON corpus_maint_events (kind);
VACUUM (ANALYZE) corpus_maint_events;
SELECT kind, count(*) AS n FROM corpus_maint_events GROUP BY kind ORDER BY kind;
REINDEX INDEX CONCURRENTLY corpus_maint_events_kind;
SELECT indexrelid::regclass AS index_name, indisvalid AS valid
FROM pg_index WHERE indrelid = 'corpus_maint_events'::regclass ORDER BY 1::text;
DELETE FROM corpus_maint_events WHERE id > 100;
VACUUM corpus_maint_events;
ANALYZE corpus_maint_events;
SELECT reltuples AS estimated_rows FROM pg_class WHERE relname = 'corpus_maint_events';
DROP INDEX CONCURRENTLY corpus_maint_events_kind;
SELECT count(*) AS indexes_left FROM pg_indexes WHERE tablename = 'corpus_maint_events';
DROP TABLE corpus_maint_events;
