/*
 * libFuzzer harness for the configuration file parser (src/config.c).
 *
 * The input is a configuration file.  config_load() takes a path, so the
 * input is written to a memfd and loaded through /proc/self/fd/N.  Besides
 * not crashing (ASan, UBSan) and not leaking (LSan), config_load() must:
 *  - return 0 with a configuration that holds what DESIGN.md promises
 *    (a control conninfo, a valid schema, at least one pool, each bound to
 *    a target that exists, names unique and valid, limits in range), or
 *  - return -EINVAL with one message "FILE:LINE: text" (LINE a line of
 *    the input) or "FILE: text";
 *  - give the same answer again, and with a small error buffer a
 *    NUL-terminated prefix of the same message;
 *  - for a valid file, read back the configuration it returned, written
 *    out again as a file, as the same configuration.
 * The input up to its first NUL also goes through config_parse_size() and
 * config_parse_duration(), which must agree with strtoull on plain digits.
 * A broken property aborts, which libFuzzer reports as a crash.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"

static int fd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fd = memfd_create("pgqfs-fuzz.conf", MFD_CLOEXEC);
	CHECK(fd >= 0, "memfd_create: %s", strerror(errno));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return 0;
}

static bool valid_name(const char *s)
{
	size_t i, len = strlen(s);

	if (len == 0 || len > 63 || s[0] == '.')
		return false;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		      s[i] == '.' || s[i] == '-'))
			return false;
	return true;
}

static bool valid_schema(const char *s)
{
	size_t i, len = strlen(s);

	if (len == 0 || len > 57 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

static void check_config(const struct config *cfg)
{
	size_t i, j;

	CHECK(cfg, "success without a configuration");
	CHECK(cfg->path && strcmp(cfg->path, path) == 0, "path");
	CHECK(cfg->control && *cfg->control, "no control conninfo");
	CHECK(cfg->schema && valid_schema(cfg->schema), "schema '%s'",
	      cfg->schema ? cfg->schema : "(null)");
	CHECK(cfg->workers >= 0, "workers %d", cfg->workers);
	CHECK(cfg->max_task_bytes >= 1 &&
	      cfg->max_task_bytes <= (UINT64_C(1) << 30),
	      "max_task_bytes %llu", (unsigned long long)cfg->max_task_bytes);
	CHECK(cfg->retention_ms > 0, "retention 0");
	CHECK(cfg->n_pools >= 1 && cfg->n_pools <= CONFIG_MAX_POOLS,
	      "%zu pools", cfg->n_pools);
	CHECK(cfg->n_targets >= 1, "pools without targets");
	for (i = 0; i < cfg->n_targets; i++) {
		const struct config_target *t = &cfg->targets[i];

		CHECK(valid_name(t->name), "target name '%s'", t->name);
		CHECK(t->conninfo && *t->conninfo, "target %s: no conninfo",
		      t->name);
		CHECK(t->max_workers >= 1, "target %s: max_workers %d",
		      t->name, t->max_workers);
		for (j = 0; j < i; j++)
			CHECK(strcmp(cfg->targets[j].name, t->name) != 0,
			      "target %s twice", t->name);
	}
	for (i = 0; i < cfg->n_pools; i++) {
		const struct config_pool *p = &cfg->pools[i];

		CHECK(valid_name(p->name), "pool name '%s'", p->name);
		CHECK(p->target < cfg->n_targets, "pool %s: target %zu of %zu",
		      p->name, p->target, cfg->n_targets);
		CHECK(p->max_workers >= 1, "pool %s: max_workers %d", p->name,
		      p->max_workers);
		for (j = 0; j < i; j++)
			CHECK(strcmp(cfg->pools[j].name, p->name) != 0,
			      "pool %s twice", p->name);
		CHECK(config_find_pool(cfg, p->name) == p, "pool %s not found",
		      p->name);
	}
}

/*
 * Writes cfg back as a file, each key in its shortest form (so that no
 * line grows past the limit its source line kept to), and loads that.
 */
static void check_round_trip(const struct config *cfg)
{
	struct config *again = NULL;
	char err[512];
	FILE *f;
	size_t i;
	int r;

	/* The duplicate shares the file offset: rewind it. */
	CHECK(ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0,
	      "truncate: %s", strerror(errno));
	f = fdopen(dup(fd), "w");
	CHECK(f, "fdopen: %s", strerror(errno));
	fprintf(f, "[pgqfs]\ncontrol=%s\nschema=%s\nworkers=%d\n"
		"max_task_bytes=%llu\nretention=%llums\n", cfg->control,
		cfg->schema, cfg->workers,
		(unsigned long long)cfg->max_task_bytes,
		(unsigned long long)cfg->retention_ms);
	for (i = 0; i < cfg->n_targets; i++)
		fprintf(f, "[target %s]\nconninfo=%s\nmax_workers=%d\n",
			cfg->targets[i].name, cfg->targets[i].conninfo,
			cfg->targets[i].max_workers);
	for (i = 0; i < cfg->n_pools; i++) {
		const struct config_pool *p = &cfg->pools[i];

		fprintf(f, "[pool %s]\ntarget=%s\nmax_workers=%d\npublic=%s\n",
			p->name, cfg->targets[p->target].name, p->max_workers,
			p->public ? "yes" : "no");
		if (p->timeout_ms)
			fprintf(f, "timeout=%llums\n",
				(unsigned long long)p->timeout_ms);
	}
	CHECK(fclose(f) == 0, "write: %s", strerror(errno));

	r = config_load(path, &again, err, sizeof(err));
	CHECK(r == 0, "the configuration written back does not load: %s", err);
	CHECK(strcmp(again->control, cfg->control) == 0 &&
	      strcmp(again->schema, cfg->schema) == 0 &&
	      again->workers == cfg->workers &&
	      again->max_task_bytes == cfg->max_task_bytes &&
	      again->retention_ms == cfg->retention_ms &&
	      again->n_targets == cfg->n_targets &&
	      again->n_pools == cfg->n_pools, "[pgqfs] reads back differently");
	for (i = 0; i < cfg->n_targets; i++)
		CHECK(strcmp(again->targets[i].name, cfg->targets[i].name) == 0 &&
		      strcmp(again->targets[i].conninfo,
			     cfg->targets[i].conninfo) == 0 &&
		      again->targets[i].max_workers ==
		      cfg->targets[i].max_workers,
		      "[target %s] reads back differently", cfg->targets[i].name);
	for (i = 0; i < cfg->n_pools; i++)
		CHECK(strcmp(again->pools[i].name, cfg->pools[i].name) == 0 &&
		      again->pools[i].target == cfg->pools[i].target &&
		      again->pools[i].max_workers == cfg->pools[i].max_workers &&
		      again->pools[i].timeout_ms == cfg->pools[i].timeout_ms &&
		      again->pools[i].public == cfg->pools[i].public,
		      "[pool %s] reads back differently", cfg->pools[i].name);
	config_destroy(again);
}

/* err is "PATH:LINE: text" with 1 <= LINE <= lines, or "PATH: text". */
static void check_message(const char *err, size_t errlen, size_t lines)
{
	size_t plen = strlen(path);
	const char *s;
	char *end;
	unsigned long line;

	CHECK(memchr(err, '\0', errlen), "message not NUL-terminated");
	CHECK(strncmp(err, path, plen) == 0 && err[plen] == ':',
	      "message does not start with the path: '%s'", err);
	s = err + plen + 1;
	if (*s >= '0' && *s <= '9') {
		errno = 0;
		line = strtoul(s, &end, 10);
		CHECK(errno == 0 && line >= 1 && line <= lines,
		      "line %lu of %zu: '%s'", line, lines, err);
		CHECK(*end == ':', "no ':' after the line: '%s'", err);
		s = end + 1;
	}
	CHECK(s[0] == ' ' && s[1] != '\0' && s[1] != ' ',
	      "no text after the location: '%s'", err);
}

/* config_parse_size/duration agree with strtoull on plain digits. */
static void check_units(const uint8_t *data, size_t size)
{
	char s[48];
	size_t n = strnlen((const char *)data, size), i;
	unsigned long long want;
	uint64_t v;
	bool digits;
	int r;

	if (n >= sizeof(s))
		n = sizeof(s) - 1;
	memcpy(s, data, n);
	s[n] = '\0';
	r = config_parse_size(s, &v);
	CHECK(r == 0 || r == -EINVAL, "config_parse_size: %d", r);
	r = config_parse_duration(s, &v);
	CHECK(r == 0 || r == -EINVAL, "config_parse_duration: %d", r);

	digits = n > 0 && n <= 19;
	for (i = 0; i < n; i++)
		digits = digits && s[i] >= '0' && s[i] <= '9';
	if (!digits)
		return;
	want = strtoull(s, NULL, 10);
	CHECK(config_parse_size(s, &v) == 0 && v == want, "size '%s'", s);
	r = config_parse_duration(s, &v);
	if (want <= UINT64_MAX / 1000)
		CHECK(r == 0 && v == want * 1000, "duration '%s'", s);
	else
		CHECK(r == -EINVAL, "duration '%s' overflows", s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg = NULL, *cfg2 = NULL;
	char err[512], small[16];
	size_t lines = 0, i, smalllen;
	int r, r2;

	check_units(data, size);

	CHECK(ftruncate(fd, 0) == 0, "ftruncate: %s", strerror(errno));
	CHECK(pwrite(fd, data, size, 0) == (ssize_t)size, "pwrite: %s",
	      strerror(errno));
	for (i = 0; i < size; i++)
		lines += data[i] == '\n';
	lines += size > 0 && data[size - 1] != '\n';

	memset(err, 'x', sizeof(err));
	r = config_load(path, &cfg, err, sizeof(err));
	if (r == 0) {
		CHECK(err[0] == '\0', "success with a message: '%s'", err);
		check_config(cfg);
	} else {
		CHECK(r == -EINVAL, "config_load returned %d: %.*s", r,
		      (int)sizeof(err), err);
		CHECK(cfg == NULL, "failure with a configuration");
		check_message(err, sizeof(err), lines);
	}

	/* Again, with a buffer of 0 to 15 bytes. */
	smalllen = size > 0 ? data[0] % sizeof(small) : 0;
	memset(small, 'x', sizeof(small));
	r2 = config_load(path, &cfg2, small, smalllen);
	CHECK(r2 == r, "a second load returns %d, the first %d", r2, r);
	if (smalllen > 0) {
		CHECK(memchr(small, '\0', smalllen), "short message not terminated");
		CHECK(strncmp(small, err, strlen(small)) == 0 &&
		      (r != 0 || small[0] == '\0'),
		      "short message '%s' is not a prefix of '%s'", small, err);
	} else {
		CHECK(small[0] == 'x', "a buffer of 0 bytes was written");
	}
	CHECK(smalllen == sizeof(small) || small[smalllen] == 'x' ||
	      smalllen == 0, "wrote past the buffer");
	if (r == 0)
		check_round_trip(cfg);
	config_destroy(cfg);
	config_destroy(cfg2);
	return 0;
}
