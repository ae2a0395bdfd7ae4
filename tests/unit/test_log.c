/* Unit tests of src/log.c: escaping, and log_msg's lines as written. */
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static void test_escape(void)
{
	static const struct {
		const char *in;
		const char *want;
		const char *name;
	} cases[] = {
		{ "", "", "empty" },
		{ "a.sql", "a.sql", "plain name" },
		{ "a b'c\"d%s", "a b'c\"d%s", "blanks, quotes and % kept" },
		{ "x.sql\n2024-01-01T00:00:00.000Z pgqfs error: forged",
		  "x.sql\\n2024-01-01T00:00:00.000Z pgqfs error: forged",
		  "newline" },
		{ "a\rb\tc", "a\\rb\\tc", "CR and tab" },
		{ "a\\nb", "a\\\\nb", "backslash doubled: no escape can be faked" },
		{ "\x01\x1b[31m\x7f", "\\x01\\x1b[31m\\x7f", "C0 controls and DEL" },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
		  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "valid UTF-8 kept" },
		{ "\xef\xbf\xbf \xf4\x8f\xbf\xbf \xed\x9f\xbf \xee\x80\x80",
		  "\xef\xbf\xbf \xf4\x8f\xbf\xbf \xed\x9f\xbf \xee\x80\x80",
		  "UTF-8 edges kept (U+FFFF, U+10FFFF, U+D7FF, U+E000)" },
		{ "\xc2\x85|\xc2\x9b|\xc2\xa0", "\\xc2\\x85|\\xc2\\x9b|\xc2\xa0",
		  "C1 controls escaped, U+00A0 kept" },
		{ "a\xe2\x80\xa8" "b\xe2\x80\xa9" "c\xe2\x80\xae" "d\xe2\x81\xa6"
		  "e\xe2\x80\xa7" "f\xe2\x80\xaf",
		  "a\\xe2\\x80\\xa8b\\xe2\\x80\\xa9c\\xe2\\x80\\xaed\\xe2\\x81\\xa6"
		  "e\xe2\x80\xa7" "f\xe2\x80\xaf",
		  "line/paragraph separators and bidi controls escaped, neighbours kept" },
		{ "\xff\xfe", "\\xff\\xfe", "bytes never in UTF-8" },
		{ "\x80x", "\\x80x", "lone continuation byte" },
		{ "ab\xc3", "ab\\xc3", "sequence cut by the end" },
		{ "\xc3(", "\\xc3(", "sequence cut by an ASCII byte" },
		{ "\xe2\x82(", "\\xe2\\x82(", "3-byte sequence cut short" },
		{ "\xc0\xaf \xc1\xbf", "\\xc0\\xaf \\xc1\\xbf", "overlong 2-byte" },
		{ "\xe0\x80\xaf", "\\xe0\\x80\\xaf", "overlong 3-byte" },
		{ "\xf0\x80\x80\xaf", "\\xf0\\x80\\x80\\xaf", "overlong 4-byte" },
		{ "\xed\xa0\x80", "\\xed\\xa0\\x80", "UTF-16 surrogate" },
		{ "\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80", "past U+10FFFF" },
		{ "\xf5\x80\x80\x80", "\\xf5\\x80\\x80\\x80", "lead byte F5" },
	};
	char buf[LOG_ESCAPE_MAX];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		tap_is_str(log_escape(cases[i].in, buf), cases[i].want,
			   cases[i].name);
	tap_ok(log_escape("x", buf) == buf, "returns buf");
	tap_is_str(log_escape(NULL, buf), "(null)", "NULL");
	tap_is_str(log_escape_mem("a\0b\n", 4, buf), "a\\x00b\\n",
		   "log_escape_mem: NUL and newline");
	tap_is_str(log_escape_mem("abc", 2, buf), "ab", "log_escape_mem: length");
	tap_is_str(log_escape_mem(NULL, 3, buf), "(null)", "log_escape_mem: NULL");
}

/* `n` copies of `unit`, then `tail` (8 KiB at most), in a static buffer. */
static const char *repeat(const char *unit, size_t n, const char *tail)
{
	static char s[8192];
	size_t len = 0, u = strlen(unit);

	while (n--) {
		memcpy(s + len, unit, u);
		len += u;
	}
	strcpy(s + len, tail);
	return s;
}

static void test_truncation(void)
{
	char buf[LOG_ESCAPE_MAX], want[LOG_ESCAPE_MAX + 16];
	const char *got;

	tap_ok(LOG_ESCAPE_TEXT == 200 && LOG_ESCAPE_MAX == 204, "200 bytes of text");
	/* a result that fits the buffer whole is not cut */
	got = log_escape(repeat("a", 203, ""), buf);
	tap_ok(strlen(got) == 203 && got[202] == 'a', "203 bytes whole");
	got = log_escape(repeat("a", 204, ""), buf);
	snprintf(want, sizeof(want), "%s...", repeat("a", 200, ""));
	tap_is_str(got, want, "204 bytes: 200 and '...'");
	got = log_escape(repeat("a", 3000, ""), buf);
	tap_is_str(got, want, "3000 bytes: 200 and '...'");

	/* cut between characters, never inside an escape or a sequence */
	snprintf(want, sizeof(want), "%s...", repeat("a", 199, ""));
	tap_is_str(log_escape(repeat("a", 199, "\nbbbbbbbbbb"), buf), want,
		   "an escape that does not fit before '...' is left out whole");
	tap_is_str(log_escape(repeat("a", 199, "\xe2\x82\xac" "bbbbbbbbbb"), buf),
		   want, "a UTF-8 character likewise");
	snprintf(want, sizeof(want), "%s...", repeat("\\x01", 50, ""));
	tap_is_str(log_escape(repeat("\x01", 60, ""), buf), want,
		   "60 control bytes: 50 escapes and '...'");
	snprintf(want, sizeof(want), "%s\\n", repeat("a", 201, ""));
	tap_is_str(log_escape(repeat("a", 201, "\n"), buf), want,
		   "an escape that ends the text fits in 203 bytes");
}

static void test_macro(void)
{
	char line[512];

	/* each LOG_ESCAPE() has its own buffer */
	snprintf(line, sizeof(line), "%s|%s", LOG_ESCAPE("a\nb"),
		 LOG_ESCAPE("c\\d"));
	tap_is_str(line, "a\\nb|c\\\\d", "two LOG_ESCAPE() in one call");
}

/* Runs log_msg's lines through a file standing in for stderr and returns
 * what was written after each line's "pgqfs LEVEL: " prefix. */
static char captured[16384];

static const char *capture_begin(FILE **f, int *saved)
{
	fflush(stderr);
	*f = tmpfile();
	*saved = dup(STDERR_FILENO);
	if (!*f || *saved < 0 || dup2(fileno(*f), STDERR_FILENO) < 0) {
		perror("capture");
		exit(2);
	}
	return NULL;
}

static size_t capture_end(FILE *f, int saved)
{
	size_t len;

	fflush(stderr);
	if (dup2(saved, STDERR_FILENO) < 0) {
		perror("dup2");
		exit(2);
	}
	close(saved);
	rewind(f);
	len = fread(captured, 1, sizeof(captured) - 1, f);
	captured[len] = '\0';
	fclose(f);
	return len;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* The message part of the one line written, or NULL. */
static const char *message(const char *level)
{
	char prefix[64];
	const char *m;

	snprintf(prefix, sizeof(prefix), " pgqfs %s: ", level);
	m = strstr(captured, prefix);
	return m ? m + strlen(prefix) : NULL;
}

static void test_log_msg(void)
{
	const char *forged = "x.sql\n2030-01-01T00:00:00.000Z pgqfs error: forged";
	const char *m;
	FILE *f;
	int saved;
	size_t len;

	capture_begin(&f, &saved);
	log_warn("created %s", forged);
	capture_end(f, saved);
	tap_ok(count_lines(captured) == 1, "an unescaped newline makes no line");
	m = message("warning");
	tap_is_str(m, "created x.sql\\n2030-01-01T00:00:00.000Z pgqfs error: forged\n",
		   "it is written as \\n");

	capture_begin(&f, &saved);
	log_error("cannot connect: %s", "FATAL:  no\nDETAIL:  x\r\n\n");
	capture_end(f, saved);
	tap_is_str(message("error"), "cannot connect: FATAL:  no\\nDETAIL:  x\n",
		   "trailing newlines dropped, inner ones escaped");

	capture_begin(&f, &saved);
	log_info("%s and %s", LOG_ESCAPE("a\\b\x1b"), "c\\d\x1b\xff\xc3\xa9");
	capture_end(f, saved);
	tap_is_str(message("info"), "a\\\\b\\x1b and c\\d\\x1b\\xff\xc3\xa9\n",
		   "log_escape()'d text is not escaped twice; the rest only for controls and bad UTF-8");

	capture_begin(&f, &saved);
	log_info("%s", repeat("y", 5000, ""));
	len = capture_end(f, saved);
	m = message("info");
	tap_ok(count_lines(captured) == 1 && m && strlen(m) == 4095 + 3 + 1 &&
	       strcmp(m + 4095, "...\n") == 0,
	       "a long message is cut at 4095 bytes and '...' (%zu written)", len);

	capture_begin(&f, &saved);
	log_info("%s", repeat("\x01", 4000, ""));
	capture_end(f, saved);
	m = message("info");
	tap_ok(count_lines(captured) == 1 && m && strlen(m) <= 4096 + 4 &&
	       strstr(m, "\\x01...\n"),
	       "a message that grows past the line when escaped is cut too");

	capture_begin(&f, &saved);
	log_debug("hidden");
	log_set_debug(true);
	log_debug("shown\n");
	log_set_debug(false);
	capture_end(f, saved);
	tap_ok(count_lines(captured) == 1 && !strstr(captured, "hidden") &&
	       strstr(captured, " pgqfs debug: shown\n"),
	       "debug lines only when asked for");
}

int main(void)
{
	test_escape();
	test_truncation();
	test_macro();
	test_log_msg();
	return tap_done();
}
