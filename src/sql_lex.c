/*
 * psql 15's lexer, by hand (see split.c): quotes, E'' strings, dollar
 * quotes, quoted identifiers, nested slash-star comments, parentheses and
 * BEGIN ... END bodies, one line at a time.
 */
#include "sql_lex.h"

#include <stdint.h>
#include <string.h>

void lexer_init(struct lexer *lx, const char *text, bool std_strings)
{
	memset(lx, 0, sizeof(*lx));
	lx->text = text;
	lx->std_strings = std_strings;
	lx->state = LS_INITIAL;
	lx->state_before_str_stop = LS_INITIAL;
}

/* psql_scan_in_quote(): whether mainloop.c keeps an empty line. */
bool lexer_in_quote(const struct lexer *lx)
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
enum token lex_token(struct lexer *lx, size_t *pos, size_t end)
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
