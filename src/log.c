#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>
#include <time.h>

#include "clock.h"

/* Longest message written, before escaping. */
#define LOG_LINE_MAX 4096

static bool use_syslog;
static bool use_journal;	/* stderr is systemd's journal: "<N>" prefixes */
static bool debug_on;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_use_syslog(bool on)
{
	if (on && !use_syslog)
		openlog("pgqfs", LOG_PID, LOG_DAEMON);
	use_syslog = on;
}

/*
 * systemd sets JOURNAL_STREAM to "DEV:INODE" of the stream it connected
 * stderr to: when stderr is still that stream, lines carry their priority
 * as a "<N>" prefix (which journald reads, sd-daemon(3)) and no timestamp
 * (the journal has its own).
 */
void log_detect_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	use_journal = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
		      fstat(STDERR_FILENO, &st) == 0 &&
		      (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_set_debug(bool on)
{
	debug_on = on;
}

/*
 * Length of the valid UTF-8 sequence of 2 to 4 bytes at s[0..len), or 0
 * (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF).
 */
static size_t utf8_length(const unsigned char *s, size_t len)
{
	unsigned char lo = 0x80, hi = 0xBF;
	size_t n, i;

	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		n = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		n = 3;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		n = 4;
	else
		return 0;
	if (n > len)
		return 0;
	if (s[0] == 0xE0)
		lo = 0xA0;
	else if (s[0] == 0xED)
		hi = 0x9F;
	else if (s[0] == 0xF0)
		lo = 0x90;
	else if (s[0] == 0xF4)
		hi = 0x8F;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++) {
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	}
	return n;
}

/* Valid UTF-8 that a terminal or log viewer may still act on: C1 controls
 * (U+0080-U+009F), U+2028-U+202E (line and paragraph separators, bidi
 * embeddings and overrides), U+2066-U+2069 (bidi isolates). */
static bool utf8_is_control(const unsigned char *s, size_t n)
{
	if (n == 2)
		return s[0] == 0xC2 && s[1] <= 0x9F;
	if (n == 3 && s[0] == 0xE2)
		return (s[1] == 0x80 && s[2] >= 0xA8 && s[2] <= 0xAE) ||
		       (s[1] == 0x81 && s[2] >= 0xA6 && s[2] <= 0xA9);
	return false;
}

/*
 * Escapes src[0..len) into dst[0..cap), cap >= 4, as log_escape() says
 * (backslashes only if `backslash`), and returns the length written.  What
 * does not fit, or `cut` (the source was already cut short), ends the text
 * with "..." after the last character that leaves room for it.
 */
static size_t escape(char *dst, size_t cap, const unsigned char *src,
		     size_t len, bool backslash, bool cut)
{
	static const char hex[] = "0123456789abcdef";
	size_t out = 0, fit = 0, i = 0;

	while (i < len) {
		char unit[16];
		size_t n = 0, used = 1, k;
		unsigned char c = src[i];

		if (c == '\\' && backslash) {
			unit[n++] = '\\';
			unit[n++] = '\\';
		} else if (c == '\n' || c == '\r' || c == '\t') {
			unit[n++] = '\\';
			unit[n++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		} else if (c >= 0x20 && c < 0x7F) {
			unit[n++] = (char)c;
		} else {
			used = c < 0x80 ? 0 : utf8_length(src + i, len - i);
			if (used && !utf8_is_control(src + i, used)) {
				memcpy(unit, src + i, used);
				n = used;
			} else {
				/* a control character: each of its bytes;
				 * not UTF-8: this byte alone */
				if (!used)
					used = 1;
				for (k = 0; k < used; k++) {
					unit[n++] = '\\';
					unit[n++] = 'x';
					unit[n++] = hex[src[i + k] >> 4];
					unit[n++] = hex[src[i + k] & 0xF];
				}
			}
		}
		if (out + n > cap - 1) {
			cut = true;
			break;
		}
		memcpy(dst + out, unit, n);
		out += n;
		i += used;
		if (out <= cap - 4)
			fit = out;
	}
	if (cut) {
		memcpy(dst + fit, "...", 3);
		out = fit + 3;
	}
	dst[out] = '\0';
	return out;
}

const char *log_escape_mem(const void *s, size_t len,
			   char buf[static LOG_ESCAPE_MAX])
{
	if (!s)
		return log_escape(NULL, buf);
	escape(buf, LOG_ESCAPE_MAX, s, len, true, false);
	return buf;
}

const char *log_escape(const char *s, char buf[static LOG_ESCAPE_MAX])
{
	if (!s) {
		memcpy(buf, "(null)", sizeof("(null)"));
		return buf;
	}
	return log_escape_mem(s, strlen(s), buf);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "debug", "info", "warning", "error" };
	static const int prio[] = { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR };
	char raw[LOG_LINE_MAX], line[LOG_LINE_MAX + 4];
	size_t len;
	bool cut = false;
	va_list ap;
	int n;

	if (level == LOG_LEVEL_DEBUG && !debug_on)
		return;
	va_start(ap, fmt);
	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	if (n < 0) {
		len = (size_t)snprintf(raw, sizeof(raw),
				       "(a log message could not be formatted)");
	} else if ((size_t)n >= sizeof(raw)) {
		len = sizeof(raw) - 1;
		cut = true;
	} else {
		len = (size_t)n;
		while (len > 0 && (raw[len - 1] == '\n' || raw[len - 1] == '\r'))
			len--;
	}
	/* Whatever the caller forgot to escape cannot forge a line. */
	escape(line, sizeof(line), (const unsigned char *)raw, len, false, cut);

	if (use_syslog) {
		syslog(prio[level], "%s", line);
	} else if (use_journal) {
		pthread_mutex_lock(&log_lock);
		fprintf(stderr, "<%d>pgqfs %s: %s\n", prio[level], names[level], line);
		pthread_mutex_unlock(&log_lock);
	} else {
		char stamp[ISO_TIME_MAX];

		iso_time(wall_us(), 3, stamp);
		/* One lock so that lines of several threads never interleave. */
		pthread_mutex_lock(&log_lock);
		fprintf(stderr, "%s pgqfs %s: %s\n", stamp, names[level], line);
		pthread_mutex_unlock(&log_lock);
	}
}
