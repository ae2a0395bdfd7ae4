-- Less common built-in types: geometric, bit strings, text search, xml-free
-- oddities, money-free (money depends on lc_monetary).
SELECT point(1.5, -2) AS pt,
       box(point(0, 0), point(2, 3)) AS bx,
       circle(point(0, 0), 2) AS circ,
       lseg(point(0, 0), point(1, 1)) AS seg,
       '((0,0),(1,0),(1,1))'::polygon AS poly,
       area(box(point(0, 0), point(2, 3))) AS area;

SELECT B'1010' AS bits, X'FF'::bit(8) AS hexbits, B'1010' & B'0110' AS anded,
       '101'::varbit || '1' AS appended, get_bit(B'1010', 0) AS first_bit;

SELECT to_tsvector('simple', 'The quick brown fox; the lazy dog') AS tsv,
       to_tsquery('simple', 'quick & !slow') AS tsq,
       to_tsvector('simple', 'quick brown') @@ to_tsquery('simple', 'quick & brown') AS matches;

SELECT 'pg_class'::regclass AS rel, 'int4'::regtype AS typ, 'now'::regproc AS proc,
       pg_typeof(1::int8) AS type_of, 'abc' COLLATE "C" < 'abd' AS collated;
