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

/* The number n.. at s, and its digits (0: none, or too large). */
static size_t line_number(const char *s, unsigned *n)
{
	size_t k = 0;

	*n = 0;
	while (s[k] >= '0' && s[k] <= '9' && k < 9)
		*n = *n * 10 + (unsigned)(s[k++] - '0');
	return s[k] >= '0' && s[k] <= '9' ? 0 : k;
}

/* The excerpt's line at msg[at..] ("LINE n: ..." then its caret line),
 * n lowered by skip; false, with nothing appended, when it is not so. */
static bool unshift_excerpt(struct buf *b, const char *msg, size_t at, unsigned skip, int *r)
{
	static const char tag[] = "LINE ";
	const size_t tag_len = sizeof(tag) - 1;
	const char *p = msg + at, *eol, *caret;
	unsigned n;
	size_t digits, pad, had, now;
	char num[16];

	if (strncmp(p, tag, tag_len) != 0)
		return false;
	digits = line_number(p + tag_len, &n);
	if (digits == 0 || n <= skip || p[tag_len + digits] != ':' || p[tag_len + digits + 1] != ' ')
		return false;
	eol = strchr(p, '\n');
	if (!eol)
		return false;
	caret = eol + 1;
	for (pad = 0; caret[pad] == ' '; pad++)
		;
	had = tag_len + digits + 2;	/* "LINE n: " */
	now = tag_len + (size_t)snprintf(num, sizeof(num), "%u", n - skip) + 2;
	if (pad < had)
		return false;
	*r = buf_append(b, msg, at);
	if (*r == 0)
		*r = buf_printf(b, "%s%s", tag, num);
	if (*r == 0)	/* ": " and the excerpt, to the caret's line */
		*r = buf_append(b, p + tag_len + digits, (size_t)(caret - p) - (tag_len + digits));
	/* The caret sits under the same character of a shorter prefix. */
	if (*r == 0)
		*r = buf_append(b, caret + (had - now), strlen(caret) - (had - now));
	return true;
}

int format_error_text(struct buf *b, const char *file, unsigned line, const char *msg,
		      const char *sqlstate, const char *severity, const char *primary,
		      bool positioned, unsigned skip)
{
	size_t orig = b->len, n = strlen(msg), at;
	int r;

	/*
	 * psql logs the message through pg_log_info(), which drops one
	 * trailing newline and then ends the line itself.
	 */
	r = buf_printf(b, "psql:%s:%u: ", file, line);
	if (r == 0 && skip && positioned && severity && primary &&
	    strncmp(msg, severity, strlen(severity)) == 0 &&
	    strncmp(msg + strlen(severity), ":  ", 3) == 0 &&
	    strncmp(msg + strlen(severity) + 3, primary, strlen(primary)) == 0 &&
	    msg[(at = strlen(severity) + 3 + strlen(primary))] == '\n' &&
	    unshift_excerpt(b, msg, at + 1, skip, &r))
		;
	else if (r == 0)
		r = buf_append(b, msg, n);
	if (r == 0 && (n == 0 || msg[n - 1] != '\n'))
		r = buf_putc(b, '\n');
	if (r == 0 && sqlstate && *sqlstate)
		r = buf_printf(b, "SQLSTATE: %s\n", sqlstate);
	if (r < 0)
		b->len = orig;
	return r;
}

int format_error_skip(struct buf *b, const char *file, unsigned line,
		      const PGresult *res, unsigned skip)
{
	return format_error_text(b, file, line, PQresultErrorMessage(res),
				 PQresultErrorField(res, PG_DIAG_SQLSTATE),
				 PQresultErrorField(res, PG_DIAG_SEVERITY),
				 PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY),
				 PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION) != NULL, skip);
}

int format_error(struct buf *b, const char *file, unsigned line,
		 const PGresult *res)
{
	return format_error_skip(b, file, line, res, 0);
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
