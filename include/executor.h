/*
 * The executor: one thread, one event loop over non-blocking libpq
 * connections: the control connection (claims, progress, LISTEN) and a
 * pool of connections per target that run the tasks' statements.
 */
#ifndef PGQFS_EXECUTOR_H
#define PGQFS_EXECUTOR_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "store.h"

struct executor;

/* Called on the executor thread with tasks that reached a final state
 * (committed), whichever daemon ran them.  own: from this daemon's own
 * committed statement; else from a NOTIFY, which any role that reaches
 * the control database may send: a hint to look the tasks up, not their
 * states.  It must not block. */
typedef void executor_finished_fn(void *arg, const int64_t *ids,
				  const enum task_state *states, size_t n, bool own);

/* Called on the executor thread after the control connection came back
 * (NOTIFYs sent while it was down are lost: re-check what waits for one).
 * It must not block. */
typedef void executor_reconnected_fn(void *arg);

/* Figures for the stats file, counted since this daemon started. */
struct executor_counters {
	uint64_t started;
	uint64_t done;
	uint64_t failed;
};

/*
 * Takes ownership of `control` (a connection from store_connect() on which
 * store_register() made `instance` alive).  `store` is told about a new
 * instance when the executor has to reconnect.  Borrowed: cfg, store.
 */
__attribute__((warn_unused_result))
int executor_create(const struct config *cfg, struct store *store, PGconn *control,
		    int64_t instance, executor_finished_fn *on_finished, void *arg,
		    struct executor **ret);

/* Sets the callback run after each reconnection (NULL: none).  Call it
 * before executor_start(). */
void executor_set_reconnected(struct executor *e, executor_reconnected_fn *fn, void *arg);

/* Starts the thread. */
__attribute__((warn_unused_result))
int executor_start(struct executor *e);

/*
 * Thread-safe: stops claiming (SIGTERM's drain); running tasks go on, and
 * staged tasks are still queued.  executor_drained() is true once no task
 * is left here and every end is recorded.
 */
void executor_drain(struct executor *e);
bool executor_drained(struct executor *e);

/*
 * Stops claiming, cancels running tasks (they fail with the server's
 * cancel error), records their end, and joins the thread.
 */
void executor_stop(struct executor *e);

/* Frees everything; accepts NULL.  Call after executor_stop(). */
void executor_destroy(struct executor *e);

/*
 * Thread-safe: the executor takes cfg (a reload) between two rounds of
 * its loop.  Borrowed: cfg, and the previous configuration, must stay
 * allocated until executor_destroy() (retired pools point into them).
 */
void executor_reload(struct executor *e, const struct config *cfg);

/* Thread-safe: a task was queued here; claim without waiting for NOTIFY. */
void executor_wake(struct executor *e);

/* Thread-safe: n `wait` readers are parked on the mount.  While any is,
 * no step is held back to gather ends (a script waits for its task). */
void executor_set_waiters(struct executor *e, size_t n);

/*
 * Thread-safe: the writer of staged task `id` closed it; committed_us is
 * when its content's commit was acknowledged (its submitted_at), or 0;
 * pool is its pool's name (borrowed: the filesystem's, freed only after
 * executor_stop()).  The executor queues it in its next claim statement (one
 * transaction for many tasks).
 * Returns -ENOMEM if it cannot take it (the caller then queues it itself).
 * plain: the file's first statement is a plain query (sql_plain_query()).
 * *ret_seq numbers the release for executor_release_settled().  held: its
 * claim went with its staging (executor_hold()): it starts without a
 * claim (*ret_seq is 0), or is claimed as any file if its hold is gone.
 */
__attribute__((warn_unused_result))
int executor_release(struct executor *e, int64_t id, int64_t committed_us, const char *pool,
		     bool plain, bool held, uint64_t *ret_seq);

/* Thread-safe: whether release `seq` is committed claimed or queued (its
 * row is no longer staged). */
bool executor_release_settled(struct executor *e, uint64_t seq);

/*
 * Claims with a file's staging (held.c).  Thread-safe.
 * executor_hold_room(): on an idle executor whose pool has room, takes a
 * slot and fills in c's request (the staging then asks for the claim);
 * false: no claim is asked.  Each true is followed by one
 * executor_hold() with the staging's outcome (id 0 if it failed), which
 * gives the slot back and, if the file was claimed, holds its task
 * (name and query copied; plain as for executor_release()) until
 * executor_release() of id starts it;
 * false if it does not (the caller gives a claim back: store_unhold()).
 * executor_unhold(): the held task id is dropped (its file was written
 * again, removed or renamed, and the store put its row back to staged or
 * removed it); its slot is free again.
 */
bool executor_hold_room(struct executor *e, const char *pool, struct stage_claim *c);
bool executor_hold(struct executor *e, const char *pool, int64_t id, const char *name,
		   const char *query, size_t len, bool plain, const struct stage_claim *c);
void executor_unhold(struct executor *e, int64_t id);
/* Thread-safe: the claim of task id, which the staging of instance took
 * and the caller could not give back (store_unhold() failed), goes back
 * once the executor's control connection can send it, before any
 * recovery could fail the task as if it had run. */
void executor_unhold_later(struct executor *e, int64_t id, int64_t instance);
/* After executor_stop(): gives back through store the claims the executor
 * still had to give back; what fails is logged (the recovery of its
 * instance fails those tasks as of unknown outcome). */
void executor_unhold_rest(struct executor *e, struct store *store);
/* Thread-safe: whether the executor drains or stops (it starts nothing
 * new: a claim held from now on is given back). */
bool executor_draining(struct executor *e);
/* Thread-safe: the ids of up to max tasks of pool and name that this
 * executor holds or runs; returns how many. */
size_t executor_task_ids(struct executor *e, const char *pool, const char *name, int64_t *ids,
			 size_t max);

void executor_get_counters(struct executor *e, struct executor_counters *ret);

/* ---- metrics (src/executor_metrics.c) ---- */

/* A histogram: bucket[i] counts observations <= bounds[i] and above the
 * bound before (not cumulative); bucket[n_bounds] those above them all. */
#define EXECUTOR_HIST_MAX 16
struct executor_histogram {
	const double *bounds;	/* static */
	size_t n_bounds;
	uint64_t bucket[EXECUTOR_HIST_MAX];
	double sum;
	uint64_t count;
};

enum executor_outcome { OUTCOME_DONE, OUTCOME_FAILED, OUTCOME_CANCELLED, N_OUTCOMES };

/* This daemon's figures for one pool since it started, kept by the pool's
 * name: a reload neither loses nor mixes them. */
struct executor_pool_metrics {
	char *pool;
	uint64_t submitted, started, retried;
	uint64_t finished[N_OUTCOMES];
	struct executor_histogram duration;	/* seconds, of tasks that ended */
};

/* Connections to one target, as of the executor's last loop round. */
struct executor_target_metrics {
	char *target;
	unsigned idle, busy, connecting;
};

/* The control statements whose latency is measured. */
enum executor_statement { ESTMT_CLAIM, ESTMT_PROGRESS, ESTMT_RECOVER, ESTMT_HOUSEKEEPING,
			  N_ESTMTS };

struct executor_metrics {
	struct executor_pool_metrics *pools;	/* every pool name counted so far */
	size_t n_pools;
	struct executor_target_metrics *targets; /* every target of the loop */
	size_t n_targets;
	struct executor_histogram statements[N_ESTMTS]; /* seconds, send to result */
};

/* Thread-safe: a copy of the figures (free it with
 * executor_metrics_finish()): 0 or -ENOMEM. */
__attribute__((warn_unused_result))
int executor_get_metrics(struct executor *e, struct executor_metrics *ret);
void executor_metrics_finish(struct executor_metrics *m);

/* The bounds of pgqfs_task_duration_seconds (seconds, static). */
void executor_duration_bounds(const double **ret, size_t *ret_n);

/* Thread-safe: a task of `pool` was submitted through this daemon. */
void executor_count_submitted(struct executor *e, const char *pool);

#endif
