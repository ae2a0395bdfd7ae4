#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>

static bool use_syslog;
static bool debug_on;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_use_syslog(bool on)
{
	if (on && !use_syslog)
		openlog("pgqfs", LOG_PID, LOG_DAEMON);
	use_syslog = on;
}

void log_set_debug(bool on)
{
	debug_on = on;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "debug", "info", "warning", "error" };
	static const int prio[] = { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR };
	va_list ap;

	if (level == LOG_LEVEL_DEBUG && !debug_on)
		return;
	va_start(ap, fmt);
	if (use_syslog) {
		vsyslog(prio[level], fmt, ap);
	} else {
		struct timespec ts;
		struct tm tm;
		char stamp[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		/* One lock so that lines of several threads never interleave. */
		pthread_mutex_lock(&log_lock);
		fprintf(stderr, "%s.%03ldZ pgqfs %s: ", stamp,
			ts.tv_nsec / 1000000, names[level]);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		pthread_mutex_unlock(&log_lock);
	}
	va_end(ap);
}
