-- A unique violation: ERROR plus DETAIL.
CREATE TEMP TABLE corpus_users (id int PRIMARY KEY, email text NOT NULL UNIQUE);
INSERT INTO corpus_users VALUES (1, 'ann@example.com'), (2, 'bob@example.com');
SELECT id, email FROM corpus_users ORDER BY id;
INSERT INTO corpus_users VALUES (3, 'ann@example.com');
SELECT 'never runs' AS status;
