/*
 * Bytes from a user's file, shown in a message: such messages end up in a
 * task's error, logs and terminals, so only printable ASCII goes through
 * as is (a quote and a backslash escaped too), and a long text is cut.
 */
#ifndef PGQFS_SHOW_H
#define PGQFS_SHOW_H

#include <stddef.h>
#include <stdio.h>

/* Room show_text() needs for at most `max` bytes shown. */
#define SHOW_SIZE(max) (4 * (max) + 4)

/* Writes s[0..n), at most max bytes of it, into out (SHOW_SIZE(max) bytes). */
static inline void show_text(char *out, size_t max, const char *s, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n && i < max; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, 5, "\\x%02x", c);
	}
	if (n > max)
		o += (size_t)snprintf(out + o, 4, "...");
	out[o] = '\0';
}

#endif
