/* The configuration's values: integers, sizes, durations, booleans, names. */
#include "config_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Digits only, no sign or blanks, at most `max`. */
int parse_int(const char *s, int min, int max, int *ret)
{
	long long v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (*s - '0');
		if (v > max)
			return -EINVAL;
	}
	if (v < min)
		return -EINVAL;
	*ret = (int)v;
	return 0;
}

struct unit {
	const char *name;
	uint64_t factor;
};

/*
 * A whole number followed by one of `units` (its name may be "", and may be
 * separated from the number by blanks).  No sign, no fraction, no overflow.
 */
static int parse_with_units(const char *s, const struct unit *units,
			    size_t n_units, uint64_t *ret)
{
	const char *unit;
	uint64_t v = 0;
	size_t i;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	unit = s;
	while (*unit == ' ' || *unit == '\t')
		unit++;
	if (unit != s && !*unit)
		return -EINVAL;	/* trailing blanks are not a unit */
	for (i = 0; i < n_units; i++) {
		if (strcmp(unit, units[i].name) != 0)
			continue;
		if (v > UINT64_MAX / units[i].factor)
			return -EINVAL;
		*ret = v * units[i].factor;
		return 0;
	}
	return -EINVAL;
}

int config_parse_size(const char *s, uint64_t *ret_bytes)
{
	static const struct unit units[] = {
		{ "", 1 }, { "B", 1 },
		{ "kB", UINT64_C(1000) },
		{ "MB", UINT64_C(1000) * 1000 },
		{ "GB", UINT64_C(1000) * 1000 * 1000 },
		{ "TB", UINT64_C(1000) * 1000 * 1000 * 1000 },
		{ "KiB", UINT64_C(1) << 10 }, { "K", UINT64_C(1) << 10 },
		{ "MiB", UINT64_C(1) << 20 }, { "M", UINT64_C(1) << 20 },
		{ "GiB", UINT64_C(1) << 30 }, { "G", UINT64_C(1) << 30 },
		{ "TiB", UINT64_C(1) << 40 }, { "T", UINT64_C(1) << 40 },
	};

	return parse_with_units(s, units, ARRAY_SIZE(units), ret_bytes);
}

int config_parse_duration(const char *s, uint64_t *ret_ms)
{
	static const struct unit units[] = {
		{ "", 1000 },	/* a bare number is seconds */
		{ "ms", 1 },
		{ "s", 1000 },
		{ "m", UINT64_C(60) * 1000 }, { "min", UINT64_C(60) * 1000 },
		{ "h", UINT64_C(3600) * 1000 },
		{ "d", UINT64_C(86400) * 1000 },
		{ "w", UINT64_C(7) * 86400 * 1000 },
	};

	return parse_with_units(s, units, ARRAY_SIZE(units), ret_ms);
}

int parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* Names of targets and pools become directory names under queue/. */
bool valid_name(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > NAME_MAX_LEN || s[0] == '.')
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

/* A lowercase unquoted identifier reads the same quoted or not. */
bool valid_schema(const char *s)
{
	size_t i;

	if (!*s || strlen(s) > SCHEMA_MAX_LEN || (*s >= '0' && *s <= '9'))
		return false;
	for (i = 0; s[i]; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	}
	return true;
}

/* "64MiB", "1000": as the file would say it, for messages. */
const char *size_label(uint64_t v, char *buf, size_t size)
{
	static const struct unit units[] = {
		{ "TiB", UINT64_C(1) << 40 }, { "GiB", UINT64_C(1) << 30 },
		{ "MiB", UINT64_C(1) << 20 }, { "KiB", UINT64_C(1) << 10 },
	};
	size_t i;

	for (i = 0; v && i < ARRAY_SIZE(units); i++) {
		if (v % units[i].factor == 0) {
			snprintf(buf, size, "%" PRIu64 "%s", v / units[i].factor,
				 units[i].name);
			return buf;
		}
	}
	snprintf(buf, size, "%" PRIu64, v);
	return buf;
}
