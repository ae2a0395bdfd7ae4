/*
 * Statement splitter: cuts a SQL file where psql 15 would.
 *
 * psql -f reads its file a line at a time (MainLoop() in
 * src/bin/psql/mainloop.c) and feeds each line, without its newline, to the
 * flex lexer of src/fe_utils/psqlscan.l.  The lexer appends tokens to a
 * query buffer and stops at a semicolon outside quotes, comments,
 * parentheses and CREATE FUNCTION ... BEGIN ... END bodies; the main loop
 * then sends the buffer.  This file re-implements that pair by hand rather
 * than with flex, token for token where the token's extent can move a
 * statement boundary, because pgqfs must send what psql sends: the server's
 * error positions, its "LINE n:" excerpts and psql's "psql:FILE:LINE:"
 * prefix all depend on it.
 *
 * Behaviours of psql 15 this keeps (each checked against psql 15.18):
 *  - No token spans a newline, since the lexer only ever sees one line.  A
 *    "--" comment ends at the line's end, or at a carriage return.
 *  - White space and "--" comments before a statement's first token are
 *    dropped; a slash-star comment is a token and starts a statement.
 *    "--" comments inside a statement are sent (new in psql 15).
 *  - An empty line (not even a space or a carriage return) outside a
 *    quoted string, quoted identifier, dollar quote or comment is dropped
 *    entirely, also inside a statement: sql_stmt_text() rebuilds that text.
 *  - A statement without a terminating semicolon is sent at the end of the
 *    file, and psql reports it on the file's last line.  pgqfs runs nothing
 *    of such a file (sql_cut_short()), but sql_split() still returns it.
 *  - The session's standard_conforming_strings decides whether '...' takes
 *    backslash escapes.  psql reads it before each line, so a SET in the
 *    file changes the lexing of the lines after it; sql_split() takes one
 *    value for the whole file (the session's when it starts).
 *  - A UTF-8 byte order mark at the start of the file is ignored.
 *  - Numbers swallow an identifier that follows them ("1e" in 1e'\'' is one
 *    token, so the quote starts a standard string), and "1e-" is one token,
 *    so 1e--x holds no comment.
 *
 * Differences, by design: a statement holding nothing but white space and
 * comments is not returned (psql sends it and the server answers with an
 * empty response); a backslash outside quotes ends the split (psql runs
 * the meta-command, and "\;" or "\:" would even splice text into the
 * statement); psql variables (:name, :'name', :"name", :{?name}) are left
 * as they are, which is what psql sends for a variable it does not have.
 * The lexer treats every byte >= 0x80 as a letter and a NUL as an ordinary
 * character.
 */
#include "split.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"


#include "sql_lex.h"

struct stmt_list {
	struct sql_stmt *v;
	size_t n;
	size_t cap;
};

static int stmt_push(struct stmt_list *l, size_t start, size_t len,
		     size_t line, bool meta)
{
	struct sql_stmt *v;
	size_t cap;

	if (l->n == l->cap) {
		cap = l->cap ? l->cap * 2 : 16;
		if (cap > SIZE_MAX / sizeof(*v))
			return -ENOMEM;
		v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].start = start;
	l->v[l->n].len = len;
	l->v[l->n].line = line > UINT_MAX ? UINT_MAX : (unsigned)line;
	l->v[l->n].meta = meta;
	l->n++;
	return 0;
}

static size_t line_end_of(const char *text, size_t pos, size_t len)
{
	const char *nl = memchr(text + pos, '\n', len - pos);

	return nl ? (size_t)(nl - text) : len;
}

/* How a walk over a file ended. */
struct split_end {
	/*
	 * The file ends inside a statement that no semicolon terminates:
	 * psql's query buffer holds more than white space and complete
	 * comments, or the lexer is inside a quote, dollar quote or comment.
	 */
	bool cut;
	size_t cut_line;	/* the line that statement starts on */
};

/*
 * Walks text[0..len) the way psql's main loop does.  Each statement found
 * is pushed onto list unless list is NULL (then nothing is allocated and
 * the walk cannot fail); *end says how the file ended.  Returns 0 or
 * -ENOMEM.
 */
static int split_walk(const char *text, size_t len, bool std_strings,
		      struct stmt_list *list, struct split_end *end)
{
	struct lexer lx;
	size_t pos = 0, lineno = 0, line_end, p, tok_start, meta_end;
	size_t stmt_start = 0, stmt_end = 0, stmt_line = 0;
	bool in_stmt = false;	/* psql's query buffer is not empty */
	bool has_text = false;	/* it holds more than comments */
	enum token tok;
	int r = 0;

	end->cut = false;
	end->cut_line = 0;
	lexer_init(&lx, text, std_strings);
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		pos = 3;

	while (pos < len) {
		line_end = line_end_of(text, pos, len);
		lineno++;
		if (line_end == pos && !lexer_in_quote(&lx)) {
			pos = line_end + 1;
			continue;
		}
		for (p = pos; p < line_end;) {
			tok_start = p;
			tok = lex_token(&lx, &p, line_end);
			switch (tok) {
			case TOK_SPACE:
				break;
			case TOK_COMMENT:
			case TOK_TEXT:
				if (!in_stmt) {
					in_stmt = true;
					stmt_start = tok_start;
					stmt_line = lineno;
				}
				if (tok == TOK_TEXT)
					has_text = true;
				break;
			case TOK_SEMI:
				if (has_text && list)
					r = stmt_push(list, stmt_start,
						      p - stmt_start, lineno,
						      false);
				if (r < 0)
					return r;
				in_stmt = false;
				has_text = false;
				break;
			case TOK_BACKSLASH:
				/*
				 * Nothing after a meta-command runs, so the
				 * walk ends here and the file is not cut
				 * short, whatever follows; the text before
				 * the backslash is psql's buffer, which the
				 * meta-command would send (\g) or keep, and
				 * pgqfs never sends.
				 */
				meta_end = line_end;
				if (meta_end > tok_start + 1 &&
				    text[meta_end - 1] == '\r')
					meta_end--;
				if (list)
					r = stmt_push(list, tok_start,
						      meta_end - tok_start,
						      lineno, true);
				return r;
			}
		}
		if (in_stmt)
			stmt_end = line_end;
		pos = line_end + 1;
	}

	/*
	 * psql sends what is left at the end of the file, and reports it on
	 * the last line it read.  An unterminated comment is left in: the
	 * server rejects it, as it does for psql.  A buffer of complete
	 * comments alone is what psql would send as an empty query.
	 */
	if (in_stmt && (has_text || lx.state != LS_INITIAL)) {
		end->cut = true;
		end->cut_line = stmt_line;
		if (list)
			r = stmt_push(list, stmt_start, stmt_end - stmt_start,
				      lineno, false);
	}
	return r;
}

int sql_split(const char *text, size_t len, bool std_strings,
	      struct sql_stmt **ret_stmts, size_t *ret_n)
{
	struct stmt_list list = { NULL, 0, 0 };
	struct split_end end;
	size_t i;
	int r;

	r = split_walk(text, len, std_strings, &list, &end);
	if (r < 0) {
		free(list.v);
		return r;
	}
	for (i = 0; i < list.n; i++)
		list.v[i].std_strings = std_strings;
	if (list.n == 0) {
		free(list.v);
		list.v = NULL;
	}
	*ret_stmts = list.v;
	*ret_n = list.n;
	return 0;
}

bool sql_cut_short(const char *text, size_t len, bool std_strings,
		   unsigned *ret_line)
{
	struct split_end end;

	/* Without a list the walk allocates nothing and cannot fail. */
	(void)split_walk(text, len, std_strings, NULL, &end);
	if (end.cut && ret_line)
		*ret_line = end.cut_line > UINT_MAX ? UINT_MAX :
			    (unsigned)end.cut_line;
	return end.cut;
}

bool sql_cut_short_any(const char *text, size_t len, unsigned *ret_line)
{
	return sql_cut_short(text, len, false, NULL) && sql_cut_short(text, len, true, ret_line);
}

/*
 * Appends to b the text psql sends for st, a statement sql_split() found
 * in text: its bytes less the empty lines that psql drops outside quotes
 * and comments.  Returns 0 or -ENOMEM (b unchanged on failure).
 */
int sql_stmt_text(struct buf *b, const char *text, const struct sql_stmt *st)
{
	struct lexer lx;
	size_t orig = b->len, end = st->start + st->len, pos = st->start;
	size_t line_end, p;
	bool first = true;
	int r;

	if (st->meta)
		return buf_append(b, text + st->start, st->len);

	/* A statement starts in INITIAL state with every depth at zero. */
	lexer_init(&lx, text, st->std_strings);
	for (;;) {
		line_end = line_end_of(text, pos, end);
		if (!first && line_end == pos && !lexer_in_quote(&lx))
			goto next;
		if (!first) {
			r = buf_putc(b, '\n');
			if (r < 0)
				goto fail;
		}
		r = buf_append(b, text + pos, line_end - pos);
		if (r < 0)
			goto fail;
		for (p = pos; p < line_end;)
			if (lex_token(&lx, &p, line_end) == TOK_BACKSLASH)
				p++;	/* cannot happen in a statement */
next:
		first = false;
		if (line_end >= end)
			break;
		pos = line_end + 1;
	}
	return 0;

fail:
	b->len = orig;
	return r;
}

bool sql_plain_query(const char *text, size_t len)
{
	static const char *const words[] = {
		"SELECT", "WITH", "VALUES", "TABLE", "INSERT", "UPDATE", "DELETE", "MERGE",
	};
	const char *p = text, *end = text + len;
	size_t n = 0;

	for (;;) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' ||
				   *p == '\f' || *p == '\v'))
			p++;
		if (end - p >= 2 && p[0] == '-' && p[1] == '-') {
			while (p < end && *p != '\n')
				p++;
		} else if (end - p >= 2 && p[0] == '/' && p[1] == '*') {
			int depth = 0;	/* slash-star comments nest in PostgreSQL */

			do {
				if (end - p >= 2 && p[0] == '/' && p[1] == '*') {
					depth++;
					p += 2;
				} else if (end - p >= 2 && p[0] == '*' && p[1] == '/') {
					depth--;
					p += 2;
				} else if (p < end) {
					p++;
				} else {
					return false;	/* unterminated */
				}
			} while (depth > 0);
		} else {
			break;
		}
	}
	while (p + n < end && ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z')))
		n++;
	/* A word, not the start of an identifier (SELECTx, select_1, selectè). */
	if (n == 0 || (p + n < end && ((p[n] >= '0' && p[n] <= '9') || p[n] == '_' ||
				       p[n] == '$' || (unsigned char)p[n] >= 0x80)))
		return false;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i]) == n && strncasecmp(p, words[i], n) == 0)
			return true;
	return false;
}
