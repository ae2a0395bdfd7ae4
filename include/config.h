/* Configuration: the INI file described in DESIGN.md, read with inih. */
#ifndef PGQFS_CONFIG_H
#define PGQFS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A database that tasks run against. */
struct config_target {
	char *name;		/* from [target NAME] */
	char *conninfo;		/* libpq conninfo; never logged or shown */
	int max_workers;	/* connections this daemon opens to it, >= 1 */
};

/* Pools one configuration may have (each is a directory with its own
 * inode number in the mount). */
#define CONFIG_MAX_POOLS 192

/* Who a pool's tasks connect to their target as. */
enum run_as {
	RUN_AS_TARGET,		/* the role of the target's conninfo */
	RUN_AS_SUBMITTER,	/* the role named like the submitting unix user */
};

/* A named queue with its own concurrency limit, bound to one target. */
struct config_pool {
	char *name;		/* from [pool NAME]; a directory under queue/ */
	size_t target;		/* index into config.targets */
	int max_workers;	/* running tasks of this pool across all daemons */
	uint64_t timeout_ms;	/* a task running longer is cancelled; 0 = never */
	uint64_t max_result_bytes; /* output a task may store; past it the task
				 * fails; 0 = no cap.  Default: [pgqfs]'s */
	bool public;		/* task files readable by everyone (mode 0444)
				 * instead of only their submitter (0400) */
	enum run_as run_as;	/* default RUN_AS_TARGET */
};

struct config {
	char *path;		/* the file it was read from */
	char *control;		/* conninfo of the control database */
	char *schema;		/* schema of pgqfs's tables there */
	int workers;		/* cap on running tasks of this daemon, 0 = none */
	uint64_t max_task_bytes; /* largest .sql file accepted */
	uint64_t retention_ms;	/* finished tasks older than this are removed */
	/* Bytes held in memory for files not yet submitted: past the first a
	 * uid gets EDQUOT, past the second everyone gets ENOSPC.  Always
	 * max_task_bytes <= per_user <= total. */
	uint64_t max_pending_bytes_per_user;
	uint64_t max_pending_bytes;
	int max_reserved_ids_per_user; /* outstanding new-id reservations, >= 1 */
	uint64_t request_timeout_ms; /* deadline of a filesystem request that
				 * needs the control database (EIO past it);
				 * 1 ms to 1 h */
	uint64_t connect_timeout_ms; /* for target and control connections
				 * whose conninfo sets no connect_timeout;
				 * 1 s to 1 h */
	uint64_t max_result_bytes; /* default of the pools' max_result_bytes */
	uint64_t shutdown_grace_ms; /* SIGTERM: how long running tasks may go
				 * on before they are cancelled; 0 = none */
	struct config_target *targets;
	size_t n_targets;
	struct config_pool *pools;
	size_t n_pools;
};

/*
 * Reads and validates `path`.  On success stores a new config in *ret
 * (free it with config_destroy()) and returns 0.  On failure returns
 * -errno (-EINVAL for a bad file, -ENOENT/-EACCES for one that cannot be
 * opened, -ENOMEM) and writes one message of the form
 * "FILE:LINE: message" (or "FILE: message" when no line applies) to
 * err[0..errlen).  Checks: unknown section or key, bad value, a line too
 * long for inih, a pool naming an unknown target, no pool, duplicate
 * names, missing required keys, caps that contradict each other (see
 * struct config).
 */
__attribute__((warn_unused_result))
int config_load(const char *path, struct config **ret, char *err,
		size_t errlen);

/* Frees a config from config_load(); accepts NULL. */
void config_destroy(struct config *cfg);

/* Returns the pool named `name`, or NULL. */
const struct config_pool *config_find_pool(const struct config *cfg,
					   const char *name);

/*
 * "16MiB", "512KiB", "1GiB", "100kB" (1000s), "4096" (bytes): 0 or -EINVAL.
 */
__attribute__((warn_unused_result))
int config_parse_size(const char *s, uint64_t *ret_bytes);

/* "7d", "30s", "5m", "2h", "250ms", "1w", "90" (seconds): 0 or -EINVAL. */
__attribute__((warn_unused_result))
int config_parse_duration(const char *s, uint64_t *ret_ms);

#endif
