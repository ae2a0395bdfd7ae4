/*
 * Unit tests of the statement splitter.  Every case in the table was run
 * through psql 15.18 (psql -X -f FILE against a scratch cluster with
 * log_statement = all): the texts are what the server received, byte for
 * byte, and the lines are those psql printed in "psql:FILE:LINE: ERROR:"
 * (the statements use missing columns x1, x2... so that they fail).  The
 * only difference by design: psql also sends statements holding nothing
 * but comments and semicolons, which the server answers with an empty
 * response; sql_split() leaves them out.  For a meta-command psql runs
 * the command and goes on, so only the statements before it are compared.
 * The standard_conforming_strings = off cases were run the same way with
 * PGOPTIONS='-c standard_conforming_strings=off'.  Whether a file is cut
 * short is pgqfs's own rule (DESIGN.md, Submitting): psql has none.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "split.h"
#include "tap.h"


struct want {
	const char *text;	/* what psql sends (sql_stmt_text()) */
	unsigned line;
	bool meta;
};

struct split_case {
	const char *name;
	const char *in;
	struct want want[4];
	size_t n;
};

static const struct split_case cases[] = {
	{ "empty file",
	  "",
	  { { NULL, 0, false } }, 0 },
	{ "only white space and -- comments",
	  "   \n\n-- c ; still comment\n\t\n",
	  { { NULL, 0, false } }, 0 },
	{ "comment-only trailing buffer is not a statement",
	  "/* only */\n-- x\n",
	  { { NULL, 0, false } }, 0 },
	{ "empty statements are skipped",
	  ";\n ; ;\n/* c */ ;\n",
	  { { NULL, 0, false } }, 0 },
	{ "one statement",
	  "SELECT x1;",
	  {
		{ "SELECT x1;", 1, false },
	  }, 1 },
	{ "leading comments dropped, several per line",
	  "  -- lead\n\n   SELECT x1; /* c */ SELECT x2 ; SELECT\nx3;\n",
	  {
		{ "SELECT x1;", 3, false },
		{ "/* c */ SELECT x2 ;", 3, false },
		{ "SELECT\nx3;", 4, false },
	  }, 3 },
	{ "nested comments",
	  "/* a /* b ; */ ; */ SELECT x1;\nSELECT /* x /* y */ ; */ x2; -- tail ;\n",
	  {
		{ "/* a /* b ; */ ; */ SELECT x1;", 1, false },
		{ "SELECT /* x /* y */ ; */ x2;", 2, false },
	  }, 2 },
	{ "dollar quotes with tags",
	  "SELECT $a$ ; $$ ; $b$ ; $a$, x1;\nSELECT $$x;$$, x2;\nSELECT $q$a$q$ || $_1$;$_1$, x3;\n",
	  {
		{ "SELECT $a$ ; $$ ; $b$ ; $a$, x1;", 1, false },
		{ "SELECT $$x;$$, x2;", 2, false },
		{ "SELECT $q$a$q$ || $_1$;$_1$, x3;", 3, false },
	  }, 3 },
	{ "multi-line dollar quote keeps empty lines",
	  "SELECT $body$\n;\n\n$not$;\n$body$ AS b, x1;\n",
	  {
		{ "SELECT $body$\n;\n\n$not$;\n$body$ AS b, x1;", 5, false },
	  }, 1 },
	{ "$1 is a parameter, not a quote",
	  "SELECT $1$;$1$;\n",
	  {
		{ "SELECT $1$;", 1, false },
		{ "$1$;", 1, false },
	  }, 2 },
	{ "E strings: backslash escapes a quote; standard strings: it does not",
	  "SELECT E'\\';', 'a\\', x1;\nSELECT e'\\\\', x2;\n",
	  {
		{ "SELECT E'\\';', 'a\\', x1;", 1, false },
		{ "SELECT e'\\\\', x2;", 2, false },
	  }, 2 },
	{ "doubled quotes",
	  "SELECT 'it''s;', E'x'';', x1;\n",
	  {
		{ "SELECT 'it''s;', E'x'';', x1;", 1, false },
	  }, 1 },
	{ "U& strings and identifiers",
	  "SELECT U&'d;\\0061t', U&\"d;a\", x1;\n",
	  {
		{ "SELECT U&'d;\\0061t', U&\"d;a\", x1;", 1, false },
	  }, 1 },
	{ "quoted identifiers",
	  "SELECT 1 AS \"a;\"\"b\", x1; SELECT x2 AS \"x\n;y\";\n",
	  {
		{ "SELECT 1 AS \"a;\"\"b\", x1;", 1, false },
		{ "SELECT x2 AS \"x\n;y\";", 2, false },
	  }, 2 },
	{ "semicolons inside parentheses",
	  "SELECT (x1;\nx2);\nSELECT ((x3);\n",
	  {
		{ "SELECT (x1;\nx2);", 2, false },
		{ "SELECT ((x3);", 3, false },
	  }, 2 },
	{ "BEGIN ATOMIC body with CASE",
	  "CREATE FUNCTION f1() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT CASE WHEN true THEN 1 END;\n  SELECT x1;\nEND;\nSELECT x2;\n",
	  {
		{ "CREATE FUNCTION f1() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT CASE WHEN true THEN 1 END;\n  SELECT x1;\nEND;", 5, false },
		{ "SELECT x2;", 6, false },
	  }, 2 },
	{ "create or replace procedure, one line",
	  "create or replace procedure p1() language sql begin atomic select 1; select x1; end; select x2;\n",
	  {
		{ "create or replace procedure p1() language sql begin atomic select 1; select x1; end;", 1, false },
		{ "select x2;", 1, false },
	  }, 2 },
	{ "BEGIN outside CREATE FUNCTION is a transaction",
	  "BEGIN;\nSELECT x1;\nEND;\n",
	  {
		{ "BEGIN;", 1, false },
		{ "SELECT x1;", 2, false },
		{ "END;", 3, false },
	  }, 3 },
	{ "CASE outside BEGIN does not count",
	  "CREATE FUNCTION f2() RETURNS int LANGUAGE sql RETURN CASE WHEN true THEN x1 END;\nSELECT x2;\n",
	  {
		{ "CREATE FUNCTION f2() RETURNS int LANGUAGE sql RETURN CASE WHEN true THEN x1 END;", 1, false },
		{ "SELECT x2;", 2, false },
	  }, 2 },
	{ "unterminated last statement: up to its text, on the last line",
	  "SELECT x1;\nSELECT\n  x2\n\n-- end\n\n",
	  {
		{ "SELECT x1;", 1, false },
		{ "SELECT\n  x2\n-- end", 6, false },
	  }, 2 },
	{ "no newline at end of file",
	  "SELECT x1 -- c",
	  {
		{ "SELECT x1 -- c", 1, false },
	  }, 1 },
	{ "unterminated quote runs to the end",
	  "SELECT 'abc;\nSELECT x1;\n",
	  {
		{ "SELECT 'abc;\nSELECT x1;", 2, false },
	  }, 1 },
	{ "unterminated comment is sent",
	  "SELECT x1;\n/* open\n\n",
	  {
		{ "SELECT x1;", 1, false },
		{ "/* open\n", 3, false },
	  }, 2 },
	{ "empty lines dropped outside quotes, kept inside",
	  "SELECT x1,\n\n  'a\n\nb',\n  $$\n\n$$;\n",
	  {
		{ "SELECT x1,\n  'a\n\nb',\n  $$\n\n$$;", 8, false },
	  }, 1 },
	{ "meta-command first",
	  "\\set x 1\nSELECT x1;\n",
	  {
		{ "\\set x 1", 1, true },
	  }, 1 },
	{ "meta-command mid-statement discards the statement",
	  "SELECT x1;\nSELECT x2\n  \\g\nSELECT x3;\n",
	  {
		{ "SELECT x1;", 1, false },
		{ "\\g", 3, true },
	  }, 2 },
	{ "meta-command after statements on its line",
	  "SELECT x1; SELECT x2; \\echo hi\r\nSELECT x3;\n",
	  {
		{ "SELECT x1;", 1, false },
		{ "SELECT x2;", 1, false },
		{ "\\echo hi", 1, true },
	  }, 3 },
	{ "backslashes inside quotes and comments",
	  "SELECT 'a\\b', E'\\\\', $$\\$$, \"\\\" /* \\ */, x1;\n",
	  {
		{ "SELECT 'a\\b', E'\\\\', $$\\$$, \"\\\" /* \\ */, x1;", 1, false },
	  }, 1 },
	{ "CRLF line ends",
	  "SELECT x1\r\n;\r\n\r\n  SELECT x2;\r\n",
	  {
		{ "SELECT x1\r\n;", 2, false },
		{ "SELECT x2;", 4, false },
	  }, 2 },
	{ "a number swallows e: 1e'\\'' is a standard string",
	  "SELECT 1e'\\'';\nSELECT x1;\n",
	  {
		{ "SELECT 1e'\\'';\nSELECT x1;", 2, false },
	  }, 1 },
	{ "1e-- is a number, not a comment",
	  "SELECT 1e--x;\nSELECT x1;\n",
	  {
		{ "SELECT 1e--x;", 1, false },
		{ "SELECT x1;", 2, false },
	  }, 2 },
	{ "string continued after a carriage return",
	  "SELECT E'a'\r '\\';', x1;\nSELECT x2;\n",
	  {
		{ "SELECT E'a'\r '\\';', x1;", 1, false },
		{ "SELECT x2;", 2, false },
	  }, 2 },
	{ "byte order mark ignored",
	  "\357\273\277SELECT x1;\n",
	  {
		{ "SELECT x1;", 1, false },
	  }, 1 },
	{ "psql variables left alone",
	  "SELECT :'v', x1 ; SELECT :\"w\", x2;\n",
	  {
		{ "SELECT :'v', x1 ;", 1, false },
		{ "SELECT :\"w\", x2;", 1, false },
	  }, 2 },
	{ "non-ASCII identifiers and tags",
	  "SELECT '\303\251;\303\274' AS \"\303\261;\", $\303\251$;$\303\251$, x1;\n",
	  {
		{ "SELECT '\303\251;\303\274' AS \"\303\261;\", $\303\251$;$\303\251$, x1;", 1, false },
	  }, 1 },
	{ "line numbers count every line",
	  "\n\n\nSELECT\n\n\nx1\n\n;\n\n\nSELECT x2;",
	  {
		{ "SELECT\nx1\n;", 9, false },
		{ "SELECT x2;", 12, false },
	  }, 2 },
};

static void check_case(const struct split_case *c)
{
	struct sql_stmt *st = NULL;
	size_t n = 0, i;
	int r;

	r = sql_split(c->in, strlen(c->in), true, &st, &n);
	if (!tap_ok(r == 0 && n == c->n, "%s: %zu statements", c->name, c->n)) {
		printf("#   got r=%d n=%zu\n", r, n);
		free(st);
		return;
	}
	if (n == 0)
		tap_ok(st == NULL, "%s: no array", c->name);
	for (i = 0; i < n; i++) {
		struct buf b;
		char name[160];

		buf_init(&b);
		snprintf(name, sizeof(name), "%s: statement %zu text", c->name,
			 i + 1);
		if (sql_stmt_text(&b, c->in, &st[i]) < 0)
			tap_ok(0, "%s", name);
		else
			tap_is_mem(b.data ? b.data : "", b.len, c->want[i].text,
				   strlen(c->want[i].text), name);
		tap_ok(st[i].line == c->want[i].line && st[i].meta == c->want[i].meta,
		       "%s: statement %zu on line %u%s", c->name, i + 1,
		       c->want[i].line, c->want[i].meta ? ", meta" : "");
		if (st[i].line != c->want[i].line)
			printf("#   got line %u\n", st[i].line);
		buf_finish(&b);
	}
	free(st);
}

/* Splits s and returns statement i's raw byte range as a string. */
static int range_is(const char *s, size_t len, size_t i, const char *want,
		    const char *name)
{
	struct sql_stmt *st = NULL;
	size_t n = 0;
	int ok;

	if (sql_split(s, len, true, &st, &n) < 0 || i >= n) {
		free(st);
		return tap_ok(0, "%s", name);
	}
	ok = tap_is_mem(s + st[i].start, st[i].len, want, strlen(want), name);
	free(st);
	return ok;
}

static void check_ranges(void)
{
	const char *s;

	/* The raw range still holds the empty lines psql drops. */
	s = "SELECT x1,\n\n  'a\n\nb',\n  $$\n\n$$;\n";
	range_is(s, strlen(s), 0, "SELECT x1,\n\n  'a\n\nb',\n  $$\n\n$$;",
		 "range: empty lines kept in the raw bytes");
	s = "  -- lead\n\n   SELECT x1; /* c */ SELECT x2 ; SELECT\nx3;\n";
	range_is(s, strlen(s), 1, "/* c */ SELECT x2 ;",
		 "range: starts at a leading slash-star comment");
	s = "\xef\xbb\xbfSELECT x1;\n";
	range_is(s, strlen(s), 0, "SELECT x1;", "range: byte order mark skipped");
	s = "SELECT x1; \\echo hi\r\nSELECT 2;\n";
	range_is(s, strlen(s), 1, "\\echo hi",
		 "range: meta-command ends before CR LF");
	s = "SELECT x1;\n\\q";
	range_is(s, strlen(s), 1, "\\q", "range: meta-command at end of file");
	s = "SELECT\n  x2\n\n-- end\n\n";
	range_is(s, strlen(s), 0, "SELECT\n  x2\n\n-- end",
		 "range: unterminated statement ends with its last line");
}

/* Arbitrary bytes: NUL and invalid UTF-8 are ordinary characters. */
static void check_bytes(void)
{
	static const char s[] = "SELECT '\xff\0;' AS \"\0;\", \xfe\x80;\n\0;\n\0";
	struct sql_stmt *st = NULL;
	size_t n = 0;
	int r;

	r = sql_split(s, sizeof(s) - 1, true, &st, &n);
	tap_ok(r == 0 && n == 3, "bytes: NUL and invalid UTF-8 split");
	if (r == 0 && n == 3) {
		tap_is_mem(s + st[0].start, st[0].len,
			   "SELECT '\xff\0;' AS \"\0;\", \xfe\x80;", 25,
			   "bytes: first statement");
		tap_ok(st[1].start == 26 && st[1].len == 2 && st[1].line == 2 &&
		       st[2].start == 29 && st[2].len == 1 && st[2].line == 3,
		       "bytes: a NUL is text, not white space");
	}
	free(st);

	/* Not NUL-terminated: the length is the limit. */
	r = sql_split("SELECT 1; SELECT 2;", 9, true, &st, &n);
	tap_ok(r == 0 && n == 1 && st[0].len == 9,
	       "bytes: text beyond len is not read");
	free(st);

	/* Every prefix of a tricky input splits without tripping ASan. */
	{
		static const char t[] = "SELECT E'\\'; $a$ /* ;\r\n\n'--' \"x\"\"\" "
					"$a$; U&'1e-' 1e--'\\; x'' :'v' ($$) \\q";
		size_t len, bad = 0;

		for (len = 0; len <= sizeof(t) - 1; len++) {
			if (sql_split(t, len, true, &st, &n) < 0)
				bad++;
			free(st);
		}
		tap_ok(bad == 0, "bytes: every prefix of a tricky input");
	}
}

/* Many statements: the array grows. */
static void check_many(void)
{
	struct buf b;
	struct sql_stmt *st = NULL;
	size_t n = 0, i;
	bool ok = true;

	buf_init(&b);
	for (i = 0; i < 1000; i++)
		if (buf_printf(&b, "SELECT %zu;\n", i) < 0)
			ok = false;
	ok = ok && sql_split(b.data, b.len, true, &st, &n) == 0 && n == 1000;
	for (i = 0; ok && i < n; i++)
		ok = st[i].line == i + 1 && !st[i].meta;
	tap_ok(ok, "many: 1000 statements on their lines");
	free(st);
	buf_finish(&b);
}

/*
 * A file cut short: does it end inside a statement, and on which line does
 * that statement start?  std is standard_conforming_strings.
 */
struct cut_case {
	const char *name;
	const char *in;
	bool std;
	bool cut;
	unsigned line;	/* when cut */
};

static const struct cut_case cut_cases[] = {
	{ "empty file", "", true, false, 0 },
	{ "only white space", "  \n\n\t\n", true, false, 0 },
	{ "only comments", "-- a ;\n/* b ; /* c */ */\n\n-- d", true, false, 0 },
	{ "only empty statements", ";\n ; /* c */ ;\n", true, false, 0 },
	{ "terminated, no newline", "SELECT 1;", true, false, 0 },
	{ "terminated, then comments and blank lines",
	  "SELECT 1;\n\n-- end ; \n\n/* done */\n\n", true, false, 0 },
	{ "terminated, comment on its line", "SELECT 1; -- c", true, false, 0 },
	{ "cut mid-statement", "SELECT 1;\nDELETE FROM victim\n", true, true, 2 },
	{ "cut after several lines, comments after",
	  "SELECT 1;\n\n  SELECT\n  2\n-- c ;\n\n", true, true, 3 },
	{ "cut on the line of a statement", "SELECT 1; SELECT 2", true, true, 1 },
	{ "leading comments are not the statement",
	  "-- lead\n\n  SELECT 1", true, true, 3 },
	{ "a leading slash-star comment is",
	  "SELECT 1;\n/* c */\nSELECT 2", true, true, 2 },
	{ "cut inside a string", "SELECT 1;\nSELECT 'abc;\n\n", true, true, 2 },
	{ "cut inside an E string after an escaped quote",
	  "SELECT E'a\\';", true, true, 1 },
	{ "cut inside a quoted identifier", "SELECT 1 AS \"a;\n", true, true, 1 },
	{ "cut inside a dollar quote",
	  "SELECT 1;\nDO $do$\nBEGIN\n  PERFORM 1;\n", true, true, 2 },
	{ "cut before a dollar quote's closing semicolon",
	  "DO $$ BEGIN END $$\n", true, true, 1 },
	{ "cut inside a block comment", "SELECT 1;\n\n/* open ;\n", true, true, 3 },
	{ "cut inside a nested block comment",
	  "SELECT 1;\n/* a /* b */ still open ;\n", true, true, 2 },
	{ "cut inside parentheses", "SELECT (1;\n", true, true, 1 },
	{ "cut inside a BEGIN ATOMIC body",
	  "CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n",
	  true, true, 1 },
	{ "CRLF, terminated", "SELECT 1;\r\n\r\n-- c\r\n", true, false, 0 },
	{ "CRLF, cut", "SELECT 1;\r\nSELECT\r\n  2\r\n", true, true, 2 },
	{ "byte order mark, cut", "\357\273\277SELECT 1", true, true, 1 },
	{ "a meta-command ends the check",
	  "SELECT 1;\n\\echo hi\nSELECT 2", true, false, 0 },
	{ "a meta-command line at the end",
	  "SELECT 1;\n\\echo hi", true, false, 0 },
	{ "a meta-command mid-statement",
	  "SELECT 1\n\\g\n", true, false, 0 },
	{ "std on: a backslash does not escape",
	  "SELECT 'a\\';", true, false, 0 },
	{ "std off: a backslash escapes the quote",
	  "SELECT 'a\\';", false, true, 1 },
	{ "std on: 'it\\'s' is a string, an s, then an open one",
	  "SELECT 'it\\'s';\n", true, true, 1 },
	{ "std off: 'it\\'s' is one string",
	  "SELECT 'it\\'s';\n", false, false, 0 },
	{ "std off: N strings too", "SELECT N'a\\';", false, true, 1 },
	{ "std off: E strings as ever", "SELECT E'a\\\\';", false, false, 0 },
	{ "std off: bit, hex and U& strings take no escapes",
	  "SELECT b'1\\', x'f\\', U&'a\\';", false, false, 0 },
};

static void check_cut(const struct cut_case *c)
{
	unsigned line = 12345;
	bool cut = sql_cut_short(c->in, strlen(c->in), c->std, &line);

	if (c->cut) {
		tap_ok(cut && line == c->line, "cut short: %s: at line %u",
		       c->name, c->line);
		if (!cut || line != c->line)
			printf("#   got cut=%d line=%u\n", cut, line);
	} else {
		tap_ok(!cut && line == 12345, "not cut short: %s", c->name);
	}
}

/* A NULL line is allowed; every prefix of a file is cut where it ends. */
static void check_cut_prefixes(void)
{
	static const char t[] = "-- lead\nSELECT 1;\nSELECT 'a;\nb';\r\n"
				"/* c */\n\nDO $$ x; $$;\n-- end\n";
	size_t len, bad = 0;
	unsigned line, want;
	bool cut;

	tap_ok(!sql_cut_short(t, sizeof(t) - 1, true, NULL),
	       "prefixes: the whole file is not cut short");
	for (len = 0; len < sizeof(t) - 1; len++) {
		/* Offsets in t: where each statement starts and ends. */
		if (len == 1)
			want = 1;	/* "-", an operator */
		else if (len >= 9 && len <= 16)
			want = 2;	/* "SELECT 1;" */
		else if (len >= 19 && len <= 31)
			want = 3;	/* "SELECT 'a;\nb';" */
		else if (len >= 35 && len <= 40)
			want = 5;	/* "/" or an open comment */
		else if (len >= 44 && len <= 54)
			want = 5;	/* the comment starts "DO $$ x; $$;" */
		else if (len == 57)
			want = 8;	/* "-" again */
		else
			want = 0;
		line = 0;
		cut = sql_cut_short(t, len, true, &line);
		if (cut != (want != 0) || (cut && line != want)) {
			printf("#   prefix %zu: cut=%d line=%u, want %u\n",
			       len, cut, line, want);
			bad++;
		}
	}
	tap_ok(bad == 0, "prefixes: each is cut short at its statement's line");
}

/* standard_conforming_strings off: plain strings take backslash escapes. */
static void check_std_strings(void)
{
	static const struct {
		const char *name, *in;
		bool std;
		struct want want[3];
		size_t n;
	} v[] = {
		{ "std off: one string with an escaped quote",
		  "SELECT 'it\\'s;', x1;\nSELECT x2;\n", false,
		  { { "SELECT 'it\\'s;', x1;", 1, false },
		    { "SELECT x2;", 2, false } }, 2 },
		{ "std on: the same bytes split elsewhere",
		  "SELECT 'it\\'s;', x1;\nSELECT x2;\n", true,
		  { { "SELECT 'it\\'s;", 1, false },
		    { "', x1;\nSELECT x2;", 2, false } }, 2 },
		{ "std off: N string",
		  "SELECT N'a\\';', x1;\n", false,
		  { { "SELECT N'a\\';', x1;", 1, false } }, 1 },
		{ "std off: U& string takes no escape",
		  "SELECT U&'a\\', x1;\n", false,
		  { { "SELECT U&'a\\', x1;", 1, false } }, 1 },
		{ "std off: a string continued after a carriage return",
		  "SELECT 'a'\r '\\';', x1;\nSELECT x2;\n", false,
		  { { "SELECT 'a'\r '\\';', x1;", 1, false },
		    { "SELECT x2;", 2, false } }, 2 },
		{ "std off: empty lines kept inside such a string",
		  "SELECT 'a\\'\n\nb', x1;\n", false,
		  { { "SELECT 'a\\'\n\nb', x1;", 3, false } }, 1 },
		{ "std off: a backslash before the string's end",
		  "SELECT 'a\\\\', x1; SELECT x2;\n", false,
		  { { "SELECT 'a\\\\', x1;", 1, false },
		    { "SELECT x2;", 1, false } }, 2 },
	};
	size_t i, j, n;
	struct sql_stmt *st;
	int r;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		st = NULL;
		n = 0;
		r = sql_split(v[i].in, strlen(v[i].in), v[i].std, &st, &n);
		if (!tap_ok(r == 0 && n == v[i].n, "%s: %zu statements",
			    v[i].name, v[i].n)) {
			printf("#   got r=%d n=%zu\n", r, n);
			free(st);
			continue;
		}
		for (j = 0; j < n; j++) {
			struct buf b;

			buf_init(&b);
			if (sql_stmt_text(&b, v[i].in, &st[j]) < 0)
				tap_ok(0, "%s: statement %zu", v[i].name, j + 1);
			else
				tap_is_mem(b.data ? b.data : "", b.len,
					   v[i].want[j].text,
					   strlen(v[i].want[j].text), v[i].name);
			tap_ok(st[j].line == v[i].want[j].line &&
			       st[j].std_strings == v[i].std,
			       "%s: statement %zu on line %u", v[i].name,
			       j + 1, v[i].want[j].line);
			buf_finish(&b);
		}
		free(st);
	}
}

static void check_plain_query(void)
{
	static const struct {
		const char *text;
		bool want;
	} v[] = {
		{ "SELECT 1", true },
		{ "select 1", true },
		{ "  \n\tWith x AS (SELECT 1) SELECT * FROM x", true },
		{ "-- a comment\nINSERT INTO t VALUES (1)", true },
		{ "/* a /* nested */ comment */ update t SET x = 1", true },
		{ "VALUES (1)", true },
		{ "TABLE t", true },
		{ "DELETE FROM t", true },
		{ "MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE", true },
		{ "SELECT(1)", true },
		{ "COPY t TO STDOUT", false },
		{ "BEGIN", false },
		{ "COMMIT", false },
		{ "CALL p()", false },
		{ "DO $$ BEGIN COMMIT; END $$", false },
		{ "VACUUM t", false },
		{ "SET x = 1", false },
		{ "selectx", false },
		{ "select_1", false },
		{ "select1", false },
		{ "(SELECT 1)", false },
		{ "/* unterminated SELECT 1", false },
		{ "-- only a comment", false },
		{ "", false },
	};

	/* Only len bytes are looked at: "SELECT" cut to "SEL" is no word of
	 * the list, "SELECT" whole before more text is. */
	tap_ok(!sql_plain_query("SELECT 1", 3), "plain query: the first 3 bytes of SELECT are not");
	tap_ok(sql_plain_query("SELECT 1", 6), "plain query: SELECT up to its end is one");
	tap_ok(!sql_plain_query("/* a */ SELECT", 5), "plain query: a comment cut short is not");

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		tap_ok(sql_plain_query(v[i].text, strlen(v[i].text)) == v[i].want, "plain query: \"%s\" %s",
		       v[i].text, v[i].want ? "is one" : "is not");
}

/* Refused at submission only when cut short under either lexing. */
static void check_cut_any(void)
{
	static const char plain[] = "SELECT 1;\nSELECT 2\n";
	static const char off_only[] = "SELECT 'a\\';\n";	/* \' escapes when off */
	static const char on_only[] = "SELECT 'a\\'';\n";	/* 'a\' then an open ' when on */
	unsigned line = 0;

	tap_ok(sql_cut_short_any(plain, sizeof(plain) - 1, &line) && line == 2,
	       "cut_any: no ';' after the last statement: cut short, at line 2");
	tap_ok(sql_cut_short(off_only, sizeof(off_only) - 1, false, NULL) &&
	       !sql_cut_short_any(off_only, sizeof(off_only) - 1, NULL),
	       "cut_any: cut short with standard_conforming_strings off only: left to the run");
	tap_ok(sql_cut_short(on_only, sizeof(on_only) - 1, true, NULL) &&
	       !sql_cut_short_any(on_only, sizeof(on_only) - 1, NULL),
	       "cut_any: cut short with standard_conforming_strings on only: left to the run");
	tap_ok(!sql_cut_short_any("", 0, NULL), "cut_any: an empty file is not cut short");
}

int main(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_case(&cases[i]);
	check_ranges();
	check_bytes();
	check_many();
	for (i = 0; i < sizeof(cut_cases) / sizeof(cut_cases[0]); i++)
		check_cut(&cut_cases[i]);
	check_cut_prefixes();
	check_cut_any();
	check_std_strings();
	check_plain_query();
	return tap_done();
}
