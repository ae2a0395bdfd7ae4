/* Clock readings shared by the executor and the filesystem. */
#ifndef PGQFS_CLOCK_H
#define PGQFS_CLOCK_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* Milliseconds on the monotonic clock: for timers and lifetimes. */
static inline int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Microseconds since the epoch: for recorded times. */
static inline int64_t wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* "2026-11-28T05:40:59.123456Z" and its terminator. */
#define ISO_TIME_MAX 32

/*
 * us (microseconds since the epoch) as an ISO-8601 UTC time with `digits`
 * (0..6) digits of fraction: the one format of every time pgqfs writes
 * (info, log files, the daemon's log).  Returns buf.
 */
static inline const char *iso_time(int64_t us, int digits, char buf[static ISO_TIME_MAX])
{
	static const int64_t div[] = { 1000000, 100000, 10000, 1000, 100, 10, 1 };
	time_t sec = (time_t)(us / 1000000);
	struct tm tm;
	size_t n;

	if (digits < 0 || digits > 6)
		digits = 6;
	gmtime_r(&sec, &tm);
	n = strftime(buf, ISO_TIME_MAX, "%Y-%m-%dT%H:%M:%S", &tm);
	if (digits)
		snprintf(buf + n, ISO_TIME_MAX - n, ".%0*lldZ", digits,
			 (long long)((us % 1000000) / div[digits]));
	else
		snprintf(buf + n, ISO_TIME_MAX - n, "Z");
	return buf;
}

#endif
