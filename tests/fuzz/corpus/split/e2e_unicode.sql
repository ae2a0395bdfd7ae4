-- Non-ASCII text: accents, combining marks, CJK, emoji (4-byte UTF-8),
-- right-to-left script; also in column names.
SELECT 'café' AS accents,
       E'cafe\u0301' AS combining,
       'naïve façade Ærøskøbing' AS latin,
       '日本語のテキスト' AS japanese,
       '中文，逗号' AS fullwidth_comma,
       '한국어' AS korean,
       'שלום' AS hebrew,
       '🐘🚀👩‍💻' AS emoji,
       U&'\+01F600 smile' AS escaped_emoji,
       'Ωμέγα' AS "Ελληνικά",
       length('🐘🚀') AS chars,
       octet_length('🐘🚀') AS bytes;

SELECT upper('straße ǆ éé') AS upper_c_locale, lower('ÀÉÎ') AS lower_c_locale,
       reverse('añb') AS reversed, substr('日本語', 2, 1) AS second_char,
       left('🐘🚀👩', 2) AS two_emoji, convert_to('é', 'LATIN1') AS latin1_bytes;

SELECT w AS word, octet_length(w) AS bytes
FROM unnest(ARRAY['a', 'é', '€', '𝄞', 'z']) AS w
ORDER BY w COLLATE "C";
