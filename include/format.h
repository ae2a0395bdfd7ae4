/* Output formatting: rows as psql --csv prints them, errors as psql does. */
#ifndef PGQFS_FORMAT_H
#define PGQFS_FORMAT_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "buf.h"

/*
 * All functions append to b and return 0 or -ENOMEM.  They read the
 * PGresult and never keep a pointer into it.
 */

/* One field as psql's CSV output prints it (quoted only when it must be). */
__attribute__((warn_unused_result))
int csv_field(struct buf *b, const char *s, size_t len);

/* The header line of a result with tuples: column names, then "\n". */
__attribute__((warn_unused_result))
int csv_header(struct buf *b, const PGresult *res);

/* Row `row` of res, then "\n"; NULL prints as the empty string. */
__attribute__((warn_unused_result))
int csv_row(struct buf *b, const PGresult *res, int row);

/*
 * Row `row` of res as one line of JSON, then "\n": an object whose keys
 * are the column names in order (a duplicate name is kept, as
 * row_to_json() keeps it) and whose values are, equal as parsed JSON, what
 * PostgreSQL's row_to_json() gives for the same row (NULL as null, numbers
 * as numbers, json and jsonb as they are, timestamps in ISO 8601, arrays
 * as arrays).  src/format_json.c lists what a type OID cannot tell it
 * (composite values, types created in the database, a DateStyle other
 * than ISO); such values are strings of their text.  Always valid JSON.
 */
__attribute__((warn_unused_result))
int json_row(struct buf *b, const PGresult *res, int row);

/*
 * What psql -f FILE prints on stderr for a failed statement ending on
 * `line`: "psql:FILE:LINE: " followed by libpq's formatted message
 * (severity, message, DETAIL, HINT, CONTEXT, LINE n: excerpt and caret),
 * then "SQLSTATE: xxxxx\n" when the server gave one.
 */
__attribute__((warn_unused_result))
int format_error(struct buf *b, const char *file, unsigned line,
		 const PGresult *res);

/*
 * format_error() for a statement sent after `skip` lines of pgqfs's own in
 * one query string (run.c: the session's naming): libpq counts the
 * excerpt's "LINE n:" in the whole string, psql in the statement alone.
 */
__attribute__((warn_unused_result))
int format_error_skip(struct buf *b, const char *file, unsigned line,
		      const PGresult *res, unsigned skip);

/*
 * The text of format_error_skip(): msg is libpq's message, severity and
 * primary the error's fields (its first line is "SEVERITY:  PRIMARY"), and
 * positioned whether the error has a position in the statement (the line
 * after the first is then the excerpt, "LINE n: ...", and the next its
 * caret, indented by that prefix's width).  Lowers n by skip, and the
 * caret's indent with its width, when all of that is as described.
 */
__attribute__((warn_unused_result))
int format_error_text(struct buf *b, const char *file, unsigned line, const char *msg,
		      const char *sqlstate, const char *severity, const char *primary,
		      bool positioned, unsigned skip);

/*
 * Keeps at most max bytes of an error text b (max > 64): past it, the text
 * is cut at a character (never inside a UTF-8 sequence) and ends with a
 * line saying so, the whole within max bytes.
 */
void format_error_cap(struct buf *b, size_t max);

/*
 * A NOTICE/WARNING/INFO the server sent, on one line with no newline at
 * the end: "SEVERITY:  message"; newlines inside the message are written
 * as the two characters "\n" so that one event stays one line.
 */
__attribute__((warn_unused_result))
int format_notice(struct buf *b, const PGresult *res);

#endif
