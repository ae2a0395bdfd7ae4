/* Logging: one line per event on stderr (foreground) or syslog (daemon). */
#ifndef PGQFS_LOG_H
#define PGQFS_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

/* Sends further lines to syslog instead of stderr (after daemonising). */
void log_use_syslog(bool on);
void log_set_debug(bool on);
/* Under systemd, stderr lines carry journal priorities ("<3>..."). */
void log_detect_journal(void);

/*
 * Writes one line.  The formatted message is cut at 4 KiB (ending in
 * "..."), trailing newlines are dropped (PQerrorMessage() ends in one), and
 * any control character or byte that is not UTF-8 left in it is written as
 * \n, \r, \t or \xNN: whatever a caller passes, it cannot start a line of
 * its own.  Untrusted text (file and pool names) still goes through
 * log_escape(), which also escapes backslashes, so that the text can be
 * read back exactly.
 */
__attribute__((format(printf, 2, 3)))
void log_msg(enum log_level level, const char *fmt, ...);

#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)

/* Escaped text log_escape() keeps at most, before its "...". */
#define LOG_ESCAPE_TEXT 200
/* Room for log_escape()'s result: the text, "..." and the NUL. */
#define LOG_ESCAPE_MAX (LOG_ESCAPE_TEXT + 4)

/*
 * Writes `s` into `buf` as text for a log line and returns `buf`: printable
 * ASCII and valid UTF-8 stay as they are; a backslash becomes \\, newline,
 * carriage return and tab \n, \r and \t, and every other control character
 * (C0, DEL, C1, the Unicode line and paragraph separators and bidi
 * overrides) and every byte that is not part of valid UTF-8 \xNN (each of
 * its bytes, lowercase hex).  A result longer than LOG_ESCAPE_TEXT bytes
 * is cut between two characters and ends in "...".  NULL gives "(null)".
 * Keeps no state: safe from any thread.
 */
const char *log_escape(const char *s, char buf[static LOG_ESCAPE_MAX]);

/* The same for `len` bytes that may hold NULs (written as \x00). */
const char *log_escape_mem(const void *s, size_t len,
			   char buf[static LOG_ESCAPE_MAX]);

/*
 * log_escape() into a buffer of the caller's block, for use right in the
 * arguments of a log call (each use has its own buffer):
 *     log_warn("removing queue/%s/%s", LOG_ESCAPE(pool), LOG_ESCAPE(name));
 */
#define LOG_ESCAPE(s) log_escape((s), (char[LOG_ESCAPE_MAX]){ 0 })

#endif
