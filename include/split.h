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
};

/*
 * Splits text[0..len) into statements.  On success *ret_stmts is a malloc'd
 * array the caller frees (NULL when there are no statements) and *ret_n its
 * length; returns 0 or -ENOMEM (outputs untouched on failure).  The text
 * need not be NUL-terminated and may contain any bytes.
 */
__attribute__((warn_unused_result))
int sql_split(const char *text, size_t len, struct sql_stmt **ret_stmts,
	      size_t *ret_n);

/*
 * Appends to b the text psql sends for st, a statement sql_split() found
 * in text.  Returns 0 or -ENOMEM (b unchanged on failure).
 */
__attribute__((warn_unused_result))
int sql_stmt_text(struct buf *b, const char *text, const struct sql_stmt *st);

#endif
