/*
 * libFuzzer harness for the output and error formatters (src/format.c).
 *
 * The first input byte chooses what the rest is:
 *  - even: CSV.  The rest is a list of fields, each a length byte (0xff for
 *    a NULL value) and that many bytes (fewer at the end of the input).
 *    The whole rest goes through csv_field(), and the fields, as one row
 *    of a result whose column names are the fields up to their first NUL,
 *    through csv_header() and csv_row().  The output must read back, with
 *    the CSV rules COPY ... (FORMAT csv) uses, as exactly the fields that
 *    went in (NULL reads back as an empty field), and a field is left
 *    unquoted only when that is unambiguous.
 *  - odd: a server message.  The rest, cut at NUL bytes, is the fields of
 *    an ErrorResponse (first byte of each the field type) that a fake
 *    server in a thread sends to a real libpq connection, so that libpq
 *    builds the PGresult exactly as it does for a real error.  The output
 *    of format_error() must be the prefix, libpq's message and the
 *    SQLSTATE line; format_notice()'s must be one line that gives back
 *    the severity and message.
 * A broken property aborts, which libFuzzer reports as a crash.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "buf.h"
#include "format.h"
#include "fuzz.h"

#define MAX_FIELDS 64

struct field {
	const char *s;
	size_t len;
	bool null;
};

/*
 * Reads one CSV field at *pos of out[0..len) as COPY FROM (FORMAT csv)
 * does, leaving *pos after it.  Returns false for malformed CSV.
 */
static bool read_csv_field(const char *out, size_t len, size_t *pos,
			   struct buf *field, bool *quoted)
{
	size_t p = *pos;

	field->len = 0;
	*quoted = p < len && out[p] == '"';
	if (!*quoted) {
		while (p < len && out[p] != ',' && out[p] != '\n') {
			if (out[p] == '"' || out[p] == '\r')
				return false;
			CHECK(buf_putc(field, out[p]) == 0, "out of memory");
			p++;
		}
		*pos = p;
		return true;
	}
	for (p++;; p++) {
		if (p >= len)
			return false;	/* unterminated */
		if (out[p] == '"') {
			if (p + 1 < len && out[p + 1] == '"') {
				p++;
			} else {
				p++;
				break;
			}
		}
		CHECK(buf_putc(field, out[p]) == 0, "out of memory");
	}
	*pos = p;
	return true;
}

/* A field psql may leave unquoted: COPY reads it back as itself. */
static bool plain_ok(const char *s, size_t len)
{
	if (len == 2 && s[0] == '\\' && s[1] == '.')
		return false;
	return !memchr(s, ',', len) && !memchr(s, '"', len) &&
	       !memchr(s, '\n', len) && !memchr(s, '\r', len);
}

/* out[0..len) must be the line of fields f[0..n), then "\n". */
static void check_line(const char *what, const char *out, size_t len,
		       const struct field *f, size_t n)
{
	struct buf got;
	size_t pos = 0, i;
	bool quoted;

	buf_init(&got);
	CHECK(len > 0 && out[len - 1] == '\n', "%s: no final newline", what);
	if (n == 0) {
		CHECK(len == 1, "%s: an empty line expected", what);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (i > 0) {
			CHECK(pos < len && out[pos] == ',',
			      "%s: no comma before field %zu", what, i);
			pos++;
		}
		CHECK(read_csv_field(out, len, &pos, &got, &quoted),
		      "%s: field %zu is not valid CSV", what, i);
		CHECK(got.len == f[i].len &&
		      (got.len == 0 || memcmp(got.data, f[i].s, got.len) == 0),
		      "%s: field %zu reads back as %zu other bytes", what, i,
		      got.len);
		/* Quoted exactly when it must be (psql's rule). */
		CHECK(quoted == !plain_ok(f[i].s, f[i].len),
		      "%s: field %zu quoted=%d", what, i, quoted);
	}
	CHECK(pos == len - 1, "%s: %zu bytes after the last field", what,
	      len - 1 - pos);
out:
	buf_finish(&got);
}

static void fuzz_csv(const uint8_t *data, size_t size)
{
	struct field f[MAX_FIELDS], names[MAX_FIELDS];
	PGresAttDesc att[MAX_FIELDS];
	char *name_copy[MAX_FIELDS];
	PGresult *res;
	struct buf b;
	size_t n = 0, pos = 0, i, len, one;

	/* The whole input as one field. */
	buf_init(&b);
	CHECK(csv_field(&b, (const char *)data, size) == 0, "csv_field failed");
	CHECK(buf_putc(&b, '\n') == 0, "out of memory");
	f[0] = (struct field){ (const char *)data, size, false };
	check_line("csv_field", b.data, b.len, f, 1);
	one = b.len;
	/* Appending does not disturb what is there. */
	CHECK(csv_field(&b, (const char *)data, size) == 0, "csv_field failed");
	CHECK(b.len == 2 * one - 1 &&
	      memcmp(b.data, b.data + one, one - 1) == 0,
	      "csv_field appends differently");

	while (pos < size && n < MAX_FIELDS) {
		len = data[pos++];
		if (len == 0xff) {
			f[n++] = (struct field){ "", 0, true };
			continue;
		}
		if (len > size - pos)
			len = size - pos;
		f[n++] = (struct field){ (const char *)data + pos, len, false };
		pos += len;
	}

	res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	CHECK(res, "out of memory");
	for (i = 0; i < n; i++) {
		name_copy[i] = strndup(f[i].s, f[i].len);
		CHECK(name_copy[i], "out of memory");
		names[i] = (struct field){ name_copy[i], strlen(name_copy[i]),
					   false };
		memset(&att[i], 0, sizeof(att[i]));
		att[i].name = name_copy[i];
		att[i].typid = 25;
		att[i].typlen = -1;
		att[i].atttypmod = -1;
	}
	CHECK(PQsetResultAttrs(res, (int)n, n ? att : NULL), "out of memory");
	for (i = 0; i < n; i++)
		CHECK(PQsetvalue(res, 0, (int)i, (char *)f[i].s,
				 f[i].null ? -1 : (int)f[i].len),
		      "out of memory");

	buf_reset(&b);
	CHECK(csv_header(&b, res) == 0, "csv_header failed");
	check_line("csv_header", b.data, b.len, names, n);
	buf_reset(&b);
	CHECK(csv_row(&b, res, 0) == 0, "csv_row failed");
	if (n == 0)
		CHECK(b.len == 0, "a row of no columns prints %zu bytes", b.len);
	else
		check_line("csv_row", b.data, b.len, f, n);

	PQclear(res);
	for (i = 0; i < n; i++)
		free(name_copy[i]);
	buf_finish(&b);
}

/* ---- The fake server ---------------------------------------------------- */

static PGconn *conn;
/* The next ErrorResponse body; the client writes it before its query. */
static char *reply;
static size_t reply_len;

static bool write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t k;

	while (n > 0) {
		k = write(fd, c, n);
		if (k <= 0)
			return false;
		c += k;
		n -= (size_t)k;
	}
	return true;
}

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

	head[0] = (unsigned char)type;
	head[1] = (unsigned char)(n >> 24);
	head[2] = (unsigned char)(n >> 16);
	head[3] = (unsigned char)(n >> 8);
	head[4] = (unsigned char)n;
	return write_all(fd, head, 5) && write_all(fd, body, len);
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

/* Answers every Query with the ErrorResponse in `reply`. */
static void *fake_server(void *arg)
{
	static const unsigned char auth_ok[4] = { 0, 0, 0, 0 };
	static const unsigned char key[8] = { 0, 0, 0, 42, 0, 0, 0, 7 };
	unsigned char head[5], *body;
	int lfd = *(int *)arg, fd;
	uint32_t len;

	fd = accept(lfd, NULL, NULL);
	CHECK(fd >= 0, "accept: %s", strerror(errno));
	close(lfd);
	CHECK(read_all(fd, head, 4), "startup packet");
	len = get_u32(head);
	CHECK(len >= 8 && len <= 10000 && (body = malloc(len)) &&
	      read_all(fd, body, len - 4), "startup packet");
	free(body);
	CHECK(send_msg(fd, 'R', auth_ok, 4) &&
	      send_param(fd, "client_encoding", "UTF8") &&
	      send_param(fd, "server_encoding", "UTF8") &&
	      send_param(fd, "server_version", "15.18") &&
	      send_param(fd, "standard_conforming_strings", "on") &&
	      send_param(fd, "integer_datetimes", "on") &&
	      send_msg(fd, 'K', key, 8) && send_msg(fd, 'Z', "I", 1),
	      "startup reply");
	for (;;) {
		if (!read_all(fd, head, 5))
			break;
		len = get_u32(head + 1);
		CHECK(len >= 4 && (body = malloc(len)) &&
		      read_all(fd, body, len - 4), "message");
		free(body);
		if (head[0] == 'X')
			break;
		CHECK(head[0] == 'Q', "unexpected message '%c'", head[0]);
		CHECK(send_msg(fd, 'E', reply, reply_len) &&
		      send_msg(fd, 'Z', "I", 1), "reply");
	}
	close(fd);
	return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char dir[] = "/tmp/pgqfs-fuzz-format-XXXXXX";
	static int lfd;
	char conninfo[256];
	struct sockaddr_un sa;
	pthread_t tid;

	(void)argc;
	(void)argv;
	CHECK(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/.s.PGSQL.5432", dir);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(lfd >= 0 && bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	      listen(lfd, 1) == 0, "listen: %s", strerror(errno));
	CHECK(pthread_create(&tid, NULL, fake_server, &lfd) == 0,
	      "pthread_create");
	CHECK(pthread_detach(tid) == 0, "pthread_detach");
	snprintf(conninfo, sizeof(conninfo),
		 "host=%s port=5432 user=fuzz dbname=fuzz sslmode=disable "
		 "gssencmode=disable connect_timeout=10", dir);
	conn = PQconnectdb(conninfo);
	CHECK(PQstatus(conn) == CONNECTION_OK, "connect: %s",
	      PQerrorMessage(conn));
	/* The socket is bound to the connection now: the name can go. */
	unlink(sa.sun_path);
	rmdir(dir);
	return 0;
}

/* The value of field `type` in body[0..len), or NULL (the last wins, as
 * in libpq, which keeps every field and finds the newest first). */
static const char *body_field(const char *body, size_t len, char type)
{
	const char *found = NULL;
	size_t p = 0;

	while (p < len && body[p]) {
		if (body[p] == type)
			found = body + p + 1;
		p += strlen(body + p) + 1;
	}
	return found;
}

static void fuzz_message(const uint8_t *data, size_t size)
{
	static const char query[] = "SELECT 1 +\n  nosuch\n  FROM u;";
	const char *msg, *severity, *primary, *sqlstate, *file;
	char file_buf[32];
	struct buf b, want;
	PGresult *res;
	size_t p, n, i, l;
	unsigned lineno;

	/* The body: fields "Tvalue\0", empty ones dropped, then a NUL. */
	free(reply);
	reply = malloc(size + 2);
	CHECK(reply, "out of memory");
	for (p = 0, n = 0; p < size; p += l + 1) {
		const char *s = memchr(data + p, '\0', size - p);

		l = s ? (size_t)(s - (const char *)data) - p : size - p;
		if (l > 0) {
			memcpy(reply + n, data + p, l);
			n += l;
			reply[n++] = '\0';
		}
	}
	reply[n++] = '\0';
	reply_len = n;

	res = PQexec(conn, query);
	CHECK(PQstatus(conn) == CONNECTION_OK, "connection lost: %s",
	      PQerrorMessage(conn));
	CHECK(PQresultStatus(res) == PGRES_FATAL_ERROR, "status %s",
	      PQresStatus(PQresultStatus(res)));

	/* A file name and line from the input too, as a task's would be. */
	lineno = size > 0 ? data[0] * 1000u + (unsigned)size : 0;
	n = size < sizeof(file_buf) - 1 ? size : sizeof(file_buf) - 1;
	memcpy(file_buf, data, n);
	file_buf[n] = '\0';
	file = file_buf;

	buf_init(&b);
	buf_init(&want);
	CHECK(format_error(&b, file, lineno, res) == 0, "format_error failed");
	msg = PQresultErrorMessage(res);
	sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	CHECK(buf_printf(&want, "psql:%s:%u: %s", file, lineno, msg) == 0,
	      "out of memory");
	if (want.len == 0 || want.data[want.len - 1] != '\n')
		CHECK(buf_putc(&want, '\n') == 0, "out of memory");
	if (sqlstate && *sqlstate)
		CHECK(buf_printf(&want, "SQLSTATE: %s\n", sqlstate) == 0,
		      "out of memory");
	CHECK(b.len == want.len && memcmp(b.data, want.data, b.len) == 0,
	      "format_error: %zu bytes, %zu expected", b.len, want.len);
	CHECK(sqlstate == body_field(reply, reply_len, 'C') ||
	      (sqlstate && body_field(reply, reply_len, 'C') &&
	       strcmp(sqlstate, body_field(reply, reply_len, 'C')) == 0),
	      "SQLSTATE is not the C field");

	/* The notice line: one line, and it gives back what went in. */
	buf_reset(&b);
	buf_reset(&want);
	CHECK(format_notice(&b, res) == 0, "format_notice failed");
	severity = PQresultErrorField(res, PG_DIAG_SEVERITY);
	if (!severity)
		severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	if (!severity)
		severity = "NOTICE";
	primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	if (!primary)
		primary = "";
	CHECK(buf_printf(&want, "%s:  ", severity) == 0, "out of memory");
	for (i = 0; primary[i]; i++) {
		if (primary[i] == '\n')
			CHECK(buf_append(&want, "\\n", 2) == 0, "out of memory");
		else
			CHECK(buf_putc(&want, primary[i]) == 0, "out of memory");
	}
	CHECK(b.len == want.len && memcmp(b.data, want.data, b.len) == 0,
	      "format_notice: %zu bytes, %zu expected", b.len, want.len);
	/* The severity is the server's word, never a user's text. */
	if (!strchr(severity, '\n'))
		CHECK(memchr(b.data, '\n', b.len) == NULL,
		      "format_notice: a newline");
	buf_finish(&b);
	buf_finish(&want);
	PQclear(res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] % 2 == 0)
		fuzz_csv(data + 1, size - 1);
	else
		fuzz_message(data + 1, size - 1);
	return 0;
}
