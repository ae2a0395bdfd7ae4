/*
 * Unit tests of the JSON-lines row formatter (src/format_json.c).  The
 * expected lines are what PostgreSQL 15's row_to_json() gave for the same
 * values (SELECT row_to_json(t) FROM (SELECT ...) t, DateStyle ISO,
 * TimeZone UTC unless the value says otherwise), with the one deliberate
 * difference that a json value's line breaks are spaces.  The input of
 * each case is the text the server sends for the value, in a result
 * built without a server (PQmakeEmptyPGresult(), PQsetvalue()).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "buf.h"
#include "format.h"
#include "tap.h"

/* Type OIDs (pg_type.dat). */
enum {
	BOOL = 16, BYTEA = 17, NAME = 19, INT8 = 20, INT2 = 21,
	INT2VECTOR = 22, INT4 = 23, TEXT = 25, OID = 26, OIDVECTOR = 30,
	JSON = 114, POINT = 600, FLOAT4 = 700, FLOAT8 = 701, MONEY = 790,
	BOOL_ARRAY = 1000, INT2VECTOR_ARRAY = 1006, INT4_ARRAY = 1007,
	TEXT_ARRAY = 1009, FLOAT8_ARRAY = 1022, BOX_ARRAY = 1020,
	VARCHAR = 1043, DATE = 1082, TIME = 1083, TIMESTAMP = 1114,
	TIMESTAMP_ARRAY = 1115, DATE_ARRAY = 1182, TIMESTAMPTZ = 1184,
	TIMESTAMPTZ_ARRAY = 1185, INTERVAL = 1186, NUMERIC_ARRAY = 1231,
	TIMETZ = 1266, NUMERIC = 1700, RECORD = 2249, RECORD_ARRAY = 2287,
	UUID = 2950, JSONB = 3802, JSONB_ARRAY = 3807, JSON_ARRAY = 199,
	USER_TYPE = 16390,
};

struct col {
	const char *name;
	Oid type;
	const char *value;	/* NULL: SQL NULL */
	int len;		/* -1: strlen(value) */
};

static PGresult *make_result(const struct col *cols, int n)
{
	PGresAttDesc att[16];
	PGresult *res;
	int i;

	res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	if (!res)
		return NULL;
	for (i = 0; i < n; i++) {
		memset(&att[i], 0, sizeof(att[i]));
		att[i].name = (char *)cols[i].name;
		att[i].typid = cols[i].type;
		att[i].typlen = -1;
		att[i].atttypmod = -1;
	}
	if (!PQsetResultAttrs(res, n, n ? att : NULL))
		goto fail;
	for (i = 0; i < n; i++) {
		int len = cols[i].value == NULL ? -1 :
			  cols[i].len >= 0 ? cols[i].len :
			  (int)strlen(cols[i].value);

		if (!PQsetvalue(res, 0, i,
				(char *)(cols[i].value ? cols[i].value : ""),
				len))
			goto fail;
	}
	return res;
fail:
	PQclear(res);
	return NULL;
}

static void row_is(const char *desc, const struct col *cols, int n,
		   const char *want)
{
	PGresult *res = make_result(cols, n);
	struct buf b;

	buf_init(&b);
	if (!res || json_row(&b, res, 0) != 0)
		tap_ok(0, "%s: json_row failed", desc);
	else
		tap_is_mem(b.data ? b.data : "", b.len, want, strlen(want),
			   desc);
	buf_finish(&b);
	PQclear(res);
}

/* One column named "v" of type `type` holding `value`. */
static void value_is(const char *desc, Oid type, const char *value,
		     const char *want_value)
{
	struct col c = { "v", type, value, -1 };
	char want[4096];

	snprintf(want, sizeof(want), "{\"v\":%s}\n", want_value);
	row_is(desc, &c, 1, want);
}

static void check_rows(void)
{
	struct col many[] = {
		{ "n", NUMERIC, "1.50", -1 },
		{ "t", TEXT, "say \"hi\"\\", -1 },
		{ "z", INT4, NULL, -1 },
		{ "b", BOOL, "t", -1 },
		{ "j", JSONB, "{\"a\": [1, 2]}", -1 },
		{ "f", FLOAT8, "NaN", -1 },
		{ "i", INTERVAL, "1 day 02:00:00", -1 },
	};
	struct col dup[] = {
		{ "a", INT4, "1", -1 },
		{ "a", TEXT, "x", -1 },
	};
	struct col odd_name[] = {
		{ "we\"ird\nname", INT4, "1", -1 },
		{ "", INT4, "2", -1 },
	};

	row_is("a row of several types", many, 7,
	       "{\"n\":1.50,\"t\":\"say \\\"hi\\\"\\\\\",\"z\":null,"
	       "\"b\":true,\"j\":{\"a\": [1, 2]},\"f\":\"NaN\","
	       "\"i\":\"1 day 02:00:00\"}\n");
	row_is("duplicate column names are both kept", dup, 2,
	       "{\"a\":1,\"a\":\"x\"}\n");
	row_is("column names are escaped", odd_name, 2,
	       "{\"we\\\"ird\\nname\":1,\"\":2}\n");
	row_is("a row of no columns", NULL, 0, "{}\n");
}

static void check_scalars(void)
{
	/* NULL of every kind. */
	value_is("null int", INT4, NULL, "null");
	value_is("null json", JSON, NULL, "null");
	value_is("null array", INT4_ARRAY, NULL, "null");

	value_is("bool t", BOOL, "t", "true");
	value_is("bool f", BOOL, "f", "false");
	value_is("bool never sent (string)", BOOL, "x", "\"x\"");

	value_is("int2", INT2, "-32768", "-32768");
	value_is("int4", INT4, "42", "42");
	value_is("int8", INT8, "9223372036854775807", "9223372036854775807");
	value_is("numeric", NUMERIC, "-0.000100", "-0.000100");
	value_is("numeric big", NUMERIC, "12345678901234567890",
		 "12345678901234567890");
	value_is("numeric NaN", NUMERIC, "NaN", "\"NaN\"");
	value_is("numeric Infinity", NUMERIC, "Infinity", "\"Infinity\"");
	value_is("numeric -Infinity", NUMERIC, "-Infinity", "\"-Infinity\"");
	value_is("float8 exponent", FLOAT8, "1e+300", "1e+300");
	value_is("float8 small", FLOAT8, "1.5e-07", "1.5e-07");
	value_is("float8 -0", FLOAT8, "-0", "-0");
	value_is("float4", FLOAT4, "3.14", "3.14");
	value_is("float8 NaN", FLOAT8, "NaN", "\"NaN\"");
	value_is("float8 Infinity", FLOAT8, "Infinity", "\"Infinity\"");
	value_is("float4 -Infinity", FLOAT4, "-Infinity", "\"-Infinity\"");
	value_is("number never sent (string)", INT4, "01", "\"01\"");
	value_is("empty number (string)", NUMERIC, "", "\"\"");
	/* row_to_json() writes oid and money as strings. */
	value_is("oid is a string", OID, "1", "\"1\"");
	value_is("money is a string", MONEY, "$1.00", "\"$1.00\"");

	value_is("json as it is", JSON, "{\"a\":1, \"b\" : [true,null]}",
		 "{\"a\":1, \"b\" : [true,null]}");
	value_is("json scalar", JSON, "\"s\"", "\"s\"");
	value_is("json number", JSON, "-1.5E3", "-1.5E3");
	value_is("json line breaks become spaces", JSON,
		 "{\"a\":\n 1,\r\n\"b\\n\":2}", "{\"a\":  1,  \"b\\n\":2}");
	value_is("jsonb", JSONB, "[{\"k\": \"v\\\"\"}, 1.0, false]",
		 "[{\"k\": \"v\\\"\"}, 1.0, false]");
	value_is("json deep", JSON, "[[[[[[[[[[{}]]]]]]]]]]",
		 "[[[[[[[[[[{}]]]]]]]]]]");
	value_is("json never sent (string)", JSON, "{\"a\":}",
		 "\"{\\\"a\\\":}\"");
	value_is("json trailing garbage (string)", JSON, "1 2", "\"1 2\"");
	value_is("json with raw control char (string)", JSON, "\"a\tb\"",
		 "\"\\\"a\\tb\\\"\"");
	value_is("json unclosed (string)", JSON, "[1,", "\"[1,\"");
	value_is("json mismatched (string)", JSON, "[1}", "\"[1}\"");
}

static void check_strings(void)
{
	struct col ctl = { "v", TEXT, "\x01\x1f\x7f\b\f\n\r\t", -1 };
	struct col nul = { "v", BYTEA, "a\0b", 3 };

	value_is("text", TEXT, "plain", "\"plain\"");
	value_is("text quotes and backslashes", TEXT, "a\"b\\c/d",
		 "\"a\\\"b\\\\c/d\"");
	value_is("text UTF-8 passes", VARCHAR, "\xc3\xa9t\xc3\xa9 \xe2\x82\xac",
		 "\"\xc3\xa9t\xc3\xa9 \xe2\x82\xac\"");
	row_is("control characters", &ctl, 1,
	       "{\"v\":\"\\u0001\\u001f\x7f\\b\\f\\n\\r\\t\"}\n");
	row_is("a NUL byte (never from a server)", &nul, 1,
	       "{\"v\":\"a\\u0000b\"}\n");
	value_is("bytea", BYTEA, "\\x78ff", "\"\\\\x78ff\"");
	value_is("uuid", UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
		 "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"");
	value_is("interval", INTERVAL, "1 year 2 mons -3 days 04:05:06.5",
		 "\"1 year 2 mons -3 days 04:05:06.5\"");
	value_is("time", TIME, "10:00:00", "\"10:00:00\"");
	value_is("timetz keeps its text", TIMETZ, "10:00:00+00",
		 "\"10:00:00+00\"");
	value_is("point", POINT, "(1,2)", "\"(1,2)\"");
	value_is("name", NAME, "pg_class", "\"pg_class\"");
	value_is("empty text", TEXT, "", "\"\"");
	/* What an OID cannot tell: composites and types of the database. */
	value_is("record stays its text", RECORD, "(1,\"a b\")",
		 "\"(1,\\\"a b\\\")\"");
	value_is("a type of the database stays its text", USER_TYPE, "{1,2}",
		 "\"{1,2}\"");
}

static void check_dates(void)
{
	value_is("date", DATE, "2026-11-28", "\"2026-11-28\"");
	value_is("date BC", DATE, "0044-03-15 BC", "\"0044-03-15 BC\"");
	value_is("date infinity", DATE, "infinity", "\"infinity\"");
	value_is("timestamp", TIMESTAMP, "2026-11-28 10:00:00",
		 "\"2026-11-28T10:00:00\"");
	value_is("timestamp fraction", TIMESTAMP, "2026-11-28 10:00:00.123456",
		 "\"2026-11-28T10:00:00.123456\"");
	value_is("timestamp BC", TIMESTAMP, "0044-03-15 12:00:00 BC",
		 "\"0044-03-15T12:00:00 BC\"");
	value_is("timestamp year 10000", TIMESTAMP, "10000-01-01 00:00:00",
		 "\"10000-01-01T00:00:00\"");
	value_is("timestamp -infinity", TIMESTAMP, "-infinity",
		 "\"-infinity\"");
	value_is("timestamptz whole hour offset", TIMESTAMPTZ,
		 "2026-11-28 10:00:00+00", "\"2026-11-28T10:00:00+00:00\"");
	value_is("timestamptz negative offset", TIMESTAMPTZ,
		 "2026-01-01 00:00:00-05", "\"2026-01-01T00:00:00-05:00\"");
	value_is("timestamptz minutes offset", TIMESTAMPTZ,
		 "2026-11-28 04:30:00.5+05:30", "\"2026-11-28T04:30:00.5+05:30\"");
	value_is("timestamptz seconds offset", TIMESTAMPTZ,
		 "1850-01-01 00:00:00-04:56:02",
		 "\"1850-01-01T00:00:00-04:56:02\"");
	value_is("timestamptz BC", TIMESTAMPTZ, "0044-03-15 12:00:00+00 BC",
		 "\"0044-03-15T12:00:00+00:00 BC\"");
	value_is("timestamptz infinity", TIMESTAMPTZ, "infinity",
		 "\"infinity\"");
	/* Another DateStyle: not converted (see src/format_json.c). */
	value_is("timestamptz in DateStyle SQL stays", TIMESTAMPTZ,
		 "11/28/2026 10:00:00 UTC", "\"11/28/2026 10:00:00 UTC\"");
	value_is("timestamp in DateStyle Postgres stays", TIMESTAMP,
		 "Sat Nov 28 10:00:00 2026", "\"Sat Nov 28 10:00:00 2026\"");
	value_is("timestamptz without its offset stays", TIMESTAMPTZ,
		 "2026-11-28 10:00:00", "\"2026-11-28 10:00:00\"");
}

static void check_arrays(void)
{
	value_is("int[]", INT4_ARRAY, "{1,2,3}", "[1,2,3]");
	value_is("int[] with NULL", INT4_ARRAY, "{1,NULL}", "[1,null]");
	value_is("empty array", INT4_ARRAY, "{}", "[]");
	value_is("two dimensions", INT4_ARRAY, "{{1,2},{3,4}}",
		 "[[1,2],[3,4]]");
	value_is("three dimensions", INT4_ARRAY, "{{{1},{2}},{{3},{4}}}",
		 "[[[1],[2]],[[3],[4]]]");
	value_is("bounds are dropped", INT4_ARRAY, "[2:3]={1,2}", "[1,2]");
	value_is("bounds of two dimensions are dropped", INT4_ARRAY,
		 "[0:1][-1:0]={{1,2},{3,4}}", "[[1,2],[3,4]]");
	value_is("text[]", TEXT_ARRAY, "{a,b}", "[\"a\",\"b\"]");
	value_is("text[] quoted elements", TEXT_ARRAY,
		 "{NULL,\"NULL\",\"a\\\"b\\\\c\",\"x,y\",\"\",\" s \",null}",
		 "[null,\"NULL\",\"a\\\"b\\\\c\",\"x,y\",\"\",\" s \",null]");
	value_is("text[] element with a newline", TEXT_ARRAY, "{\"a\nb\"}",
		 "[\"a\\nb\"]");
	value_is("bool[]", BOOL_ARRAY, "{t,f}", "[true,false]");
	value_is("float8[] with NaN", FLOAT8_ARRAY, "{1.5,NaN,-Infinity}",
		 "[1.5,\"NaN\",\"-Infinity\"]");
	value_is("numeric[]", NUMERIC_ARRAY, "{1.0,-2}", "[1.0,-2]");
	value_is("timestamp[]", TIMESTAMP_ARRAY, "{\"2026-11-28 10:00:00\"}",
		 "[\"2026-11-28T10:00:00\"]");
	value_is("timestamptz[]", TIMESTAMPTZ_ARRAY,
		 "{\"2026-11-28 10:00:00+00\",infinity}",
		 "[\"2026-11-28T10:00:00+00:00\",\"infinity\"]");
	value_is("date[]", DATE_ARRAY, "{2026-11-28,\"0044-03-15 BC\"}",
		 "[\"2026-11-28\",\"0044-03-15 BC\"]");
	value_is("json[] elements as they are", JSON_ARRAY,
		 "{\"{\\\"a\\\": 1}\",\"[1, 2]\"}", "[{\"a\": 1},[1, 2]]");
	value_is("jsonb[]", JSONB_ARRAY, "{\"{\\\"a\\\": 1}\",NULL}",
		 "[{\"a\": 1},null]");
	value_is("box[] uses ';'", BOX_ARRAY, "{(1,1),(0,0);(2,2),(1,1)}",
		 "[\"(1,1),(0,0)\",\"(2,2),(1,1)\"]");
	value_is("record[] elements stay text", RECORD_ARRAY,
		 "{\"(1,b)\",\"(2,\\\"c d\\\")\"}",
		 "[\"(1,b)\",\"(2,\\\"c d\\\")\"]");
	value_is("int2vector is an array of numbers", INT2VECTOR, "1 2",
		 "[1,2]");
	value_is("empty int2vector", INT2VECTOR, "", "[]");
	value_is("oidvector is an array of strings", OIDVECTOR, "1 2",
		 "[\"1\",\"2\"]");
	value_is("int2vector[]", INT2VECTOR_ARRAY, "{\"1 2\",3}",
		 "[[1,2],[3]]");
	/* Texts no server sends for an array: strings, never bad JSON. */
	value_is("unclosed array (string)", INT4_ARRAY, "{1,2", "\"{1,2\"");
	value_is("empty element (string)", INT4_ARRAY, "{1,,2}",
		 "\"{1,,2}\"");
	value_is("garbage after the array (string)", INT4_ARRAY, "{1}x",
		 "\"{1}x\"");
	value_is("no braces (string)", INT4_ARRAY, "1,2", "\"1,2\"");
	value_is("unclosed quote (string)", TEXT_ARRAY, "{\"a}", "\"{\\\"a}\"");
	value_is("bad bounds (string)", INT4_ARRAY, "[1:x]={1}",
		 "\"[1:x]={1}\"");
	value_is("int2vector with two spaces (string)", INT2VECTOR, "1  2",
		 "\"1  2\"");
	value_is("element neither number nor NaN (string)", INT4_ARRAY,
		 "{abc}", "[\"abc\"]");
}

/* Appending keeps what was in the buffer; a row at a time. */
static void check_append(void)
{
	struct col c = { "v", INT4_ARRAY, "{1,2", -1 };
	PGresult *res = make_result(&c, 1);
	struct buf b;

	buf_init(&b);
	(void)buf_append(&b, "prefix", 6);
	if (!res || json_row(&b, res, 0) != 0)
		tap_ok(0, "append: json_row failed");
	else
		tap_is_mem(b.data, b.len, "prefix{\"v\":\"{1,2\"}\n", 19,
			   "appends after what the buffer holds");
	buf_finish(&b);
	PQclear(res);
}

int main(void)
{
	check_rows();
	check_scalars();
	check_strings();
	check_dates();
	check_arrays();
	check_append();
	return tap_done();
}
