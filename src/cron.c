/*
 * Cron expressions and every= ticks: see include/cron.h.  Time zones are
 * in src/cron_zone.c.
 */
#include "cron.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cron_internal.h"
#include "show.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Bytes of the expression shown in a message: enough to see the mistake. */
#define SHOW_MAX 24

enum field { F_MINUTE, F_HOUR, F_DOM, F_MONTH, F_DOW, F_N };

static const char *const month_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun",
	"jul", "aug", "sep", "oct", "nov", "dec",
};
static const char *const day_names[] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat",
};

struct field_def {
	const char *name;
	int min, max;
	const char *const *names;	/* names[i] is min + i */
	size_t n_names;
	const char *what;		/* what a bad word should have been */
};

static const struct field_def fields[F_N] = {
	{ "minute", 0, 59, NULL, 0, "a number" },
	{ "hour", 0, 23, NULL, 0, "a number" },
	{ "day of month", 1, 31, NULL, 0, "a number" },
	{ "month", 1, 12, month_names, ARRAY_SIZE(month_names),
	  "a number or a month name (jan..dec)" },
	/* 7 is Sunday again, as in every cron since Vixie's. */
	{ "day of week", 0, 7, day_names, ARRAY_SIZE(day_names),
	  "a number or a day name (sun..sat)" },
};

static const struct {
	const char *name;
	const char *expr;
} shorthands[] = {
	{ "@yearly", "0 0 1 1 *" },
	{ "@annually", "0 0 1 1 *" },
	{ "@monthly", "0 0 1 * *" },
	{ "@weekly", "0 0 * * 0" },
	{ "@daily", "0 0 * * *" },
	{ "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" },
};

struct parser {
	int field;		/* enum field, or -1 outside the fields */
	char *err;
	size_t errlen;
};

/* Shows s[0..n) in a message (show.h), at most SHOW_MAX bytes of it. */
static void show(char out[SHOW_SIZE(SHOW_MAX)], const char *s, size_t n)
{
	show_text(out, SHOW_MAX, s, n);
}

__attribute__((format(printf, 2, 3)))
static int fail(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (p->errlen == 0)
		return -EINVAL;
	if (p->field >= 0)
		n = snprintf(p->err, p->errlen, "field %d (%s): ",
			     p->field + 1, fields[p->field].name);
	if (n >= 0 && (size_t)n < p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/*
 * Reads a value (or, when `step`, a step) of field f at s[*i..n), where
 * s[0..n) is one item of the list: digits, or a name of the field.
 */
static int parse_value(struct parser *p, const struct field_def *f,
		       const char *s, size_t n, size_t *i, bool step, int *ret)
{
	char shown[4 * SHOW_MAX + 4];
	size_t start = *i, j = *i;
	long long v = 0;

	if (j < n && is_digit(s[j])) {
		for (; j < n && is_digit(s[j]); j++)
			if (v < 1000000)	/* far past any bound */
				v = v * 10 + (s[j] - '0');
		*i = j;
		show(shown, s + start, j - start);
		if (step) {
			int span = f == &fields[F_DOW] ? 7 : f->max - f->min + 1;

			if (v < 1 || v > span)
				return fail(p, "step %s is out of range 1-%d",
					    shown, span);
		} else if (v < f->min || v > f->max) {
			return fail(p, "%s is out of range %d-%d", shown,
				    f->min, f->max);
		}
		*ret = (int)v;
		return 0;
	}
	for (; j < n && (is_alpha(s[j]) || is_digit(s[j])); j++)
		;
	show(shown, s + start, j - start);
	if (j == start && j < n && s[j] != '-' && s[j] != '/') {
		char c[4 * SHOW_MAX + 4];

		show(c, s + j, 1);
		show(shown, s, n);
		return fail(p, "unexpected '%s' in '%s'", c, shown);
	}
	if (j == start) {
		show(shown, s, n);
		return fail(p, "%s missing in '%s'",
			    step ? "a step is" : "a value is", shown);
	}
	if (!step && f->names && j - start == 3) {
		for (size_t k = 0; k < f->n_names; k++) {
			const char *name = f->names[k];

			if (lower(s[start]) == name[0] &&
			    lower(s[start + 1]) == name[1] &&
			    lower(s[start + 2]) == name[2]) {
				*i = j;
				*ret = f->min + (int)k;
				return 0;
			}
		}
	}
	return fail(p, "'%s' is not %s", shown, step ? "a number" : f->what);
}

/* One item of a list: *, a, a-b, with an optional /step. */
static int parse_item(struct parser *p, const struct field_def *f,
		      const char *s, size_t n, uint64_t *bits)
{
	char shown[4 * SHOW_MAX + 4];
	size_t i = 0;
	int lo, hi, step = 1, v, r;

	if (n == 0)
		return fail(p, "empty item in the list");
	if (s[0] == '*') {
		lo = f->min;
		hi = f->max;
		i = 1;
	} else {
		r = parse_value(p, f, s, n, &i, false, &lo);
		if (r < 0)
			return r;
		hi = lo;
		if (i < n && s[i] == '-') {
			i++;
			r = parse_value(p, f, s, n, &i, false, &hi);
			if (r < 0)
				return r;
			/* fri-sun: a range may end on Sunday as 0. */
			if (f == &fields[F_DOW] && hi == 0 && lo > 0)
				hi = 7;
			if (lo > hi) {
				show(shown, s, i);
				return fail(p, "range '%s' is backwards", shown);
			}
		} else if (i < n && s[i] == '/') {
			hi = f->max;	/* a/n is a-max/n (Vixie) */
		}
	}
	if (i < n && s[i] == '/') {
		i++;
		r = parse_value(p, f, s, n, &i, true, &step);
		if (r < 0)
			return r;
	}
	if (i < n) {
		char c[4 * SHOW_MAX + 4], whole[4 * SHOW_MAX + 4];

		show(c, s + i, 1);
		show(whole, s, n);
		return fail(p, "unexpected '%s' in '%s'", c, whole);
	}
	for (v = lo; v <= hi; v += step)
		*bits |= UINT64_C(1) << v;
	return 0;
}

static int parse_field(struct parser *p, enum field k, const char *s,
		       size_t n, uint64_t *ret_bits)
{
	const struct field_def *f = &fields[k];
	uint64_t bits = 0;
	size_t i = 0, j;
	int r;

	p->field = (int)k;
	for (;;) {
		for (j = i; j < n && s[j] != ','; j++)
			;
		r = parse_item(p, f, s + i, j - i, &bits);
		if (r < 0)
			return r;
		if (j == n)
			break;
		i = j + 1;
	}
	if (k == F_DOW && (bits >> 7 & 1))
		bits = (bits | 1) & 0x7f;
	*ret_bits = bits;
	return 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int days_in_month(int64_t y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return days[m - 1];
}

/*
 * Refuses a day of month that none of the months has.  With the "either"
 * rule a day of the week matches in every month; otherwise every other
 * (day, month) pair occurs on each day of the week within 400 years (the
 * Gregorian cycle), so this is the only way never to match.
 */
static int check_possible(struct parser *p, const struct cron *c)
{
	int m, d, first = 0;

	if (c->day_or)
		return 0;
	for (d = 1; d <= 31; d++) {
		if (!(c->days >> d & 1))
			continue;
		if (!first)
			first = d;
		for (m = 1; m <= 12; m++)
			if ((c->months >> m & 1) && d <= days_in_month(2000, m))
				return 0;
	}
	p->field = F_DOM;
	return fail(p, "day %d never occurs in the months of field 4 (month)",
		    first);
}

static int parse_shorthand(struct parser *p, const char *s, size_t n,
			   struct cron *ret)
{
	char shown[4 * SHOW_MAX + 4];

	for (size_t k = 0; k < ARRAY_SIZE(shorthands); k++) {
		const char *name = shorthands[k].name;
		size_t i;

		if (strlen(name) != n)
			continue;
		for (i = 0; i < n && lower(s[i]) == name[i]; i++)
			;
		if (i == n)
			return cron_parse(shorthands[k].expr, ret, p->err,
					  p->errlen);
	}
	show(shown, s, n);
	return fail(p, "unknown shorthand '%s' (expected @yearly, @annually, "
		    "@monthly, @weekly, @daily, @midnight or @hourly)", shown);
}

int cron_parse(const char *expr, struct cron *ret, char *err, size_t errlen)
{
	struct parser p = { .field = -1, .err = err, .errlen = errlen };
	const char *start[F_N];
	size_t len[F_N], i = 0, n = strlen(expr), n_fields = 0;
	uint64_t bits[F_N];
	struct cron c;
	int k, r;

	if (errlen > 0)
		err[0] = '\0';
	for (;;) {
		size_t j;

		while (i < n && is_blank(expr[i]))
			i++;
		if (i == n)
			break;
		for (j = i; j < n && !is_blank(expr[j]); j++)
			;
		if (n_fields < F_N) {
			start[n_fields] = expr + i;
			len[n_fields] = j - i;
		}
		n_fields++;
		i = j;
	}
	if (n_fields == 1 && start[0][0] == '@')
		return parse_shorthand(&p, start[0], len[0], ret);
	if (n_fields != F_N)
		return fail(&p, "expected 5 fields (minute hour day-of-month "
			    "month day-of-week), got %zu", n_fields);
	for (k = 0; k < F_N; k++) {
		r = parse_field(&p, (enum field)k, start[k], len[k], &bits[k]);
		if (r < 0)
			return r;
	}
	c = (struct cron){
		.minutes = bits[F_MINUTE],
		.hours = (uint32_t)bits[F_HOUR],
		.days = (uint32_t)bits[F_DOM],
		.months = (uint16_t)bits[F_MONTH],
		.weekdays = (uint8_t)bits[F_DOW],
		.day_or = start[F_DOM][0] != '*' && start[F_DOW][0] != '*',
	};
	r = check_possible(&p, &c);
	if (r < 0)
		return r;
	*ret = c;
	return 0;
}

/* 0 (Sunday)..6 of a day counted from 1970-01-01, a Thursday. */
static int weekday(int64_t days)
{
	return (int)(((days + 4) % 7 + 7) % 7);
}

static bool day_matches(const struct cron *c, int64_t days, int d)
{
	bool dom = c->days >> d & 1;
	bool dow = c->weekdays >> weekday(days) & 1;

	return c->day_or ? dom || dow : dom && dow;
}

bool cron_matches(const struct cron *c, int64_t year, int month, int day,
		  int hour, int minute)
{
	return (c->months >> month & 1) && (c->hours >> hour & 1) &&
	       (c->minutes >> minute & 1) &&
	       day_matches(c, cron_days_from_civil(year, month, day), day);
}

/* The smallest v in [from, max] whose bit is set, or -1. */
static int next_bit(uint64_t set, int from, int max)
{
	for (int v = from; v <= max; v++)
		if (set >> v & 1)
			return v;
	return -1;
}

/* Years 1..9999 in Unix seconds. */
#define TIME_MIN_S INT64_C(-62135596800)
#define TIME_MAX_S INT64_C(253402300799)
/* See check_possible(): a match is never further away than this. */
#define SEARCH_YEARS 401

int cron_next_in(const struct cron *c, const struct cron_zone *z,
		 int64_t after_s, int64_t *ret_s)
{
	int64_t local, y, y_max, days, t;
	int mo, d, h, mi, b;

	if (after_s < TIME_MIN_S || after_s > TIME_MAX_S)
		return -ERANGE;
	/*
	 * Local minutes are tried in order from the one holding after_s:
	 * the instant each stands for never decreases as local time grows
	 * (cron_zone_instant()), and none before it can stand for an
	 * instant past after_s, so the first whose instant is past after_s
	 * is the answer.  Only minutes of a repeated hour, whose instant is
	 * their first occurrence, are passed over.
	 */
	local = after_s + (z ? cron_zone_offset(z, after_s) : 0);
	local -= ((local % 60) + 60) % 60;
	cron_civil_from_days(local / 86400 - (local % 86400 < 0), &y, &mo, &d);
	days = ((local % 86400) + 86400) % 86400;
	h = (int)(days / 3600);
	mi = (int)(days % 3600 / 60);
	y_max = y + SEARCH_YEARS;
	while (y <= y_max) {
		b = next_bit(c->months, mo, 12);
		if (b < 0) {
			y++;
			mo = 1, d = 1, h = 0, mi = 0;
			continue;
		}
		if (b != mo)
			mo = b, d = 1, h = 0, mi = 0;
		if (d > days_in_month(y, mo)) {
			mo++;
			d = 1, h = 0, mi = 0;
			continue;
		}
		days = cron_days_from_civil(y, mo, d);
		if (!day_matches(c, days, d)) {
			d++;
			h = 0, mi = 0;
			continue;
		}
		b = next_bit(c->hours, h, 23);
		if (b < 0) {
			d++;
			h = 0, mi = 0;
			continue;
		}
		if (b != h)
			h = b, mi = 0;
		b = next_bit(c->minutes, mi, 59);
		if (b < 0) {
			h++;
			mi = 0;
			continue;
		}
		mi = b;
		local = days * 86400 + h * 3600 + mi * 60;
		t = z ? cron_zone_instant(z, local) : local;
		if (t > after_s) {
			*ret_s = t;
			return 0;
		}
		mi++;
	}
	return -ENOENT;
}

int cron_next(const struct cron *c, const char *tz, int64_t after_s,
	      int64_t *ret_s)
{
	struct cron_zone *z = NULL;
	int r;

	if (tz && strcmp(tz, "UTC") != 0) {
		r = cron_zone_create(tz, &z);
		if (r < 0)
			return r;
	}
	r = cron_next_in(c, z, after_s, ret_s);
	cron_zone_destroy(z);
	return r;
}

int cron_every_next(uint64_t every_ms, int64_t after_ms, int64_t *ret_ms)
{
	int64_t e, q;

	if (every_ms == 0 || every_ms > INT64_MAX)
		return -EINVAL;
	e = (int64_t)every_ms;
	/* floor(after / e) + 1, in multiples of e, without overflow. */
	q = after_ms / e - (after_ms % e < 0);
	if (q >= INT64_MAX / e)
		return -ERANGE;
	*ret_ms = (q + 1) * e;
	return 0;
}
