-- Composite (row) types, enums and domains, created in this session's
-- temporary schema so that nothing outlives the task.
CREATE TYPE pg_temp.corpus_mood AS ENUM ('sad', 'ok', 'happy', 'very "happy"');
CREATE TYPE pg_temp.corpus_point AS (x float8, y float8, label text);
CREATE DOMAIN pg_temp.corpus_percent AS numeric(5,2) CHECK (VALUE BETWEEN 0 AND 100);

SELECT 'happy'::pg_temp.corpus_mood AS mood,
       'very "happy"'::pg_temp.corpus_mood AS quoted_label,
       enum_range(NULL::pg_temp.corpus_mood) AS all_moods,
       'ok'::pg_temp.corpus_mood < 'happy'::pg_temp.corpus_mood AS ordered,
       ROW(1.5, -2, 'a, "b"')::pg_temp.corpus_point AS pt,
       ROW(NULL, 0, '')::pg_temp.corpus_point AS pt_nulls,
       ROW(1, 'two', NULL, ROW(3, 'four')) AS anonymous_row,
       42.5::pg_temp.corpus_percent AS pct;

CREATE TEMP TABLE corpus_people (id int PRIMARY KEY, name text, mood pg_temp.corpus_mood, home pg_temp.corpus_point);
INSERT INTO corpus_people VALUES
    (1, 'Ann', 'happy', ROW(0, 0, 'origin')),
    (2, 'Bob', 'sad', NULL),
    (3, 'Cé', NULL, ROW(1e10, -1e-10, 'far, away'));
SELECT p AS whole_row, (p.home).label AS home_label, p.mood
FROM corpus_people AS p
ORDER BY p.mood NULLS FIRST, p.id;
SELECT mood, count(*) AS n FROM corpus_people GROUP BY mood ORDER BY mood;
