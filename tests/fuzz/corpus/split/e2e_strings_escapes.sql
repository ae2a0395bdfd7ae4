-- String syntaxes: doubled quotes, E'' escapes (including \'), Unicode
-- escapes, adjacent-string continuation, backslashes in standard strings.
SELECT 'it''s' AS doubled,
       E'it\'s' AS e_backslash_quote,
       E'semi\;colon; and \'quote\'' AS e_semicolon,
       e'lower case e; \'' AS lower_e,
       E'tab\tnewline\nbackslash\\end' AS e_escapes,
       E'\x41\102\u00e9\U0001F418' AS e_codes,
       U&'d\0061t\+000061' AS u_amp,
       U&'!00e9' UESCAPE '!' AS u_escape_char,
       'C:\path\' AS trailing_backslash,
       B'101' AS bit_literal,
       X'1F' AS hex_bit_literal,
       N'national' AS n_string;
SELECT 'continued'
       ' across lines' AS continuation,
       'a' || E'\'' || 'b' AS concatenated;
SELECT E'\\' AS one_backslash, '\\' AS two_backslashes, E'''' AS quote_via_doubling, E'\\\'' AS backslash_quote;
