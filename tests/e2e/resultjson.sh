#!/usr/bin/env bash
# result.json through the mount: one JSON object per row per line, equal
# as parsed JSON to PostgreSQL's row_to_json() of the same rows, for every
# result set of the file in order; rows of a statement that failed are
# dropped as in result; streamed for a large result.
. "$SRCDIR/e2e/lib.sh"

pg_start
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"

q1="SELECT 12.50::numeric AS n, 'say \"hi\" \\ there'::text AS t, NULL::int AS z, true AS b,
  '{\"a\": [1, 2.5, null], \"b\": {\"c\": \"d\"}}'::jsonb AS j, 1.5e300::float8 AS f,
  'NaN'::float8 AS nan, '1 day 02:03:04'::interval AS i, '2026-11-28 10:00:00+00'::timestamptz AS ts,
  ARRAY[1, 2, NULL] AS arr, ARRAY['x', 'y \"z\"'] AS tarr"
q2="SELECT g AS k, g * 2 AS doubled FROM generate_series(1, 3) g"
printf '%s;\n%s;\nSELECT 1 WHERE false;\nCREATE TEMP TABLE x (a int);\n' "$q1" "$q2" >"$W/rows.sql"
id=$(new_id)
submit default "$W/rows.sql" "$id.sql"
t_is "$(task_wait "$id" 30)" done "the task is done"
{
	psql_ref -d app -tAX -c "SELECT row_to_json(r) FROM ($q1) r"
	psql_ref -d app -tAX -c "SELECT row_to_json(r) FROM ($q2) r"
} >"$W/want.json"
cp "$MNT/done/$id/result.json" "$W/got.json"
t_is "$(wc -l <"$W/got.json")" 4 "four rows, four lines"
cmp_json() {
	python3 - "$1" "$2" <<'PY'
import json, sys
from decimal import Decimal
def load(p):
    with open(p) as f:
        return [json.loads(l, parse_float=Decimal, object_pairs_hook=list) for l in f if l.strip()]
a, b = load(sys.argv[1]), load(sys.argv[2])
if a != b:
    print("got:  %r\nwant: %r" % (a, b))
    sys.exit(1)
PY
}
t_ok "result.json equals row_to_json of the same rows, as parsed JSON" cmp_json "$W/got.json" "$W/want.json"
t_is "$(stat -c %s "$MNT/done/$id/result.json")" "$(wc -c <"$W/got.json")" "its size is exact"

# A statement that fails after some rows: they go, as from result.
printf 'SELECT 1 AS a;\nSELECT 1 / (3 - g) AS b FROM generate_series(1, 5) g;\n' >"$W/fail.sql"
id=$(new_id)
submit default "$W/fail.sql" "$id.sql"
t_is "$(task_wait "$id" 30)" failed "a failing task fails"
t_is "$(cat "$MNT/failed/$id/result.json")" '{"a":1}' "result.json keeps the rows of the statements that succeeded"

# A large result streams (checked against row_to_json on the server).
printf "SELECT g AS n, repeat('x', 100) AS pad FROM generate_series(1, 50000) g;\n" >"$W/big.sql"
id=$(new_id)
submit default "$W/big.sql" "$id.sql"
t_is "$(task_wait "$id" 60)" done "a large result is done"
psql_ref -d app -tAX -c "SELECT row_to_json(r) FROM (SELECT g AS n, repeat('x', 100) AS pad FROM generate_series(1, 50000) g) r" >"$W/bigwant.json"
t_ok "50,000 rows equal row_to_json" cmp_json "$MNT/done/$id/result.json" "$W/bigwant.json"
t_done
