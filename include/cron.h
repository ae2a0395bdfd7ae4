/*
 * Schedules (DESIGN.md, Schedules): cron expressions, every= ticks, and
 * the time zones cron= is evaluated in.  Pure: no clock is read, nothing
 * is logged, and the only outside input is a time zone file read from the
 * system's tz database (/usr/share/zoneinfo) when a zone is named.
 */
#ifndef PGQFS_CRON_H
#define PGQFS_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A parsed "MIN HOUR DOM MON DOW" expression: one bit per value each
 * field allows.  A plain value: nothing to free, copy it freely.
 */
struct cron {
	uint64_t minutes;	/* bit m: minute m, 0..59 */
	uint32_t hours;		/* bit h: hour h, 0..23 */
	uint32_t days;		/* bit d: day of month d, 1..31 */
	uint16_t months;	/* bit m: month m, 1 (January)..12 */
	uint8_t weekdays;	/* bit d: day d of the week, 0 (Sunday)..6 */
	/*
	 * The Vixie/POSIX day rule: when both the day-of-month and the
	 * day-of-week fields are restricted (neither starts with '*'), a day
	 * matches when either does; otherwise both must match.  So
	 * "0 0 1 * mon" runs on the 1st and on Mondays, "0 0 * * mon" on
	 * Mondays only.
	 */
	bool day_or;
};

/* Longest tz name cron_zone_create() takes, NUL excluded. */
#define CRON_TZ_NAME_MAX 255

/*
 * Parses a cron expression: five fields separated by blanks (spaces or
 * tabs), "MIN HOUR DOM MON DOW", each a comma-separated list of items:
 *   *        every value of the field
 *   a        one value
 *   a-b      a range, a <= b
 *   * /n, a-b/n, a/n   every n-th value of *, a-b, or a-max (Vixie)
 * (written without the blank after '*').  Ranges: minute 0-59, hour 0-23,
 * day of month 1-31, month 1-12 or jan..dec, day of week 0-7 or sun..sat
 * (0 and 7 are both Sunday; a range may end on Sunday: fri-sun, 5-0 or
 * 5-7; a/n there is a-7/n, so "1/2" is Monday, Wednesday, Friday and
 * Sunday, as in Vixie cron).  Names are three letters, case-insensitive,
 * and usable wherever a number is except as a step.  A step is 1 to the
 * number of values of the field (60 for minutes, 7 for days of the
 * week).  The shorthands @yearly (@annually), @monthly, @weekly, @daily
 * (@midnight) and @hourly stand for "0 0 1 1 *", "0 0 1 * *",
 * "0 0 * * 0", "0 0 * * *" and "0 * * * *".
 *
 * An expression that can never match (a day of month that none of its
 * months has, such as "0 0 30 2 *") is refused too.
 *
 * Returns 0 with *ret filled, or -EINVAL with one message in
 * err[0..errlen) naming the field, such as
 * "field 2 (hour): 24 is out of range 0-23"; the expression's bytes in it
 * are escaped (printable ASCII only) and shortened.  *ret is untouched on
 * failure.  Allocates nothing.
 */
__attribute__((warn_unused_result))
int cron_parse(const char *expr, struct cron *ret, char *err, size_t errlen);

/*
 * Whether local wall-clock time year-month-day hour:minute (month 1..12,
 * day 1..31) matches c, weekday included.  The date must exist.
 */
bool cron_matches(const struct cron *c, int64_t year, int month, int day,
		  int hour, int minute);

/*
 * A time zone of the tz database, loaded once and then immutable: share it
 * between threads freely.  The caller owns it: cron_zone_destroy().
 */
struct cron_zone;

/*
 * Loads zone `name`: NULL or "UTC" is UTC (no file is read); any other
 * name is an IANA name such as "Europe/Paris", read from
 * /usr/share/zoneinfo/NAME (a TZif file).  Returns 0 with *ret set,
 * -EINVAL for a name that is not the shape of one (empty, longer than
 * CRON_TZ_NAME_MAX, a byte outside [A-Za-z0-9_+/-], a leading or trailing
 * '/' or an empty component: so no "..", and never a path outside the
 * database), -ENOENT for a zone the database does not have (or that is
 * not a valid TZif file, or one with leap seconds, the right/ zones, or
 * "localtime", which is the host's zone and would differ between
 * daemons), -ENOMEM.  *ret is untouched on failure.
 */
__attribute__((warn_unused_result))
int cron_zone_create(const char *name, struct cron_zone **ret);

/*
 * A zone from the bytes of a TZif file (RFC 8536, versions 1 to 4), as
 * cron_zone_create() reads them: 0, -ENOENT for data that is not a valid
 * TZif file (or has leap seconds), -ENOMEM.  The data is only read.
 */
__attribute__((warn_unused_result))
int cron_zone_from_tzif(const void *data, size_t len, struct cron_zone **ret);

/* Frees a zone; NULL is fine. */
void cron_zone_destroy(struct cron_zone *z);

/*
 * UTC offset (seconds east) of zone z (NULL: UTC) at Unix time t_s; a
 * t_s more than 2^40 s (34800 years) from 1970 counts as that far.
 */
int32_t cron_zone_offset(const struct cron_zone *z, int64_t t_s);

/*
 * The instant local wall-clock time local_s (seconds since 1970-01-01
 * 00:00 local) stands for in zone z, by the rules of cron_next_in(): its
 * first occurrence when it occurs twice, and the end of the gap (the
 * instant of the jump) when it does not exist.
 */
int64_t cron_zone_instant(const struct cron_zone *z, int64_t local_s);

/*
 * Whether tz names a zone cron_zone_create() loads: 0, or its -EINVAL,
 * -ENOENT or -ENOMEM.  For refusing a bad tz= when a schedule is written.
 */
__attribute__((warn_unused_result))
int cron_tz_check(const char *name);

/*
 * The first tick of c strictly after Unix time after_s, in *ret_s.
 *
 * Ticks are the whole minutes of local wall-clock time in zone z (NULL:
 * UTC) that match c, with these daylight-saving rules:
 *  - a local time that does not exist (the gap when clocks spring
 *    forward, such as 02:30 on the last Sunday of March in Europe/Paris)
 *    fires at the end of the gap, the instant the clocks jump (03:00 local
 *    there), as Vixie cron runs such jobs right after the change; several
 *    such times fire once;
 *  - a local time that occurs twice (clocks fall back) fires once, at its
 *    first occurrence.  So "* /15 * * * *" in America/New_York fires at
 *    01:00, 01:15, 01:30 and 01:45 EDT on the day summer time ends, and
 *    then at 02:00 EST, an hour and a quarter later: the minutes of the
 *    repeated hour do not fire again.  (Vixie cron runs jobs whose minute
 *    or hour is '*' in both occurrences; a schedule that wants steady
 *    intervals uses every= or UTC.)
 *
 * Returns 0, or -ERANGE when after_s is outside years 1..9999, or -ENOENT
 * when there is no tick within 401 years (which cron_parse() makes
 * impossible: every expression it accepts matches within 400 years, the
 * Gregorian cycle).  Allocates nothing.
 */
__attribute__((warn_unused_result))
int cron_next_in(const struct cron *c, const struct cron_zone *z,
		 int64_t after_s, int64_t *ret_s);

/*
 * cron_next_in() in zone tz (NULL or "UTC": UTC), loading the zone for
 * this call; also -EINVAL or -ENOENT for tz as cron_zone_create() says.
 */
__attribute__((warn_unused_result))
int cron_next(const struct cron *c, const char *tz, int64_t after_s,
	      int64_t *ret_s);

/*
 * every=: ticks fall on the multiples of every_ms since the Unix epoch.
 * The first tick strictly after after_ms (which may be negative), in
 * *ret_ms.  Returns 0, -EINVAL for every_ms 0 or above INT64_MAX, or
 * -ERANGE when the tick does not fit an int64.
 */
__attribute__((warn_unused_result))
int cron_every_next(uint64_t every_ms, int64_t after_ms, int64_t *ret_ms);

#endif
