/*
 * The lexer of the statement splitter (split.c, whose opening comment
 * says what it keeps of psql 15's psqlscan.l): one token at a time of a
 * line, with the state that carries from line to line.  Private to
 * split.c and sql_lex.c.
 */
#ifndef PGQFS_SQL_LEX_H
#define PGQFS_SQL_LEX_H

#include <stdbool.h>
#include <stddef.h>

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

void lexer_init(struct lexer *lx, const char *text, bool std_strings);
/* psql_scan_in_quote(): whether mainloop.c keeps an empty line. */
bool lexer_in_quote(const struct lexer *lx);
/*
 * Consumes the next token of the line ending at `end` (at least one byte
 * unless it returns TOK_BACKSLASH, which consumes nothing).
 */
enum token lex_token(struct lexer *lx, size_t *pos, size_t end);

#endif
