/*
 * Unit tests of cron expressions, every= ticks and time zones
 * (DESIGN.md, Schedules): what cron_parse() accepts and the exact
 * messages of what it refuses, next ticks in UTC (steps, lists, the
 * day-of-month / day-of-week rule, month ends, leap days, year ends),
 * both DST changes in three zones with instants computed independently,
 * tz names, and the offsets of every zone of the database against the
 * libc's.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cron.h"
#include "tap.h"

static char err[256];

/* "2026-03-29T01:00" (UTC) to Unix seconds, with the libc's timegm. */
static int64_t at(const char *iso)
{
	struct tm tm = { 0 };

	if (sscanf(iso, "%d-%d-%dT%d:%d", &tm.tm_year, &tm.tm_mon,
		   &tm.tm_mday, &tm.tm_hour, &tm.tm_min) != 5)
		abort();
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm);
}

static const char *iso(int64_t t)
{
	static char s[4][32];
	static int k;
	time_t tt = (time_t)t;
	struct tm tm;

	k = (k + 1) % 4;
	gmtime_r(&tt, &tm);
	strftime(s[k], sizeof(s[k]), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return s[k];
}

/* The values of a bit set, "1,2,5", for comparisons. */
static const char *values(uint64_t bits, int min, int max)
{
	static char s[8][200];
	static int k;
	size_t o = 0;

	k = (k + 1) % 8;
	s[k][0] = '\0';
	for (int v = min; v <= max; v++)
		if (bits >> v & 1)
			o += (size_t)snprintf(s[k] + o, sizeof(s[k]) - o,
					      "%s%d", o ? "," : "", v);
	return s[k];
}

/* expr parses to these fields (value lists) and day rule. */
static void ok_parse(const char *expr, const char *min, const char *hour,
		     const char *dom, const char *mon, const char *dow,
		     bool day_or)
{
	struct cron c;
	int r = cron_parse(expr, &c, err, sizeof(err));

	if (!tap_ok(r == 0, "accepted: %s", expr)) {
		printf("#   error: %s\n", err);
		return;
	}
	tap_is_str(values(c.minutes, 0, 63), min, "  minutes");
	tap_is_str(values(c.hours, 0, 31), hour, "  hours");
	tap_is_str(values(c.days, 0, 31), dom, "  days of month");
	tap_is_str(values(c.months, 0, 15), mon, "  months");
	tap_is_str(values(c.weekdays, 0, 7), dow, "  days of week");
	tap_ok(c.day_or == day_or, "  day rule: %s", day_or ? "or" : "and");
}

static void bad_parse(const char *expr, const char *want)
{
	struct cron c = { .minutes = 42 };
	int r = cron_parse(expr, &c, err, sizeof(err));

	tap_ok(r == -EINVAL && c.minutes == 42, "refused: %s", expr);
	tap_is_str(err, want, "  message");
}

#define ALL_MIN "0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21," \
	"22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43," \
	"44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59"
#define ALL_HOUR "0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21," \
	"22,23"
#define ALL_DOM "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22," \
	"23,24,25,26,27,28,29,30,31"
#define ALL_MON "1,2,3,4,5,6,7,8,9,10,11,12"
#define ALL_DOW "0,1,2,3,4,5,6"

static void test_parse(void)
{
	ok_parse("* * * * *", ALL_MIN, ALL_HOUR, ALL_DOM, ALL_MON, ALL_DOW,
		 false);
	ok_parse("0 0 1 1 0", "0", "0", "1", "1", "0", true);
	ok_parse("  59\t23  31 12 6 ", "59", "23", "31", "12", "6", true);
	ok_parse("*/15 */6 */10 */5 */2", "0,15,30,45", "0,6,12,18",
		 "1,11,21,31", "1,6,11", "0,2,4,6", false);
	ok_parse("10-20/5 8-18 1-7 3-5 1-5", "10,15,20",
		 "8,9,10,11,12,13,14,15,16,17,18", "1,2,3,4,5,6,7", "3,4,5",
		 "1,2,3,4,5", true);
	ok_parse("5/20 22/1 25/3 11/1 5/1", "5,25,45", "22,23", "25,28,31",
		 "11,12", "0,5,6", true);
	ok_parse("1,2,3,30-32/2 0 * * *", "1,2,3,30,32", "0", ALL_DOM,
		 ALL_MON, ALL_DOW, false);
	ok_parse("00 007 01 * *", "0", "7", "1", ALL_MON, ALL_DOW, false);
	ok_parse("0 0 * JAN,mar,Dec sun", "0", "0", ALL_DOM, "1,3,12", "0",
		 false);
	ok_parse("0 0 * feb-apr/2 mon-fri", "0", "0", ALL_DOM, "2,4", "1,2,3,4,5",
		 false);
	ok_parse("0 0 * * 7", "0", "0", ALL_DOM, ALL_MON, "0", false);
	ok_parse("0 0 * * 5-7", "0", "0", ALL_DOM, ALL_MON, "0,5,6", false);
	ok_parse("0 0 * * fri-sun", "0", "0", ALL_DOM, ALL_MON, "0,5,6",
		 false);
	ok_parse("0 0 * * 6-0", "0", "0", ALL_DOM, ALL_MON, "0,6", false);
	ok_parse("0 0 * * */7", "0", "0", ALL_DOM, ALL_MON, "0", false);
	ok_parse("0 0 * * 1/2", "0", "0", ALL_DOM, ALL_MON, "0,1,3,5", false);
	ok_parse("0 0 1-31 * 1", "0", "0", ALL_DOM, ALL_MON, "1", true);
	ok_parse("0 0 */2 * mon", "0", "0",
		 "1,3,5,7,9,11,13,15,17,19,21,23,25,27,29,31", ALL_MON, "1",
		 false);
	ok_parse("0 0 15,30 2 *", "0", "0", "15,30", "2", ALL_DOW, false);
	ok_parse("0 0 31 2 mon", "0", "0", "31", "2", "1", true);
	ok_parse("@hourly", "0", ALL_HOUR, ALL_DOM, ALL_MON, ALL_DOW, false);
	ok_parse(" @Daily ", "0", "0", ALL_DOM, ALL_MON, ALL_DOW, false);
	ok_parse("@midnight", "0", "0", ALL_DOM, ALL_MON, ALL_DOW, false);
	ok_parse("@weekly", "0", "0", ALL_DOM, ALL_MON, "0", false);
	ok_parse("@monthly", "0", "0", "1", ALL_MON, ALL_DOW, false);
	ok_parse("@yearly", "0", "0", "1", "1", ALL_DOW, false);
	ok_parse("@annually", "0", "0", "1", "1", ALL_DOW, false);

	bad_parse("", "expected 5 fields (minute hour day-of-month month "
		  "day-of-week), got 0");
	bad_parse("* * * *", "expected 5 fields (minute hour day-of-month "
		  "month day-of-week), got 4");
	bad_parse("* * * * * *", "expected 5 fields (minute hour "
		  "day-of-month month day-of-week), got 6");
	bad_parse("60 * * * *", "field 1 (minute): 60 is out of range 0-59");
	bad_parse("0 24 * * *", "field 2 (hour): 24 is out of range 0-23");
	bad_parse("0 0 0 * *", "field 3 (day of month): 0 is out of range 1-31");
	bad_parse("0 0 32 * *",
		  "field 3 (day of month): 32 is out of range 1-31");
	bad_parse("0 0 * 13 *", "field 4 (month): 13 is out of range 1-12");
	bad_parse("0 0 * 0 *", "field 4 (month): 0 is out of range 1-12");
	bad_parse("0 0 * * 8", "field 5 (day of week): 8 is out of range 0-7");
	bad_parse("99999999999999999999999999 * * * *",
		  "field 1 (minute): 999999999999999999999999... is out of "
		  "range 0-59");
	bad_parse("*/0 * * * *", "field 1 (minute): step 0 is out of range "
		  "1-60");
	bad_parse("* */25 * * *", "field 2 (hour): step 25 is out of range "
		  "1-24");
	bad_parse("* * * * */8", "field 5 (day of week): step 8 is out of "
		  "range 1-7");
	bad_parse("30-10 * * * *", "field 1 (minute): range '30-10' is "
		  "backwards");
	bad_parse("0 0 * dec-jan *", "field 4 (month): range 'dec-jan' is "
		  "backwards");
	bad_parse("0 0 * * sat-fri", "field 5 (day of week): range 'sat-fri' "
		  "is backwards");
	bad_parse("1,,2 * * * *", "field 1 (minute): empty item in the list");
	bad_parse("1, * * * *", "field 1 (minute): empty item in the list");
	bad_parse(",1 * * * *", "field 1 (minute): empty item in the list");
	bad_parse("1- * * * *", "field 1 (minute): a value is missing in "
		  "'1-'");
	bad_parse("-1 * * * *", "field 1 (minute): a value is missing in "
		  "'-1'");
	bad_parse("*/ * * * *", "field 1 (minute): a step is missing in "
		  "'*/'");
	bad_parse("1-2-3 * * * *", "field 1 (minute): unexpected '-' in "
		  "'1-2-3'");
	bad_parse("*-5 * * * *", "field 1 (minute): unexpected '-' in '*-5'");
	bad_parse("1/2/3 * * * *", "field 1 (minute): unexpected '/' in "
		  "'1/2/3'");
	bad_parse("1a * * * *", "field 1 (minute): unexpected 'a' in '1a'");
	bad_parse("? * * * *", "field 1 (minute): unexpected '?' in '?'");
	bad_parse("L * * * *", "field 1 (minute): 'L' is not a number");
	bad_parse("0 0 * * */mon", "field 5 (day of week): 'mon' is not a "
		  "number");
	bad_parse("0 0 * january *", "field 4 (month): 'january' is not a "
		  "number or a month name (jan..dec)");
	bad_parse("0 0 * * monday", "field 5 (day of week): 'monday' is not "
		  "a number or a day name (sun..sat)");
	bad_parse("0 0 * jan-foo *", "field 4 (month): 'foo' is not a "
		  "number or a month name (jan..dec)");
	bad_parse("0 mon * * *", "field 2 (hour): 'mon' is not a number");
	bad_parse("0 0 * * 1\xc3\xa9", "field 5 (day of week): unexpected "
		  "'\\xc3' in '1\\xc3\\xa9'");
	bad_parse("0 0 * * 'x'", "field 5 (day of week): unexpected '\\x27' "
		  "in '\\x27x\\x27'");
	bad_parse("0 0 30 2 *", "field 3 (day of month): day 30 never occurs "
		  "in the months of field 4 (month)");
	bad_parse("0 0 31 4,6,9,11 *", "field 3 (day of month): day 31 never "
		  "occurs in the months of field 4 (month)");
	bad_parse("0 0 30-31 2 */2", "field 3 (day of month): day 30 never "
		  "occurs in the months of field 4 (month)");
	bad_parse("@reboot", "unknown shorthand '@reboot' (expected @yearly, "
		  "@annually, @monthly, @weekly, @daily, @midnight or "
		  "@hourly)");
	bad_parse("@daily 1", "expected 5 fields (minute hour day-of-month "
		  "month day-of-week), got 2");
	bad_parse("0\n0 * * * *", "field 1 (minute): unexpected '\\x0a' in "
		  "'0\\x0a0'");

	/* A message too long for the buffer is cut, never overrun. */
	{
		struct cron c;
		char small[12];

		memset(small, 'x', sizeof(small));
		tap_ok(cron_parse("0 24 * * *", &c, small, sizeof(small)) ==
		       -EINVAL && strcmp(small, "field 2 (ho") == 0,
		       "message cut to the buffer");
		tap_ok(cron_parse("0 24 * * *", &c, NULL, 0) == -EINVAL,
		       "no message buffer");
	}
}

/* The ticks of expr in zone tz after `from`, one after another. */
static void ticks(const char *expr, const char *tz, int64_t from,
		  const int64_t *want, size_t n, const char *why)
{
	struct cron c;
	int64_t t = from, got;
	size_t i;

	if (!tap_ok(cron_parse(expr, &c, err, sizeof(err)) == 0,
		    "%s: '%s' parses", why, expr)) {
		printf("#   error: %s\n", err);
		return;
	}
	for (i = 0; i < n; i++) {
		int r = cron_next(&c, tz, t, &got);

		if (!tap_ok(r == 0 && got == want[i], "%s: tick %zu is %s",
			    why, i + 1, iso(want[i]))) {
			printf("#   got: %d %s (%" PRId64 ")\n", r, iso(got),
			       got);
			return;
		}
		t = got;
	}
}

/* Up to 8 ticks, as ISO UTC times, after ISO time `from`. */
static void utc_ticks(const char *expr, const char *from,
		      const char *const *want, const char *why)
{
	int64_t w[8];
	size_t n = 0;

	for (; want[n]; n++)
		w[n] = at(want[n]);
	ticks(expr, NULL, at(from), w, n, why);
}

#define UTC_TICKS(expr, from, why, ...) \
	utc_ticks(expr, from, (const char *const[]){ __VA_ARGS__, NULL }, why)

static void test_next_utc(void)
{
	struct cron c;
	int64_t t;

	UTC_TICKS("* * * * *", "2026-01-01T00:00", "every minute",
		  "2026-01-01T00:01", "2026-01-01T00:02", "2026-01-01T00:03");
	/* Strictly after: from the middle of a minute, the next one. */
	tap_ok(cron_parse("* * * * *", &c, err, sizeof(err)) == 0 &&
	       cron_next(&c, NULL, at("2026-01-01T00:00") + 59, &t) == 0 &&
	       t == at("2026-01-01T00:01"), "mid-minute: the next minute");
	tap_ok(cron_next(&c, "UTC", at("2026-01-01T00:00") - 1, &t) == 0 &&
	       t == at("2026-01-01T00:00"), "a second before: that minute");
	UTC_TICKS("*/15 * * * *", "2026-01-01T23:50", "steps",
		  "2026-01-02T00:00", "2026-01-02T00:15", "2026-01-02T00:30");
	UTC_TICKS("5,35 9-10 * * *", "2026-05-01T09:10", "lists and ranges",
		  "2026-05-01T09:35", "2026-05-01T10:05", "2026-05-01T10:35",
		  "2026-05-02T09:05");
	UTC_TICKS("0 0 * * *", "2026-12-31T12:00", "year rollover",
		  "2027-01-01T00:00", "2027-01-02T00:00");
	UTC_TICKS("59 23 31 12 *", "2026-06-01T00:00", "last minute of a year",
		  "2026-12-31T23:59", "2027-12-31T23:59");
	UTC_TICKS("0 12 31 * *", "2026-01-31T12:00", "31st: months that have one",
		  "2026-03-31T12:00", "2026-05-31T12:00", "2026-07-31T12:00",
		  "2026-08-31T12:00");
	UTC_TICKS("0 0 30 * *", "2026-01-30T00:00", "30th skips February",
		  "2026-03-30T00:00");
	UTC_TICKS("0 0 29 2 *", "2026-01-01T00:00", "Feb 29: leap years",
		  "2028-02-29T00:00", "2032-02-29T00:00");
	UTC_TICKS("0 0 29 2 *", "2096-03-01T00:00", "Feb 29: not in 2100",
		  "2104-02-29T00:00");
	UTC_TICKS("0 0 29 2 *", "1996-03-01T00:00", "Feb 29: 2000 is leap",
		  "2000-02-29T00:00");
	/*
	 * 2026-02-01 is a Sunday.  The ticks of the day rules were listed
	 * with python3's datetime, e.g. for "0 0 * /13 * fri" (no blank):
	 * [d for d in days from 2026-02-02 if d.day in (1, 14, 27) and
	 * d.weekday() == 4][:3].
	 */
	UTC_TICKS("0 0 * * mon", "2026-02-01T00:00", "Mondays",
		  "2026-02-02T00:00", "2026-02-09T00:00");
	UTC_TICKS("0 0 * * 7", "2026-02-01T00:00", "7 is Sunday",
		  "2026-02-08T00:00");
	UTC_TICKS("0 0 13 * fri", "2026-02-01T00:00", "13th or Friday",
		  "2026-02-06T00:00", "2026-02-13T00:00", "2026-02-20T00:00",
		  "2026-02-27T00:00", "2026-03-06T00:00", "2026-03-13T00:00");
	UTC_TICKS("0 0 */13 * fri", "2026-02-01T00:00",
		  "*/13 and Friday: both must match", "2026-02-27T00:00",
		  "2026-03-27T00:00", "2026-05-01T00:00");
	UTC_TICKS("0 0 1 * */3", "2026-02-01T00:00",
		  "1st and */3: both must match", "2026-03-01T00:00",
		  "2026-04-01T00:00", "2026-07-01T00:00");
	/* 2026-02-01 itself is not after its own midnight. */
	UTC_TICKS("0 0 1 * sun", "2026-01-31T23:59", "1st or Sunday",
		  "2026-02-01T00:00", "2026-02-08T00:00", "2026-02-15T00:00");
	UTC_TICKS("0 0 29 2 mon", "2026-02-01T00:00",
		  "Feb 29 or a Monday in February", "2026-02-02T00:00",
		  "2026-02-09T00:00", "2026-02-16T00:00", "2026-02-23T00:00",
		  "2027-02-01T00:00");
	/* Feb 29 on a Sunday: 2032, then 2060 (computed with python3's
	 * datetime: [y for y in range(2026, 2100) if calendar.isleap(y)
	 * and date(y, 2, 29).weekday() == 6]). */
	UTC_TICKS("0 0 29 2 */7", "2026-01-01T00:00",
		  "Feb 29 and a Sunday: decades apart", "2032-02-29T00:00",
		  "2060-02-29T00:00");
	UTC_TICKS("0 0 31 2 mon", "2026-01-01T00:00",
		  "Feb 31 or a Monday: the Mondays", "2026-02-02T00:00");
	UTC_TICKS("@yearly", "2026-01-01T00:00", "@yearly",
		  "2027-01-01T00:00", "2028-01-01T00:00");
	UTC_TICKS("30 4 * * *", "1969-12-31T00:00", "before 1970",
		  "1969-12-31T04:30", "1970-01-01T04:30");
	UTC_TICKS("0 0 1 1 *", "9998-06-01T00:00", "year 9999",
		  "9999-01-01T00:00", "10000-01-01T00:00");

	tap_ok(cron_next(&c, NULL, INT64_C(253402300800), &t) == -ERANGE,
	       "after year 9999: ERANGE");
	tap_ok(cron_next(&c, NULL, INT64_C(-62135596801), &t) == -ERANGE,
	       "before year 1: ERANGE");
	tap_ok(cron_next(&c, NULL, INT64_MAX, &t) == -ERANGE,
	       "INT64_MAX: ERANGE");

	/* A struct cron_parse() never gives: no tick, and no endless loop. */
	c = (struct cron){ .minutes = 1, .hours = 1, .days = 1u << 31,
			   .months = 1u << 2, .weekdays = 0x7f };
	t = 42;
	tap_ok(cron_next(&c, NULL, 0, &t) == -ENOENT && t == 42,
	       "Feb 31: ENOENT, ret untouched");
	tap_ok(cron_matches(&c, 2026, 1, 31, 0, 0) == false,
	       "cron_matches: month");
}

/* Instants by python3's zoneinfo (tzdata 2025b), see each comment. */
static void test_dst(void)
{
	/*
	 * Europe/Paris, 2026-03-29: 02:00 CET becomes 03:00 CEST at
	 * 01:00Z.  datetime(2026,3,29,3,0,tzinfo=ZoneInfo("Europe/Paris"))
	 * .timestamp() = 1774746000 (and `TZ=Europe/Paris date -d
	 * "2026-03-29 03:00" +%s`); 2026-03-30 02:30 = 1774830600;
	 * 2026-03-28T12:00Z = 1774699200.
	 */
	ticks("30 2 * * *", "Europe/Paris", 1774699200,
	      (const int64_t[]){ 1774746000, 1774830600 }, 2,
	      "Paris spring: 02:30 runs at the end of the gap");
	ticks("0 2 * * *", "Europe/Paris", 1774699200,
	      (const int64_t[]){ 1774746000 }, 1,
	      "Paris spring: 02:00 too");
	ticks("0 3 * * *", "Europe/Paris", 1774699200,
	      (const int64_t[]){ 1774746000 }, 1,
	      "Paris spring: 03:00 is the same instant");
	/* 01:45 CET = 1774745100, 03:15 CEST = 1774746900. */
	ticks("*/15 * * * *", "Europe/Paris", 1774745100 - 60,
	      (const int64_t[]){ 1774745100, 1774746000, 1774746900 }, 3,
	      "Paris spring: every 15 min, the gap's minutes fire once");
	/*
	 * Europe/Paris, 2026-10-25: 03:00 CEST becomes 02:00 CET at
	 * 01:00Z.  02:30 first (fold=0, CEST) = 1792888200, second (fold=1,
	 * CET) = 1792891800 (also `TZ=Europe/Paris date -d "2026-10-25 02:30
	 * CEST" +%s`); 2026-10-26 02:30 CET = 1792978200; 2026-10-24T12:00Z
	 * = 1792843200.
	 */
	ticks("30 2 * * *", "Europe/Paris", 1792843200,
	      (const int64_t[]){ 1792888200, 1792978200 }, 2,
	      "Paris autumn: 02:30 fires once, at its first occurrence");
	/* 02:45 CEST (first) = 1792889100, 03:00 CET = 1792893600. */
	ticks("*/15 * * * *", "Europe/Paris", 1792889100 - 60,
	      (const int64_t[]){ 1792889100, 1792893600 }, 2,
	      "Paris autumn: the repeated hour does not fire again");
	/* From inside the second pass (02:10 CET = 1792890600). */
	ticks("*/15 * * * *", "Europe/Paris", 1792890600,
	      (const int64_t[]){ 1792893600 }, 1,
	      "Paris autumn: from the second 02:10, next is 03:00 CET");
	ticks("30 2 * * *", "Europe/Paris", 1792888200,
	      (const int64_t[]){ 1792978200 }, 1,
	      "Paris autumn: from the first 02:30, the next day");

	/*
	 * America/New_York, 2026-03-08: 02:00 EST becomes 03:00 EDT at
	 * 07:00Z.  03:00 EDT = 1772953200 (python3 zoneinfo, and `TZ=
	 * America/New_York date -d "2026-03-08 03:00" +%s`); 2026-03-09
	 * 02:30 EDT = 1773037800; 01:59 EST = 1772953140; 03:01 EDT =
	 * 1772953260; 2026-03-07T12:00Z = 1772884800.
	 */
	ticks("30 2 * * *", "America/New_York", 1772884800,
	      (const int64_t[]){ 1772953200, 1773037800 }, 2,
	      "New York spring: 02:30 runs at the end of the gap");
	ticks("* * * * *", "America/New_York", 1772953140 - 60,
	      (const int64_t[]){ 1772953140, 1772953200, 1772953260 }, 3,
	      "New York spring: every minute, 01:59 EST then 03:00 EDT");
	/*
	 * America/New_York, 2026-11-01: 02:00 EDT becomes 01:00 EST at
	 * 06:00Z.  01:30 first (EDT) = 1793511000 (`TZ=America/New_York
	 * date -d "2026-11-01 01:30 EDT" +%s`), second (EST) = 1793514600;
	 * 2026-11-02 01:30 EST = 1793601000; 01:00 EDT = 1793509200;
	 * 02:00 EST = 1793516400; 00:59 EDT = 1793509140;
	 * 2026-10-31T12:00Z = 1793448000.
	 */
	ticks("30 1 * * *", "America/New_York", 1793448000,
	      (const int64_t[]){ 1793511000, 1793601000 }, 2,
	      "New York autumn: 01:30 fires once, at its first occurrence");
	ticks("0 * * * *", "America/New_York", 1793509140,
	      (const int64_t[]){ 1793509200, 1793516400 }, 2,
	      "New York autumn: hourly, 01:00 EDT then 02:00 EST");
	ticks("30 1 * * *", "America/New_York", 1793514600 - 1,
	      (const int64_t[]){ 1793601000 }, 1,
	      "New York autumn: from the second 01:30, the next day");

	/*
	 * Australia/Lord_Howe changes by 30 minutes.  2026-10-04: 02:00
	 * +10:30 becomes 02:30 +11; 02:30 = 1791041400; 2026-10-03T12:00Z
	 * = 1791028800.  2026-04-05: 02:00 +11 becomes 01:30 +10:30; 01:45
	 * first (+11) = 1775313900; 2026-04-04T12:00Z = 1775304000.
	 * (python3 zoneinfo.)
	 */
	ticks("15 2 * * *", "Australia/Lord_Howe", 1791028800,
	      (const int64_t[]){ 1791041400 }, 1,
	      "Lord Howe spring: 02:15 at the end of a 30-min gap");
	ticks("45 1 * * *", "Australia/Lord_Howe", 1775304000,
	      (const int64_t[]){ 1775313900, 1775313900 + 86400 + 1800 }, 2,
	      "Lord Howe autumn: 01:45 at its first occurrence");
	/*
	 * Past the transitions the TZif file lists (2037): the footer's
	 * rule.  2100-03-28 (the last Sunday of March) 03:00 CEST =
	 * 4109878800; 2100-03-27T12:00Z = 4109832000 (python3 zoneinfo).
	 */
	ticks("30 2 * * *", "Europe/Paris", 4109832000,
	      (const int64_t[]){ 4109878800 }, 1,
	      "Paris 2100: the footer rule");
}

static void test_tz_names(void)
{
	struct cron c;
	int64_t t;
	char long_name[CRON_TZ_NAME_MAX + 2];

	tap_ok(cron_tz_check(NULL) == 0, "NULL is UTC");
	tap_ok(cron_tz_check("UTC") == 0, "UTC");
	tap_ok(cron_tz_check("Europe/Paris") == 0, "Europe/Paris");
	tap_ok(cron_tz_check("Etc/GMT+3") == 0, "Etc/GMT+3");
	tap_ok(cron_tz_check("America/Argentina/Buenos_Aires") == 0,
	       "three components");
	tap_ok(cron_tz_check("Europe/Pariss") == -ENOENT, "unknown: ENOENT");
	tap_ok(cron_tz_check("Europe") == -ENOENT, "a directory: ENOENT");
	tap_ok(cron_tz_check("leapseconds") == -ENOENT,
	       "not a TZif file: ENOENT");
	tap_ok(cron_tz_check("right/Europe/Paris") == -ENOENT,
	       "leap seconds: ENOENT");
	tap_ok(cron_tz_check("localtime") == -ENOENT, "localtime: ENOENT");
	tap_ok(cron_tz_check("") == -EINVAL, "empty: EINVAL");
	tap_ok(cron_tz_check("../../etc/passwd") == -EINVAL, "..: EINVAL");
	tap_ok(cron_tz_check("/etc/localtime") == -EINVAL,
	       "leading /: EINVAL");
	tap_ok(cron_tz_check("Europe/") == -EINVAL, "trailing /: EINVAL");
	tap_ok(cron_tz_check("Europe//Paris") == -EINVAL, "//: EINVAL");
	tap_ok(cron_tz_check("Europe/Paris ") == -EINVAL, "blank: EINVAL");
	tap_ok(cron_tz_check("zone.tab") == -EINVAL, "dot: EINVAL");
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	tap_ok(cron_tz_check(long_name) == -EINVAL, "too long: EINVAL");
	long_name[CRON_TZ_NAME_MAX] = '\0';
	tap_ok(cron_tz_check(long_name) == -ENOENT,
	       "longest: looked up, ENOENT");
	tap_ok(cron_parse("* * * * *", &c, err, sizeof(err)) == 0 &&
	       cron_next(&c, "Mars/Olympus", 0, &t) == -ENOENT &&
	       cron_next(&c, "a..b", 0, &t) == -EINVAL,
	       "cron_next passes both on");
}

static void test_every(void)
{
	int64_t t = 42;

	tap_ok(cron_every_next(1000, 0, &t) == 0 && t == 1000, "1s after 0");
	tap_ok(cron_every_next(1000, 999, &t) == 0 && t == 1000, "999 ms");
	tap_ok(cron_every_next(1000, 1000, &t) == 0 && t == 2000,
	       "strictly after");
	tap_ok(cron_every_next(60000, 1764300000123, &t) == 0 &&
	       t == 1764300060000, "every minute, on the minute");
	tap_ok(cron_every_next(1000, -1, &t) == 0 && t == 0, "-1 ms: 0");
	tap_ok(cron_every_next(1000, -1000, &t) == 0 && t == 0, "-1000 ms: 0");
	tap_ok(cron_every_next(1000, -1001, &t) == 0 && t == -1000,
	       "-1001 ms: -1000");
	tap_ok(cron_every_next(7, INT64_MIN, &t) == 0 && t % 7 == 0 &&
	       (uint64_t)t - (uint64_t)INT64_MIN >= 1 &&
	       (uint64_t)t - (uint64_t)INT64_MIN <= 7, "INT64_MIN");
	t = 42;
	tap_ok(cron_every_next(1000, INT64_MAX - 5, &t) == -ERANGE && t == 42,
	       "past INT64_MAX: ERANGE, ret untouched");
	tap_ok(cron_every_next(0, 0, &t) == -EINVAL, "0: EINVAL");
	tap_ok(cron_every_next(UINT64_MAX, 0, &t) == -EINVAL,
	       "above INT64_MAX: EINVAL");
	tap_ok(cron_every_next(INT64_MAX, 0, &t) == 0 && t == INT64_MAX,
	       "INT64_MAX itself");
}

/*
 * Every zone of the database against the libc (which reads the same
 * files): offsets sampled every month or so from 1880 to 2200, and at each
 * change the libc shows between two samples, the exact second found by
 * bisection on both sides.  Single-threaded, so TZ may be switched here.
 */
static int zones_checked, zones_bad, zones_skipped;

static int libc_offset(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	localtime_r(&tt, &tm);
	return (int)tm.tm_gmtoff;
}

/*
 * Compares zone z with the libc's TZ=tz from `start` to 2200; returns the
 * number of differences (printing the first few).
 */
static int compare_with_libc(const struct cron_zone *z, const char *tz,
			     int64_t start)
{
	int64_t t, prev = 0, lo, hi, step = 29 * 86400 + 3607;
	int64_t end = INT64_C(7258118400);
	int off, prev_off = 0, bad = 0;

	setenv("TZ", tz, 1);
	tzset();
	for (t = start; t < end && bad < 3; t += step) {
		off = libc_offset(t);
		if (t > start && off != prev_off) {
			/* The libc's change in (prev, t]: hi is its first second. */
			lo = prev;
			hi = t;
			while (hi - lo > 1) {
				int64_t mid = lo + (hi - lo) / 2;

				if (libc_offset(mid) == prev_off)
					lo = mid;
				else
					hi = mid;
			}
			if (cron_zone_offset(z, hi - 1) != libc_offset(hi - 1) ||
			    cron_zone_offset(z, hi) != libc_offset(hi)) {
				printf("#   %s at %s: %d %d, libc %d %d\n", tz,
				       iso(hi), cron_zone_offset(z, hi - 1),
				       cron_zone_offset(z, hi),
				       libc_offset(hi - 1), libc_offset(hi));
				bad++;
			}
		}
		if (cron_zone_offset(z, t) != off) {
			printf("#   %s at %s: %d, libc %d\n", tz, iso(t),
			       cron_zone_offset(z, t), off);
			bad++;
		}
		prev = t;
		prev_off = off;
	}
	return bad;
}

static void check_zone(const char *name)
{
	struct cron_zone *z;
	int r = cron_zone_create(name, &z);

	if (r == -ENOENT) {
		zones_skipped++;	/* not a TZif file, or leap seconds */
		return;
	}
	if (r < 0) {
		tap_ok(false, "zone %s loads (%d)", name, r);
		return;
	}
	zones_checked++;
	zones_bad += compare_with_libc(z, name, INT64_C(-2840140800)) > 0;
	cron_zone_destroy(z);
}

static void walk(const char *dir, const char *prefix)
{
	char path[512], name[512];
	struct dirent *e;
	struct stat st;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || strchr(e->d_name, '.') ||
		    strcmp(e->d_name, "posix") == 0 ||
		    strcmp(e->d_name, "right") == 0 ||
		    strcmp(e->d_name, "localtime") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		snprintf(name, sizeof(name), "%s%s", prefix, e->d_name);
		if (lstat(path, &st) < 0 || S_ISLNK(st.st_mode))
			continue;	/* links name zones seen elsewhere */
		if (S_ISDIR(st.st_mode)) {
			strcat(name, "/");
			walk(path, name);
		} else if (S_ISREG(st.st_mode)) {
			check_zone(name);
		}
	}
	closedir(d);
}

static void test_all_zones(void)
{
	walk("/usr/share/zoneinfo", "");
	tap_ok(zones_checked > 300 && zones_bad == 0,
	       "%d zones agree with the libc (%d differ, %d not TZif)",
	       zones_checked, zones_bad, zones_skipped);
	unsetenv("TZ");
	tzset();
}

static void put32(unsigned char **p, uint32_t v)
{
	for (int i = 3; i >= 0; i--)
		*(*p)++ = (unsigned char)(v >> (8 * i));
}

/*
 * A TZif file of version `version` with n transitions at[] to types
 * idx[] of offsets offs[] (n_types of them), and footer (version 2+).
 */
static size_t make_tzif(unsigned char *b, char version, size_t n,
			const int64_t *at, const unsigned char *idx,
			size_t n_types, const int32_t *offs, const char *footer)
{
	unsigned char *p = b;

	for (int pass = 0; pass < (version == '1' ? 1 : 2); pass++) {
		int tsize = pass ? 8 : 4;

		memcpy(p, "TZif", 4);
		p[4] = version == '1' ? 0 : (unsigned char)version;
		memset(p + 5, 0, 15);
		p += 20;
		put32(&p, 0);			/* isut */
		put32(&p, 0);			/* isstd */
		put32(&p, 0);			/* leap */
		put32(&p, (uint32_t)n);		/* time */
		put32(&p, (uint32_t)n_types);	/* type */
		put32(&p, 4);			/* chars */
		for (size_t i = 0; i < n; i++) {
			if (tsize == 8)
				put32(&p, (uint32_t)((uint64_t)at[i] >> 32));
			put32(&p, (uint32_t)at[i]);
		}
		if (n > 0)
			memcpy(p, idx, n);
		p += n;
		for (size_t i = 0; i < n_types; i++) {
			put32(&p, (uint32_t)offs[i]);
			*p++ = 0;
			*p++ = 0;
		}
		memcpy(p, "ABC", 4);
		p += 4;
	}
	if (version != '1')
		p += sprintf((char *)p, "\n%s\n", footer);
	return (size_t)(p - b);
}

/* A zone of only a footer, against the libc's reading of the string. */
static void footer_like_libc(const char *footer, int32_t std_off)
{
	unsigned char b[512];
	struct cron_zone *z;
	size_t n = make_tzif(b, '2', 0, NULL, NULL, 1, &std_off, footer);

	if (!tap_ok(cron_zone_from_tzif(b, n, &z) == 0, "footer %s loads",
		    footer))
		return;
	/* The libc applies a POSIX rule from 1970 only (compute_change()). */
	tap_ok(compare_with_libc(z, footer, 0) == 0, "  offsets as the libc's");
	cron_zone_destroy(z);
}

static void test_footers(void)
{
	static const int64_t times[] = { 0, 1000000 };
	static const unsigned char idx[] = { 1, 0 };
	static const int32_t offs[] = { 3600, 7200 };
	unsigned char b[512];
	struct cron_zone *z;
	size_t n;

	/* Rule forms tzdata's footers do not use today, and some it does. */
	footer_like_libc("AAA3BBB,J60/2,J300/2", -3 * 3600);
	footer_like_libc("AAA3BBB,59/2,300/2", -3 * 3600);
	footer_like_libc("AAA-10BBB,200/3,60/1:30", 10 * 3600);
	footer_like_libc("<-02>2<-01>,M3.5.0/-1,M10.5.0/0", -2 * 3600);
	footer_like_libc("AAA-2BBB,M3.4.4/50,M10.4.4/50", 2 * 3600);
	footer_like_libc("AAA3BBB2:30,M4.1.0,M9.5.0/1:15:30", -3 * 3600);
	footer_like_libc("AAA-5:45", 5 * 3600 + 45 * 60);
	footer_like_libc("AAA5BBB4,M3.2.0,M11.1.0", -5 * 3600);
	footer_like_libc("<+0330>-3:30<+0430>,J79/24,J263/24", 12600);

	/*
	 * Summer time without a rule: the US rule, as tzcode's (the libc
	 * takes the rules of its posixrules file, New York's history).
	 */
	n = make_tzif(b, '2', 0, NULL, NULL, 1, &offs[0], "AAA5BBB");
	tap_ok(cron_zone_from_tzif(b, n, &z) == 0 &&
	       cron_zone_offset(z, 1772953200 - 1) == -5 * 3600 &&
	       cron_zone_offset(z, 1772953200) == -4 * 3600 &&
	       cron_zone_offset(z, 1793516400 - 3601) == -4 * 3600 &&
	       cron_zone_offset(z, 1793516400 - 3600) == -5 * 3600,
	       "AAA5BBB: New York's 2026 changes");
	cron_zone_destroy(z);

	/* RFC 8536 3.3.1: summer time all year. */
	n = make_tzif(b, '3', 0, NULL, NULL, 1, &offs[0], "AAA5BBB,0/0,J365/25");
	tap_ok(cron_zone_from_tzif(b, n, &z) == 0 &&
	       cron_zone_offset(z, at("2026-01-01T00:00")) == -4 * 3600 &&
	       cron_zone_offset(z, at("2026-12-31T23:59")) == -4 * 3600 &&
	       cron_zone_offset(z, at("2027-01-01T05:00")) == -4 * 3600 &&
	       cron_zone_offset(z, at("2026-07-01T00:00")) == -4 * 3600,
	       "EST5EDT,0/0,J365/25: EDT all year");
	cron_zone_destroy(z);

	/* Version 1: 32-bit times, no footer: the last offset stays. */
	n = make_tzif(b, '1', 2, times, idx, 2, offs, NULL);
	tap_ok(cron_zone_from_tzif(b, n, &z) == 0 &&
	       cron_zone_offset(z, -1) == 3600 &&
	       cron_zone_offset(z, 0) == 7200 &&
	       cron_zone_offset(z, 999999) == 7200 &&
	       cron_zone_offset(z, 1000000) == 3600 &&
	       cron_zone_offset(z, INT64_C(4000000000)) == 3600,
	       "version 1: type 0 before, the table, then the last offset");
	cron_zone_destroy(z);

	n = make_tzif(b, '2', 2, times, idx, 2, offs, "");
	tap_ok(cron_zone_from_tzif(b, n, &z) == 0 &&
	       cron_zone_offset(z, INT64_C(4000000000)) == 3600,
	       "empty footer: the last offset stays");
	cron_zone_destroy(z);

	tap_ok(cron_zone_from_tzif(b, n - 1, &z) == -ENOENT,
	       "footer cut: ENOENT");
	n = make_tzif(b, '2', 2, times, idx, 2, offs, "AAA5BBB,M13.1.0,M1.1.0");
	tap_ok(cron_zone_from_tzif(b, n, &z) == -ENOENT, "bad rule: ENOENT");
	n = make_tzif(b, '2', 2, (const int64_t[]){ 5, 5 }, idx, 2, offs, "");
	tap_ok(cron_zone_from_tzif(b, n, &z) == -ENOENT,
	       "times not ascending: ENOENT");
	n = make_tzif(b, '2', 2, times, (const unsigned char[]){ 0, 2 }, 2,
		      offs, "");
	tap_ok(cron_zone_from_tzif(b, n, &z) == -ENOENT,
	       "type index out of range: ENOENT");
	n = make_tzif(b, '2', 1, times, idx, 2,
		      (const int32_t[]){ 0, 26 * 3600 }, "");
	tap_ok(cron_zone_from_tzif(b, n, &z) == -ENOENT,
	       "offset of 26 h: ENOENT");
	n = make_tzif(b, '2', 0, NULL, NULL, 1, offs, "AAA");
	tap_ok(cron_zone_from_tzif(b, n, &z) == -ENOENT,
	       "footer without offset: ENOENT");
	tap_ok(cron_zone_from_tzif("TZif", 4, &z) == -ENOENT &&
	       cron_zone_from_tzif("", 0, &z) == -ENOENT, "short: ENOENT");
	unsetenv("TZ");
	tzset();
}

int main(void)
{
	test_parse();
	test_next_utc();
	test_dst();
	test_tz_names();
	test_every();
	test_footers();
	test_all_zones();
	return tap_done();
}
