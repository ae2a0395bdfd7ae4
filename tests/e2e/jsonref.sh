#!/usr/bin/env bash
# result.json's row formatter against PostgreSQL: json_row() (through the
# jsonref tool, $JSONREF) of each query's rows must equal, as parsed JSON
# and line by line, SELECT row_to_json(r) FROM (<query>) r of psql.  No
# daemon: this checks the formatter alone, on the corpus' kinds of values.
. "$SRCDIR/e2e/lib.sh"

JSONREF=${JSONREF:-$BUILDDIR/jsonref}
[ -x "$JSONREF" ] || t_bail "no jsonref tool at $JSONREF"
command -v python3 >/dev/null || t_bail "python3 is needed to parse JSON"
pg_start
W=$E2E_TMP/work
mkdir -p "$W"
DB="$PG_CONNINFO dbname=app"

# Compares GOT (JSON lines) with WANT (row_to_json values, NUL-separated as
# psql -0 writes them: a json value may hold a raw newline).  Objects are
# compared as lists of pairs, so key order and duplicate keys count;
# numbers as Decimal, so no precision is lost.  Prints why on a mismatch.
cat >"$W/cmp.py" <<'PY'
import json, sys
from decimal import Decimal

def load(text):
    return json.loads(text, parse_float=Decimal, parse_int=Decimal,
                      object_pairs_hook=lambda pairs: ('object', pairs))

got = open(sys.argv[1], 'rb').read().decode('utf-8')
want = open(sys.argv[2], 'rb').read().decode('utf-8')
want_rows = [w for w in want.split('\0') if w != '']
if got and not got.endswith('\n'):
    sys.exit('the output does not end with a newline')
got_rows = got.split('\n')[:-1] if got else []
if len(got_rows) != len(want_rows):
    sys.exit('%d lines, %d rows expected' % (len(got_rows), len(want_rows)))
for n, (g, w) in enumerate(zip(got_rows, want_rows), 1):
    try:
        gv = load(g)
    except ValueError as e:
        sys.exit('line %d is not JSON (%s): %s' % (n, e, g))
    if gv != load(w):
        sys.exit('line %d differs:\n  got:  %s\n  want: %s' % (n, g, w))
PY

# check DESC QUERY: json_row() of QUERY's rows equals row_to_json()'s.
check() {
	local desc=$1 query=$2 err
	if ! "$JSONREF" "$DB" "$query" >"$W/got" 2>"$W/got.err"; then
		t_fail "$desc: jsonref failed"
		t_diag_file "$W/got.err" 20
		return 1
	fi
	if ! psql_ref -X -q -A -t -0 -v ON_ERROR_STOP=1 -d app \
		-c "SELECT row_to_json(jsonref_row) FROM ($query) jsonref_row" >"$W/want" 2>"$W/want.err"; then
		t_fail "$desc: psql failed"
		t_diag_file "$W/want.err" 20
		return 1
	fi
	if err=$(python3 "$W/cmp.py" "$W/got" "$W/want" 2>&1); then
		t_pass "$desc"
	else
		t_fail "$desc"
		t_diag "$err"
	fi
}

# The row the issue names: numeric, text with quotes, NULL, boolean,
# jsonb, float and interval.
check "numeric, quoted text, NULL, boolean, jsonb, float, interval" \
	"SELECT 12.50::numeric AS n, 'say \"hi\"' AS t, NULL::int AS z, true AS b,
	        '{\"a\": [1, {\"b\": null}]}'::jsonb AS j, 2.5::float8 AS f,
	        '1 day 02:03:04.5'::interval AS i"
check "text: quotes, backslashes, newlines, control characters, UTF-8" \
	"SELECT E'a\"b\\\\c' AS q, E'l1\nl2\r\n\tx' AS nl, E'\\x01\\x1f\\x7f' AS ctl,
	        'été € 𝄞' AS utf8, '' AS empty, '/' AS slash, 'NULL' AS word"
check "NULL of every kind" \
	"SELECT NULL::text a, NULL::int b, NULL::jsonb c, NULL::int[] d,
	        NULL::timestamptz e, NULL::bool f"
check "integers, oid and numeric" \
	"SELECT (-32768)::int2 a, 2147483647 b, (-9223372036854775808)::int8 c,
	        4294967295::oid o, 0.000001::numeric d,
	        123456789012345678901234567890.123456789::numeric e,
	        'NaN'::numeric f, 'Infinity'::numeric g, '-Infinity'::numeric h,
	        1e-20::numeric k"
check "floats with NaN and Infinity" \
	"SELECT 'NaN'::float8 a, 'Infinity'::float8 b, '-Infinity'::float4 c,
	        1e300::float8 d, '-0'::float8 e, 1.5e-7::float8 f,
	        3.14::float4 g, 0.1::float8 h"
check "json and jsonb, with line breaks" \
	"SELECT E'{\"a\":\n  1,\r\n \"b\": [true, false]}'::json a,
	        '\"s\\\\n\"'::json b, '12'::jsonb c, '[]'::json d,
	        '{\"k\": {\"l\": [1, 2.50, \"x\"]}}'::jsonb e, 'null'::jsonb f"
check "booleans" "SELECT true a, false b"
check "dates" \
	"SELECT '2026-11-28'::date a, '0044-03-15 BC'::date b,
	        'infinity'::date c, '-infinity'::date d"
check "timestamps" \
	"SELECT '2026-11-28 10:00'::timestamp a,
	        '2026-11-28 10:00:00.123456'::timestamp b,
	        '0044-03-15 12:00 BC'::timestamp c, 'infinity'::timestamp d,
	        '12000-01-01 00:00'::timestamp e"
check "timestamptz in UTC" \
	"SELECT '2026-11-28 10:00:00+00'::timestamptz a,
	        '2026-11-28 10:00:00.5+05:30'::timestamptz b,
	        '0044-03-15 12:00+00 BC'::timestamptz c,
	        '-infinity'::timestamptz d"
# The session's TimeZone decides the offsets, in both sessions alike.
PGTZ=America/New_York check "timestamptz in America/New_York (LMT offset in seconds)" \
	"SELECT '1850-01-01 00:00'::timestamptz a, '2026-07-01 12:00'::timestamptz b,
	        '2026-01-01'::timestamptz c"
PGTZ=Asia/Kolkata check "timestamptz in Asia/Kolkata (+05:30)" \
	"SELECT '2026-11-28 10:00:00+00'::timestamptz a"
PGTZ=Asia/Kathmandu check "timestamptz in Asia/Kathmandu (+05:45)" \
	"SELECT '2026-11-28 10:00:00+00'::timestamptz a"
check "times, intervals and other types as strings" \
	"SELECT '10:00'::time a, '10:00+02'::timetz b,
	        '-1 year 2 mons 3 days 04:05:06'::interval c,
	        '\\x00ff'::bytea d, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid e,
	        '192.168.0.1/24'::inet f, 1.5::money g, '(1,2)'::point h,
	        'abc'::char(5) i, 'x'::varchar j, 'pg_class'::name k,
	        '0/16B3748'::pg_lsn l, 'a:1 b:2'::tsvector m, '[1,5)'::int4range n,
	        B'101' o, '<x>1</x>'::xml p"
check "arrays: int[], text[], nested, bounds, NULLs" \
	"SELECT ARRAY[1,2,3] a, ARRAY['a','b c',NULL,'NULL',E'q\"\\\\',''] b,
	        '{{1,2},{3,4}}'::int[] c, '{{{1},{2}},{{3},{4}}}'::int[] d,
	        '[2:3]={7,8}'::int[] e, '[0:1][1:2]={{1,2},{3,4}}'::int[] f,
	        '{}'::int[] g, ARRAY[NULL]::int[] h, ARRAY[E'a\nb', '{x}'] i"
check "arrays of numbers, bools, floats with NaN, numerics" \
	"SELECT ARRAY[true,false] a, ARRAY['NaN','Infinity',1.5]::float8[] b,
	        ARRAY[1.50,'NaN']::numeric[] c, ARRAY[1,2]::int8[] d,
	        ARRAY[1,2]::oid[] e"
check "arrays of json, jsonb, timestamps, dates" \
	"SELECT ARRAY['{\"a\": 1}'::json, '[1,\"x\"]'] a,
	        ARRAY['{\"b\": [true]}'::jsonb, NULL] b,
	        ARRAY['2026-11-28 10:00'::timestamp] c,
	        ARRAY['2026-11-28 10:00+00'::timestamptz, 'infinity'] d,
	        ARRAY['2026-11-28'::date, '0044-03-15 BC'] e,
	        '{{\"2026-01-01 00:00\",\"2026-01-02 00:00\"}}'::timestamp[] f"
check "arrays of other types, box[] with its ';'" \
	"SELECT ARRAY['\\x01'::bytea] a, ARRAY['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid] b,
	        ARRAY['1 day'::interval] c,
	        '{(1,1),(0,0);(2,2),(1,1)}'::box[] d, ARRAY['(1,2)'::point] e"
check "int2vector and oidvector" \
	"SELECT '1 2'::int2vector a, '3 4'::oidvector b, ''::int2vector c,
	        ARRAY['1 2'::int2vector, '3'] d"
check "duplicate column names" "SELECT 1 AS a, 'x' AS a, 2 AS \"A\""
check "a row of no columns, twice" "SELECT FROM generate_series(1, 2)"
check "many rows" \
	"SELECT g, g * 1.5 AS h, CASE WHEN g % 3 = 0 THEN NULL ELSE 'r' || g END AS s
	 FROM generate_series(1, 500) g"
check "no rows" "SELECT 1 AS a WHERE false"

# Domains arrive as their base type; enums are strings in both.
psql_ref -q -v ON_ERROR_STOP=1 -d app \
	-c "CREATE DOMAIN price AS numeric CHECK (VALUE >= 0)" \
	-c "CREATE DOMAIN doc AS jsonb" \
	-c "CREATE TYPE mood AS ENUM ('sad', 'happy')" \
	-c "CREATE TYPE pair AS (a int, b text)" >/dev/null ||
	t_bail "cannot create the types"
check "domains and enums" \
	"SELECT 9.99::price a, '{\"x\": 1}'::doc b, 'happy'::mood c"

# Every built-in array type (get_element_type() is what row_to_json asks)
# becomes a JSON array: an empty one of each.  The vectors and pseudo-type
# arrays, which take no '{}', are tested above.
q=$(psql_ref -X -q -A -t -v ON_ERROR_STOP=1 -d app -c "
	SELECT 'SELECT ' || string_agg(format('%L::%s AS %I', '{}', t.oid::regtype, t.typname), ', ' ORDER BY t.oid)
	FROM pg_type t
	WHERE t.oid < 10000 AND t.typsubscript = 'array_subscript_handler'::regproc
	  AND t.oid NOT IN (22, 30, 1263, 2287)")
check "an empty array of each built-in array type" "$q"

# What a type OID cannot tell (src/format_json.c): composites are written
# as their text, where row_to_json() nests an object.
"$JSONREF" "$DB" "SELECT ROW(1, 'b c')::pair AS p, ROW(2, 'x') AS r" >"$W/comp" 2>&1
t_file_is "$W/comp" '{"p":"(1,\"b c\")","r":"(2,x)"}'$'\n' \
	"composite values are written as their text (row_to_json nests them)"
# A DateStyle other than ISO: the text, where row_to_json writes ISO.
PGDATESTYLE='SQL, DMY' "$JSONREF" "$DB" \
	"SELECT '2026-11-28 10:00+00'::timestamptz AS t" >"$W/ds" 2>&1
t_file_is "$W/ds" '{"t":"28/11/2026 10:00:00 UTC"}'$'\n' \
	"a timestamptz in DateStyle SQL is written as its text"

t_done
