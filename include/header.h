/*
 * The "-- pgqfs:" header of a task file (DESIGN.md, Task control): the
 * options a file sets for itself in comment lines psql ignores.
 */
#ifndef PGQFS_HEADER_H
#define PGQFS_HEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Bounds of the values, as DESIGN.md gives them. */
#define HEADER_PRIORITY_MIN (-1000)
#define HEADER_PRIORITY_MAX 1000
#define HEADER_RETRIES_MAX 100
#define HEADER_MAX_AFTER 100		/* ids in after= */
/* The back-off is capped at 1 h, so a longer first delay means nothing. */
#define HEADER_RETRY_DELAY_MAX_MS (UINT64_C(3600) * 1000)
#define HEADER_RETRY_DELAY_DEFAULT_MS UINT64_C(1000)
/*
 * Longest timeout, relative not_before and every: a year, so that adding
 * one to any clock reading in ms cannot overflow an int64.
 */
#define HEADER_DURATION_MAX_MS (UINT64_C(366) * 86400 * 1000)
#define HEADER_EVERY_MIN_MS UINT64_C(1000)
#define HEADER_CRON_MAX 128		/* bytes of cron=, NUL included */
#define HEADER_TZ_MAX 64		/* bytes of tz=, NUL included */

/* One bit per key in task_options.set: which keys the header gave. */
enum header_key {
	HEADER_PRIORITY,
	HEADER_TIMEOUT,
	HEADER_RETRIES,
	HEADER_RETRY_DELAY,
	HEADER_AFTER,
	HEADER_NOT_BEFORE,
	HEADER_SINGLE_TRANSACTION,
	HEADER_GROUP,
	HEADER_EVERY,		/* every, cron and tz: schedules only */
	HEADER_CRON,
	HEADER_TZ,
	HEADER_N_KEYS
};

enum header_group {
	HEADER_GROUP_NONE,	/* the file is one task */
	HEADER_GROUP_STATEMENTS, /* group=statements (DESIGN.md, Groups) */
};

/*
 * The options of one file.  A key the header does not set keeps its
 * default (header_parse() fills them in): the set bits say which keys the
 * file gave, so that `info` can tell the file's choices from defaults and
 * callers can tell "no timeout in the file" (the pool's applies) from a
 * value.  A plain value: nothing to free.
 */
struct task_options {
	uint32_t set;		/* 1u << enum header_key */
	int priority;		/* HEADER_PRIORITY_MIN..MAX, default 0 */
	uint64_t timeout_ms;	/* 1..HEADER_DURATION_MAX_MS when set */
	int retries;		/* 0..HEADER_RETRIES_MAX, default 0 */
	uint64_t retry_delay_ms; /* 0..HEADER_RETRY_DELAY_MAX_MS, default 1 s */
	int64_t after[HEADER_MAX_AFTER]; /* positive task ids, no repeats, in
					  * the file's order */
	size_t n_after;
	/*
	 * not_before: an absolute time (ms since the Unix epoch, a whole
	 * second, 1970..9999) or, when not_before_relative, an offset from
	 * the submission (0..HEADER_DURATION_MAX_MS).  The parser reads no
	 * clock: whoever records the submission time resolves it.
	 */
	bool not_before_relative;
	int64_t not_before_ms;
	bool single_transaction; /* default off */
	enum header_group group;
	uint64_t every_ms;	/* HEADER_EVERY_MIN_MS..DURATION_MAX when set */
	char cron[HEADER_CRON_MAX]; /* five fields, checked for shape only */
	char tz[HEADER_TZ_MAX];	/* e.g. "Europe/Paris", checked for shape only */
};

static inline bool task_options_has(const struct task_options *o,
				    enum header_key k)
{
	return (o->set >> k) & 1u;
}

/*
 * Reads the header of text[0..len): the lines before the first one that
 * is neither blank nor a "--" comment (a slash-star comment ends the
 * header, as psql makes it part of the first statement).  A header line is
 * a "--" comment whose text, after optional blanks, starts with "pgqfs:";
 * the rest of the line is key=value pairs separated by blanks, a value
 * holding blanks written in double quotes (no escapes: a value cannot hold
 * a '"').  Lines end with "\n" or "\r\n"; a UTF-8 byte order mark at the
 * start is skipped, as psql does.  The text need not be NUL-terminated and
 * may hold any bytes.
 *
 * every, cron and tz are keys only when `schedule` (a file under
 * schedules/); elsewhere they are unknown keys.  every and cron exclude
 * each other.
 *
 * Returns 0 with *ret filled (defaults for keys not given), or -EINVAL
 * for an unknown key, a bad value, a key given twice or a malformed header
 * line, writing to err[0..errlen) one message "line N: ..." naming the
 * line and the key (the file's bytes in it escaped and shortened), e.g.
 * "line 2: unknown key 'priorty'".  *ret is unspecified on failure.
 * Allocates nothing.
 */
__attribute__((warn_unused_result))
int header_parse(const char *text, size_t len, bool schedule,
		 struct task_options *ret, char *err, size_t errlen);

/* The defaults of every key, as header_parse() gives for no header. */
void task_options_init(struct task_options *o);

/*
 * Appends to out one "key=value\n" line per option in effect: every key
 * the header set, and priority, retries, retry_delay and single_transaction
 * (which always have a value) even when not set.  Durations are written in
 * the largest unit that is exact, not_before as 2026-12-01T03:00:00Z or
 * +30s, cron quoted.  Each line, after "-- pgqfs: ", parses back to the
 * same value.  Returns 0, or -ENOMEM (out may hold some lines then), or
 * -EINVAL for an absolute not_before no header_parse() gives.
 */
__attribute__((warn_unused_result))
int header_format(const struct task_options *o, struct buf *out);

#endif
