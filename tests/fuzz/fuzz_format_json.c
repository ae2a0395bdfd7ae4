/*
 * libFuzzer harness for the JSON-lines row formatter (src/format_json.c).
 *
 * The input is a list of columns, each a type byte (an index into the
 * type OIDs below, which cover every way json_row() treats a value), a
 * length byte (0xff for a NULL value) and that many bytes of value
 * (fewer at the end of the input); a column's name is its value up to the
 * first NUL.  The values are arbitrary, far beyond what a server sends.
 * Whatever they are, json_row()'s output must be:
 *  - one line: a newline at the end and nowhere else;
 *  - valid JSON (RFC 8259; the small validator here is independent of the
 *    formatter's own): an object with one member per column, in order,
 *    each key the column's name;
 *  - null exactly for a NULL value;
 *  - for text, the value as a string that decodes to exactly its bytes;
 *    for a number type, the value itself or a string of it.
 * Appending to a buffer that holds something keeps it.  A broken property
 * aborts, which libFuzzer reports as a crash.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "buf.h"
#include "format.h"
#include "fuzz.h"

#define MAX_FIELDS 32

static const Oid types[] = {
	25,	/* text */
	16,	/* bool */
	20, 21, 23, 700, 701, 1700,	/* numbers */
	26,	/* oid (a string) */
	114, 3802,	/* json, jsonb */
	1082, 1114, 1184,	/* date, timestamp, timestamptz */
	22, 30,	/* int2vector, oidvector */
	1000, 1005, 1006, 1007, 1009, 1013, 1016, 1020, 1021, 1022, 1115,
	1182, 1185, 1231, 199, 3807, 2287,	/* arrays */
	2249, 16390,	/* record, a type of the database */
};
#define NTYPES (sizeof(types) / sizeof(types[0]))

static bool is_number_type(Oid t)
{
	return t == 20 || t == 21 || t == 23 || t == 700 || t == 701 ||
	       t == 1700;
}

/* ---- A small JSON validator -------------------------------------------- */

struct parser {
	const char *s;
	size_t len, i;
	unsigned depth;
};

static void skip_ws(struct parser *p)
{
	while (p->i < p->len && (p->s[p->i] == ' ' || p->s[p->i] == '\t' ||
				 p->s[p->i] == '\n' || p->s[p->i] == '\r'))
		p->i++;
}

static bool hexval(char c, unsigned *v)
{
	if (c >= '0' && c <= '9')
		*v = (unsigned)(c - '0');
	else if (c >= 'a' && c <= 'f')
		*v = (unsigned)(c - 'a' + 10);
	else if (c >= 'A' && c <= 'F')
		*v = (unsigned)(c - 'A' + 10);
	else
		return false;
	return true;
}

/*
 * A string at p->i; its decoded bytes go to out when out is not NULL
 * (\uXXXX only below 0x100 decodes, as one byte; others are skipped).
 */
static bool parse_string(struct parser *p, struct buf *out)
{
	unsigned v, d, k;
	char c;

	if (p->i >= p->len || p->s[p->i] != '"')
		return false;
	for (p->i++; p->i < p->len; p->i++) {
		c = p->s[p->i];
		if (c == '"') {
			p->i++;
			return true;
		}
		if ((unsigned char)c < 0x20)
			return false;
		if (c == '\\') {
			if (++p->i >= p->len)
				return false;
			c = p->s[p->i];
			switch (c) {
			case '"': case '\\': case '/': break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u':
				for (v = 0, k = 1; k <= 4; k++) {
					if (p->i + k >= p->len ||
					    !hexval(p->s[p->i + k], &d))
						return false;
					v = v * 16 + d;
				}
				p->i += 4;
				if (v >= 0x100)
					continue;
				c = (char)v;
				break;
			default:
				return false;
			}
		}
		if (out)
			CHECK(buf_putc(out, c) == 0, "out of memory");
	}
	return false;
}

static bool digit_run(struct parser *p)
{
	size_t start = p->i;

	while (p->i < p->len && p->s[p->i] >= '0' && p->s[p->i] <= '9')
		p->i++;
	return p->i > start;
}

static bool parse_number(struct parser *p)
{
	if (p->i < p->len && p->s[p->i] == '-')
		p->i++;
	if (p->i < p->len && p->s[p->i] == '0')
		p->i++;
	else if (!digit_run(p))
		return false;
	if (p->i < p->len && p->s[p->i] == '.') {
		p->i++;
		if (!digit_run(p))
			return false;
	}
	if (p->i < p->len && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
		p->i++;
		if (p->i < p->len && (p->s[p->i] == '+' || p->s[p->i] == '-'))
			p->i++;
		if (!digit_run(p))
			return false;
	}
	return true;
}

static bool literal(struct parser *p, const char *word)
{
	size_t n = strlen(word);

	if (p->len - p->i < n || memcmp(p->s + p->i, word, n) != 0)
		return false;
	p->i += n;
	return true;
}

static bool parse_value(struct parser *p)
{
	bool ok = false;
	char c;

	skip_ws(p);
	if (p->i >= p->len)
		return false;
	c = p->s[p->i];
	if (c == '{' || c == '[') {
		/* The input is at most a few KB: recursion stays shallow. */
		CHECK(++p->depth < 100000, "nesting too deep");
		p->i++;
		skip_ws(p);
		if (p->i < p->len && p->s[p->i] == (c == '{' ? '}' : ']')) {
			p->i++;
			p->depth--;
			return true;
		}
		for (;;) {
			if (c == '{') {
				skip_ws(p);
				if (!parse_string(p, NULL))
					return false;
				skip_ws(p);
				if (p->i >= p->len || p->s[p->i++] != ':')
					return false;
			}
			if (!parse_value(p))
				return false;
			skip_ws(p);
			if (p->i >= p->len)
				return false;
			if (p->s[p->i] == ',') {
				p->i++;
				continue;
			}
			if (p->s[p->i] != (c == '{' ? '}' : ']'))
				return false;
			p->i++;
			p->depth--;
			return true;
		}
	}
	if (c == '"')
		ok = parse_string(p, NULL);
	else if (c == '-' || (c >= '0' && c <= '9'))
		ok = parse_number(p);
	else
		ok = literal(p, "true") || literal(p, "false") ||
		     literal(p, "null");
	return ok;
}

/* ---- The properties ---------------------------------------------------- */

struct field {
	Oid type;
	const char *s;
	size_t len;
	bool null;
	char *name;
};

/* The string at p->i decodes to exactly s[0..len). */
static bool string_is(struct parser *p, const char *s, size_t len)
{
	struct buf got;
	bool same;

	buf_init(&got);
	same = parse_string(p, &got) && got.len == len &&
	       (len == 0 || memcmp(got.data, s, len) == 0);
	buf_finish(&got);
	return same;
}

static void check_row(const char *out, size_t len, const struct field *f,
		      size_t n)
{
	struct parser p = { out, len, 0, 0 };
	size_t i, start;

	CHECK(len > 0 && out[len - 1] == '\n', "no final newline");
	CHECK(memchr(out, '\n', len - 1) == NULL, "a newline inside the line");
	p.len = len - 1;
	CHECK(p.len > 0 && out[0] == '{', "not an object");
	p.i = 1;
	for (i = 0; i < n; i++) {
		if (i > 0)
			CHECK(p.i < p.len && out[p.i++] == ',',
			      "no comma before member %zu", i);
		CHECK(string_is(&p, f[i].name, strlen(f[i].name)),
		      "member %zu: the key is not the column name", i);
		CHECK(p.i < p.len && out[p.i++] == ':', "member %zu: no ':'",
		      i);
		start = p.i;
		if (f[i].null) {
			CHECK(literal(&p, "null"), "member %zu: NULL is not null",
			      i);
			continue;
		}
		CHECK(parse_value(&p), "member %zu (type %u) is not valid JSON",
		      i, f[i].type);
		/* A json value keeps its own whitespace. */
		skip_ws(&p);
		CHECK(p.i - start != 4 || memcmp(out + start, "null", 4) != 0 ||
		      f[i].type == 114 || f[i].type == 3802,
		      "member %zu: a value written as null", i);
		if (f[i].type == 25) {
			p.i = start;
			CHECK(string_is(&p, f[i].s, f[i].len),
			      "member %zu: text does not read back", i);
		} else if (is_number_type(f[i].type) && out[start] != '"') {
			CHECK(p.i - start == f[i].len &&
			      memcmp(out + start, f[i].s, f[i].len) == 0,
			      "member %zu: a number that is not the text", i);
		} else if (is_number_type(f[i].type)) {
			p.i = start;
			CHECK(string_is(&p, f[i].s, f[i].len),
			      "member %zu: a number string that is not the text",
			      i);
		}
	}
	CHECK(p.i < p.len && out[p.i++] == '}', "no closing brace");
	CHECK(p.i == p.len, "%zu bytes after the object", p.len - p.i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct field f[MAX_FIELDS];
	PGresAttDesc att[MAX_FIELDS];
	PGresult *res;
	struct buf b;
	size_t n = 0, pos = 0, i, len, one;

	while (pos + 1 < size && n < MAX_FIELDS) {
		f[n].type = types[data[pos++] % NTYPES];
		len = data[pos++];
		f[n].null = len == 0xff;
		if (f[n].null)
			len = 0;
		if (len > size - pos)
			len = size - pos;
		f[n].s = (const char *)data + pos;
		f[n].len = len;
		f[n].name = strndup(f[n].s, len);
		CHECK(f[n].name, "out of memory");
		pos += len;
		n++;
	}

	res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	CHECK(res, "out of memory");
	for (i = 0; i < n; i++) {
		memset(&att[i], 0, sizeof(att[i]));
		att[i].name = f[i].name;
		att[i].typid = f[i].type;
		att[i].typlen = -1;
		att[i].atttypmod = -1;
	}
	CHECK(PQsetResultAttrs(res, (int)n, n ? att : NULL), "out of memory");
	for (i = 0; i < n; i++)
		CHECK(PQsetvalue(res, 0, (int)i, (char *)f[i].s,
				 f[i].null ? -1 : (int)f[i].len),
		      "out of memory");

	buf_init(&b);
	CHECK(json_row(&b, res, 0) == 0, "json_row failed");
	check_row(b.data, b.len, f, n);
	/* Appending does not disturb what is there, and is deterministic. */
	one = b.len;
	CHECK(json_row(&b, res, 0) == 0, "json_row failed");
	CHECK(b.len == 2 * one && memcmp(b.data, b.data + one, one) == 0,
	      "json_row appends differently");

	buf_finish(&b);
	PQclear(res);
	for (i = 0; i < n; i++)
		free(f[i].name);
	return 0;
}
