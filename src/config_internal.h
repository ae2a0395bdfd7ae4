/*
 * What the configuration parser's files share (src/config*.c): the parser
 * state, the key table's shape, and the value parsers.  Private to them.
 */
#ifndef PGQFS_CONFIG_INTERNAL_H
#define PGQFS_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

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
#define DEFAULT_SHUTDOWN_GRACE_MS UINT64_C(30000)
#define DEFAULT_CONNECT_TIMEOUT_MS UINT64_C(10000)
/* Output sizes are int8 in the control database: far below its limit. */
#define MAX_RESULT_BYTES (UINT64_C(1) << 50)
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

/* config.c: errors (the first one wins; returns it) and messages. */
__attribute__((format(printf, 4, 5)))
int fail(struct parser *p, int error, int line, const char *fmt, ...);
int fail_oom(struct parser *p);
const char *section_label(const struct parser *p, char *buf, size_t size);

/* config_value.c: values as the file writes them. */
__attribute__((warn_unused_result))
int parse_int(const char *s, int min, int max, int *ret);
__attribute__((warn_unused_result))
int parse_bool(const char *s, bool *ret);
bool valid_name(const char *s, size_t len);
bool valid_schema(const char *s);
const char *size_label(uint64_t v, char *buf, size_t size);

/* config_keys.c: the key table. */
/* inih's handler: one call per "key = value" line. */
int on_key(void *user, const char *section, const char *name, const char *value);
/* Checks the keys of the section that ends here. */
int end_section(struct parser *p);

#endif
