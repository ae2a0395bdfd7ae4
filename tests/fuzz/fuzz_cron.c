/*
 * libFuzzer harness for cron expressions (src/cron.c) and the zones they
 * are evaluated in (src/cron_zone.c).
 *
 * The input is an expression.  Besides not crashing (ASan, UBSan):
 *  - cron_parse() returns 0 or -EINVAL; a message names a field ("field
 *    N (...): ") or the field count or the shorthand, in printable ASCII;
 *  - for an expression it accepts, in UTC, Europe/Paris, America/New_York
 *    and Australia/Lord_Howe (30-minute DST), from an instant near a DST
 *    change of each and from one drawn from the input (1900..2200),
 *    cron_next_in() returns a tick (it terminates: libFuzzer's -timeout
 *    catches a loop), the tick is after the start, and, by an independent
 *    matcher of the expression's text and the libc's localtime_r() (the
 *    harness is single-threaded, so switching TZ is fine here), its
 *    wall-clock time matches and is not the second pass of a repeated
 *    hour, or it is the end of a DST gap that skipped a matching minute;
 *    and no whole local minute near either end of the interval is an
 *    earlier tick.
 * Every input also checks cron_every_next() with values drawn from it.
 *
 * An input that starts with "TZif" is a zone file instead (the seeds hold
 * real ones): cron_zone_from_tzif() returns 0 or -ENOENT, and a zone it
 * accepts has offsets within RFC 8536's bounds, instants of local times
 * within them too, and an every-minute schedule that ticks within two
 * days of any start.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cron.h"
#include "fuzz.h"

#define EXPR_MAX 256
/* Whole local minutes looked at after the start and before the tick. */
#define SCAN_MINUTES 30

static const char *const zone_names[] = {
	"UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe",
};
#define N_ZONES (sizeof(zone_names) / sizeof(zone_names[0]))
static struct cron_zone *zones[N_ZONES];

/* Starts next to DST changes of 2026 (seconds before and inside them). */
static const int64_t starts[] = {
	1774745970,	/* Paris, 30 s before the spring gap */
	1792889000,	/* Paris, in the first pass of the repeated hour */
	1793514000,	/* New York, in the second pass of 01:xx */
	1791040000,	/* Lord Howe, just before its 30-minute gap */
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	for (size_t i = 0; i < N_ZONES; i++)
		CHECK(cron_zone_create(zone_names[i], &zones[i]) == 0,
		      "zone %s", zone_names[i]);
	return 0;
}

/* ---- An independent matcher, straight from the text ---- */

struct text_cron {
	char field[5][EXPR_MAX];
};

static const char *const shorthand_exprs[][2] = {
	{ "@yearly", "0 0 1 1 *" }, { "@annually", "0 0 1 1 *" },
	{ "@monthly", "0 0 1 * *" }, { "@weekly", "0 0 * * 0" },
	{ "@daily", "0 0 * * *" }, { "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" },
};

static bool split_text(const char *expr, struct text_cron *t)
{
	char copy[EXPR_MAX + 1], *save = NULL, *tok;
	int n = 0;

	snprintf(copy, sizeof(copy), "%s", expr);
	for (tok = strtok_r(copy, " \t", &save); tok;
	     tok = strtok_r(NULL, " \t", &save)) {
		if (n == 0 && tok[0] == '@') {
			for (size_t i = 0; i < 7; i++)
				if (strcasecmp(tok, shorthand_exprs[i][0]) == 0)
					return split_text(shorthand_exprs[i][1],
							  t);
			return false;
		}
		if (n == 5)
			return false;
		snprintf(t->field[n++], EXPR_MAX, "%s", tok);
	}
	return n == 5;
}

static long value_of(const char *s, char **end, int field)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	static const char days[] = "sunmontuewedthufrisat";

	if (isdigit((unsigned char)*s))
		return strtol(s, end, 10);
	for (int i = 0; field == 3 && i < 12; i++)
		if (strncasecmp(s, months + 3 * i, 3) == 0) {
			*end = (char *)s + 3;
			return i + 1;
		}
	for (int i = 0; field == 4 && i < 7; i++)
		if (strncasecmp(s, days + 3 * i, 3) == 0) {
			*end = (char *)s + 3;
			return i;
		}
	CHECK(false, "accepted field %d has '%s'", field, s);
	return -1;
}

/* Whether value v is in field text f (field number k, 0-based). */
static bool field_has(const char *f, int k, int v)
{
	static const int lo_of[] = { 0, 0, 1, 1, 0 }, hi_of[] = { 59, 23, 31,
								12, 7 };
	char copy[EXPR_MAX], *save = NULL, *item;

	snprintf(copy, sizeof(copy), "%s", f);
	for (item = strtok_r(copy, ",", &save); item;
	     item = strtok_r(NULL, ",", &save)) {
		long lo, hi, step = 1;
		char *p = item;

		if (*p == '*') {
			lo = lo_of[k];
			hi = hi_of[k];
			p++;
		} else {
			lo = hi = value_of(p, &p, k);
			if (*p == '-')
				hi = value_of(p + 1, &p, k);
			else if (*p == '/')
				hi = hi_of[k];
		}
		if (*p == '/')
			step = strtol(p + 1, &p, 10);
		CHECK(*p == '\0' && step > 0, "accepted item '%s'", item);
		if (k == 4 && hi == 0 && lo > 0)
			hi = 7;
		for (long x = lo; x <= hi; x += step)
			if (x == v || (k == 4 && v == 0 && x == 7))
				return true;
	}
	return false;
}

static bool text_matches(const struct text_cron *t, const struct tm *tm)
{
	bool dom = field_has(t->field[2], 2, tm->tm_mday);
	bool dow = field_has(t->field[4], 4, tm->tm_wday);
	bool day = t->field[2][0] != '*' && t->field[4][0] != '*' ?
		   dom || dow : dom && dow;

	return day && field_has(t->field[0], 0, tm->tm_min) &&
	       field_has(t->field[1], 1, tm->tm_hour) &&
	       field_has(t->field[3], 3, tm->tm_mon + 1);
}

/* ---- Checks of a tick against the libc ---- */

static void local_of(int64_t t, struct tm *tm)
{
	time_t tt = (time_t)t;

	CHECK(localtime_r(&tt, tm) != NULL, "localtime_r(%lld)", (long long)t);
}

static bool same_wall(const struct tm *a, const struct tm *b)
{
	return a->tm_year == b->tm_year && a->tm_yday == b->tm_yday &&
	       a->tm_hour == b->tm_hour && a->tm_min == b->tm_min &&
	       a->tm_sec == b->tm_sec;
}

/*
 * u's wall-clock time occurred before, under an offset in effect a little
 * earlier that was larger than u's (any fold: an hour, half an hour, or
 * the 9 min 21 s of Paris in 1911).
 */
static bool second_pass(int64_t u, const struct tm *tm)
{
	static const int64_t back[] = { 1, 600, 1800, 3600, 7200, 90000 };
	struct tm e;

	for (size_t i = 0; i < sizeof(back) / sizeof(back[0]); i++) {
		local_of(u - back[i], &e);
		if (e.tm_gmtoff <= tm->tm_gmtoff)
			continue;
		local_of(u - (e.tm_gmtoff - tm->tm_gmtoff), &e);
		if (same_wall(&e, tm))
			return true;
	}
	return false;
}

/* A whole local minute that is a tick of t by the harness's reading. */
static bool is_plain_tick(const struct text_cron *t, int64_t u)
{
	struct tm tm;

	local_of(u, &tm);
	return tm.tm_sec == 0 && text_matches(t, &tm) && !second_pass(u, &tm);
}

/* t is a forward jump that skipped a minute of the expression. */
static bool is_gap_tick(const struct text_cron *t, int64_t u)
{
	struct tm before, after, m;
	int64_t from, to, l;

	local_of(u - 1, &before);
	local_of(u, &after);
	if (before.tm_gmtoff >= after.tm_gmtoff)
		return false;
	/* Skipped local times: (u - 1 + off_before, u + off_after). */
	from = u - 1 + before.tm_gmtoff;
	to = u + after.tm_gmtoff;
	for (l = from + 1 + ((60 - (from + 1) % 60) % 60); l < to; l += 60) {
		time_t lt = (time_t)l;

		CHECK(gmtime_r(&lt, &m) != NULL, "gmtime_r");
		if (text_matches(t, &m))
			return true;
	}
	return false;
}

static void check_next(const struct cron *c, const struct text_cron *t,
		       size_t zi, int64_t after)
{
	int64_t tick, u;
	struct tm tm;
	int r, k;

	r = cron_next_in(c, zones[zi], after, &tick);
	CHECK(r == 0, "no tick (%d) in %s after %lld", r, zone_names[zi],
	      (long long)after);
	CHECK(tick > after, "tick %lld not after %lld", (long long)tick,
	      (long long)after);
	local_of(tick, &tm);
	if (is_plain_tick(t, tick)) {
		CHECK(cron_matches(c, tm.tm_year + 1900LL, tm.tm_mon + 1,
				   tm.tm_mday, tm.tm_hour, tm.tm_min),
		      "cron_matches disagrees");
	} else {
		CHECK(is_gap_tick(t, tick), "tick %lld (%04d-%02d-%02d "
		      "%02d:%02d:%02d local) in %s does not match",
		      (long long)tick, tm.tm_year + 1900, tm.tm_mon + 1,
		      tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		      zone_names[zi]);
	}
	/* No earlier tick just after the start or just before the tick. */
	for (k = 0, u = after + 1; k < SCAN_MINUTES && u < tick; k++) {
		local_of(u, &tm);
		u += (60 - tm.tm_sec) % 60;	/* the next whole local minute */
		if (u >= tick)
			break;
		CHECK(!is_plain_tick(t, u), "%lld is an earlier tick than %lld "
		      "in %s", (long long)u, (long long)tick, zone_names[zi]);
		u += 60;
	}
	for (k = 0, u = tick - 1; k < SCAN_MINUTES && u > after; k++) {
		local_of(u, &tm);
		u -= tm.tm_sec;		/* the whole local minute at or before */
		if (u <= after)
			break;
		CHECK(!is_plain_tick(t, u), "%lld is an earlier tick than %lld "
		      "in %s", (long long)u, (long long)tick, zone_names[zi]);
		u -= 1;
	}
}

static void check_message(const char *err)
{
	CHECK((strncmp(err, "field ", 6) == 0 && err[6] >= '1' &&
	       err[6] <= '5' && strncmp(err + 7, " (", 2) == 0) ||
	      strncmp(err, "expected 5 fields ", 18) == 0 ||
	      strncmp(err, "unknown shorthand '", 19) == 0,
	      "message '%s'", err);
	for (size_t i = 0; err[i]; i++)
		CHECK(err[i] >= 0x20 && err[i] < 0x7f, "byte 0x%02x in '%s'",
		      (unsigned char)err[i], err);
}

static uint64_t hash(const uint8_t *data, size_t size)
{
	uint64_t h = 1469598103934665603u;	/* FNV-1a */

	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 1099511628211u;
	return h;
}

static void check_every(uint64_t h)
{
	uint64_t every = (h >> 20) % (UINT64_C(366) * 86400 * 1000) + 1;
	int64_t after = (int64_t)(h % (UINT64_C(1) << 46)) - (INT64_C(1) << 45);
	int64_t t;

	CHECK(cron_every_next(every, after, &t) == 0, "every %llu",
	      (unsigned long long)every);
	CHECK(t > after && t % (int64_t)every == 0 &&
	      t - (int64_t)every <= after, "every %llu after %lld: %lld",
	      (unsigned long long)every, (long long)after, (long long)t);
}

/* Whatever the data, times stay within the offsets' bounds. */
static void check_tzif(const uint8_t *data, size_t size, uint64_t h)
{
	const int64_t bound = 93600;	/* RFC 8536: -25 h..+26 h */
	struct cron_zone *z;
	struct cron c;
	int64_t t, tick, local;
	int32_t off;
	int r;

	r = cron_zone_from_tzif(data, size, &z);
	CHECK(r == 0 || r == -ENOENT, "returned %d", r);
	if (r != 0)
		return;
	CHECK(cron_parse("* * * * *", &c, NULL, 0) == 0, "every minute");
	for (int i = 0; i < 8; i++, h = h * 6364136223846793005u + 1) {
		/* 1800..2300, and a wider spread for the offsets. */
		t = -5364662400 + (int64_t)(h % UINT64_C(15778800000));
		off = cron_zone_offset(z, t);
		CHECK(off > -bound && off < bound, "offset %d", off);
		off = cron_zone_offset(z, (int64_t)(h >> 1) - (INT64_C(1) << 62));
		CHECK(off > -bound && off < bound, "offset %d", off);
		local = cron_zone_instant(z, t);
		CHECK(local >= t - bound && local <= t + bound,
		      "instant %lld of %lld", (long long)local, (long long)t);
		CHECK(cron_next_in(&c, z, t, &tick) == 0 && tick > t &&
		      tick <= t + 2 * bound + 120, "tick %lld after %lld",
		      (long long)tick, (long long)t);
	}
	cron_zone_destroy(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char expr[EXPR_MAX + 1], err[256];
	struct text_cron t;
	struct cron c;
	uint64_t h = hash(data, size);
	/* 1900..2200, and the DST changes of 2026 */
	int64_t drawn = -2208988800 + (int64_t)(h % UINT64_C(9467280000));
	int r;

	check_every(h);
	if (size >= 4 && memcmp(data, "TZif", 4) == 0) {
		check_tzif(data, size, h);
		return 0;
	}
	if (size > EXPR_MAX)
		return 0;
	memcpy(expr, data, size);
	expr[size] = '\0';
	r = cron_parse(expr, &c, err, sizeof(err));
	if (r != 0) {
		CHECK(r == -EINVAL, "returned %d", r);
		check_message(err);
		return 0;
	}
	CHECK(split_text(expr, &t), "accepted '%s' does not split", expr);
	for (size_t zi = 0; zi < N_ZONES; zi++) {
		setenv("TZ", zone_names[zi], 1);
		tzset();
		check_next(&c, &t, zi, drawn);
		check_next(&c, &t, zi, starts[zi]);
	}
	return 0;
}
