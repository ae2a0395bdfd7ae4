/* The configuration's keys: one table, one setter per key. */
#include "config_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int set_shutdown_grace(struct parser *p, const char *key, const char *value)
{
	return set_duration(p, key, value, 0, MAX_TIMEOUT_MS, "0 = cancel at once, at most 1h",
			    &p->cfg->shutdown_grace_ms);
}

static int set_max_result_bytes(struct parser *p, const char *key,
				const char *value)
{
	return set_size(p, key, value, 0, MAX_RESULT_BYTES, "0 = no cap, at most 1PiB",
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
	return set_size(p, key, value, 0, MAX_RESULT_BYTES, "0 = no cap, at most 1PiB",
			&current_pool(p)->max_result_bytes);
}

static int set_public(struct parser *p, const char *key, const char *value)
{
	if (parse_bool(value, &current_pool(p)->public) < 0)
		return bad_value(p, key, value,
				 "expected yes/no, true/false, on/off or 1/0");
	return 0;
}

static int set_run_as(struct parser *p, const char *key, const char *value)
{
	if (strcmp(value, "target") == 0)
		current_pool(p)->run_as = RUN_AS_TARGET;
	else if (strcmp(value, "submitter") == 0)
		current_pool(p)->run_as = RUN_AS_SUBMITTER;
	else
		return bad_value(p, key, value, "expected target or submitter");
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
	{ SECTION_PGQFS, "shutdown_grace", false, set_shutdown_grace },
	{ SECTION_PGQFS, "connect_timeout", false, set_connect_timeout },
	{ SECTION_PGQFS, "max_result_bytes", false, set_max_result_bytes },
	{ SECTION_TARGET, "conninfo", true, set_conninfo },
	{ SECTION_TARGET, "max_workers", false, set_target_max_workers },
	{ SECTION_POOL, "target", true, set_pool_target },
	{ SECTION_POOL, "max_workers", false, set_pool_max_workers },
	{ SECTION_POOL, "timeout", false, set_pool_timeout },
	{ SECTION_POOL, "public", false, set_public },
	{ SECTION_POOL, "max_result_bytes", false, set_pool_max_result_bytes },
	{ SECTION_POOL, "run_as", false, set_run_as },
};

_Static_assert(ARRAY_SIZE(keys) <= ARRAY_SIZE(((struct parser *)0)->key_lines),
	       "struct parser.key_lines is too small for keys[]");

int on_key(void *user, const char *section, const char *name,
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

int end_section(struct parser *p)
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
