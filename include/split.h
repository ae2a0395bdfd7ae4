/* Statement splitter: cuts a SQL file into statements the way psql does. */
#ifndef PGQFS_SPLIT_H
#define PGQFS_SPLIT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/*
 * One statement of a file: start/len cover it from its first significant
 * byte (leading white space and "--" comments dropped) up to and including
 * the terminating semicolon (a last statement without a semicolon runs to
 * the end of its text).  What psql sends is that range less the empty
 * lines outside quotes and comments: sql_stmt_text() builds it.  Semicolons inside quotes, dollar quotes,
 * comments, parentheses and BEGIN ATOMIC ... END bodies do not end a
 * statement.
 *
 * A psql meta-command (a backslash outside quotes and comments) is reported
 * as a statement with meta set: start/len then cover the backslash and the
 * rest of its line, and it is the last statement returned, since a task
 * stops there.
 */
struct sql_stmt {
	size_t start;	/* offset of the first byte in the file */
	size_t len;	/* bytes to send */
	unsigned line;	/* 1-based line psql reports for it: the line of its
			 * terminating semicolon (or of the backslash, or the
			 * file's last line for an unterminated statement) */
	bool meta;	/* a psql meta-command, which pgqfs refuses to run */
	bool std_strings; /* the standard_conforming_strings it was split
			   * under, which sql_stmt_text() lexes it with */
};

/*
 * Splits text[0..len) into statements.  std_strings is the session's
 * standard_conforming_strings (PQparameterStatus(conn,
 * "standard_conforming_strings") is "on"), as psql passes it to its lexer:
 * when false, a backslash in a plain '...' (or N'...') string escapes the
 * next byte, as in E'...', so 'it\'s' is one string.  On success
 * *ret_stmts is a malloc'd array the caller frees (NULL when there are no
 * statements) and *ret_n its length; returns 0 or -ENOMEM (outputs
 * untouched on failure).  The text need not be NUL-terminated and may
 * contain any bytes.
 */
__attribute__((warn_unused_result))
int sql_split(const char *text, size_t len, bool std_strings,
	      struct sql_stmt **ret_stmts, size_t *ret_n);

/*
 * Whether text[0..len) is cut short: its last statement is not terminated
 * by a semicolon (white space, "--" comments and complete slash-star
 * comments may follow the last one), or the file ends inside a quoted
 * string, quoted identifier, dollar quote or slash-star comment.  Such a
 * file must run nothing (DESIGN.md, Submitting): sql_split() still returns
 * that last statement, as psql would send it.  When it is cut short and
 * ret_line is not NULL, *ret_line is the 1-based line on which the
 * unterminated statement starts (its first token, a slash-star comment
 * included, as in sql_stmt.start): the place the user has to look, where
 * the line of the file's end would only say how long the file is.
 *
 * Not cut short: an empty file, a file of only white space and comments
 * (psql runs nothing and succeeds), and a file whose split ends at a psql
 * meta-command, since nothing after it ever runs (the task fails there,
 * naming the command) and psql's meta-command syntax is not lexed here.
 * std_strings as for sql_split(), which must be given the same value.
 * Allocates nothing and cannot fail.
 */
bool sql_cut_short(const char *text, size_t len, bool std_strings,
		   unsigned *ret_line);

/*
 * Whether text is cut short however its target's session lexes it
 * (standard_conforming_strings on or off), with *ret_line as
 * sql_cut_short() gives it under on: what can be refused at submission,
 * before the session is known.  A file cut short under one setting only
 * is found when it is run.
 */
bool sql_cut_short_any(const char *text, size_t len, unsigned *ret_line);

/*
 * Whether the statement text[0..len) (as sql_stmt_text() gives it, or a
 * file from its start) is a plain
 * query or data change: its first word, after white space and comments,
 * is SELECT, WITH, VALUES, TABLE, INSERT, UPDATE, DELETE or MERGE (any
 * case).  Such a statement runs alike alone and after another statement in
 * one query string (one implicit transaction): none of them is a COPY, a
 * transaction control, a CALL or DO that may commit, or a command that
 * refuses a transaction block.
 */
bool sql_plain_query(const char *text, size_t len);

/*
 * Appends to b the text psql sends for st, a statement sql_split() found
 * in text.  Returns 0 or -ENOMEM (b unchanged on failure).
 */
__attribute__((warn_unused_result))
int sql_stmt_text(struct buf *b, const char *text, const struct sql_stmt *st);

#endif
