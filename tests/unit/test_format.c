/*
 * Unit tests of the output formatter.  The expected bytes are what psql
 * 15.18 printed (psql -X -q --csv -v ON_ERROR_STOP=1 -f FILE on stdout,
 * its stderr for errors) for the same results from a real server.
 *
 * No server is needed: CSV results are built with PQmakeEmptyPGresult()
 * and PQsetvalue(); error and notice results, whose fields libpq offers no
 * way to set, come from a small fake server in a child process that
 * answers libpq's startup and replays, field for field, the ErrorResponse
 * and NoticeResponse messages PostgreSQL 15 sent for those statements.
 * libpq itself then builds the message (DETAIL, HINT, CONTEXT, the LINE
 * excerpt and caret) exactly as it does for psql.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "buf.h"
#include "format.h"
#include "tap.h"

static void field_is_mem(const char *in, size_t len, const char *want,
			 size_t want_len, const char *name)
{
	struct buf b;

	buf_init(&b);
	if (csv_field(&b, in, len) < 0)
		tap_ok(0, "%s", name);
	else
		tap_is_mem(b.data ? b.data : "", b.len, want, want_len, name);
	buf_finish(&b);
}

static void field_is(const char *in, size_t len, const char *want,
		     const char *name)
{
	field_is_mem(in, len, want, strlen(want), name);
}

static void check_fields(void)
{
	field_is("abc", 3, "abc", "field: plain");
	field_is("", 0, "", "field: empty string");
	field_is("a,b", 3, "\"a,b\"", "field: comma quoted");
	field_is("q\"q", 3, "\"q\"\"q\"", "field: quote doubled");
	field_is("\"", 1, "\"\"\"\"", "field: lone quote");
	field_is("l1\nl2", 5, "\"l1\nl2\"", "field: LF quoted");
	field_is("c\rr", 3, "\"c\rr\"", "field: CR quoted");
	field_is("\\.", 2, "\"\\.\"", "field: \\. quoted");
	field_is("\\.x", 3, "\\.x", "field: \\.x not quoted");
	field_is("\\", 1, "\\", "field: backslash not quoted");
	field_is(".", 1, ".", "field: dot not quoted");
	field_is(" sp ", 4, " sp ", "field: spaces kept, not quoted");
	field_is("\xc3\xa9", 2, "\xc3\xa9", "field: UTF-8 as is");
	field_is_mem("a\0b", 3, "a\0b", 3, "field: length, not NUL, ends it");
	{
		struct buf b;

		buf_init(&b);
		tap_ok(csv_field(&b, "x", 1) == 0 && csv_field(&b, ",", 1) == 0 &&
		       b.len == 4 && memcmp(b.data, "x\",\"", 4) == 0,
		       "field: appends to what is there");
		buf_finish(&b);
	}
}

/* Builds a result with the given columns and rows (NULL value = NULL). */
static PGresult *make_result(int ncols, const char *const *names, int nrows,
			     const char *const *values)
{
	PGresAttDesc att[16];
	PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	int i, r;

	if (!res || ncols > 16)
		abort();
	for (i = 0; i < ncols; i++) {
		memset(&att[i], 0, sizeof(att[i]));
		att[i].name = (char *)names[i];
		att[i].typid = 25;	/* text */
		att[i].typlen = -1;
		att[i].atttypmod = -1;
	}
	if (!PQsetResultAttrs(res, ncols, ncols ? att : NULL))
		abort();
	for (r = 0; r < nrows; r++)
		for (i = 0; i < ncols; i++) {
			const char *v = values[r * ncols + i];

			if (!PQsetvalue(res, r, i, (char *)v,
					v ? (int)strlen(v) : -1))
				abort();
		}
	return res;
}

static bool append_result(struct buf *b, const PGresult *res)
{
	int row;

	if (csv_header(b, res) < 0)
		return false;
	for (row = 0; row < PQntuples(res); row++)
		if (csv_row(b, res, row) < 0)
			return false;
	return true;
}

/*
 * The statements of the psql run this reproduces:
 *   SELECT;
 *   SELECT FROM generate_series(1,3);
 *   SELECT 1 AS a WHERE false;
 *   SELECT 'a,b' AS "x,y", 'q"q' AS "q""", E'l1\nl2' AS lf, ... ;
 *   SELECT FROM generate_series(1,0);
 *   SELECT g, g::text || ',' AS t, NULL::int AS n, true AS b,
 *          1.5::float8 AS f, '{1,2}'::int[] AS arr, ROW(1,'a b') AS r
 *     FROM generate_series(1,3) g;
 */
static void check_results(void)
{
	static const char *const one[] = { "a" };
	static const char *const wide_names[] = {
		"x,y", "q\"", "lf", "cr", "bs", "n", "e", "\xc3\xbc", "sp",
		"b1", "dot", "bsx", "dq", ",", "a\nb",
	};
	static const char *const wide_row[] = {
		"a,b", "q\"q", "l1\nl2", "c\rr", "\\.", NULL, "", "\xc3\xa9",
		" sp ", "\\", ".", "\\.x", "\"", ",", "\n",
	};
	static const char *const g_names[] = {
		"g", "t", "n", "b", "f", "arr", "r",
	};
	static const char *const g_rows[] = {
		"1", "1,", NULL, "t", "1.5", "{1,2}", "(1,\"a b\")",
		"2", "2,", NULL, "t", "1.5", "{1,2}", "(1,\"a b\")",
		"3", "3,", NULL, "t", "1.5", "{1,2}", "(1,\"a b\")",
	};
	static const char want[] =
		"\n"
		"\n"
		"a\n"
		"\"x,y\",\"q\"\"\",lf,cr,bs,n,e,\303\274,sp,b1,dot,bsx,dq,\",\","
		"\"a\nb\"\n"
		"\"a,b\",\"q\"\"q\",\"l1\nl2\",\"c\rr\",\"\\.\",,,\303\251, sp ,"
		"\\,.,\\.x,\"\"\"\",\",\",\"\n\"\n"
		"\n"
		"g,t,n,b,f,arr,r\n"
		"1,\"1,\",,t,1.5,\"{1,2}\",\"(1,\"\"a b\"\")\"\n"
		"2,\"2,\",,t,1.5,\"{1,2}\",\"(1,\"\"a b\"\")\"\n"
		"3,\"3,\",,t,1.5,\"{1,2}\",\"(1,\"\"a b\"\")\"\n";
	PGresult *res[6];
	struct buf b;
	bool ok = true;
	size_t i;

	res[0] = make_result(0, NULL, 0, NULL);	/* SELECT; */
	res[1] = make_result(0, NULL, 0, NULL);	/* 3 rows, no columns */
	res[2] = make_result(1, one, 0, NULL);
	res[3] = make_result(15, wide_names, 1, wide_row);
	res[4] = make_result(0, NULL, 0, NULL);
	res[5] = make_result(7, g_names, 3, g_rows);

	buf_init(&b);
	for (i = 0; i < 6; i++)
		ok = ok && append_result(&b, res[i]);
	tap_ok(ok, "results: formatted");
	tap_is_mem(b.data, b.len, want, sizeof(want) - 1,
		   "results: byte for byte what psql --csv printed");

	buf_reset(&b);
	tap_ok(csv_header(&b, res[0]) == 0 && b.len == 1 && b.data[0] == '\n',
	       "zero columns: the header is an empty line");
	buf_reset(&b);
	tap_ok(csv_row(&b, res[1], 0) == 0 && csv_row(&b, res[1], 2) == 0 &&
	       b.len == 0, "zero columns: rows print nothing");

	buf_reset(&b);
	{
		static const char *const nulls[] = { NULL, "" };
		static const char *const names2[] = { "n", "e" };
		PGresult *r = make_result(2, names2, 1, nulls);

		tap_ok(csv_row(&b, r, 0) == 0 && b.len == 2 &&
		       memcmp(b.data, ",\n", 2) == 0,
		       "row: NULL and empty string both print empty");
		PQclear(r);
	}
	buf_reset(&b);
	{
		static const char *const v[] = { "x\0y" };
		PGresult *r = make_result(1, one, 0, NULL);

		/* A value's length comes from PQgetlength, not strlen. */
		if (!PQsetvalue(r, 0, 0, (char *)v[0], 3))
			abort();
		tap_ok(csv_row(&b, r, 0) == 0 && b.len == 4 &&
		       memcmp(b.data, "x\0y\n", 4) == 0,
		       "row: binary-safe length");
		PQclear(r);
	}

	buf_finish(&b);
	for (i = 0; i < 6; i++)
		PQclear(res[i]);
}

/*
 * A fake server: answers one libpq connection on a Unix socket.  Each
 * Query gets the next canned reply.
 */
struct reply {
	const char *query;	/* the query it answers, checked */
	const char *fields;	/* ErrorResponse/NoticeResponse body */
	size_t fields_len;
	char type;		/* 'E' error, 'N' notice then "DO" */
};

#define FIELDS(s) s, sizeof(s)

static const struct reply replies[] = {
	{ "INSERT INTO u VALUES (1)",
	  FIELDS("SERROR\0VERROR\0C23505\0"
		 "Mduplicate key value violates unique constraint \"u_pkey\"\0"
		 "DKey (a)=(1) already exists.\0spublic\0tu\0nu_pkey\0"
		 "Fnbtinsert.c\0L664\0R_bt_check_unique\0"), 'E' },
	{ "SELECT 1 +\n  nosuch\n  FROM u;",
	  FIELDS("SERROR\0VERROR\0C42703\0"
		 "Mcolumn \"nosuch\" does not exist\0P14\0"
		 "Fparse_relation.c\0L3665\0RerrorMissingColumn\0"), 'E' },
	{ "DO $$BEGIN RAISE EXCEPTION 'boom %', 42 USING HINT = 'try again', "
	  "DETAIL = 'line1\nline2'; END$$;",
	  FIELDS("SERROR\0VERROR\0CP0001\0Mboom 42\0Dline1\nline2\0"
		 "Htry again\0"
		 "WPL/pgSQL function inline_code_block line 1 at RAISE\0"
		 "Fpl_exec.c\0L3891\0Rexec_stmt_raise\0"), 'E' },
	{ "DO $$BEGIN PERFORM 1/0; END$$;",
	  FIELDS("SERROR\0VERROR\0C22012\0Mdivision by zero\0"
		 "WSQL statement \"SELECT 1/0\"\n"
		 "PL/pgSQL function inline_code_block line 1 at PERFORM\0"
		 "Fint.c\0L869\0Rint4div\0"), 'E' },
	{ "DO $$BEGIN RAISE NOTICE 'hello\nworld'; END$$;",
	  FIELDS("SNOTICE\0VNOTICE\0C00000\0Mhello\nworld\0"
		 "WPL/pgSQL function inline_code_block line 1 at RAISE\0"
		 "Fpl_exec.c\0L3891\0Rexec_stmt_raise\0"), 'N' },
	{ "DO $$BEGIN RAISE WARNING 'warn'; END$$;",
	  FIELDS("SWARNING\0VWARNING\0C01000\0Mwarn\0"
		 "WPL/pgSQL function inline_code_block line 2 at RAISE\0"
		 "Fpl_exec.c\0L3891\0Rexec_stmt_raise\0"), 'N' },
};

static bool read_all(int fd, void *p, size_t n)
{
	char *c = p;
	ssize_t k;

	while (n > 0) {
		k = read(fd, c, n);
		if (k <= 0)
			return false;
		c += k;
		n -= (size_t)k;
	}
	return true;
}

static bool send_msg(int fd, char type, const void *body, size_t len)
{
	unsigned char head[5];
	uint32_t n = (uint32_t)len + 4;
	const char *c;
	size_t left;
	ssize_t k;

	head[0] = (unsigned char)type;
	head[1] = (unsigned char)(n >> 24);
	head[2] = (unsigned char)(n >> 16);
	head[3] = (unsigned char)(n >> 8);
	head[4] = (unsigned char)n;
	if (write(fd, head, 5) != 5)
		return false;
	for (c = body, left = len; left > 0; c += k, left -= (size_t)k) {
		k = write(fd, c, left);
		if (k <= 0)
			return false;
	}
	return true;
}

static bool send_param(int fd, const char *name, const char *value)
{
	char body[128];
	size_t a = strlen(name) + 1, v = strlen(value) + 1;

	memcpy(body, name, a);
	memcpy(body + a, value, v);
	return send_msg(fd, 'S', body, a + v);
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* The child's side: returns the exit status. */
static int fake_server(int lfd)
{
	static const unsigned char auth_ok[4] = { 0, 0, 0, 0 };
	static const unsigned char key[8] = { 0, 0, 0, 42, 0, 0, 0, 7 };
	unsigned char head[5], *body;
	size_t next = 0;
	uint32_t len;
	int fd;

	alarm(20);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		return 2;
	/* Startup packet: length, protocol 3.0, parameters. */
	if (!read_all(fd, head, 4))
		return 3;
	len = get_u32(head);
	if (len < 8 || len > 10000 || !(body = malloc(len)) ||
	    !read_all(fd, body, len - 4) || get_u32(body) != 196608)
		return 4;
	free(body);
	if (!send_msg(fd, 'R', auth_ok, 4) ||
	    !send_param(fd, "client_encoding", "UTF8") ||
	    !send_param(fd, "server_encoding", "UTF8") ||
	    !send_param(fd, "server_version", "15.18") ||
	    !send_param(fd, "standard_conforming_strings", "on") ||
	    !send_param(fd, "integer_datetimes", "on") ||
	    !send_msg(fd, 'K', key, 8) || !send_msg(fd, 'Z', "I", 1))
		return 5;
	for (;;) {
		const struct reply *rp;

		if (!read_all(fd, head, 5))
			return 6;
		len = get_u32(head + 1);
		if (len < 4 || len > 100000 || !(body = malloc(len)))
			return 7;
		if (!read_all(fd, body, len - 4))
			return 8;
		if (head[0] == 'X') {
			free(body);
			return 0;
		}
		if (head[0] != 'Q' || next >= sizeof(replies) / sizeof(replies[0]))
			return 9;
		rp = &replies[next++];
		if (len - 4 != strlen(rp->query) + 1 ||
		    memcmp(body, rp->query, len - 4) != 0)
			return 10;
		free(body);
		if (!send_msg(fd, rp->type, rp->fields, rp->fields_len))
			return 11;
		if (rp->type == 'N' && !send_msg(fd, 'C', "DO", 3))
			return 12;
		if (!send_msg(fd, 'Z', "I", 1))
			return 13;
	}
}

static struct buf notices;
static int notice_failures;

static void on_notice(void *arg, const PGresult *res)
{
	(void)arg;
	if (format_notice(&notices, res) < 0 || buf_putc(&notices, '\n') < 0)
		notice_failures++;
}

static void error_is(PGconn *conn, size_t i, unsigned line, const char *want,
		     const char *name)
{
	PGresult *res = PQexec(conn, replies[i].query);
	struct buf b;

	buf_init(&b);
	if (PQresultStatus(res) != PGRES_FATAL_ERROR ||
	    format_error(&b, "r1.sql", line, res) < 0)
		tap_ok(0, "%s (status %s)", name,
		       PQresStatus(PQresultStatus(res)));
	else
		tap_is_mem(b.data, b.len, want, strlen(want), name);
	buf_finish(&b);
	PQclear(res);
}

static void check_server_messages(void)
{
	char dir[] = "/tmp/pgqfs-test-format-XXXXXX";
	char conninfo[256];
	struct sockaddr_un sa;
	PGconn *conn = NULL;
	PGresult *res;
	pid_t pid;
	int lfd, status = -1;

	if (!mkdtemp(dir)) {
		tap_ok(0, "fake server: mkdtemp: %s", strerror(errno));
		return;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/.s.PGSQL.5432", dir);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, 1) < 0) {
		tap_ok(0, "fake server: listen: %s", strerror(errno));
		goto out;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		tap_ok(0, "fake server: fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		_exit(fake_server(lfd));

	snprintf(conninfo, sizeof(conninfo),
		 "host=%s port=5432 user=test dbname=test sslmode=disable "
		 "gssencmode=disable connect_timeout=10", dir);
	conn = PQconnectdb(conninfo);
	if (!tap_ok(PQstatus(conn) == CONNECTION_OK, "fake server: connected")) {
		printf("# %s", PQerrorMessage(conn));
		kill(pid, SIGKILL);
	} else {
		PQsetNoticeReceiver(conn, on_notice, NULL);

		error_is(conn, 0, 4,
			 "psql:r1.sql:4: ERROR:  duplicate key value violates "
			 "unique constraint \"u_pkey\"\n"
			 "DETAIL:  Key (a)=(1) already exists.\n"
			 "SQLSTATE: 23505\n",
			 "error: DETAIL (unique violation)");
		error_is(conn, 1, 7,
			 "psql:r1.sql:7: ERROR:  column \"nosuch\" does not exist\n"
			 "LINE 2:   nosuch\n"
			 "          ^\n"
			 "SQLSTATE: 42703\n",
			 "error: LINE excerpt and caret");
		error_is(conn, 2, 9,
			 "psql:r1.sql:9: ERROR:  boom 42\n"
			 "DETAIL:  line1\nline2\n"
			 "HINT:  try again\n"
			 "CONTEXT:  PL/pgSQL function inline_code_block line 1 at RAISE\n"
			 "SQLSTATE: P0001\n",
			 "error: DETAIL, HINT and CONTEXT (plpgsql RAISE)");
		error_is(conn, 3, 10,
			 "psql:r1.sql:10: ERROR:  division by zero\n"
			 "CONTEXT:  SQL statement \"SELECT 1/0\"\n"
			 "PL/pgSQL function inline_code_block line 1 at PERFORM\n"
			 "SQLSTATE: 22012\n",
			 "error: two-line CONTEXT");

		res = PQexec(conn, replies[4].query);
		PQclear(res);
		res = PQexec(conn, replies[5].query);
		PQclear(res);
		tap_ok(notice_failures == 0, "notices: formatted");
		tap_is_mem(notices.data, notices.len,
			   "NOTICE:  hello\\nworld\nWARNING:  warn\n",
			   strlen("NOTICE:  hello\\nworld\nWARNING:  warn\n"),
			   "notices: one line each, newline escaped");
	}
	PQfinish(conn);
	if (waitpid(pid, &status, 0) < 0)
		status = -1;
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "fake server: saw the expected queries");
out:
	if (lfd >= 0)
		close(lfd);
	unlink(sa.sun_path);
	rmdir(dir);
	buf_finish(&notices);
}

/* Errors without a server message: the framing alone. */
static void check_error_framing(void)
{
	PGconn *conn;
	PGresult *res;
	struct buf b, want;

	buf_init(&b);
	res = PQmakeEmptyPGresult(NULL, PGRES_FATAL_ERROR);
	tap_ok(format_error(&b, "q.sql", 3, res) == 0 && b.len == 15 &&
	       memcmp(b.data, "psql:q.sql:3: \n", 15) == 0,
	       "error: empty message still ends its line, no SQLSTATE");
	PQclear(res);

	/* A connection that fails without a server gives a message. */
	conn = PQconnectdb("host=/nonexistent/pgqfs-test port=1 "
			   "connect_timeout=1");
	res = PQmakeEmptyPGresult(conn, PGRES_FATAL_ERROR);
	buf_init(&want);
	buf_reset(&b);
	if (buf_printf(&want, "psql:query.sql:12: %s", PQerrorMessage(conn)) < 0)
		abort();
	if (want.len == 0 || want.data[want.len - 1] != '\n')
		(void)buf_putc(&want, '\n');
	tap_ok(format_error(&b, "query.sql", 12, res) == 0,
	       "error: libpq message formatted");
	tap_is_mem(b.data, b.len, want.data, want.len,
		   "error: prefix, then libpq's message as it is");
	PQclear(res);
	PQfinish(conn);
	buf_finish(&want);

	buf_reset(&b);
	res = PQmakeEmptyPGresult(NULL, PGRES_NONFATAL_ERROR);
	tap_ok(format_notice(&b, res) == 0 && b.len == 9 &&
	       memcmp(b.data, "NOTICE:  ", 9) == 0,
	       "notice: without fields, NOTICE and an empty message");
	PQclear(res);
	buf_finish(&b);
}

/* An error text past its cap: cut at a character, saying so, within it. */
static void check_error_cap(void)
{
	struct buf b;
	static const char tail[] = "\n[pgqfs: the error is cut here, at 1 KiB]\n";

	buf_init(&b);
	for (int i = 0; i < 1000; i++)
		if (buf_puts(&b, "\xc3\xa9") < 0)	/* é, two bytes */
			abort();
	format_error_cap(&b, 4096);
	tap_ok(b.len == 2000, "error cap: a text within it is kept whole");
	format_error_cap(&b, 1024);
	tap_ok(b.len <= 1024 && b.len >= 1024 - 2 - (sizeof(tail) - 1),
	       "error cap: cut to at most the cap");
	tap_ok(b.len > sizeof(tail) - 1 &&
	       memcmp(b.data + b.len - (sizeof(tail) - 1), tail, sizeof(tail) - 1) == 0,
	       "error cap: ends with the line saying where it is cut");
	tap_ok(((b.len - (sizeof(tail) - 1)) % 2) == 0,
	       "error cap: never inside a UTF-8 sequence (whole é's before the line)");
	buf_finish(&b);
}

/* An error in a statement sent after pgqfs's own first line: its
 * excerpt's line number as psql, which sent the statement alone, shows. */
static void check_error_skip(void)
{
	static const struct {
		const char *name, *msg, *primary, *want;
		bool positioned;
		unsigned skip;
	} v[] = {
		{ "line 2 of the string is the statement's 1",
		  "ERROR:  column \"nosuch\" does not exist\nLINE 2: SELECT nosuch;\n               ^\n",
		  "column \"nosuch\" does not exist",
		  "psql:q.sql:1: ERROR:  column \"nosuch\" does not exist\nLINE 1: SELECT nosuch;\n"
		  "               ^\nSQLSTATE: 42703\n", true, 1 },
		{ "line 10 becomes 9, the caret one column left with the prefix",
		  "ERROR:  syntax error at or near \"x\"\nLINE 10: a x\n            ^\nHINT:  h\n",
		  "syntax error at or near \"x\"",
		  "psql:q.sql:1: ERROR:  syntax error at or near \"x\"\nLINE 9: a x\n           ^\n"
		  "HINT:  h\nSQLSTATE: 42703\n", true, 1 },
		{ "line 100 becomes 99",
		  "ERROR:  e\nLINE 100: abc\n           ^\n", "e",
		  "psql:q.sql:1: ERROR:  e\nLINE 99: abc\n          ^\nSQLSTATE: 42703\n", true, 1 },
		{ "no position: as libpq wrote it",
		  "ERROR:  e\nLINE 2: x\n        ^\n", "e",
		  "psql:q.sql:1: ERROR:  e\nLINE 2: x\n        ^\nSQLSTATE: 42703\n", false, 1 },
		{ "nothing skipped: as libpq wrote it",
		  "ERROR:  e\nLINE 2: x\n        ^\n", "e",
		  "psql:q.sql:1: ERROR:  e\nLINE 2: x\n        ^\nSQLSTATE: 42703\n", true, 0 },
		{ "a message that does not start as said: as libpq wrote it",
		  "ERROR:  e\nLINE 2: x\n        ^\n", "other",
		  "psql:q.sql:1: ERROR:  e\nLINE 2: x\n        ^\nSQLSTATE: 42703\n", true, 1 },
		{ "an excerpt on pgqfs's own line: as libpq wrote it",
		  "ERROR:  e\nLINE 1: x\n        ^\n", "e",
		  "psql:q.sql:1: ERROR:  e\nLINE 1: x\n        ^\nSQLSTATE: 42703\n", true, 1 },
		{ "a primary message with a LINE of its own is left alone",
		  "ERROR:  a\nLINE 5: b\nLINE 2: x\n        ^\n", "a\nLINE 5: b",
		  "psql:q.sql:1: ERROR:  a\nLINE 5: b\nLINE 1: x\n        ^\nSQLSTATE: 42703\n", true, 1 },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct buf b;

		buf_init(&b);
		tap_ok(format_error_text(&b, "q.sql", 1, v[i].msg, "42703", "ERROR", v[i].primary,
					 v[i].positioned, v[i].skip) == 0, "%s: formats", v[i].name);
		tap_is_str(buf_cstr(&b) ? b.data : "", v[i].want, v[i].name);
		buf_finish(&b);
	}
}

int main(void)
{
	check_error_skip();
	check_error_cap();
	check_fields();
	check_results();
	check_error_framing();
	check_server_messages();
	return tap_done();
}
