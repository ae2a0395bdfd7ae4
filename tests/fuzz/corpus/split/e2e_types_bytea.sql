-- bytea in the default hex output, then in escape output after a SET.
SELECT '\x'::bytea AS empty,
       '\x00ff10'::bytea AS hex,
       'abc'::bytea AS from_text,
       convert_to('café', 'UTF8') AS utf8_bytes,
       decode('3q2+7w==', 'base64') AS deadbeef,
       sha256('pgqfs'::bytea) AS digest,
       length('\x000102'::bytea) AS len;

SELECT i, set_byte('\x0000'::bytea, 1, i) AS b
FROM generate_series(0, 255, 51) AS i;

SET bytea_output = 'escape';
SELECT '\x00ff10'::bytea AS escaped, convert_to('a\b', 'UTF8') AS backslash, E'\\x0a'::bytea AS newline_byte;
