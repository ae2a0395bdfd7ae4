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
#include "config_internal.h"

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

int fail(struct parser *p, int error, int line, const char *fmt, ...)
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

int fail_oom(struct parser *p)
{
	return fail(p, -ENOMEM, 0, "out of memory");
}

/* "[pgqfs]", "[pool default]": how messages name the current section. */
const char *section_label(const struct parser *p, char *buf, size_t size)
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
	p.cfg->shutdown_grace_ms = DEFAULT_SHUTDOWN_GRACE_MS;
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
