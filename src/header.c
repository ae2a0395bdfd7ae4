/* The "-- pgqfs:" header of a task file: see include/header.h. */
#include "header.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "show.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Bytes of the file shown in a message: enough to recognise a typo. */
#define SHOW_MAX 40

struct parser {
	unsigned line;		/* 1-based, counting '\n' only */
	bool schedule;
	struct task_options *o;
	unsigned first_line[HEADER_N_KEYS]; /* for "duplicate key" */
	char *err;
	size_t errlen;
};

struct key_def {
	const char *name;
	enum header_key key;
	bool schedule_only;
};

static const struct key_def keys[] = {
	{ "priority", HEADER_PRIORITY, false },
	{ "timeout", HEADER_TIMEOUT, false },
	{ "retries", HEADER_RETRIES, false },
	{ "retry_delay", HEADER_RETRY_DELAY, false },
	{ "after", HEADER_AFTER, false },
	{ "not_before", HEADER_NOT_BEFORE, false },
	{ "single_transaction", HEADER_SINGLE_TRANSACTION, false },
	{ "group", HEADER_GROUP, false },
	{ "every", HEADER_EVERY, true },
	{ "cron", HEADER_CRON, true },
	{ "tz", HEADER_TZ, true },
};

static const char hint_duration[] =
	"expected a duration such as 500ms, 30s or 2h";

/* psql's white space, less the newline that ends a line here. */
static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\f' || c == '\v' || c == '\r';
}

/* Shows s[0..n) in a message (show.h), at most SHOW_MAX bytes of it. */
static void show(char out[SHOW_SIZE(SHOW_MAX)], const char *s, size_t n)
{
	show_text(out, SHOW_MAX, s, n);
}

__attribute__((format(printf, 2, 3)))
static int fail(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->errlen == 0)
		return -EINVAL;
	n = snprintf(p->err, p->errlen, "line %u: ", p->line);
	if (n >= 0 && (size_t)n < p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* An optional sign and digits, within [min, max]. */
static int parse_int(const char *v, size_t n, int min, int max, int *ret)
{
	bool neg = false;
	long long x = 0;
	size_t i = 0;

	if (n > 0 && (v[0] == '-' || v[0] == '+')) {
		neg = v[0] == '-';
		i++;
	}
	if (i == n)
		return -EINVAL;
	for (; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -EINVAL;
		x = x * 10 + (v[i] - '0');
		if (x > 1000000)	/* far past any bound: stop growing */
			return -EINVAL;
	}
	if (neg)
		x = -x;
	if (x < min || x > max)
		return -EINVAL;
	*ret = (int)x;
	return 0;
}

/*
 * config_parse_duration() on a counted value.  -EINVAL for bad syntax,
 * -ERANGE for a duration outside [min, max].
 */
static int parse_duration(const char *v, size_t n, uint64_t min, uint64_t max,
			  uint64_t *ret)
{
	char s[32];
	uint64_t ms;

	if (n >= sizeof(s) || memchr(v, '\0', n))
		return -EINVAL;
	memcpy(s, v, n);
	s[n] = '\0';
	if (config_parse_duration(s, &ms) < 0)
		return -EINVAL;
	if (ms < min || ms > max)
		return -ERANGE;
	*ret = ms;
	return 0;
}

/* "12" or "12,15,20" (blanks around ids allowed in quotes). */
static int parse_after(const char *v, size_t n, struct task_options *o,
		       const char **hint)
{
	size_t i = 0, j;

	*hint = "expected task ids such as 12 or 12,15";
	o->n_after = 0;
	for (;;) {
		int64_t id = 0;
		size_t digits = 0;
		bool seen = false;

		while (i < n && is_blank(v[i]))
			i++;
		for (; i < n && v[i] >= '0' && v[i] <= '9'; i++, digits++) {
			if (id > (INT64_MAX - (v[i] - '0')) / 10)
				return -EINVAL;
			id = id * 10 + (v[i] - '0');
		}
		while (i < n && is_blank(v[i]))
			i++;
		if (digits == 0 || id == 0)
			return -EINVAL;
		/* A repeated id waits for nothing more: keep one. */
		for (j = 0; j < o->n_after; j++)
			seen |= o->after[j] == id;
		if (!seen) {
			if (o->n_after == HEADER_MAX_AFTER) {
				*hint = "expected at most 100 task ids";
				return -EINVAL;
			}
			o->after[o->n_after++] = id;
		}
		if (i == n)
			return 0;
		if (v[i] != ',')
			return -EINVAL;
		i++;
	}
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = y / 400;		/* y >= 0 here */
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Exactly `width` digits at v. */
static bool digits(const char *v, size_t width, int *ret)
{
	int x = 0;
	size_t i;

	for (i = 0; i < width; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		x = x * 10 + (v[i] - '0');
	}
	*ret = x;
	return true;
}

/*
 * 2026-12-01T03:00:00Z, or with an offset: 2026-12-01T04:00:00+01:00.
 * Whole seconds only, so that the time shows back as written.
 */
static int parse_time(const char *v, size_t n, int64_t *ret_ms)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
				     30, 31 };
	int y, mo, d, h, mi, s, oh = 0, om = 0, off = 0;
	int64_t secs;

	if (n != 20 && n != 25)
		return -EINVAL;
	if (!digits(v, 4, &y) || v[4] != '-' || !digits(v + 5, 2, &mo) ||
	    v[7] != '-' || !digits(v + 8, 2, &d) || v[10] != 'T' ||
	    !digits(v + 11, 2, &h) || v[13] != ':' || !digits(v + 14, 2, &mi) ||
	    v[16] != ':' || !digits(v + 17, 2, &s))
		return -EINVAL;
	if (n == 20) {
		if (v[19] != 'Z')
			return -EINVAL;
	} else {
		if ((v[19] != '+' && v[19] != '-') || !digits(v + 20, 2, &oh) ||
		    v[22] != ':' || !digits(v + 23, 2, &om) || oh > 23 ||
		    om > 59)
			return -EINVAL;
		off = (oh * 60 + om) * 60 * (v[19] == '-' ? -1 : 1);
	}
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    h > 23 || mi > 59 || s > 59)
		return -EINVAL;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -EINVAL;
	secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - off;
	if (secs < 0)
		return -EINVAL;
	*ret_ms = secs * 1000;
	return 0;
}

/*
 * Five fields of digits, letters (JAN, MON) and * , - /, apart by blanks
 * (kept one space apart), or a shorthand such as @daily; cron_parse()
 * says whether they make sense.
 */
static int parse_cron(const char *v, size_t n, char out[HEADER_CRON_MAX])
{
	size_t i, k = 0, fields = 0;

	while (n > 0 && (v[0] == ' ' || v[0] == '\t'))
		v++, n--;
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= HEADER_CRON_MAX)
		return -EINVAL;
	if (v[0] == '@') {
		for (i = 1; i < n; i++)
			if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z')))
				return -EINVAL;
		if (n == 1)
			return -EINVAL;
		memcpy(out, v, n);
		out[n] = '\0';
		return 0;
	}
	for (i = 0; i < n; i++) {
		char c = v[i];

		if (c == ' ' || c == '\t') {
			if (v[i - 1] != ' ' && v[i - 1] != '\t')
				out[k++] = ' ';
			continue;
		}
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		      (c >= 'a' && c <= 'z') || c == '*' || c == ',' ||
		      c == '-' || c == '/'))
			return -EINVAL;
		fields += i == 0 || v[i - 1] == ' ' || v[i - 1] == '\t';
		out[k++] = c;
	}
	if (fields != 5)
		return -EINVAL;
	out[k] = '\0';
	return 0;
}

/* Area/City, UTC, Etc/GMT+3: the shape of a tz database name. */
static int parse_tz(const char *v, size_t n, char out[HEADER_TZ_MAX])
{
	size_t i;

	if (n == 0 || n >= HEADER_TZ_MAX || v[0] == '/' || v[n - 1] == '/')
		return -EINVAL;
	for (i = 0; i < n; i++) {
		char c = v[i];

		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		      (c >= 'a' && c <= 'z') || c == '_' || c == '+' ||
		      c == '-' || c == '/'))
			return -EINVAL;
	}
	memcpy(out, v, n);
	out[n] = '\0';
	return 0;
}

/* Stores value v[0..n) of key k in p->o; on a bad value sets *hint. */
static int parse_value(struct parser *p, enum header_key k, const char *v,
		       size_t n, const char **hint)
{
	struct task_options *o = p->o;
	int r;

	switch (k) {
	case HEADER_PRIORITY:
		*hint = "expected an integer from -1000 to 1000";
		return parse_int(v, n, HEADER_PRIORITY_MIN, HEADER_PRIORITY_MAX,
				 &o->priority);
	case HEADER_TIMEOUT:
		r = parse_duration(v, n, 1, HEADER_DURATION_MAX_MS,
				   &o->timeout_ms);
		*hint = r == -ERANGE ? "expected a duration from 1ms to 366d"
				     : hint_duration;
		return r;
	case HEADER_RETRIES:
		*hint = "expected an integer from 0 to 100";
		return parse_int(v, n, 0, HEADER_RETRIES_MAX, &o->retries);
	case HEADER_RETRY_DELAY:
		r = parse_duration(v, n, 0, HEADER_RETRY_DELAY_MAX_MS,
				   &o->retry_delay_ms);
		*hint = r == -ERANGE ? "expected a duration from 0s to 1h"
				     : hint_duration;
		return r;
	case HEADER_AFTER:
		return parse_after(v, n, o, hint);
	case HEADER_NOT_BEFORE:
		*hint = "expected a UTC time such as 2026-12-01T03:00:00Z"
			" or +DURATION such as +30m";
		if (n > 0 && v[0] == '+') {
			uint64_t ms;

			r = parse_duration(v + 1, n - 1, 0,
					   HEADER_DURATION_MAX_MS, &ms);
			if (r == -ERANGE)
				*hint = "expected +DURATION from +0s to +366d";
			if (r < 0)
				return r;
			o->not_before_relative = true;
			o->not_before_ms = (int64_t)ms;
			return 0;
		}
		o->not_before_relative = false;
		return parse_time(v, n, &o->not_before_ms);
	case HEADER_SINGLE_TRANSACTION:
		*hint = "expected on or off";
		if (n == 2 && memcmp(v, "on", 2) == 0)
			o->single_transaction = true;
		else if (n == 3 && memcmp(v, "off", 3) == 0)
			o->single_transaction = false;
		else
			return -EINVAL;
		return 0;
	case HEADER_GROUP:
		*hint = "expected statements";
		if (n != 10 || memcmp(v, "statements", 10) != 0)
			return -EINVAL;
		o->group = HEADER_GROUP_STATEMENTS;
		return 0;
	case HEADER_EVERY:
		r = parse_duration(v, n, HEADER_EVERY_MIN_MS,
				   HEADER_DURATION_MAX_MS, &o->every_ms);
		*hint = r == -ERANGE ? "expected a duration from 1s to 366d"
				     : hint_duration;
		return r;
	case HEADER_CRON:
		*hint = "expected five fields such as \"0 3 * * *\", or @daily";
		return parse_cron(v, n, o->cron);
	case HEADER_TZ:
		*hint = "expected a time zone such as Europe/Paris";
		return parse_tz(v, n, o->tz);
	case HEADER_N_KEYS:
		break;
	}
	return -EINVAL;
}

static int set_key(struct parser *p, const char *key, size_t keylen,
		   const char *v, size_t n)
{
	char shown[4 * SHOW_MAX + 4], shown_v[4 * SHOW_MAX + 4];
	const struct key_def *def = NULL;
	const char *hint = "";
	size_t i;

	for (i = 0; i < ARRAY_SIZE(keys); i++) {
		if (strlen(keys[i].name) == keylen &&
		    memcmp(keys[i].name, key, keylen) == 0)
			def = &keys[i];
	}
	show(shown, key, keylen);
	if (!def || (def->schedule_only && !p->schedule))
		return fail(p, "unknown key '%s'", shown);
	if (task_options_has(p->o, def->key))
		return fail(p, "duplicate key '%s' (first given on line %u)",
			    shown, p->first_line[def->key]);
	if (parse_value(p, def->key, v, n, &hint) < 0) {
		show(shown_v, v, n);
		return fail(p, "bad value for %s: '%s' (%s)", def->name,
			    shown_v, hint);
	}
	/* Two ways of saying when a schedule ticks: which would win? */
	if ((def->key == HEADER_EVERY && task_options_has(p->o, HEADER_CRON)) ||
	    (def->key == HEADER_CRON && task_options_has(p->o, HEADER_EVERY)))
		return fail(p, "every and cron exclude each other");
	p->o->set |= 1u << def->key;
	p->first_line[def->key] = p->line;
	return 0;
}

/* The pairs after "pgqfs:" on one line, s[0..n) (no line end in it). */
static int parse_pairs(struct parser *p, const char *s, size_t n)
{
	char shown[4 * SHOW_MAX + 4];
	size_t i = 0, k, keylen, vs, ve;
	const char *q;
	int r;

	for (;;) {
		while (i < n && is_blank(s[i]))
			i++;
		if (i == n)
			return 0;
		k = i;
		while (i < n && s[i] != '=' && !is_blank(s[i]))
			i++;
		keylen = i - k;
		if (i == n || s[i] != '=' || keylen == 0) {
			while (i < n && !is_blank(s[i]))
				i++;
			show(shown, s + k, i - k);
			return fail(p, "expected key=value, not '%s'", shown);
		}
		i++;
		if (i < n && s[i] == '"') {
			vs = ++i;
			q = memchr(s + i, '"', n - i);
			if (!q) {
				show(shown, s + k, keylen);
				return fail(p, "unterminated quote in the value of '%s'",
					    shown);
			}
			ve = (size_t)(q - s);
			i = ve + 1;
			if (i < n && !is_blank(s[i])) {
				show(shown, s + k, keylen);
				return fail(p, "a blank must follow the closing quote"
					    " of the value of '%s'", shown);
			}
		} else {
			vs = i;
			while (i < n && !is_blank(s[i]))
				i++;
			ve = i;
		}
		r = set_key(p, s + k, keylen, s + vs, ve - vs);
		if (r < 0)
			return r;
	}
}

void task_options_init(struct task_options *o)
{
	memset(o, 0, sizeof(*o));
	o->retry_delay_ms = HEADER_RETRY_DELAY_DEFAULT_MS;
	o->group = HEADER_GROUP_NONE;
}

int header_parse(const char *text, size_t len, bool schedule,
		 struct task_options *ret, char *err, size_t errlen)
{
	struct parser p = {
		.line = 1, .schedule = schedule, .o = ret,
		.err = err, .errlen = errlen,
	};
	size_t pos = 0, end, i;
	int r;

	task_options_init(ret);
	if (errlen > 0)
		err[0] = '\0';
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	/*
	 * Pieces end at '\n' and at '\r': psql ends a "--" comment at
	 * either, so "-- c\rSELECT 1;" holds a statement, and the header
	 * must end there too.  Only '\n' counts as a line, as psql counts.
	 */
	for (; pos < len; pos = end + 1) {
		for (end = pos; end < len && text[end] != '\n' &&
		     text[end] != '\r'; end++)
			;
		for (i = pos; i < end && is_blank(text[i]); i++)
			;
		if (i < end) {
			if (end - i < 2 || text[i] != '-' || text[i + 1] != '-')
				break;	/* the first statement */
			for (i += 2; i < end && is_blank(text[i]); i++)
				;
			if (end - i >= 6 && memcmp(text + i, "pgqfs:", 6) == 0) {
				r = parse_pairs(&p, text + i + 6, end - i - 6);
				if (r < 0)
					return r;
			}
		}
		if (end < len && text[end] == '\n')
			p.line++;
	}
	return 0;
}

/* In the largest unit that is exact, which config_parse_duration() reads. */
static int put_duration(struct buf *out, uint64_t ms)
{
	static const struct {
		const char *name;
		uint64_t factor;
	} units[] = {
		{ "d", UINT64_C(86400) * 1000 }, { "h", UINT64_C(3600) * 1000 },
		{ "m", UINT64_C(60) * 1000 }, { "s", 1000 },
	};
	size_t i;

	if (ms == 0)
		return buf_puts(out, "0s");
	for (i = 0; i < ARRAY_SIZE(units); i++) {
		if (ms % units[i].factor == 0)
			return buf_printf(out, "%" PRIu64 "%s",
					  ms / units[i].factor, units[i].name);
	}
	return buf_printf(out, "%" PRIu64 "ms", ms);
}

int header_format(const struct task_options *o, struct buf *out)
{
	struct tm tm;
	time_t t;
	size_t i;
	int r = 0;

	r |= buf_printf(out, "priority=%d\n", o->priority);
	if (task_options_has(o, HEADER_TIMEOUT)) {
		r |= buf_puts(out, "timeout=");
		r |= put_duration(out, o->timeout_ms);
		r |= buf_putc(out, '\n');
	}
	r |= buf_printf(out, "retries=%d\n", o->retries);
	r |= buf_puts(out, "retry_delay=");
	r |= put_duration(out, o->retry_delay_ms);
	r |= buf_putc(out, '\n');
	if (task_options_has(o, HEADER_AFTER)) {
		r |= buf_puts(out, "after=");
		for (i = 0; i < o->n_after; i++)
			r |= buf_printf(out, "%s%" PRId64, i ? "," : "",
					o->after[i]);
		r |= buf_putc(out, '\n');
	}
	if (task_options_has(o, HEADER_NOT_BEFORE)) {
		r |= buf_puts(out, "not_before=");
		if (o->not_before_relative) {
			r |= buf_putc(out, '+');
			r |= put_duration(out, (uint64_t)o->not_before_ms);
		} else {
			t = (time_t)(o->not_before_ms / 1000);
			if (!gmtime_r(&t, &tm))
				return -EINVAL;	/* not from header_parse() */
			r |= buf_printf(out, "%04d-%02d-%02dT%02d:%02d:%02dZ",
					tm.tm_year + 1900, tm.tm_mon + 1,
					tm.tm_mday, tm.tm_hour, tm.tm_min,
					tm.tm_sec);
		}
		r |= buf_putc(out, '\n');
	}
	r |= buf_printf(out, "single_transaction=%s\n",
			o->single_transaction ? "on" : "off");
	if (task_options_has(o, HEADER_GROUP))
		r |= buf_puts(out, "group=statements\n");
	if (task_options_has(o, HEADER_EVERY)) {
		r |= buf_puts(out, "every=");
		r |= put_duration(out, o->every_ms);
		r |= buf_putc(out, '\n');
	}
	if (task_options_has(o, HEADER_CRON))
		r |= buf_printf(out, "cron=\"%s\"\n", o->cron);
	if (task_options_has(o, HEADER_TZ))
		r |= buf_printf(out, "tz=%s\n", o->tz);
	/* Every append returns 0 or -ENOMEM. */
	return r ? -ENOMEM : 0;
}
