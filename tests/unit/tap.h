/* A minimal TAP producer for the unit tests (meson test, protocol 'tap'). */
#ifndef PGQFS_TAP_H
#define PGQFS_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_count;
static int tap_failed;

__attribute__((format(printf, 2, 3)))
static inline int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;
	char desc[1024];

	tap_count++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_count);
	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	/* One line per test point, whatever the description holds. */
	for (const char *p = desc; *p; p++) {
		if (*p == '\n')
			fputs("\\n", stdout);
		else if (*p == '\r')
			fputs("\\r", stdout);
		else
			putchar(*p);
	}
	putchar('\n');
	return cond;
}

/* Compares two byte strings; on mismatch prints both as TAP diagnostics. */
static inline int tap_is_mem(const char *got, size_t got_len, const char *want,
			     size_t want_len, const char *name)
{
	int same = got_len == want_len && memcmp(got, want, want_len) == 0;

	if (!tap_ok(same, "%s", name)) {
		printf("#   got:  '%.*s' (%zu bytes)\n", (int)got_len, got, got_len);
		printf("#   want: '%.*s' (%zu bytes)\n", (int)want_len, want, want_len);
	}
	return same;
}

static inline int tap_is_str(const char *got, const char *want, const char *name)
{
	if (!got)
		got = "(null)";
	return tap_is_mem(got, strlen(got), want, strlen(want), name);
}

static inline int tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}

#endif
