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
 * (committed), whichever daemon ran them.  It must not block. */
typedef void executor_finished_fn(void *arg, const int64_t *ids,
				  const enum task_state *states, size_t n);

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

/* Thread-safe: a task was queued here; claim without waiting for NOTIFY. */
void executor_wake(struct executor *e);

/*
 * Thread-safe: the writer of staged task `id` closed it.  The executor
 * queues it in its next claim statement (one transaction for many tasks).
 * Returns -ENOMEM if it cannot take it (the caller then queues it itself).
 * *ret_seq numbers the release for executor_release_settled().
 */
__attribute__((warn_unused_result))
int executor_release(struct executor *e, int64_t id, uint64_t *ret_seq);

/* Thread-safe: whether release `seq` is committed claimed or queued (its
 * row is no longer staged). */
bool executor_release_settled(struct executor *e, uint64_t seq);

void executor_get_counters(struct executor *e, struct executor_counters *ret);

#endif
