-- json keeps its text; jsonb normalises it.  Pretty-printed JSON puts
-- newlines inside a value (a quoted multi-line CSV field).
SELECT '{"b": 1, "a": [1, 2, {"c": null}], "a": "dup"}'::json AS j,
       '{"b": 1, "a": [1, 2, {"c": null}], "a": "dup"}'::jsonb AS jb,
       '"text with \"quotes\", commas"'::jsonb AS jb_string,
       '[]'::jsonb AS empty_array,
       'null'::jsonb AS json_null,
       NULL::jsonb AS sql_null,
       '{"n": 1.50, "e": 1e3}'::jsonb AS numbers;

SELECT jsonb_pretty('{"name": "pgqfs", "pools": [{"name": "default", "max_workers": 4}], "ok": true}') AS pretty;

SELECT key, value, jsonb_typeof(value) AS type
FROM jsonb_each('{"s": "x", "n": 2, "b": false, "z": null, "o": {"k": [1]}}')
ORDER BY key;

SELECT json_build_object('id', 7, 'tags', ARRAY['a', 'b,c', 'd"e']) AS built,
       jsonb_path_query_array('{"a": [1, 2, 3, 4]}', '$.a[*] ? (@ > 2)') AS path,
       '{"a": {"b": "deep"}}'::jsonb #>> '{a,b}' AS extracted,
       to_jsonb('ünïcödé ✓'::text) AS unicode;

SELECT jsonb_agg(x ORDER BY x) AS agg, jsonb_object_agg('k' || x, x * x) AS obj
FROM generate_series(1, 4) AS x;
