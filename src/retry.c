/*
 * Retries (the "retries" and "retry_delay" header keys): which failures
 * are transient, and when a failed attempt runs again.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "executor_internal.h"
#include "header.h"

bool sqlstate_transient(const char *st)
{
	static const char *const codes[] = {
		"40001",	/* serialization_failure */
		"40P01",	/* deadlock_detected */
		"55P03",	/* lock_not_available */
		"57P01",	/* admin_shutdown */
		"57P02",	/* crash_shutdown */
		"57P03",	/* cannot_connect_now */
		"53300",	/* too_many_connections */
	};

	if (strncmp(st, "08", 2) == 0 && strlen(st) == 5)
		return true;	/* connection_exception */
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(st, codes[i]) == 0)
			return true;
	return false;
}

/*
 * Whether the target could not be reached: a connection that could not be
 * made or was lost (target.c fails the task so), except when the server
 * itself refused it for good (a FATAL other than being busy or starting:
 * an unknown role or database, a failed authentication).
 */
static bool task_unreachable(struct task *t)
{
	static const char *const prefixes[] = {
		"pgqfs: could not connect to target ",
		"pgqfs: lost the connection to target ",
	};
	static const char *const busy[] = {
		"too many clients", "the database system is starting up",
		"the database system is shutting down", "the database system is in recovery mode",
		"the database system is not yet accepting connections",
	};
	const char *err = buf_cstr(&t->error);
	bool conn = false;

	if (!err || t->sqlstate[0])
		return false;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(err, prefixes[i], strlen(prefixes[i])) == 0)
			conn = true;
	if (!conn)
		return false;
	if (!strstr(err, "FATAL:"))
		return true;
	for (size_t i = 0; i < sizeof(busy) / sizeof(busy[0]); i++)
		if (strstr(err, busy[i]))
			return true;
	return false;
}

/*
 * A failed attempt of t: whether it is to be tried again (a transient
 * error, attempts left, nobody cancelled it, the daemon is not stopping),
 * and then when: retry_delay x 2^(n-2) before attempt n, +-20%, at most
 * an hour.
 */
bool task_retry_due(struct executor *e, struct task *t)
{
	uint64_t delay = t->opts.retry_delay_ms;
	double jitter;
	const char *why;

	if (t->attempt > t->opts.retries || t->cancel_asked || t->timed_out || t->over_cap ||
	    atomic_load(&e->stopping))
		return false;
	if (t->sqlstate[0] && sqlstate_transient(t->sqlstate))
		why = t->sqlstate;
	else if (task_unreachable(t))
		why = "target unreachable";
	else
		return false;
	for (int64_t n = 1; n < t->attempt && delay < HEADER_RETRY_DELAY_MAX_MS; n++)
		delay *= 2;
	if (delay > HEADER_RETRY_DELAY_MAX_MS)
		delay = HEADER_RETRY_DELAY_MAX_MS;
	/* Jitter, so that tasks that failed together do not retry together;
	 * not a secret, so rand() is enough. */
	jitter = 0.8 + 0.4 * ((double)rand() / (double)RAND_MAX);
	delay = (uint64_t)((double)delay * jitter);
	if (delay > HEADER_RETRY_DELAY_MAX_MS)
		delay = HEADER_RETRY_DELAY_MAX_MS;
	t->retry_at_us = wall_us() + (int64_t)delay * 1000;
	task_log(t, "attempt %lld failed (%s): attempt %lld of %d in %llu ms",
		 (long long)t->attempt, why, (long long)t->attempt + 1, t->opts.retries + 1,
		 (unsigned long long)delay);
	return true;
}
