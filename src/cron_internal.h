/*
 * What src/cron.c and src/cron_zone.c share: the proleptic Gregorian
 * calendar.
 */
#ifndef PGQFS_CRON_INTERNAL_H
#define PGQFS_CRON_INTERNAL_H

#include <stdint.h>

/*
 * Days from 1970-01-01 to year-month-day (month 1..12), and back, for any
 * year an int64 of seconds can hold (H. Hinnant's civil calendar
 * algorithms: exact, no tables, no libc time functions).
 */
static inline int64_t cron_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static inline void cron_civil_from_days(int64_t z, int64_t *ret_y, int *ret_m,
					int *ret_d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*ret_d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*ret_m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*ret_y = yoe + era * 400 + (*ret_m <= 2);
}

#endif
