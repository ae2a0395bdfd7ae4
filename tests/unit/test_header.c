/*
 * Unit tests of the "-- pgqfs:" header parser (DESIGN.md, Task control):
 * every key at and past its bounds, quoting, where the header ends, line
 * ends, and the exact error messages a user sees in a task's error.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "header.h"
#include "tap.h"

static struct task_options opts;
static char err[256];

static int parse(const char *text, bool schedule)
{
	return header_parse(text, strlen(text), schedule, &opts, err,
			    sizeof(err));
}

/* text parses, and `key`'s line of header_format() is `want`. */
static void ok_value(const char *text, const char *want, bool schedule)
{
	struct buf b;
	const char *s;
	int r;

	buf_init(&b);
	r = parse(text, schedule);
	if (!tap_ok(r == 0, "accepted: %s", text)) {
		printf("#   error: %s\n", err);
		goto out;
	}
	tap_ok(header_format(&opts, &b) == 0, "formats: %s", text);
	s = buf_cstr(&b);
	if (!tap_ok(strstr(s, want) != NULL, "shows %s", want))
		printf("#   got: %s\n", s);
out:
	buf_finish(&b);
}

static void fails(const char *text, const char *want, bool schedule)
{
	int r = parse(text, schedule);

	tap_ok(r == -EINVAL, "refused: %s", text);
	tap_is_str(err, want, "message");
}

static void test_defaults(void)
{
	struct buf b;

	buf_init(&b);
	tap_ok(parse("", false) == 0 && opts.set == 0, "empty file");
	tap_ok(opts.priority == 0 && opts.retries == 0 &&
	       opts.retry_delay_ms == 1000 && !opts.single_transaction &&
	       opts.group == HEADER_GROUP_NONE && opts.n_after == 0,
	       "defaults");
	tap_ok(header_format(&opts, &b) == 0, "format defaults");
	tap_is_str(buf_cstr(&b),
		   "priority=0\nretries=0\nretry_delay=1s\n"
		   "single_transaction=off\n", "defaults in effect");
	tap_ok(parse("SELECT 1;\n", false) == 0 && opts.set == 0,
	       "no header");
	buf_finish(&b);
}

static void test_keys(void)
{
	ok_value("-- pgqfs: priority=-1000\n", "priority=-1000\n", false);
	ok_value("-- pgqfs: priority=1000\n", "priority=1000\n", false);
	ok_value("-- pgqfs: priority=+7\n", "priority=7\n", false);
	fails("-- pgqfs: priority=1001\n",
	      "line 1: bad value for priority: '1001' (expected an integer"
	      " from -1000 to 1000)", false);
	fails("-- pgqfs: priority=-1001\n",
	      "line 1: bad value for priority: '-1001' (expected an integer"
	      " from -1000 to 1000)", false);
	fails("-- pgqfs: priority=\n",
	      "line 1: bad value for priority: '' (expected an integer"
	      " from -1000 to 1000)", false);
	fails("-- pgqfs: priority=99999999999999999999\n",
	      "line 1: bad value for priority: '99999999999999999999'"
	      " (expected an integer from -1000 to 1000)", false);

	ok_value("-- pgqfs: timeout=500ms\n", "timeout=500ms\n", false);
	ok_value("-- pgqfs: timeout=1ms\n", "timeout=1ms\n", false);
	ok_value("-- pgqfs: timeout=120s\n", "timeout=2m\n", false);
	ok_value("-- pgqfs: timeout=366d\n", "timeout=366d\n", false);
	fails("-- pgqfs: timeout=367d\n",
	      "line 1: bad value for timeout: '367d' (expected a duration"
	      " from 1ms to 366d)", false);
	fails("-- pgqfs: timeout=0\n",
	      "line 1: bad value for timeout: '0' (expected a duration"
	      " from 1ms to 366d)", false);
	fails("-- pgqfs:\n-- pgqfs: priority=1\n-- pgqfs: timeout=\"5 minutes\"\n",
	      "line 3: bad value for timeout: '5 minutes' (expected a duration"
	      " such as 500ms, 30s or 2h)", false);

	ok_value("-- pgqfs: retries=0\n", "retries=0\n", false);
	ok_value("-- pgqfs: retries=100\n", "retries=100\n", false);
	fails("-- pgqfs: retries=101\n",
	      "line 1: bad value for retries: '101' (expected an integer"
	      " from 0 to 100)", false);
	fails("-- pgqfs: retries=-1\n",
	      "line 1: bad value for retries: '-1' (expected an integer"
	      " from 0 to 100)", false);

	ok_value("-- pgqfs: retry_delay=0\n", "retry_delay=0s\n", false);
	ok_value("-- pgqfs: retry_delay=1h\n", "retry_delay=1h\n", false);
	ok_value("-- pgqfs: retry_delay=1500ms\n", "retry_delay=1500ms\n", false);
	fails("-- pgqfs: retry_delay=3601s\n",
	      "line 1: bad value for retry_delay: '3601s' (expected a duration"
	      " from 0s to 1h)", false);
	fails("-- pgqfs: retry_delay=1.5s\n",
	      "line 1: bad value for retry_delay: '1.5s' (expected a duration"
	      " such as 500ms, 30s or 2h)", false);

	ok_value("-- pgqfs: after=12\n", "after=12\n", false);
	ok_value("-- pgqfs: after=12,15,12,9223372036854775807\n",
		 "after=12,15,9223372036854775807\n", false);
	tap_ok(opts.n_after == 3 && opts.after[2] == INT64_MAX,
	       "repeated id kept once");
	ok_value("-- pgqfs: after=\"1, 2 ,3\"\n", "after=1,2,3\n", false);
	fails("-- pgqfs: after=9223372036854775808\n",
	      "line 1: bad value for after: '9223372036854775808' (expected"
	      " task ids such as 12 or 12,15)", false);
	fails("-- pgqfs: after=0\n",
	      "line 1: bad value for after: '0' (expected task ids such as 12"
	      " or 12,15)", false);
	fails("-- pgqfs: after=1,,2\n",
	      "line 1: bad value for after: '1,,2' (expected task ids such as"
	      " 12 or 12,15)", false);
	fails("-- pgqfs: after=1,\n",
	      "line 1: bad value for after: '1,' (expected task ids such as 12"
	      " or 12,15)", false);
	{
		char text[1024];
		int i, n;

		n = snprintf(text, sizeof(text), "-- pgqfs: after=1");
		for (i = 2; i <= 100; i++)
			n += snprintf(text + n, sizeof(text) - (size_t)n, ",%d", i);
		tap_ok(parse(text, false) == 0 && opts.n_after == 100,
		       "100 ids");
		snprintf(text + n, sizeof(text) - (size_t)n, ",101");
		tap_ok(parse(text, false) == -EINVAL &&
		       strstr(err, "(expected at most 100 task ids)"),
		       "101 ids refused: %s", err);
	}

	ok_value("-- pgqfs: not_before=2026-12-01T03:00:00Z\n",
		 "not_before=2026-12-01T03:00:00Z\n", false);
	tap_ok(!opts.not_before_relative &&
	       opts.not_before_ms == INT64_C(1796094000) * 1000,
	       "absolute time in ms since the epoch");
	ok_value("-- pgqfs: not_before=2026-12-01T04:30:00+01:30\n",
		 "not_before=2026-12-01T03:00:00Z\n", false);
	ok_value("-- pgqfs: not_before=2028-02-29T23:59:59Z\n",
		 "not_before=2028-02-29T23:59:59Z\n", false);
	ok_value("-- pgqfs: not_before=1970-01-01T00:00:00Z\n",
		 "not_before=1970-01-01T00:00:00Z\n", false);
	ok_value("-- pgqfs: not_before=+90s\n", "not_before=+90s\n", false);
	tap_ok(opts.not_before_relative && opts.not_before_ms == 90000,
	       "relative time in ms");
	ok_value("-- pgqfs: not_before=+0\n", "not_before=+0s\n", false);
	fails("-- pgqfs: not_before=2027-02-29T00:00:00Z\n",
	      "line 1: bad value for not_before: '2027-02-29T00:00:00Z'"
	      " (expected a UTC time such as 2026-12-01T03:00:00Z or +DURATION"
	      " such as +30m)", false);
	fails("-- pgqfs: not_before=2026-12-01T24:00:00Z\n",
	      "line 1: bad value for not_before: '2026-12-01T24:00:00Z'"
	      " (expected a UTC time such as 2026-12-01T03:00:00Z or +DURATION"
	      " such as +30m)", false);
	fails("-- pgqfs: not_before=2026-12-01\n",
	      "line 1: bad value for not_before: '2026-12-01'"
	      " (expected a UTC time such as 2026-12-01T03:00:00Z or +DURATION"
	      " such as +30m)", false);
	fails("-- pgqfs: not_before=+400d\n",
	      "line 1: bad value for not_before: '+400d'"
	      " (expected +DURATION from +0s to +366d)", false);

	ok_value("-- pgqfs: single_transaction=on\n", "single_transaction=on\n",
		 false);
	ok_value("-- pgqfs: single_transaction=off\n",
		 "single_transaction=off\n", false);
	tap_ok(opts.set == 1u << HEADER_SINGLE_TRANSACTION, "off is set");
	fails("-- pgqfs: single_transaction=yes\n",
	      "line 1: bad value for single_transaction: 'yes' (expected on"
	      " or off)", false);

	ok_value("-- pgqfs: group=statements\n", "group=statements\n", false);
	fails("-- pgqfs: group=rows\n",
	      "line 1: bad value for group: 'rows' (expected statements)",
	      false);
}

static void test_schedule_keys(void)
{
	fails("-- pgqfs: every=1m\n", "line 1: unknown key 'every'", false);
	fails("-- pgqfs: cron=\"0 3 * * *\"\n", "line 1: unknown key 'cron'",
	      false);
	fails("-- pgqfs: tz=UTC\n", "line 1: unknown key 'tz'", false);
	ok_value("-- pgqfs: every=1s\n", "every=1s\n", true);
	ok_value("-- pgqfs: every=1440m\n", "every=1d\n", true);
	fails("-- pgqfs: every=999ms\n",
	      "line 1: bad value for every: '999ms' (expected a duration from"
	      " 1s to 366d)", true);
	ok_value("-- pgqfs: cron=\"0 3 * * *\" tz=Europe/Paris\n",
		 "cron=\"0 3 * * *\"\ntz=Europe/Paris\n", true);
	ok_value("-- pgqfs: cron=\"*/5 1-5 1,15 JAN-MAR mon-fri\"\n",
		 "cron=\"*/5 1-5 1,15 JAN-MAR mon-fri\"\n", true);
	fails("-- pgqfs: cron=\"0 3 * *\"\n",
	      "line 1: bad value for cron: '0 3 * *' (expected five fields"
	      " such as \"0 3 * * *\", or @daily)", true);
	fails("-- pgqfs: cron=\"0 3 * * * *\"\n",
	      "line 1: bad value for cron: '0 3 * * * *' (expected five fields"
	      " such as \"0 3 * * *\", or @daily)", true);
	/* The shorthands README promises, and blanks between fields. */
	ok_value("-- pgqfs: cron=\"@daily\"\n", "cron=\"@daily\"\n", true);
	ok_value("-- pgqfs: cron=@hourly\n", "cron=\"@hourly\"\n", true);
	ok_value("-- pgqfs: cron=\" 0  3 *\t* * \"\n", "cron=\"0 3 * * *\"\n", true);
	fails("-- pgqfs: cron=\"@\"\n",
	      "line 1: bad value for cron: '@' (expected five fields"
	      " such as \"0 3 * * *\", or @daily)", true);
	fails("-- pgqfs: cron=\"@daily 3\"\n",
	      "line 1: bad value for cron: '@daily 3' (expected five fields"
	      " such as \"0 3 * * *\", or @daily)", true);
	fails("-- pgqfs: tz=../etc/passwd\n",
	      "line 1: bad value for tz: '../etc/passwd' (expected a time zone"
	      " such as Europe/Paris)", true);
	fails("-- pgqfs: every=1h\n-- pgqfs: cron=\"0 3 * * *\"\n",
	      "line 2: every and cron exclude each other", true);
}

static void test_syntax(void)
{
	tap_ok(parse("-- pgqfs: priority=5 retries=3\ttimeout=2h\n", false) == 0 &&
	       opts.priority == 5 && opts.retries == 3 &&
	       opts.timeout_ms == 7200000, "several pairs on one line");
	tap_ok(parse("--pgqfs:priority=5\n", false) == 0 && opts.priority == 5,
	       "no blanks needed after -- and pgqfs:");
	tap_ok(parse("  \t-- pgqfs: priority=5   \n", false) == 0 &&
	       opts.priority == 5, "leading and trailing blanks");
	tap_ok(parse("-- pgqfs: priority=\"5\"\n", false) == 0 &&
	       opts.priority == 5, "a quoted value without blanks");
	tap_ok(parse("-- pgqfs: priority=1\n\n-- a comment\n  \n"
		     "-- pgqfs: retries=2\nSELECT 1;\n", false) == 0 &&
	       opts.priority == 1 && opts.retries == 2,
	       "blank lines and comments between header lines");
	tap_ok(parse("-- pgqfs: priority=1\nSELECT 1;\n-- pgqfs: retries=2\n"
		     "-- pgqfs: bogus=1\n", false) == 0 &&
	       opts.priority == 1 && opts.set == 1u << HEADER_PRIORITY,
	       "a header line after the first statement is ignored");
	tap_ok(parse("/* lead */\n-- pgqfs: priority=1\n", false) == 0 &&
	       opts.set == 0, "a slash-star comment ends the header");
	tap_ok(parse("-- pgqfs: priority=1\r\n-- pgqfs: retries=2\r\nSELECT 1;\r\n",
		     false) == 0 && opts.priority == 1 && opts.retries == 2,
	       "CRLF lines");
	fails("-- pgqfs: priority=1\r\n\r\n-- pgqfs: priorty=2\r\n",
	      "line 3: unknown key 'priorty'", false);
	tap_ok(parse("-- pgqfs: priority=1\rSELECT 1;\n-- pgqfs: retries=2\n",
		     false) == 0 && opts.set == 1u << HEADER_PRIORITY,
	       "a lone CR ends a comment, as in psql");
	tap_ok(parse("\xef\xbb\xbf-- pgqfs: priority=3\n", false) == 0 &&
	       opts.priority == 3, "byte order mark skipped");
	tap_ok(parse("-- pgqfs: priority=3", false) == 0 && opts.priority == 3,
	       "no final newline");
	tap_ok(parse("-- pgqfsx: bogus\n-- PGQFS: bogus\n-- note pgqfs: bogus\n",
		     false) == 0 && opts.set == 0,
	       "other comments are not header lines");
	tap_ok(parse("-- pgqfs:\n", false) == 0 && opts.set == 0,
	       "a header line without pairs");

	fails("\n-- pgqfs: priorty=1\n", "line 2: unknown key 'priorty'", false);
	fails("-- pgqfs: priority=1\n-- pgqfs: retries=1 priority=2\n",
	      "line 2: duplicate key 'priority' (first given on line 1)", false);
	fails("-- pgqfs: single_transaction=off single_transaction=on\n",
	      "line 1: duplicate key 'single_transaction' (first given on"
	      " line 1)", false);
	fails("-- pgqfs: priority=1 retries\n",
	      "line 1: expected key=value, not 'retries'", false);
	fails("-- pgqfs: =1\n", "line 1: expected key=value, not '=1'", false);
	fails("-- pgqfs: cron=\"0 3 * * *\n",
	      "line 1: unterminated quote in the value of 'cron'", false);
	fails("-- pgqfs: priority=\"1\"x\n",
	      "line 1: a blank must follow the closing quote of the value of"
	      " 'priority'", false);
	fails("-- pgqfs: pri'o\\rity\x01=1\n",
	      "line 1: unknown key 'pri\\x27o\\x5crity\\x01'", false);
	fails("-- pgqfs: priority=0123456789012345678901234567890123456789012\n",
	      "line 1: bad value for priority: "
	      "'0123456789012345678901234567890123456789...' (expected an"
	      " integer from -1000 to 1000)", false);
	{
		/* A NUL is just a bad byte, not the end of the text. */
		static const char nul[] = "-- pgqfs: priority=1\0\n-- pgqfs: x=1\n";

		tap_ok(header_parse(nul, sizeof(nul) - 1, false, &opts, err,
				    sizeof(err)) == -EINVAL, "NUL in a value");
		tap_is_str(err, "line 1: bad value for priority: '1\\x00'"
			   " (expected an integer from -1000 to 1000)", "message");
	}
	{
		char small[12];

		tap_ok(header_parse("-- pgqfs: x=1", 13, false, &opts, small,
				    sizeof(small)) == -EINVAL, "short err buffer");
		tap_is_str(small, "line 1: unk", "message cut, terminated");
		tap_ok(header_parse("-- pgqfs: x=1", 13, false, &opts, NULL, 0) ==
		       -EINVAL, "no err buffer");
	}
}

static bool same_options(const struct task_options *a,
			 const struct task_options *b)
{
	return a->set == b->set && a->priority == b->priority &&
	       a->timeout_ms == b->timeout_ms && a->retries == b->retries &&
	       a->retry_delay_ms == b->retry_delay_ms &&
	       a->n_after == b->n_after &&
	       memcmp(a->after, b->after, a->n_after * sizeof(a->after[0])) == 0 &&
	       a->not_before_relative == b->not_before_relative &&
	       a->not_before_ms == b->not_before_ms &&
	       a->single_transaction == b->single_transaction &&
	       a->group == b->group && a->every_ms == b->every_ms &&
	       strcmp(a->cron, b->cron) == 0 && strcmp(a->tz, b->tz) == 0;
}

/* Every line of header_format() parses back to the same options. */
static void test_round_trip(void)
{
	struct task_options a, b;
	struct buf f, h;
	size_t i;

	buf_init(&f);
	buf_init(&h);
	tap_ok(parse("-- pgqfs: priority=-5 timeout=90m retries=2"
		     " retry_delay=250ms after=3,1 not_before=+2h\n"
		     "-- pgqfs: single_transaction=on group=statements"
		     " every=2d tz=UTC\n", true) == 0, "all keys: %s", err);
	a = opts;
	tap_ok(header_format(&a, &f) == 0, "format");
	buf_cstr(&f);
	for (i = 0; i < f.len; i++) {
		if (i == 0 || f.data[i - 1] == '\n')
			buf_puts(&h, "-- pgqfs: ");
		buf_putc(&h, f.data[i]);
	}
	tap_ok(header_parse(h.data, h.len, true, &b, err, sizeof(err)) == 0,
	       "re-parse: %s", err);
	tap_ok(same_options(&a, &b), "same options");
	buf_finish(&f);
	buf_finish(&h);
}

int main(void)
{
	test_defaults();
	test_keys();
	test_schedule_keys();
	test_syntax();
	test_round_trip();
	return tap_done();
}
