/*
 * Configuration: the INI file described in DESIGN.md, read with inih.
 *
 * inih does the key = value splitting and the inline comments; this file
 * feeds it lines through its own reader and keeps track of sections itself,
 * because Debian's libinih (r55, built with its defaults) has traps that a
 * handler alone cannot see:
 *
 *  - the handler gets no line number (INI_HANDLER_LINENO is 0), and inih's
 *    own count is of reader calls, not of lines;
 *  - a line longer than its buffer (ini_max_line, 200) is silently split
 *    into bogus keys: the reader refuses such a line instead;
 *  - section names are silently truncated to 49 bytes (MAX_SECTION), and a
 *    section without keys never reaches the handler, so "[pool]" or a
 *    duplicate "[pool x]" would go unnoticed: the reader reads each
 *    "[section]" line itself;
 *  - an indented line continues the previous key's value (multi-line values
 *    as in Python's configparser), so an indented file would merge keys into
 *    one value: the reader strips leading blanks, and a continuation line
 *    becomes an ordinary line that is checked as such.
 *
 * None of inih's global settings are changed: they belong to the whole
 * process.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define NAME_MAX_LEN 63		/* of target and pool names, as NAMEDATALEN - 1 */
#define SCHEMA_MAX_LEN 57	/* with "_queue", its NOTIFY channel fits in 63 bytes */

#define DEFAULT_SCHEMA "pgqfs"
#define DEFAULT_WORKERS 32
#define DEFAULT_MAX_TASK_BYTES (UINT64_C(16) << 20)
#define MAX_MAX_TASK_BYTES (UINT64_C(1) << 30)
#define DEFAULT_RETENTION_MS (UINT64_C(7) * 24 * 3600 * 1000)
#define DEFAULT_TARGET_MAX_WORKERS 8
#define DEFAULT_MAX_PENDING_BYTES_PER_USER (UINT64_C(64) << 20)
#define DEFAULT_MAX_PENDING_BYTES (UINT64_C(256) << 20)
#define DEFAULT_MAX_RESERVED_IDS_PER_USER 1000
#define DEFAULT_REQUEST_TIMEOUT_MS UINT64_C(10000)
#define DEFAULT_CONNECT_TIMEOUT_MS UINT64_C(10000)
#define DEFAULT_MAX_RESULT_BYTES (UINT64_C(1) << 30)
/* Longer waits are hangs by another name; the cap also keeps deadline
 * arithmetic far from overflow. */
#define MAX_TIMEOUT_MS (UINT64_C(3600) * 1000)

enum section {
	SECTION_NONE,		/* before the first "[section]" line */
	SECTION_PGQFS,
	SECTION_TARGET,
	SECTION_POOL,
};

/* What the parser keeps about a pool until targets can be resolved: a pool
 * may name a target defined further down the file. */
struct pool_draft {
	char *target;		/* value of 'target =', NULL until seen */
	int line;		/* of the "[pool NAME]" line */
	int target_line;	/* of the 'target =' line */
	bool max_result_set;	/* max_result_bytes given in the section */
};

struct parser {
	const char *path;
	FILE *file;
	struct config *cfg;
	char *err;
	size_t errlen;
	int error;		/* first error as -errno; the reader stops at it */
	int line;		/* number of the line inih is working on */
	enum section section;	/* the one the current line belongs to */
	int section_line;	/* of its "[section]" line */
	int pgqfs_line;		/* of "[pgqfs]", 0 before it */
	/* Where the pending caps were set, 0 = not set: their defaults follow
	 * the keys that were, and a contradiction is reported at its line. */
	int pending_per_user_line;
	int pending_total_line;
	int *target_lines;	/* of each "[target NAME]", for duplicates */
	struct pool_draft *pools; /* parallel to cfg->pools */
	size_t n_drafts;
	size_t targets_cap;
	size_t pools_cap;
	int key_lines[32];	/* where each key of keys[] was set in the
				 * current section, 0 = not yet */
};

struct key {
	enum section section;
	const char *name;
	bool required;
	int (*set)(struct parser *p, const char *key, const char *value);
};

__attribute__((format(printf, 4, 5)))
static int fail(struct parser *p, int error, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->error)
		return p->error;
	p->error = error;
	if (!p->err || p->errlen == 0)
		return error;
	if (line > 0)
		n = snprintf(p->err, p->errlen, "%s:%d: ", p->path, line);
	else
		n = snprintf(p->err, p->errlen, "%s: ", p->path);
	if (n < 0 || (size_t)n >= p->errlen)
		return error;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return error;
}

static int fail_oom(struct parser *p)
{
	return fail(p, -ENOMEM, 0, "out of memory");
}

/* "[pgqfs]", "[pool default]": how messages name the current section. */
static const char *section_label(const struct parser *p, char *buf, size_t size)
{
	const struct config *cfg = p->cfg;

	switch (p->section) {
	case SECTION_PGQFS:
		return "[pgqfs]";
	case SECTION_TARGET:
		snprintf(buf, size, "[target %s]",
			 cfg->targets[cfg->n_targets - 1].name);
		return buf;
	case SECTION_POOL:
		snprintf(buf, size, "[pool %s]", cfg->pools[cfg->n_pools - 1].name);
		return buf;
	case SECTION_NONE:
		break;
	}
	return "(no section)";
}

/* Digits only, no sign or blanks, at most `max`. */
static int parse_int(const char *s, int min, int max, int *ret)
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

static int parse_bool(const char *s, bool *ret)
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
static bool valid_name(const char *s, size_t len)
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
static bool valid_schema(const char *s)
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

/* Stores a copy of `value` in *dst: inih's strings die with the callback. */
static int set_string(struct parser *p, char **dst, const char *value)
{
	char *copy = strdup(value);

	if (!copy)
		return fail_oom(p);
	free(*dst);
	*dst = copy;
	return 0;
}

/* Only '#' at the start of a line is a comment; say so when it explains a
 * bad value. */
static const char *comment_hint(const char *value)
{
	return strchr(value, '#') ?
	       "; inline comments start with ';', not '#'" : "";
}

static int bad_value(struct parser *p, const char *key, const char *value,
		     const char *expected)
{
	return fail(p, -EINVAL, p->line, "bad value for %s: '%s' (%s)%s", key,
		    value, expected, comment_hint(value));
}

static int set_int(struct parser *p, const char *key, const char *value,
		   int min, int *dst)
{
	if (parse_int(value, min, INT_MAX, dst) < 0)
		return bad_value(p, key, value, min == 0 ?
				 "expected a whole number >= 0" :
				 "expected a whole number >= 1");
	return 0;
}

/*
 * A conninfo libpq could not parse would fail at every connection, and
 * libpq's message quotes the text near the mistake, which may be a
 * password: refuse it here, naming the line, not the text.  A value that
 * is neither "key=value" pairs nor a URI is a database name (libpq's own
 * rule for expand_dbname).
 */
static int check_conninfo(struct parser *p, const char *key, const char *value)
{
	PQconninfoOption *opts;
	char *msg = NULL;

	if (!strchr(value, '=') && strncmp(value, "postgresql://", 13) != 0 &&
	    strncmp(value, "postgres://", 11) != 0)
		return 0;
	opts = PQconninfoParse(value, &msg);
	PQfreemem(msg);
	if (opts) {
		PQconninfoFree(opts);
		return 0;
	}
	return fail(p, -EINVAL, p->line,
		    "bad value for %s: libpq cannot parse it as a connection string "
		    "(its text is not shown: it may hold a password)", key);
}

static int set_control(struct parser *p, const char *key, const char *value)
{
	int r = check_conninfo(p, key, value);

	return r < 0 ? r : set_string(p, &p->cfg->control, value);
}

static int set_schema(struct parser *p, const char *key, const char *value)
{
	if (!valid_schema(value))
		return bad_value(p, key, value,
				 "expected a lowercase SQL identifier of at most 57 characters: a-z, 0-9 and _, not starting with a digit");
	return set_string(p, &p->cfg->schema, value);
}

static int set_workers(struct parser *p, const char *key, const char *value)
{
	return set_int(p, key, value, 0, &p->cfg->workers);
}

static int set_max_task_bytes(struct parser *p, const char *key,
			      const char *value)
{
	uint64_t v;

	if (config_parse_size(value, &v) < 0)
		return bad_value(p, key, value,
				 "expected a size such as 16MiB, 512KiB, 100kB or 4096");
	if (v < 1 || v > MAX_MAX_TASK_BYTES)
		return bad_value(p, key, value,
				 "must be at least 1 byte and at most 1GiB");
	p->cfg->max_task_bytes = v;
	return 0;
}

static int set_retention(struct parser *p, const char *key, const char *value)
{
	uint64_t v;

	if (config_parse_duration(value, &v) < 0)
		return bad_value(p, key, value,
				 "expected a duration such as 7d, 12h, 30m, 90s or 250ms");
	if (v == 0)
		return bad_value(p, key, value, "must be more than 0");
	p->cfg->retention_ms = v;
	return 0;
}

/* A size in [min, max]; `range` says what the bounds are. */
static int set_size(struct parser *p, const char *key, const char *value,
		    uint64_t min, uint64_t max, const char *range, uint64_t *dst)
{
	uint64_t v;

	if (config_parse_size(value, &v) < 0)
		return bad_value(p, key, value,
				 "expected a size such as 16MiB, 512KiB, 100kB or 4096");
	if (v < min || v > max)
		return bad_value(p, key, value, range);
	*dst = v;
	return 0;
}

/* A duration in [min, max] ms; `range` says what the bounds are. */
static int set_duration(struct parser *p, const char *key, const char *value,
			uint64_t min, uint64_t max, const char *range,
			uint64_t *dst)
{
	uint64_t v;

	if (config_parse_duration(value, &v) < 0)
		return bad_value(p, key, value,
				 "expected a duration such as 10s, 500ms or 1m");
	if (v < min || v > max)
		return bad_value(p, key, value, range);
	*dst = v;
	return 0;
}

static int set_max_pending_bytes_per_user(struct parser *p, const char *key,
					  const char *value)
{
	p->pending_per_user_line = p->line;
	return set_size(p, key, value, 1, UINT64_MAX, "must be at least 1 byte",
			&p->cfg->max_pending_bytes_per_user);
}

static int set_max_pending_bytes(struct parser *p, const char *key,
				 const char *value)
{
	p->pending_total_line = p->line;
	return set_size(p, key, value, 1, UINT64_MAX, "must be at least 1 byte",
			&p->cfg->max_pending_bytes);
}

static int set_max_reserved_ids_per_user(struct parser *p, const char *key,
					 const char *value)
{
	return set_int(p, key, value, 1, &p->cfg->max_reserved_ids_per_user);
}

static int set_request_timeout(struct parser *p, const char *key,
			       const char *value)
{
	return set_duration(p, key, value, 1, MAX_TIMEOUT_MS,
			    "must be more than 0 and at most 1h",
			    &p->cfg->request_timeout_ms);
}

/* Under a second, a remote server that is merely slow would look dead;
 * libpq itself counts this timeout in whole seconds. */
static int set_connect_timeout(struct parser *p, const char *key,
			       const char *value)
{
	return set_duration(p, key, value, 1000, MAX_TIMEOUT_MS,
			    "must be at least 1s and at most 1h",
			    &p->cfg->connect_timeout_ms);
}

static int set_max_result_bytes(struct parser *p, const char *key,
				const char *value)
{
	return set_size(p, key, value, 0, UINT64_MAX, "0 = no cap",
			&p->cfg->max_result_bytes);
}

static struct config_target *current_target(struct parser *p)
{
	return &p->cfg->targets[p->cfg->n_targets - 1];
}

static struct config_pool *current_pool(struct parser *p)
{
	return &p->cfg->pools[p->cfg->n_pools - 1];
}

static int set_conninfo(struct parser *p, const char *key, const char *value)
{
	int r = check_conninfo(p, key, value);

	return r < 0 ? r : set_string(p, &current_target(p)->conninfo, value);
}

static int set_target_max_workers(struct parser *p, const char *key,
				  const char *value)
{
	return set_int(p, key, value, 1, &current_target(p)->max_workers);
}

static int set_pool_target(struct parser *p, const char *key,
			   const char *value)
{
	struct pool_draft *d = &p->pools[p->cfg->n_pools - 1];

	(void)key;
	d->target_line = p->line;
	return set_string(p, &d->target, value);
}

static int set_pool_max_workers(struct parser *p, const char *key,
				const char *value)
{
	return set_int(p, key, value, 1, &current_pool(p)->max_workers);
}

static int set_pool_timeout(struct parser *p, const char *key, const char *value)
{
	if (config_parse_duration(value, &current_pool(p)->timeout_ms) < 0)
		return bad_value(p, key, value,
				 "expected a duration such as 30s, 10m or 2h (0: none)");
	return 0;
}

static int set_pool_max_result_bytes(struct parser *p, const char *key,
				     const char *value)
{
	p->pools[p->cfg->n_pools - 1].max_result_set = true;
	return set_size(p, key, value, 0, UINT64_MAX, "0 = no cap",
			&current_pool(p)->max_result_bytes);
}

static int set_public(struct parser *p, const char *key, const char *value)
{
	if (parse_bool(value, &current_pool(p)->public) < 0)
		return bad_value(p, key, value,
				 "expected yes/no, true/false, on/off or 1/0");
	return 0;
}

/* Every key; config/pgqfs.conf documents each one. */
static const struct key keys[] = {
	{ SECTION_PGQFS, "control", true, set_control },
	{ SECTION_PGQFS, "schema", false, set_schema },
	{ SECTION_PGQFS, "workers", false, set_workers },
	{ SECTION_PGQFS, "max_task_bytes", false, set_max_task_bytes },
	{ SECTION_PGQFS, "retention", false, set_retention },
	{ SECTION_PGQFS, "max_pending_bytes_per_user", false,
	  set_max_pending_bytes_per_user },
	{ SECTION_PGQFS, "max_pending_bytes", false, set_max_pending_bytes },
	{ SECTION_PGQFS, "max_reserved_ids_per_user", false,
	  set_max_reserved_ids_per_user },
	{ SECTION_PGQFS, "request_timeout", false, set_request_timeout },
	{ SECTION_PGQFS, "connect_timeout", false, set_connect_timeout },
	{ SECTION_PGQFS, "max_result_bytes", false, set_max_result_bytes },
	{ SECTION_TARGET, "conninfo", true, set_conninfo },
	{ SECTION_TARGET, "max_workers", false, set_target_max_workers },
	{ SECTION_POOL, "target", true, set_pool_target },
	{ SECTION_POOL, "max_workers", false, set_pool_max_workers },
	{ SECTION_POOL, "timeout", false, set_pool_timeout },
	{ SECTION_POOL, "public", false, set_public },
	{ SECTION_POOL, "max_result_bytes", false, set_pool_max_result_bytes },
};

_Static_assert(ARRAY_SIZE(keys) <= ARRAY_SIZE(((struct parser *)0)->key_lines),
	       "struct parser.key_lines is too small for keys[]");

/* inih's handler: one call per "key = value" line. */
static int on_key(void *user, const char *section, const char *name,
		  const char *value)
{
	struct parser *p = user;
	char label[NAME_MAX_LEN + 16];
	size_t i;

	/* inih's idea of the section may be truncated; ours is not. */
	(void)section;
	if (p->error)
		return 0;
	if (p->section == SECTION_NONE) {
		fail(p, -EINVAL, p->line, "key '%s' before any [section]", name);
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(keys); i++) {
		if (keys[i].section == p->section && strcmp(keys[i].name, name) == 0)
			break;
	}
	if (i == ARRAY_SIZE(keys)) {
		fail(p, -EINVAL, p->line, "unknown key '%s' in %s", name,
		     section_label(p, label, sizeof(label)));
		return 0;
	}
	if (p->key_lines[i]) {
		fail(p, -EINVAL, p->line, "'%s' is set twice in %s (first at line %d)",
		     name, section_label(p, label, sizeof(label)), p->key_lines[i]);
		return 0;
	}
	p->key_lines[i] = p->line;
	if (!*value) {
		fail(p, -EINVAL, p->line, "empty value for %s in %s", name,
		     section_label(p, label, sizeof(label)));
		return 0;
	}
	return keys[i].set(p, name, value) == 0;
}

/* Checks the keys of the section that ends here. */
static int end_section(struct parser *p)
{
	char label[NAME_MAX_LEN + 16];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(keys); i++) {
		if (keys[i].section == p->section && keys[i].required &&
		    !p->key_lines[i])
			return fail(p, -EINVAL, p->section_line,
				    "missing required key '%s' in %s", keys[i].name,
				    section_label(p, label, sizeof(label)));
	}
	return 0;
}

static int add_target(struct parser *p, const char *name, size_t len)
{
	struct config *cfg = p->cfg;
	struct config_target *t;
	size_t i;

	for (i = 0; i < cfg->n_targets; i++) {
		if (strlen(cfg->targets[i].name) == len &&
		    memcmp(cfg->targets[i].name, name, len) == 0)
			return fail(p, -EINVAL, p->line,
				    "duplicate [target %.*s] (first at line %d)",
				    (int)len, name, p->target_lines[i]);
	}
	if (cfg->n_targets == p->targets_cap) {
		size_t cap = p->targets_cap ? 2 * p->targets_cap : 4;
		struct config_target *targets;
		int *lines;

		targets = reallocarray(cfg->targets, cap, sizeof(*targets));
		if (!targets)
			return fail_oom(p);
		cfg->targets = targets;
		lines = reallocarray(p->target_lines, cap, sizeof(*lines));
		if (!lines)
			return fail_oom(p);
		p->target_lines = lines;
		p->targets_cap = cap;
	}
	t = &cfg->targets[cfg->n_targets];
	*t = (struct config_target){ .max_workers = DEFAULT_TARGET_MAX_WORKERS };
	t->name = strndup(name, len);
	if (!t->name)
		return fail_oom(p);
	p->target_lines[cfg->n_targets] = p->line;
	cfg->n_targets++;
	return 0;
}

static int add_pool(struct parser *p, const char *name, size_t len)
{
	struct config *cfg = p->cfg;
	struct config_pool *pool;
	size_t i;

	for (i = 0; i < cfg->n_pools; i++) {
		if (strlen(cfg->pools[i].name) == len &&
		    memcmp(cfg->pools[i].name, name, len) == 0)
			return fail(p, -EINVAL, p->line,
				    "duplicate [pool %.*s] (first at line %d)",
				    (int)len, name, p->pools[i].line);
	}
	if (cfg->n_pools == CONFIG_MAX_POOLS)
		return fail(p, -EINVAL, p->line, "more than %d pools", CONFIG_MAX_POOLS);
	if (cfg->n_pools == p->pools_cap) {
		size_t cap = p->pools_cap ? 2 * p->pools_cap : 4;
		struct config_pool *pools;
		struct pool_draft *drafts;

		pools = reallocarray(cfg->pools, cap, sizeof(*pools));
		if (!pools)
			return fail_oom(p);
		cfg->pools = pools;
		drafts = reallocarray(p->pools, cap, sizeof(*drafts));
		if (!drafts)
			return fail_oom(p);
		p->pools = drafts;
		p->pools_cap = cap;
	}
	pool = &cfg->pools[cfg->n_pools];
	/* max_workers 0 = not set: the target's, once it is known */
	*pool = (struct config_pool){ .max_workers = 0 };
	pool->name = strndup(name, len);
	if (!pool->name)
		return fail_oom(p);
	p->pools[cfg->n_pools] = (struct pool_draft){ .line = p->line };
	p->n_drafts = ++cfg->n_pools;
	return 0;
}

/* As inih's isspace(): it decides where inline comments start. */
static bool is_blank(char c)
{
	return isspace((unsigned char)c);
}

/*
 * A "[KIND NAME]" line, s at its '['.  Blanks around and between the words
 * are allowed: "[pool  default]" is [pool default].
 */
static int begin_section(struct parser *p, const char *s)
{
	const char *kind, *name, *end, *close, *rest;
	size_t kind_len, name_len;
	int r;

	/* inih ends the header at ']' or at an inline comment, as here */
	close = s + 1;
	while (*close && *close != ']' &&
	       !(*close == ';' && is_blank(close[-1])))
		close++;
	if (*close != ']')
		return fail(p, -EINVAL, p->line, "missing ']' in section header");
	rest = close + 1;
	while (is_blank(*rest))
		rest++;
	if (*rest && *rest != ';' && *rest != '#')
		return fail(p, -EINVAL, p->line, "unexpected text after ']'");

	r = end_section(p);
	if (r < 0)
		return r;
	p->section = SECTION_NONE;
	memset(p->key_lines, 0, sizeof(p->key_lines));
	p->section_line = p->line;

	kind = s + 1;
	while (is_blank(*kind))
		kind++;
	end = kind;
	while (end < close && !is_blank(*end))
		end++;
	kind_len = (size_t)(end - kind);
	name = end;
	while (name < close && is_blank(*name))
		name++;
	end = close;
	while (end > name && is_blank(end[-1]))
		end--;
	name_len = (size_t)(end - name);

	if (kind_len == 5 && memcmp(kind, "pgqfs", 5) == 0) {
		if (name_len)
			return fail(p, -EINVAL, p->line, "[pgqfs] takes no name");
		if (p->pgqfs_line)
			return fail(p, -EINVAL, p->line,
				    "duplicate [pgqfs] (first at line %d)",
				    p->pgqfs_line);
		p->pgqfs_line = p->line;
		p->section = SECTION_PGQFS;
		return 0;
	}
	if ((kind_len == 6 && memcmp(kind, "target", 6) == 0) ||
	    (kind_len == 4 && memcmp(kind, "pool", 4) == 0)) {
		bool target = kind_len == 6;

		if (!name_len)
			return fail(p, -EINVAL, p->line,
				    "[%.*s] needs a name, as in [%.*s NAME]",
				    (int)kind_len, kind, (int)kind_len, kind);
		if (!valid_name(name, name_len))
			return fail(p, -EINVAL, p->line,
				    "bad %s name '%.*s' (expected 1-63 characters of A-Z a-z 0-9 _ . -, not starting with '.')",
				    target ? "target" : "pool", (int)name_len, name);
		r = target ? add_target(p, name, name_len) :
			     add_pool(p, name, name_len);
		if (r < 0)
			return r;
		p->section = target ? SECTION_TARGET : SECTION_POOL;
		return 0;
	}
	return fail(p, -EINVAL, p->line,
		    "unknown section [%.*s] (expected [pgqfs], [target NAME] or [pool NAME])",
		    (int)(close - (s + 1)), s + 1);
}

/* inih would read a line without '=' or ':' (before any inline comment) as
 * a syntax error; say what is expected instead. */
static bool has_separator(const char *s)
{
	bool was_blank = false;

	for (; *s; s++) {
		if (*s == '=' || *s == ':')
			return true;
		if (*s == ';' && was_blank)
			return false;
		was_blank = is_blank(*s);
	}
	return false;
}

/*
 * inih's reader: one whole line per call, counted, checked against inih's
 * line buffer (`num` bytes, which "must be 3 more than the longest line"),
 * with leading blanks removed and section headers handled here.
 */
static char *read_line(char *str, int num, void *stream)
{
	struct parser *p = stream;
	size_t len = 0, max, skip;
	int c = 0;

	if (p->error || num < 4)
		return NULL;
	max = (size_t)num - 3;
	errno = 0;
	/* Stops once the line is known to be too long for inih. */
	while (len < (size_t)num - 1) {
		c = getc(p->file);
		if (c == EOF || c == '\n')
			break;
		if (c == '\0') {
			fail(p, -EINVAL, p->line + 1,
			     "NUL byte in line (is this a text file?)");
			return NULL;
		}
		str[len++] = (char)c;
	}
	if (c == EOF && ferror(p->file)) {
		int e = errno ? errno : EIO;
		char buf[128];

		fail(p, -e, 0, "cannot read: %s", strerror_r(e, buf, sizeof(buf)));
		return NULL;
	}
	if (c == EOF && len == 0)
		return NULL;
	p->line++;
	if (len > 0 && str[len - 1] == '\r' && c == '\n')
		len--;
	if (len > max) {
		fail(p, -EINVAL, p->line,
		     "line is longer than %zu bytes; put a long conninfo in a libpq service file (service=NAME)",
		     max);
		return NULL;
	}
	str[len] = '\0';

	skip = 0;
	if (p->line == 1 && len >= 3 && memcmp(str, "\xEF\xBB\xBF", 3) == 0)
		skip = 3;
	while (skip < len && isspace((unsigned char)str[skip]))
		skip++;
	memmove(str, str + skip, len - skip + 1);
	len -= skip;

	if (str[0] == '[') {
		if (begin_section(p, str) < 0)
			return NULL;
	} else if (str[0] && str[0] != ';' && str[0] != '#' &&
		   !has_separator(str)) {
		fail(p, -EINVAL, p->line,
		     "syntax error: expected 'key = value', '[section]' or a comment");
		return NULL;
	}
	str[len] = '\n';
	str[len + 1] = '\0';
	return str;
}

/* "64MiB", "1000": as the file would say it, for messages. */
static const char *size_label(uint64_t v, char *buf, size_t size)
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

/*
 * max_task_bytes <= max_pending_bytes_per_user <= max_pending_bytes, or a
 * file could never be written whole, or one user could never reach their
 * cap.  A cap not set follows the ones that were (within its default); two
 * that were set and contradict each other are refused.
 */
static int check_pending_caps(struct parser *p)
{
	struct config *cfg = p->cfg;
	char a[32], b[32];

	if (!p->pending_per_user_line) {
		if (cfg->max_pending_bytes_per_user < cfg->max_task_bytes)
			cfg->max_pending_bytes_per_user = cfg->max_task_bytes;
		if (p->pending_total_line &&
		    cfg->max_pending_bytes_per_user > cfg->max_pending_bytes)
			cfg->max_pending_bytes_per_user = cfg->max_pending_bytes;
	}
	if (!p->pending_total_line &&
	    cfg->max_pending_bytes < cfg->max_pending_bytes_per_user)
		cfg->max_pending_bytes = cfg->max_pending_bytes_per_user;

	if (cfg->max_pending_bytes_per_user < cfg->max_task_bytes) {
		bool user = p->pending_per_user_line != 0;

		return fail(p, -EINVAL,
			    user ? p->pending_per_user_line : p->pending_total_line,
			    "%s (%s) is less than max_task_bytes (%s): a file of max_task_bytes could never be written",
			    user ? "max_pending_bytes_per_user" : "max_pending_bytes",
			    size_label(user ? cfg->max_pending_bytes_per_user :
				       cfg->max_pending_bytes, a, sizeof(a)),
			    size_label(cfg->max_task_bytes, b, sizeof(b)));
	}
	if (cfg->max_pending_bytes < cfg->max_pending_bytes_per_user)
		return fail(p, -EINVAL, p->pending_total_line,
			    "max_pending_bytes (%s) is less than max_pending_bytes_per_user (%s): the total cap must be at least the per-user one",
			    size_label(cfg->max_pending_bytes, a, sizeof(a)),
			    size_label(cfg->max_pending_bytes_per_user, b, sizeof(b)));
	return 0;
}

/* After the last line: what needs the whole file. */
static int finish(struct parser *p)
{
	struct config *cfg = p->cfg;
	size_t i, j;
	int r;

	r = end_section(p);
	if (r < 0)
		return r;
	if (!p->pgqfs_line)
		return fail(p, -EINVAL, 0, "no [pgqfs] section");
	r = check_pending_caps(p);
	if (r < 0)
		return r;
	if (!cfg->schema) {
		cfg->schema = strdup(DEFAULT_SCHEMA);
		if (!cfg->schema)
			return fail_oom(p);
	}
	for (i = 0; i < cfg->n_pools; i++) {
		struct config_pool *pool = &cfg->pools[i];

		for (j = 0; j < cfg->n_targets; j++) {
			if (strcmp(cfg->targets[j].name, p->pools[i].target) == 0)
				break;
		}
		if (j == cfg->n_targets)
			return fail(p, -EINVAL, p->pools[i].target_line,
				    "pool '%s' names unknown target '%s'",
				    pool->name, p->pools[i].target);
		pool->target = j;
		if (!pool->max_workers)
			pool->max_workers = cfg->targets[j].max_workers;
		if (!p->pools[i].max_result_set)
			pool->max_result_bytes = cfg->max_result_bytes;
	}
	if (!cfg->n_pools)
		return fail(p, -EINVAL, 0, "no [pool] section");
	return 0;
}

int config_load(const char *path, struct config **ret, char *err,
		size_t errlen)
{
	struct parser p = {
		.path = path,
		.err = err,
		.errlen = errlen,
	};
	size_t i;
	int r;

	if (err && errlen)
		err[0] = '\0';
	p.cfg = calloc(1, sizeof(*p.cfg));
	if (!p.cfg)
		return fail_oom(&p);
	p.cfg->workers = DEFAULT_WORKERS;
	p.cfg->max_task_bytes = DEFAULT_MAX_TASK_BYTES;
	p.cfg->retention_ms = DEFAULT_RETENTION_MS;
	p.cfg->max_pending_bytes_per_user = DEFAULT_MAX_PENDING_BYTES_PER_USER;
	p.cfg->max_pending_bytes = DEFAULT_MAX_PENDING_BYTES;
	p.cfg->max_reserved_ids_per_user = DEFAULT_MAX_RESERVED_IDS_PER_USER;
	p.cfg->request_timeout_ms = DEFAULT_REQUEST_TIMEOUT_MS;
	p.cfg->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
	p.cfg->max_result_bytes = DEFAULT_MAX_RESULT_BYTES;
	p.cfg->path = strdup(path);
	if (!p.cfg->path) {
		r = fail_oom(&p);
		goto out;
	}

	p.file = fopen(path, "re");
	if (!p.file) {
		int e = errno;
		char buf[128];

		r = fail(&p, -e, 0, "cannot open: %s",
			 strerror_r(e, buf, sizeof(buf)));
		goto out;
	}
	r = ini_parse_stream(read_line, &p, on_key, &p);
	if (p.error) {
		r = p.error;
		goto out;
	}
	if (r == -2) {
		r = fail_oom(&p);
		goto out;
	}
	if (r != 0) {
		/* inih found something the reader did not foresee */
		r = fail(&p, -EINVAL, r > 0 ? r : 0, "syntax error");
		goto out;
	}
	r = finish(&p);
	if (r < 0)
		goto out;
	*ret = p.cfg;
	p.cfg = NULL;
out:
	if (p.file)
		fclose(p.file);
	for (i = 0; i < p.n_drafts; i++)
		free(p.pools[i].target);
	free(p.pools);
	free(p.target_lines);
	config_destroy(p.cfg);
	return r;
}

void config_destroy(struct config *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->n_targets; i++) {
		free(cfg->targets[i].name);
		free(cfg->targets[i].conninfo);
	}
	for (i = 0; i < cfg->n_pools; i++)
		free(cfg->pools[i].name);
	free(cfg->targets);
	free(cfg->pools);
	free(cfg->path);
	free(cfg->control);
	free(cfg->schema);
	free(cfg);
}

const struct config_pool *config_find_pool(const struct config *cfg,
					   const char *name)
{
	size_t i;

	for (i = 0; i < cfg->n_pools; i++) {
		if (strcmp(cfg->pools[i].name, name) == 0)
			return &cfg->pools[i];
	}
	return NULL;
}
