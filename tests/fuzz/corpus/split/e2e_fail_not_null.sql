-- A NOT NULL violation inside a multi-row INSERT: DETAIL shows the row.
CREATE TEMP TABLE corpus_contacts (id int PRIMARY KEY, name text NOT NULL, phone text);
INSERT INTO corpus_contacts VALUES (1, 'Ann', NULL);
INSERT INTO corpus_contacts VALUES
    (2, 'Bob', '555-0100'),
    (3, NULL, '555-0101');
