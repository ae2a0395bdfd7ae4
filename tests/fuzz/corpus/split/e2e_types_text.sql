-- Character types: text, varchar, char(n) padding, "char", name; booleans.
SELECT true AS t, false AS f, NULL::bool AS n, 'yes'::bool AS yes, 'off'::bool AS off;

SELECT 'plain text'::text AS txt,
       'short'::varchar(10) AS vc,
       'truncated on cast'::varchar(9) AS vc_cast,
       'ab'::char(5) AS padded,
       'ab'::char(5) || '|' AS padding_dropped_on_concat,
       length('ab'::char(5)) AS char_len,
       octet_length('ab'::char(5)) AS char_octets,
       ''::char(3) AS empty_char3,
       'x'::"char" AS one_char,
       'identifier'::name AS nm;

CREATE TEMP TABLE corpus_text_items (
    code char(4) PRIMARY KEY,
    label varchar(20) NOT NULL,
    note text
);
INSERT INTO corpus_text_items VALUES
    ('a', 'first', NULL),
    ('bb', 'second', 'two letters'),
    ('cccc', 'third', ''),
    ('dd  ', 'fourth', '   leading and trailing   ');
SELECT code, '[' || code::text || ']' AS bracketed, label, note, note IS NULL AS note_is_null
FROM corpus_text_items
ORDER BY code;
SELECT string_agg(label, ', ' ORDER BY code) AS labels, count(*) AS n FROM corpus_text_items;
