-- Quoted identifiers that contain ; -- /* ' and doubled quotes.
CREATE TEMP TABLE "corpus;weird--table" ("col;1" int, "col--2" text, "col/*3*/" text, "it's" text, "say ""hi""" text);
INSERT INTO "corpus;weird--table" VALUES (1, 'a;b', '/* not */', 'x', 'y');
SELECT * FROM "corpus;weird--table";
SELECT "col;1" + 1 AS "next;value", "col--2" AS "dash--dash" FROM "corpus;weird--table";
SELECT U&"\0061bc" AS unicode_ident_value FROM (SELECT 1 AS abc) AS s;
SELECT relname FROM pg_class WHERE relname = 'corpus;weird--table';
