/*
 * Output formatting: rows as psql --csv prints them (print_csv_text() and
 * csv_print_field() in src/fe_utils/print.c), errors as psql -f prints
 * them.  Each function either appends all of its output or, on -ENOMEM,
 * leaves the buffer as it was.
 */
#include "format.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/*
 * psql quotes a field that holds the separator, a double quote, CR or LF,
 * or that is exactly \. (which COPY would read as the end of the data).
 */
static bool csv_needs_quotes(const char *s, size_t len, size_t *ret_quotes)
{
	bool need = len == 2 && s[0] == '\\' && s[1] == '.';
	size_t i, quotes = 0;

	for (i = 0; i < len; i++) {
		switch (s[i]) {
		case '"':
			quotes++;
			need = true;
			break;
		case ',':
		case '\r':
		case '\n':
			need = true;
			break;
		default:
			break;
		}
	}
	*ret_quotes = quotes;
	return need;
}

int csv_field(struct buf *b, const char *s, size_t len)
{
	size_t quotes, i;
	char *p;
	int r;

	if (!csv_needs_quotes(s, len, &quotes))
		return buf_append(b, s, len);
	if (len > SIZE_MAX - 2 - quotes)
		return -ENOMEM;
	r = buf_reserve(b, len + quotes + 2);
	if (r < 0)
		return r;
	p = b->data + b->len;
	*p++ = '"';
	for (i = 0; i < len; i++) {
		if (s[i] == '"')
			*p++ = '"';
		*p++ = s[i];
	}
	*p++ = '"';
	b->len = (size_t)(p - b->data);
	return 0;
}

int csv_header(struct buf *b, const PGresult *res)
{
	size_t orig = b->len;
	const char *name;
	int i, n = PQnfields(res), r = 0;

	/* A result without columns still gets its (empty) header line. */
	for (i = 0; i < n && r == 0; i++) {
		if (i > 0)
			r = buf_putc(b, ',');
		name = PQfname(res, i);
		if (!name)
			name = "";
		if (r == 0)
			r = csv_field(b, name, strlen(name));
	}
	if (r == 0)
		r = buf_putc(b, '\n');
	if (r < 0)
		b->len = orig;
	return r;
}

int csv_row(struct buf *b, const PGresult *res, int row)
{
	size_t orig = b->len;
	int i, n = PQnfields(res), r = 0;

	/* psql prints nothing at all for the rows of a zero-column result. */
	if (n == 0)
		return 0;
	for (i = 0; i < n && r == 0; i++) {
		if (i > 0)
			r = buf_putc(b, ',');
		if (r == 0 && !PQgetisnull(res, row, i))
			r = csv_field(b, PQgetvalue(res, row, i),
				      (size_t)PQgetlength(res, row, i));
	}
	if (r == 0)
		r = buf_putc(b, '\n');
	if (r < 0)
		b->len = orig;
	return r;
}

void format_error_cap(struct buf *b, size_t max)
{
	char cut[64];
	int k = snprintf(cut, sizeof(cut), "\n[pgqfs: the error is cut here, at %zu KiB]\n",
			 max / 1024);
	size_t n;

	if (b->len <= max || k < 0 || (size_t)k >= max)
		return;
	n = max - (size_t)k;
	while (n > 0 && ((unsigned char)b->data[n] & 0xC0) == 0x80)
		n--;		/* not inside a UTF-8 sequence */
	b->len = n;
	(void)buf_puts(b, cut);	/* within what it holds already */
}

int format_error(struct buf *b, const char *file, unsigned line,
		 const PGresult *res)
{
	const char *msg = PQresultErrorMessage(res);
	const char *sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	size_t orig = b->len, n = strlen(msg);
	int r;

	/*
	 * psql logs the message through pg_log_info(), which drops one
	 * trailing newline and then ends the line itself.
	 */
	r = buf_printf(b, "psql:%s:%u: ", file, line);
	if (r == 0)
		r = buf_append(b, msg, n);
	if (r == 0 && (n == 0 || msg[n - 1] != '\n'))
		r = buf_putc(b, '\n');
	if (r == 0 && sqlstate && *sqlstate)
		r = buf_printf(b, "SQLSTATE: %s\n", sqlstate);
	if (r < 0)
		b->len = orig;
	return r;
}

int format_notice(struct buf *b, const PGresult *res)
{
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	size_t orig = b->len, n, i, run;
	int r;

	if (!severity)
		severity = PQresultErrorField(res,
					      PG_DIAG_SEVERITY_NONLOCALIZED);
	if (!severity)
		severity = "NOTICE";
	if (!msg)
		msg = "";
	n = strlen(msg);

	r = buf_printf(b, "%s:  ", severity);
	for (i = 0; r == 0 && i < n; i += run) {
		if (msg[i] == '\n') {
			r = buf_append(b, "\\n", 2);
			run = 1;
			continue;
		}
		run = strcspn(msg + i, "\n");
		r = buf_append(b, msg + i, run);
	}
	if (r < 0)
		b->len = orig;
	return r;
}
