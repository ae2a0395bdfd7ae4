/*
 * Time zones for cron=: see include/cron.h.
 *
 * Why not localtime_r()/mktime() with TZ set: the libc keeps the zone in
 * process-global state (TZ, tzset()), so switching it per schedule would
 * race with every other thread's time calls.  Instead a zone is read here
 * from the system's tz database, the same files the libc reads: a TZif
 * file (RFC 8536) of /usr/share/zoneinfo, parsed into an immutable struct
 * that any thread may use.  From it:
 *  - transitions: the UTC instants where the offset changes, and the
 *    offset from each on (the 64-bit data of a version 2+ file, the 32-bit
 *    data of a version 1 file); before the first one, time type 0 applies;
 *  - after the last transition, the footer: a POSIX TZ string such as
 *    "CET-1CEST,M3.5.0,M10.5.0/3", whose rule gives each year's two
 *    transitions (forms Mm.w.d, Jn and n, times up to +-167h as RFC 8536
 *    allows); without a footer (a version 1 file) the last offset stays.
 * Leap seconds (the right/ zones) are refused: Unix time ignores them.
 * The offsets are exactly the libc's for the same file (the unit tests
 * compare them over every zone of the database).
 */
#include "cron.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cron_internal.h"

#define TZDIR "/usr/share/zoneinfo"
/* TZif files are a few KiB; anything much larger is not one. */
#define TZIF_MAX_BYTES (256 * 1024)
/* RFC 8536: offsets lie within -89999..93599 s (-25 h..26 h). */
#define OFF_MAX 93600
/* Transitions within two days of one instant (real zones have one). */
#define SEGMENTS_MAX 16
/*
 * Times are clamped to +-2^40 s (some 34800 years either side of 1970)
 * so that no arithmetic on them overflows; schedules stay within years
 * 1..10400.
 */
#define T_LIMIT (INT64_C(1) << 40)

static int64_t clamp(int64_t t)
{
	return t < -T_LIMIT ? -T_LIMIT : t > T_LIMIT ? T_LIMIT : t;
}

/* A day of a POSIX TZ rule, and the local time of day of the change. */
struct rule_day {
	char kind;		/* 'M' (month.week.day), 'J' (1..365, no Feb
				 * 29), 'N' (0..365, counting Feb 29) */
	int month, week, wday;	/* kind 'M' */
	int n;			/* kinds 'J' and 'N' */
	int32_t secs;		/* local time of day: -167 h..167 h */
};

struct rule {
	int32_t std_off;	/* seconds east of UTC */
	bool has_dst;
	int32_t dst_off;
	struct rule_day start, end;	/* to and from summer time */
};

struct transition {
	int64_t at;		/* UTC instant */
	int32_t off;		/* offset from at on */
};

struct cron_zone {
	int32_t off0;		/* before the first transition */
	bool has_rule;		/* the footer: after the last transition */
	struct rule rule;
	size_t n;
	struct transition tr[];	/* n, strictly ascending */
};

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int weekday(int64_t days)
{
	return (int)(((days + 4) % 7 + 7) % 7);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

/* ---- POSIX TZ strings (the TZif footer) ---- */

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* "CET" or "<+03>": at least three characters. */
static bool parse_abbr(const char **p)
{
	const char *s = *p, *start;

	if (*s == '<') {
		start = ++s;
		while (is_alpha(*s) || is_digit(*s) || *s == '+' || *s == '-')
			s++;
		if (*s != '>' || s - start < 3)
			return false;
		s++;
	} else {
		start = s;
		while (is_alpha(*s))
			s++;
		if (s - start < 3)
			return false;
	}
	*p = s;
	return true;
}

static bool parse_num(const char **p, int max, int *ret)
{
	const char *s = *p;
	int v = 0;

	if (!is_digit(*s))
		return false;
	while (is_digit(*s)) {
		v = v * 10 + (*s++ - '0');
		if (v > max)
			return false;
	}
	*p = s;
	*ret = v;
	return true;
}

/* [+-]h[:mm[:ss]], hours up to max_h. */
static bool parse_hms(const char **p, int max_h, int32_t *ret)
{
	const char *s = *p;
	int h, m = 0, sec = 0, sign = 1;

	if (*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	if (!parse_num(&s, max_h, &h))
		return false;
	if (*s == ':') {
		s++;
		if (!parse_num(&s, 59, &m))
			return false;
		if (*s == ':') {
			s++;
			if (!parse_num(&s, 59, &sec))
				return false;
		}
	}
	*p = s;
	*ret = sign * (h * 3600 + m * 60 + sec);
	return true;
}

static bool parse_rule_day(const char **p, struct rule_day *r)
{
	const char *s = *p;

	if (*s == 'M') {
		s++;
		r->kind = 'M';
		if (!parse_num(&s, 12, &r->month) || r->month < 1 ||
		    *s++ != '.' || !parse_num(&s, 5, &r->week) ||
		    r->week < 1 || *s++ != '.' || !parse_num(&s, 6, &r->wday))
			return false;
	} else if (*s == 'J') {
		s++;
		r->kind = 'J';
		if (!parse_num(&s, 365, &r->n) || r->n < 1)
			return false;
	} else {
		r->kind = 'N';
		if (!parse_num(&s, 365, &r->n))
			return false;
	}
	r->secs = 2 * 3600;
	if (*s == '/') {
		s++;
		if (!parse_hms(&s, 167, &r->secs))
			return false;
	}
	*p = s;
	return true;
}

static bool parse_posix_tz(const char *s, struct rule *r)
{
	int32_t west;

	memset(r, 0, sizeof(*r));
	if (!parse_abbr(&s) || !parse_hms(&s, 24, &west))
		return false;
	r->std_off = -west;
	if (*s == '\0')
		return true;
	if (!parse_abbr(&s))
		return false;
	r->has_dst = true;
	r->dst_off = r->std_off + 3600;
	if (*s != ',' && *s != '\0') {
		if (!parse_hms(&s, 24, &west))
			return false;
		r->dst_off = -west;
	}
	if (*s == '\0') {
		/* No rule: the US one, as the libc and tzcode assume. */
		s = ",M3.2.0,M11.1.0";
	}
	if (*s++ != ',' || !parse_rule_day(&s, &r->start) || *s++ != ',' ||
	    !parse_rule_day(&s, &r->end) || *s != '\0')
		return false;
	return r->dst_off > -OFF_MAX && r->dst_off < OFF_MAX;
}

/* The UTC instant of rule day r of year y, off_before being in effect. */
static int64_t rule_instant(const struct rule_day *r, int64_t y,
			    int32_t off_before)
{
	int64_t days = cron_days_from_civil(y, 1, 1);
	int d, dim;

	switch (r->kind) {
	case 'J':
		days += r->n - 1 + (is_leap(y) && r->n >= 60);
		break;
	case 'N':
		days += r->n;
		break;
	default:
		days = cron_days_from_civil(y, r->month, 1);
		dim = r->month == 12 ? 31 :
		      (int)(cron_days_from_civil(y, r->month + 1, 1) - days);
		d = (r->wday - weekday(days) + 7) % 7 + (r->week - 1) * 7;
		while (d >= dim)
			d -= 7;		/* week 5: the last such day */
		days += d;
		break;
	}
	return days * 86400 + r->secs - off_before;
}

/*
 * The transitions of years y-2..y+1 by rule r (which has summer time),
 * in out[0..8): even ones start summer time, odd ones end it.
 */
static void rule_transitions(const struct rule *r, int64_t y,
			     struct transition out[8])
{
	for (int i = 0; i < 4; i++) {
		out[2 * i].at = rule_instant(&r->start, y - 2 + i, r->std_off);
		out[2 * i].off = r->dst_off;
		out[2 * i + 1].at = rule_instant(&r->end, y - 2 + i, r->dst_off);
		out[2 * i + 1].off = r->std_off;
	}
}

static int64_t year_of(int64_t t)
{
	int64_t y;
	int m, d;

	cron_civil_from_days(floor_div(t, 86400), &y, &m, &d);
	return y;
}

/*
 * Where a start and an end fall on one instant (the footer
 * "EST5EDT,0/0,J365/25" is summer time all year: RFC 8536, 3.3.1), the
 * start wins.
 */
static int32_t rule_offset(const struct rule *r, int64_t t)
{
	struct transition tr[8];
	int64_t best = INT64_MIN;
	int32_t off = r->std_off;

	if (!r->has_dst)
		return r->std_off;
	rule_transitions(r, year_of(t), tr);
	for (int i = 0; i < 8; i++)
		if (tr[i].at <= t &&
		    (tr[i].at > best || (tr[i].at == best && i % 2 == 0))) {
			best = tr[i].at;
			off = tr[i].off;
		}
	return off;
}

static bool rule_next(const struct rule *r, int64_t t,
		      struct transition *ret)
{
	struct transition tr[8];
	bool found = false;

	if (!r->has_dst)
		return false;
	/* The earliest of years y-1..y+2 after t: a rule day lies within a
	 * week (167 h) of its year. */
	rule_transitions(r, year_of(t) + 1, tr);
	for (int i = 0; i < 8; i++)
		if (tr[i].at > t &&
		    (!found || tr[i].at < ret->at ||
		     (tr[i].at == ret->at && i % 2 == 0))) {
			*ret = tr[i];
			found = true;
		}
	return found;
}

/* ---- Offsets and instants ---- */

int32_t cron_zone_offset(const struct cron_zone *z, int64_t t)
{
	size_t lo, hi;

	if (!z)
		return 0;
	t = clamp(t);
	if (z->n == 0 || t >= z->tr[z->n - 1].at) {
		if (z->has_rule)
			return rule_offset(&z->rule, t);
		return z->n ? z->tr[z->n - 1].off : z->off0;
	}
	if (t < z->tr[0].at)
		return z->off0;
	/* The last transition at or before t: tr[lo].at <= t < tr[hi].at. */
	lo = 0;
	hi = z->n - 1;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (z->tr[mid].at <= t)
			lo = mid;
		else
			hi = mid;
	}
	return z->tr[lo].off;
}

/* The first transition strictly after t, if any. */
static bool next_transition(const struct cron_zone *z, int64_t t,
			    struct transition *ret)
{
	size_t lo, hi;

	if (z->n > 0 && t < z->tr[z->n - 1].at) {
		/* The first at > t: tr[lo].at <= t < tr[hi].at, or hi 0. */
		if (t < z->tr[0].at) {
			*ret = z->tr[0];
			return true;
		}
		lo = 0;
		hi = z->n - 1;
		while (hi - lo > 1) {
			size_t mid = lo + (hi - lo) / 2;

			if (z->tr[mid].at <= t)
				lo = mid;
			else
				hi = mid;
		}
		*ret = z->tr[hi];
		return true;
	}
	return z->has_rule && rule_next(&z->rule, t, ret);
}

/*
 * The instants whose wall-clock time is local lie within OFF_MAX of it.
 * That window is cut into segments of one offset each; local stands for
 * t = local - off in each segment that holds t.  The first such t is the
 * first occurrence; with none, local is in a gap, which ends where the
 * first segment whose wall clock starts past local begins.  So the
 * instant never decreases as local grows: minutes before a gap map
 * before it, those in it to its end, those after it past it; in a fold
 * the repeated minutes map to their first pass, those after it past the
 * fold.
 */
int64_t cron_zone_instant(const struct cron_zone *z, int64_t local)
{
	int64_t start[SEGMENTS_MAX];
	int32_t off[SEGMENTS_MAX];
	int64_t lo, hi, t;
	struct transition tr = { 0, 0 };
	size_t k = 1, i;

	if (!z)
		return local;
	local = clamp(local);
	lo = local - OFF_MAX;
	hi = local + OFF_MAX;
	start[0] = lo;
	off[0] = cron_zone_offset(z, lo);
	while (k < SEGMENTS_MAX && next_transition(z, start[k - 1], &tr) &&
	       tr.at <= hi) {
		start[k] = tr.at;
		off[k++] = tr.off;
	}
	for (i = 0; i < k; i++) {
		t = local - off[i];
		if (t >= start[i] && (i + 1 == k || t < start[i + 1]))
			return t;
	}
	for (i = 0; i < k; i++)
		if (start[i] + off[i] > local)
			return start[i];
	return local - off[k - 1];	/* not reached with sane data */
}

/* ---- TZif files ---- */

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_counts {
	uint64_t isut, isstd, leap, time, type, chars;
};

static bool read_header(const unsigned char *b, size_t len, size_t at,
			struct tzif_counts *c, char *ret_version)
{
	if (len < at + 44 || memcmp(b + at, "TZif", 4) != 0)
		return false;
	*ret_version = (char)b[at + 4];
	c->isut = be32(b + at + 20);
	c->isstd = be32(b + at + 24);
	c->leap = be32(b + at + 28);
	c->time = be32(b + at + 32);
	c->type = be32(b + at + 36);
	c->chars = be32(b + at + 40);
	return true;
}

/* Bytes of a data block of counts c with times of tsize bytes. */
static uint64_t block_size(const struct tzif_counts *c, unsigned tsize)
{
	return c->time * tsize + c->time + c->type * 6 + c->chars +
	       c->leap * (tsize + 4) + c->isstd + c->isut;
}

static int parse_tzif(const unsigned char *b, size_t len,
		      struct cron_zone **ret)
{
	struct tzif_counts c;
	const unsigned char *times, *idx, *types;
	struct cron_zone *z;
	unsigned tsize = 4;
	size_t at = 0, i;
	uint64_t size;
	char version;

	if (!read_header(b, len, 0, &c, &version))
		return -ENOENT;
	if (version >= '2') {
		/* Counts are 32-bit, so no size below overflows. */
		at = 44 + block_size(&c, 4);
		if (!read_header(b, len, at, &c, &version))
			return -ENOENT;
		tsize = 8;
	}
	at += 44;
	size = block_size(&c, tsize);
	if (c.leap != 0 || c.type == 0 || c.type > 256 || size > len - at)
		return -ENOENT;
	times = b + at;
	idx = times + c.time * tsize;
	types = idx + c.time;
	for (i = 0; i < c.type; i++) {
		int32_t off = (int32_t)be32(types + 6 * i);

		if (off <= -OFF_MAX || off >= OFF_MAX)
			return -ENOENT;
	}
	z = calloc(1, sizeof(*z) + c.time * sizeof(z->tr[0]));
	if (!z)
		return -ENOMEM;
	z->n = c.time;
	z->off0 = (int32_t)be32(types);
	for (i = 0; i < c.time; i++) {
		z->tr[i].at = tsize == 8 ? be64(times + 8 * i) :
			      (int32_t)be32(times + 4 * i);
		if (idx[i] >= c.type || (i > 0 && z->tr[i].at <= z->tr[i - 1].at))
			goto bad;
		z->tr[i].off = (int32_t)be32(types + 6 * idx[i]);
	}
	if (tsize == 8) {
		/* The footer: "\nTZ string\n". */
		const char *f = (const char *)b + at + size;
		size_t left = len - at - size, n;
		char s[128];

		if (left < 2 || f[0] != '\n')
			goto bad;
		for (n = 1; n < left && f[n] != '\n'; n++)
			;
		if (n == left || n - 1 >= sizeof(s))
			goto bad;
		memcpy(s, f + 1, n - 1);
		s[n - 1] = '\0';
		if (s[0] != '\0') {
			if (!parse_posix_tz(s, &z->rule))
				goto bad;
			z->has_rule = true;
		}
	}
	*ret = z;
	return 0;
bad:
	free(z);
	return -ENOENT;
}

static bool valid_name(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > CRON_TZ_NAME_MAX || name[0] == '/' ||
	    name[n - 1] == '/')
		return false;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!(is_alpha(c) || is_digit(c) || c == '_' || c == '+' ||
		      c == '-' || c == '/'))
			return false;
		if (c == '/' && name[i + 1] == '/')
			return false;
	}
	return true;
}

static int read_file(int fd, unsigned char *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;	/* shrank under us */
		done += (size_t)n;
	}
	return 0;
}

int cron_zone_from_tzif(const void *data, size_t len,
			struct cron_zone **ret)
{
	return parse_tzif(data, len, ret);
}

int cron_zone_create(const char *name, struct cron_zone **ret)
{
	char path[sizeof(TZDIR) + 1 + CRON_TZ_NAME_MAX + 1];
	unsigned char *buf = NULL;
	struct stat st;
	int fd = -1, r;

	if (!name || strcmp(name, "UTC") == 0) {
		struct cron_zone *z = calloc(1, sizeof(*z));

		if (!z)
			return -ENOMEM;
		*ret = z;
		return 0;
	}
	if (!valid_name(name))
		return -EINVAL;
	if (strcmp(name, "localtime") == 0)
		return -ENOENT;
	memcpy(path, TZDIR "/", sizeof(TZDIR));
	memcpy(path + sizeof(TZDIR), name, strlen(name) + 1);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = errno == ENOMEM ? -ENOMEM : -ENOENT;
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > TZIF_MAX_BYTES) {
		r = -ENOENT;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	r = read_file(fd, buf, (size_t)st.st_size);
	if (r < 0) {
		r = -ENOENT;
		goto out;
	}
	r = parse_tzif(buf, (size_t)st.st_size, ret);
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return r;
}

void cron_zone_destroy(struct cron_zone *z)
{
	free(z);
}

int cron_tz_check(const char *name)
{
	struct cron_zone *z;
	int r = cron_zone_create(name, &z);

	if (r == 0)
		cron_zone_destroy(z);
	return r;
}
