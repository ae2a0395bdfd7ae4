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

#include "buf.h"


/* The lexer's start conditions, named as in psqlscan.l. */
enum lex_state {
	LS_INITIAL,
	LS_XB,		/* bit string b'...' */
	LS_XC,		/* slash-star comment, which nests */
	LS_XD,		/* quoted identifier "..." */
	LS_XH,		/* hexadecimal string x'...' */
	LS_XQ,		/* standard string '...' */
	LS_XQS,		/* just after a string's closing quote */
	LS_XE,		/* escape string e'...' */
	LS_XDOLQ,	/* dollar quote $tag$...$tag$ */
	LS_XUI,		/* Unicode identifier U&"..." */
	LS_XUS,		/* Unicode string U&'...' */
};

struct lexer {
	const char *text;
	enum lex_state state;
	/* The string state to go back to when a string continues after xqs. */
	enum lex_state state_before_str_stop;
	/* A semicolon only ends a statement when both depths are zero. */
	unsigned paren_depth;
	unsigned begin_depth;
	/* Nesting of slash-star comments beyond the outermost one. */
	unsigned xcdepth;
	/*
	 * psql's heuristic for BEGIN ... END bodies: identifiers seen since the
	 * last terminating semicolon, and the first letters of the first four
	 * when they are CREATE, OR, REPLACE, FUNCTION or PROCEDURE.
	 */
	size_t identifier_count;
	char identifiers[4];
	/* The opening $tag$ of the current dollar quote, as text offsets. */
	size_t dolq_start;
	size_t dolq_len;
	/*
	 * standard_conforming_strings: when off, a plain '...' string takes
	 * backslash escapes as an E'...' string does (psqlscan.l's {xqstart}
	 * enters xe rather than xq).
	 */
	bool std_strings;
};

/* What a token does to the statement being collected. */
enum token {
	TOK_SPACE,	/* white space, "--" comment: dropped at the start */
	TOK_COMMENT,	/* (part of) a slash-star comment */
	TOK_TEXT,	/* anything else that goes into the statement */
	TOK_SEMI,	/* the semicolon that ends the statement */
	TOK_BACKSLASH,	/* a backslash: a psql meta-command starts here */
};

static void lexer_init(struct lexer *lx, const char *text, bool std_strings)
{
	memset(lx, 0, sizeof(*lx));
	lx->text = text;
	lx->std_strings = std_strings;
	lx->state = LS_INITIAL;
	lx->state_before_str_stop = LS_INITIAL;
}

/* psql_scan_in_quote(): whether mainloop.c keeps an empty line. */
static bool lexer_in_quote(const struct lexer *lx)
{
	return lx->state != LS_INITIAL && lx->state != LS_XQS;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static bool is_newline(char c)
{
	return c == '\n' || c == '\r';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* {ident_start}, which is also {dolq_start}: bytes >= 0x80 are letters. */
static bool is_ident_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
	       (unsigned char)c >= 0x80;
}

/* {dolq_cont}, which is also psql's {variable_char}. */
static bool is_dolq_cont(char c)
{
	return is_ident_start(c) || is_digit(c);
}

/* {ident_cont} */
static bool is_ident_cont(char c)
{
	return is_dolq_cont(c) || c == '$';
}

static size_t skip_ident_cont(const char *t, size_t p, size_t end)
{
	while (p < end && is_ident_cont(t[p]))
		p++;
	return p;
}

/* End of the "--" comment starting at p: the next newline or the end. */
static size_t comment_end(const char *t, size_t p, size_t end)
{
	while (p < end && !is_newline(t[p]))
		p++;
	return p;
}

/* The length of the {dolqdelim} ($$ or $tag$) at p, or 0 if none. */
static size_t dolq_delim_len(const char *t, size_t p, size_t end)
{
	size_t q = p + 1;

	if (q < end && is_ident_start(t[q])) {
		q++;
		while (q < end && is_dolq_cont(t[q]))
			q++;
	}
	if (q < end && t[q] == '$')
		return q + 1 - p;
	return 0;
}

/*
 * The end of the number starting at p (a digit, or a dot before a digit),
 * by the longest match of psql 15.9+'s rules: {integer}, {decimal} and
 * {real}, {decimalfail} giving back "..", {realfail} ("1e+") and the
 * {integer,decimal,real}_junk rules that take a following identifier.
 */
static size_t scan_number(const char *t, size_t p, size_t end)
{
	size_t q = p, r;

	while (q < end && is_digit(t[q]))
		q++;
	if (q < end && t[q] == '.') {
		if (q > p && q + 1 < end && t[q + 1] == '.')
			return q;
		q++;
		while (q < end && is_digit(t[q]))
			q++;
	}
	if (q < end && (t[q] == 'e' || t[q] == 'E')) {
		r = q + 1;
		if (r < end && (t[r] == '+' || t[r] == '-')) {
			r++;
			if (r == end || !is_digit(t[r]))
				return r;
		}
		if (r < end && is_digit(t[r])) {
			while (r < end && is_digit(t[r]))
				r++;
			q = r;
		}
	}
	if (q < end && is_ident_start(t[q]))
		q = skip_ident_cont(t, q + 1, end);
	return q;
}

/*
 * The length of a {quotecontinue} at p (white space holding a newline,
 * then a quote: the string goes on), or 0.  Within one line the only
 * possible newline is a carriage return.
 */
static size_t quote_continue(const char *t, size_t p, size_t end)
{
	size_t q = p, c;

	for (;;) {
		if (q < end && (t[q] == ' ' || t[q] == '\t' || t[q] == '\f'))
			q++;
		else if (q + 1 < end && t[q] == '-' && t[q + 1] == '-')
			q = comment_end(t, q, end);
		else
			break;
	}
	if (q == end || !is_newline(t[q]))
		return 0;
	q++;
	for (;;) {
		if (q < end && is_space(t[q])) {
			q++;
		} else if (q + 1 < end && t[q] == '-' && t[q + 1] == '-') {
			c = comment_end(t, q, end);
			if (c == end)
				return 0;
			q = c + 1;
		} else {
			break;
		}
	}
	if (q < end && t[q] == '\'')
		return q + 1 - p;
	return 0;
}

static bool word_is(const char *w, size_t n, const char *kw)
{
	size_t i;

	if (strlen(kw) != n)
		return false;
	for (i = 0; i < n; i++) {
		char c = w[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != kw[i])
			return false;
	}
	return true;
}

/*
 * psql's {identifier} action: a statement that begins CREATE [OR REPLACE]
 * FUNCTION|PROCEDURE counts BEGIN and END outside parentheses (and CASE
 * inside a BEGIN, since CASE also ends with END), so that the semicolons
 * of a BEGIN ATOMIC body do not end it.
 */
static void track_identifier(struct lexer *lx, const char *w, size_t n)
{
	const char *id = lx->identifiers;
	bool routine;

	if (lx->identifier_count == 0)
		memset(lx->identifiers, 0, sizeof(lx->identifiers));
	if ((word_is(w, n, "create") || word_is(w, n, "function") ||
	     word_is(w, n, "procedure") || word_is(w, n, "or") ||
	     word_is(w, n, "replace")) &&
	    lx->identifier_count < sizeof(lx->identifiers))
		lx->identifiers[lx->identifier_count] =
			(char)(w[0] | 0x20);
	lx->identifier_count++;

	routine = id[0] == 'c' &&
		  (id[1] == 'f' || id[1] == 'p' ||
		   (id[1] == 'o' && id[2] == 'r' &&
		    (id[3] == 'f' || id[3] == 'p')));
	if (!routine || lx->paren_depth != 0)
		return;
	if (word_is(w, n, "begin")) {
		lx->begin_depth++;
	} else if (word_is(w, n, "case")) {
		if (lx->begin_depth >= 1)
			lx->begin_depth++;
	} else if (word_is(w, n, "end")) {
		if (lx->begin_depth > 0)
			lx->begin_depth--;
	}
}

/* Enters a quoted state after consuming the n bytes that open it. */
static enum token open_quote(struct lexer *lx, size_t *pos, size_t n,
			     enum lex_state state)
{
	*pos += n;
	lx->state = state;
	return TOK_TEXT;
}

/* One token in INITIAL state; t[p] is its first byte. */
static enum token lex_initial(struct lexer *lx, size_t *pos, size_t end)
{
	const char *t = lx->text;
	size_t p = *pos, q;
	char c = t[p], next = p + 1 < end ? t[p + 1] : '\0';

	if (is_space(c)) {
		while (p < end && is_space(t[p]))
			p++;
		*pos = p;
		return TOK_SPACE;
	}
	if (c == '-' && next == '-') {
		*pos = comment_end(t, p, end);
		return TOK_SPACE;
	}
	if (c == '/' && next == '*') {
		lx->xcdepth = 0;
		open_quote(lx, pos, 2, LS_XC);
		return TOK_COMMENT;
	}
	if (next == '\'') {
		switch (c) {
		case 'b': case 'B':
			return open_quote(lx, pos, 2, LS_XB);
		case 'x': case 'X':
			return open_quote(lx, pos, 2, LS_XH);
		case 'e': case 'E':
			return open_quote(lx, pos, 2, LS_XE);
		case 'n': case 'N':
			/* {xnstart}: the n, then what {xqstart} opens */
			return open_quote(lx, pos, 2,
					  lx->std_strings ? LS_XQ : LS_XE);
		default:
			break;
		}
	}
	if ((c == 'u' || c == 'U') && next == '&') {
		if (p + 2 < end && t[p + 2] == '\'')
			return open_quote(lx, pos, 3, LS_XUS);
		if (p + 2 < end && t[p + 2] == '"')
			return open_quote(lx, pos, 3, LS_XUI);
		/* {xufailed}: the u alone, not counted as an identifier */
		*pos = p + 1;
		return TOK_TEXT;
	}
	if (is_ident_start(c)) {
		q = skip_ident_cont(t, p + 1, end);
		track_identifier(lx, t + p, q - p);
		*pos = q;
		return TOK_TEXT;
	}
	if (is_digit(c) || (c == '.' && is_digit(next))) {
		*pos = scan_number(t, p, end);
		return TOK_TEXT;
	}

	switch (c) {
	case '\'':
		return open_quote(lx, pos, 1, lx->std_strings ? LS_XQ : LS_XE);
	case '"':
		return open_quote(lx, pos, 1, LS_XD);
	case '$':
		if (is_digit(next)) {
			/* {param}, or {param_junk} with an identifier after */
			q = p + 1;
			while (q < end && is_digit(t[q]))
				q++;
			if (q < end && is_ident_start(t[q]))
				q = skip_ident_cont(t, q + 1, end);
			*pos = q;
			return TOK_TEXT;
		}
		q = dolq_delim_len(t, p, end);
		if (q > 0) {
			lx->dolq_start = p;
			lx->dolq_len = q;
			return open_quote(lx, pos, q, LS_XDOLQ);
		}
		break;	/* {dolqfailed} or {other}: the $ alone */
	case '(':
		lx->paren_depth++;
		break;
	case ')':
		if (lx->paren_depth > 0)
			lx->paren_depth--;
		break;
	case ';':
		if (lx->paren_depth == 0 && lx->begin_depth == 0) {
			lx->identifier_count = 0;
			*pos = p + 1;
			return TOK_SEMI;
		}
		break;
	case '\\':
		return TOK_BACKSLASH;
	case ':':
		/*
		 * psql's variable rules: :name and the complete :'name' and
		 * :"name" are single tokens (so that quote opens no string);
		 * "::" is a cast.  Anything else leaves the colon alone.
		 */
		if (next == ':') {
			*pos = p + 2;
			return TOK_TEXT;
		}
		if (is_dolq_cont(next)) {
			q = p + 1;
			while (q < end && is_dolq_cont(t[q]))
				q++;
			*pos = q;
			return TOK_TEXT;
		}
		if (next == '\'' || next == '"') {
			q = p + 2;
			while (q < end && is_dolq_cont(t[q]))
				q++;
			if (q > p + 2 && q < end && t[q] == next) {
				*pos = q + 1;
				return TOK_TEXT;
			}
		}
		if (next == '{' && p + 2 < end && t[p + 2] == '?') {
			q = p + 3;
			while (q < end && is_dolq_cont(t[q]))
				q++;
			if (q > p + 3 && q < end && t[q] == '}') {
				*pos = q + 1;
				return TOK_TEXT;
			}
		}
		break;
	default:
		/*
		 * Operators and other characters, one at a time: an operator
		 * stops where a "--" or slash-star begins, which the next call
		 * then sees.
		 */
		break;
	}
	*pos = p + 1;
	return TOK_TEXT;
}

/*
 * Consumes the next token of the line ending at `end` (at least one byte
 * unless it returns TOK_BACKSLASH, which consumes nothing).
 */
static enum token lex_token(struct lexer *lx, size_t *pos, size_t end)
{
	const char *t = lx->text;
	size_t q = *pos, n;

	switch (lx->state) {
	case LS_INITIAL:
		return lex_initial(lx, pos, end);

	case LS_XQS:
		n = quote_continue(t, q, end);
		if (n > 0) {
			*pos = q + n;
			lx->state = lx->state_before_str_stop;
			return TOK_TEXT;
		}
		lx->state = LS_INITIAL;
		return lex_initial(lx, pos, end);

	case LS_XC:
		while (q < end) {
			if (t[q] == '/' && q + 1 < end && t[q + 1] == '*') {
				lx->xcdepth++;
				q += 2;
			} else if (t[q] == '*') {
				while (q < end && t[q] == '*')
					q++;
				if (q < end && t[q] == '/') {
					q++;
					if (lx->xcdepth == 0) {
						lx->state = LS_INITIAL;
						break;
					}
					lx->xcdepth--;
				}
			} else {
				q++;
			}
		}
		*pos = q;
		return TOK_COMMENT;

	case LS_XB:
	case LS_XH:
	case LS_XQ:
	case LS_XUS:
	case LS_XE:
		while (q < end) {
			if (t[q] == '\\' && lx->state == LS_XE) {
				q += q + 1 < end ? 2 : 1;
			} else if (t[q] != '\'') {
				q++;
			} else if (q + 1 < end && t[q + 1] == '\'' &&
				   lx->state != LS_XB && lx->state != LS_XH) {
				q += 2;	/* {xqdouble} */
			} else {
				q++;
				lx->state_before_str_stop = lx->state;
				lx->state = LS_XQS;
				break;
			}
		}
		*pos = q;
		return TOK_TEXT;

	case LS_XD:
	case LS_XUI:
		while (q < end) {
			if (t[q] != '"') {
				q++;
			} else if (q + 1 < end && t[q + 1] == '"') {
				q += 2;
			} else {
				q++;
				lx->state = LS_INITIAL;
				break;
			}
		}
		*pos = q;
		return TOK_TEXT;

	case LS_XDOLQ:
		/*
		 * A mismatched $tag$ gives back its final $ in psql, so every $
		 * in the body may start the closing tag: looking for the tag
		 * at each $ finds the same end.
		 */
		while (q < end) {
			if (t[q] == '$' && end - q >= lx->dolq_len &&
			    memcmp(t + q, t + lx->dolq_start,
				   lx->dolq_len) == 0) {
				q += lx->dolq_len;
				lx->state = LS_INITIAL;
				break;
			}
			q++;
		}
		*pos = q;
		return TOK_TEXT;
	}
	*pos = q + 1;	/* not reached */
	return TOK_TEXT;
}

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
