/*
 * The queue store: every SQL statement pgqfs runs against the control
 * database lives in src/store.c.  Two kinds of callers:
 *
 *  - the filesystem's request threads, through struct store: a small pool
 *    of connections; each call takes a connection, runs one statement
 *    (one transaction), waits for it within a deadline and returns 0 or
 *    -errno;
 *  - the executor, which owns one non-blocking control connection and
 *    uses the store_send_*() functions to put a statement on it and the
 *    parsers below to read the answers in its event loop.
 *
 * Every statement is a constant string; values travel as parameters.
 */
#ifndef PGQFS_STORE_H
#define PGQFS_STORE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "task.h"

#define STORE_SCHEMA_VERSION 6

/*
 * NOTIFY channels, named after the schema so that installations sharing a
 * database do not wake each other: SCHEMA_queue (a pool has queued work
 * or its settings changed; payload: the pool's name), SCHEMA_done (tasks
 * ended; payload: "id:state" items separated by commas) and SCHEMA_stop
 * (a running task is to be cancelled; payload "id:uid", uid who asked).
 */
#define STORE_CHANNEL_QUEUE "_queue"
#define STORE_CHANNEL_DONE "_done"
#define STORE_CHANNEL_CANCEL "_stop"
#define STORE_N_CHANNELS 3

/* Appends "LISTEN <channel i of the schema>" (quoted) to ret_sql. */
__attribute__((warn_unused_result))
int store_listen_command(PGconn *conn, const struct config *cfg, size_t i,
			 struct buf *ret_sql);

/* A libpq notice processor for the control database's connections: the
 * server's messages outside a statement (a FATAL before it ends the
 * session, a WARNING) go to the daemon's log, not to bare stderr. */
void store_log_notice(void *arg, const char *message);

/* LISTENs on both channels of the schema (blocking). */
__attribute__((warn_unused_result))
int store_listen(PGconn *conn, const struct config *cfg);

struct store;

/* One task row as the filesystem shows it.  Times are microseconds since
 * the epoch, 0 when not set.  Strings are malloc'd: task_info_finish(). */
struct task_info {
	int64_t id;
	char *pool;
	char *name;		/* the file name it was submitted as */
	char *target;		/* NULL until it starts */
	char *daemon;		/* host:pid of the daemon that ran it */
	char *error;		/* content of the error file, NULL if none */
	size_t error_len;
	enum task_state state;
	uint32_t uid, gid;	/* submitter */
	int64_t submitted_us, started_us, finished_us, changed_us;
	int64_t result_us, log_us;	/* last change of those streams */
	int64_t query_size, result_size, log_size;
	int64_t json_size, json_us;	/* result.json's size, last change */
	int64_t group_id;	/* a member: its group; else 0 */
	bool is_group;		/* a group: runs nothing, its result lists
				 * its members (store_group_result()) */
	int64_t n_members;
	int64_t rows;		/* -1 until it finishes */
	int64_t attempt;
	int64_t backend_pid;	/* 0 until it starts */
	char *options;		/* the header's options in effect, "key=value\n"
				 * lines (NULL for tasks before version 3) */
	char *waits_for;	/* queued: the after= ids not done yet, "1,2" */
	int64_t run_at_us;	/* queued: held until then (not_before, a
				 * retry's back-off); 0: not held */
	/* running: where it is, as last stored (about a second late): 0 if
	 * not known */
	int64_t stmt, n_stmts, rows_now;
};

void task_info_finish(struct task_info *t);

/* A directory entry as readdir shows it.  Strings are borrowed: valid
 * only during the callback that receives the entry. */
struct task_entry {
	int64_t id;
	enum task_state state;
	uint32_t uid, gid;
	int64_t mtime_us;
	int64_t size;		/* pending entries: the SQL's size */
	const char *pool;
	const char *name;	/* pending entries only, else NULL */
};

/* Called for each listed entry, in id order; non-zero stops the listing
 * and is returned. */
typedef int store_entry_fn(void *arg, const struct task_entry *e);

/* What a writer submits. */
/*
 * A claim asked with a file's staging (schema_v13.sql.h): max, want and
 * local as for claim_one(); the rest is the answer, claimed and the
 * claimed row's fields (submitted_us: the row's, not the commit's).
 */
struct stage_claim {
	int max, want, local;
	bool claimed;
	int64_t submitted_us, log_size, pool_next_us;
	int attempt, priority, pool_max;
	uint32_t uid;
	bool pool_paused;
	uint64_t epoch;		/* the executor's (held.c) */
	int64_t instance;	/* the staging's, which owns the claim */
};

struct submission {
	const char *pool;
	const char *name;
	uint32_t uid, gid;
	const char *data;
	size_t len;
	struct stage_claim *claim;	/* NULL: staged only */
};

/*
 * Connects (blocking) to the control database and returns a connection
 * set up for the store: search_path on the schema, application_name.
 * The caller owns it.  On failure returns NULL and logs why.
 */
PGconn *store_connect(const struct config *cfg, const char *purpose);

/* Creates or upgrades the schema (blocking; safe against concurrent daemons). */
__attribute__((warn_unused_result))
int store_migrate(PGconn *conn, const struct config *cfg);

/*
 * Registers this daemon as an instance and takes the session advisory lock
 * that proves it alive for as long as `conn` lives.  Blocking.
 */
__attribute__((warn_unused_result))
int store_register(PGconn *conn, const struct config *cfg, int64_t *ret_instance);

/* ---- filesystem side (waits within a deadline, thread-safe) ---- */

/* Why the calling thread's last store call failed (thread-local). */
const char *store_last_error(void);

/*
 * Every call below waits for the database at most request_timeout (then
 * -EIO, and the connection is dropped: a stopped server never holds a
 * thread).  A thread serving one filesystem request can say so: from
 * store_request_begin() to store_request_end() its calls share one
 * deadline, and they give up with -EINTR once interrupted(arg) returns
 * true, which they poll (every 50 ms) while they wait, from grace_ms after
 * the span began.  The callback runs on the calling thread and must not
 * block.  No store call may come in the span once `arg` is gone (the
 * request answered): end it before that.
 */
typedef bool store_interrupted_fn(void *arg);

/*
 * For other non-blocking libpq connections of a request thread (the
 * progress file's to targets): they give up as the store's calls do, at
 * deadline (mono_ms(), -ETIMEDOUT) or when the thread's request span is
 * interrupted (-EINTR).  store_pq_wait() waits until pg's socket is ready
 * for `events` (0, or -EIO: no socket); store_pq_result() returns the
 * answer to what was just sent: 0 and *ret (of any status; an error wins
 * over other results), or -EIO when the connection broke.
 */
__attribute__((warn_unused_result))
int store_pq_wait(PGconn *pg, short events, int64_t deadline);
/* PQconnectStartParams(keys, vals, expand_dbname) and its polls, within
 * deadline: 0 and *ret non-blocking, or -errno with *ret to read the
 * error from and PQfinish() (NULL for -ENOMEM). */
__attribute__((warn_unused_result))
int store_pq_connect(const char *const *keys, const char *const *vals, int64_t deadline,
		     PGconn **ret);
__attribute__((warn_unused_result))
int store_pq_result(PGconn *pg, int64_t deadline, PGresult **ret);
void store_request_begin(struct store *s, store_interrupted_fn *interrupted, void *arg,
			 int64_t grace_ms);
/*
 * The grace of a FUSE request's span.  The kernel sends FUSE an interrupt
 * for any signal the caller handles: a shell's SIGCHLD from a background
 * job that ends, in the few milliseconds an `echo 1 > tasks/ID/cancel`
 * waits for its commit, failed that write with EINTR (bash does not write
 * again).  A request stuck on the database still ends on Ctrl-C, this
 * much later at most.
 */
#define STORE_INTERRUPT_GRACE_MS 300
void store_request_end(void);

__attribute__((warn_unused_result))
int store_create(const struct config *cfg, struct store **ret);
void store_destroy(struct store *s);
/* A reloaded configuration (same control database and schema); the old one
 * must stay allocated until store_destroy(). */
void store_set_config(struct store *s, const struct config *cfg);
/* The instance that rows staged from now on belong to. */
void store_set_instance(struct store *s, int64_t instance);

__attribute__((warn_unused_result))
int store_get_task(struct store *s, int64_t id, struct task_info *ret);
/* The states of n tasks in one statement: ret_states[i] is ids[i]'s
 * enum task_state, or -ENOENT when there is no such task (any more). */
__attribute__((warn_unused_result))
int store_get_states(struct store *s, const int64_t *ids, size_t n, int *ret_states);
/* A staged or queued task of `pool` named `name`; -ENOENT if none. */
__attribute__((warn_unused_result))
int store_get_pending(struct store *s, const char *pool, const char *name,
		      struct task_info *ret);

/*
 * Tasks whose state is in `state_mask` (bits 1 << enum task_state), by id,
 * fetched a page at a time so that a listing of any size holds little.
 */
__attribute__((warn_unused_result))
int store_list_tasks(struct store *s, unsigned state_mask, store_entry_fn *cb, void *arg);
/* Staged and queued tasks of a pool, with names. */
__attribute__((warn_unused_result))
int store_list_pending(struct store *s, const char *pool, store_entry_fn *cb, void *arg);

/*
 * The names pending (staged or queued, not a group's member) in a pool,
 * each to cb: how many, or -E2BIG when there are more than max (then cb
 * saw none).  One statement, read through the partial unique index
 * (pending_names(), schema version 6).
 */
typedef int store_name_fn(void *arg, const char *name);
__attribute__((warn_unused_result))
int store_pending_names(struct store *s, const char *pool, size_t max,
			store_name_fn *cb, void *arg);

/* A group's result: "id,state" and one line per member, in statement order. */
__attribute__((warn_unused_result))
int store_group_result(struct store *s, int64_t id, struct buf *out);

/* Appends bytes [off, off+size) of a stream (or less at its end) to out. */
__attribute__((warn_unused_result))
int store_read_stream(struct store *s, int64_t id, enum task_stream stream,
		      uint64_t off, size_t size, struct buf *out);
__attribute__((warn_unused_result))
int store_read_query(struct store *s, int64_t id, uint64_t off, size_t size,
		     struct buf *out);

/*
 * Durably stores a writer's content as a staged task.  *inout_id 0 creates
 * the task (taking the id reserved through new-id when the name is
 * "<id>.sql" and the same user reserved it) and sets *inout_id; otherwise
 * replaces the content of that staged task.  -EBUSY: the name is pending
 * (or the reserved id's task is); -EACCES: the name is an id another user
 * reserved; -EEXIST: the reserved id's task has left the queue already.
 */
__attribute__((warn_unused_result))
int store_stage(struct store *s, const struct submission *sub, int64_t *inout_id,
		int64_t *ret_submitted_us);
/* Whether this thread's last failed store_stage() may have committed all
 * the same: its connection was lost or timed out during the statement
 * (then a new task's row may be in the store, its id unknown here). */
bool store_stage_outcome_unknown(void);
/* Task id, claimed with its staging by this daemon's instance (0: the
 * current one), is given back: staged again if it did not start,
 * failed if it did (struct give_back). */
__attribute__((warn_unused_result))
int store_unhold(struct store *s, int64_t instance, int64_t id, bool started);
/* Makes a staged task runnable and wakes every daemon. */
__attribute__((warn_unused_result))
int store_release(struct store *s, int64_t id);
/* Drops a staged task whose writer emptied the file (a group's staged
 * members with it). */
__attribute__((warn_unused_result))
int store_unstage(struct store *s, int64_t id);
/* Drops this daemon's staged task `name` of `pool` (staged as instance,
 * or as the instance now; or claimed with its staging), if any, but tasks
 * keep[0..n_keep) (at most 16: the daemon's own tasks of that name): the
 * row a staging commit whose outcome was unknown may have left.
 * *ret_found: whether there was one. */
__attribute__((warn_unused_result))
int store_unstage_name(struct store *s, const char *pool, const char *name, int64_t instance,
		       const int64_t *keep, size_t n_keep, bool *ret_found);
/* The instance that rows staged now belong to. */
int64_t store_instance(struct store *s);
/* Stores and queues in one transaction (a rename into the queue). */
__attribute__((warn_unused_result))
int store_submit(struct store *s, const struct submission *sub, int64_t *ret_id);
/* Cancels the pending task `name` of `pool`; -ENOENT if not pending,
 * -EPERM if it is not by_uid's (uid 0 may cancel any). */
__attribute__((warn_unused_result))
int store_cancel(struct store *s, const char *pool, const char *name,
		 uint32_t by_uid, int64_t *ret_id);
/*
 * tasks/ID/cancel: cancels task id for by_uid (uid 0: anyone's); a running
 * task is asked to stop on the daemon that runs it.  -ENOENT no such task,
 * -EACCES not by_uid's, -EINVAL it has finished.
 */
__attribute__((warn_unused_result))
int store_cancel_task(struct store *s, int64_t id, uint32_t by_uid);
/*
 * tasks/ID/retry: queues failed or cancelled task id again under its id.
 * -ENOENT, -EACCES as above; -EINVAL it is not failed or cancelled;
 * -EBUSY its name is pending in its pool again.
 */
__attribute__((warn_unused_result))
int store_retry_task(struct store *s, int64_t id, uint32_t by_uid);
/*
 * pools/POOL: the live settings of a pool.  Reading: *ret_max is the
 * recorded max_workers, or -1 when none was written (the configuration's
 * applies); *ret_paused.  Writing: max_workers >= 1, or -1 to keep it;
 * paused 0 or 1, or -1 to keep it; every daemon obeys within a second.
 */
__attribute__((warn_unused_result))
int store_get_pool(struct store *s, const char *pool, int *ret_max, bool *ret_paused);
__attribute__((warn_unused_result))
int store_set_pool(struct store *s, const char *pool, int max_workers, int paused,
		   uint32_t by_uid);
/* Opens up to n connections ahead of the first requests (mount time). */
void store_warm(struct store *s, size_t n);
/* Reserves a fresh id for `uid`, and says whether a task named ID.sql is
 * pending in one of this daemon's pools.  -EDQUOT: uid holds
 * max_reserved_ids_per_user unused reservations already. */
__attribute__((warn_unused_result))
int store_new_id(struct store *s, uint32_t uid, int64_t *ret_id, bool *ret_name_pending);
/*
 * Who reserved task id `id` through new-id (*ret_uid), whether a file of
 * that id was submitted (*ret_used) and whether that task is still pending
 * (*ret_pending).  -ENOENT: the id was never handed out (or its reservation
 * expired): "<id>.sql" is an ordinary name.
 */
__attribute__((warn_unused_result))
int store_get_reservation(struct store *s, int64_t id, uint32_t *ret_uid, bool *ret_used,
			  bool *ret_pending);
/* Tasks of one pool by state (staged ones count as queued: their
 * writers' cp has returned). */
struct pool_counts {
	char *pool;
	int64_t n[TASK_CANCELLED + 1];	/* by enum task_state */
};

/* Every pool that has tasks in the control database, by name. */
struct store_counts {
	struct pool_counts *pools;
	size_t n;
};

/* Counts retained tasks by pool and state (the figures of `stats`). */
__attribute__((warn_unused_result))
int store_count_tasks(struct store *s, struct store_counts *ret);
void store_counts_finish(struct store_counts *c);

/* ---- schedules (src/store_schedule.c): schedules/<pool>/NAME.sql ---- */
/* The payload of the SCHEMA_queue NOTIFY that says a schedule changed (no
 * pool has that name: pool names do not start with a dot). */
#define STORE_SCHEDULES_PAYLOAD ".schedules"
/* A schedule as the filesystem shows it.  Strings are malloc'd:
 * schedule_info_finish(). */
struct schedule_info {
	char *pool;
	char *name;
	uint32_t uid, gid;	/* its owner, who wrote it last */
	int64_t size;		/* of its file */
	int64_t changed_us;	/* last written */
	char *query;		/* the file, when asked for (not NUL-terminated) */
};
void schedule_info_finish(struct schedule_info *si);
/* What a writer stores: the file and what its header says. */
struct schedule_def {
	const char *pool;
	const char *name;
	uint32_t uid, gid;
	const char *data;
	size_t len;
	int priority;
	const char *after;	/* after= ids "1,2", or NULL */
	int64_t nb_us;		/* not_before absolute (us since 1970), or -1 */
	int64_t nb_ms;		/* not_before after the submission, or -1 */
	const char *options;	/* as info shows them */
	int64_t every_ms;	/* every=, or 0 */
	const char *cron;	/* cron=, or NULL */
	const char *tz;		/* tz=, or NULL */
	int64_t next_ms;	/* its first tick */
	int64_t base_ms;	/* the control database's clock it was computed from */
};
/* Stores a schedule (new, or replacing its owner's or, for uid 0, anyone's)
 * and tells every daemon.  -EACCES: the name is another user's schedule;
 * -EBUSY: another user's task of that name is pending, or running with
 * retries left. */
__attribute__((warn_unused_result))
int store_put_schedule(struct store *s, const struct schedule_def *d);
/* Ends a schedule: -ENOENT none, -EACCES another user's (uid 0 may). */
__attribute__((warn_unused_result))
int store_drop_schedule(struct store *s, const char *pool, const char *name, uint32_t uid);
/* The control database's clock (ms since 1970), which fires schedules. */
__attribute__((warn_unused_result))
int store_db_clock_ms(struct store *s, int64_t *ret_ms);
/* One schedule, with its file when with_query; -ENOENT if none. */
__attribute__((warn_unused_result))
int store_get_schedule(struct store *s, const char *pool, const char *name, bool with_query,
		       struct schedule_info *ret);
/* Called for each schedule of a pool, by name (strings borrowed for the
 * call; no query); non-zero stops the listing and is returned. */
typedef int store_schedule_fn(void *arg, const struct schedule_info *si);
__attribute__((warn_unused_result))
int store_list_schedules(struct store *s, const char *pool, store_schedule_fn *cb, void *arg);
/* A tick the executor found due: at_ms as the row said, next_ms computed. */
struct schedule_tick {
	const char *pool;
	const char *name;
	int64_t at_ms;
	int64_t next_ms;
};
/*
 * Fires the due ticks (each only if no other daemon moved its schedule
 * first; a tick more than grace_ms past is missed, not fired) and reads
 * the earliest `limit` schedules of `pools`.  Result rows (text):
 * store_parse_schedule_row().
 */
__attribute__((warn_unused_result))
int store_send_fire_schedules(PGconn *conn, int64_t instance, const char *const *pools,
			      size_t n_pools, const struct schedule_tick *ticks, size_t n,
			      int limit, int64_t grace_ms);
/* A row of that result; strings point into the PGresult. */
struct schedule_row {
	int kind;		/* 1 a run was submitted (fired), 2 the tick was
				 * skipped, 3 missed (long past), 4 not fired:
				 * at or before the schedule's last write (by
				 * the server's clock), 0 a schedule and its
				 * next tick */
	const char *pool;	/* NULL: no schedule (a row for now_ms only) */
	const char *name;
	int64_t next_ms;
	int64_t every_ms;	/* kind 0: every=, or 0 */
	const char *cron;	/* kind 0: cron=, or NULL */
	const char *tz;		/* kind 0: NULL for UTC */
	int64_t fired;		/* kind 1: the run's task id */
	int64_t now_ms;		/* kind 0: the database's clock */
};
void store_parse_schedule_row(const PGresult *res, int row, struct schedule_row *ret);
/* ---- executor side (non-blocking; the caller owns the connection) ---- */

/* Marks tasks of dead daemons failed (outcome unknown) and queues their
 * staged rows.  Result: one row (failed count, requeued count). */
__attribute__((warn_unused_result))
int store_send_recover(PGconn *conn, int64_t instance);
/* recover() on a new connection after the one of old_instance was lost
 * (store_send_setup()): the tasks the daemon cancelled then fail (the
 * instance taken back), or the old instance's staged rows move to the new
 * one (its session lingers); then recover().  Answers recover()'s columns
 * and own_failed, the count of the former. */
__attribute__((warn_unused_result))
int store_send_recover_again(PGconn *conn, int64_t instance, int64_t old_instance);
/* Which of tasks ids, running under instance, have a cancel on record.
 * Result rows: id, cancel_uid (text).  A NOTIFY on SCHEMA_stop is only a
 * hint: any role that can reach the database may send one. */
__attribute__((warn_unused_result))
int store_send_cancels(PGconn *conn, int64_t instance, const int64_t *ids, size_t n);
/* A claim taken with a file's staging that its daemon gives back
 * (schema_v14.sql.h: give_back()): task id, claimed by instance; started:
 * it started at its release, its start not on record (failed, outcome
 * unknown), else it did not (staged again: unhold()). */
struct give_back {
	int64_t id, instance;
	bool started;
};
__attribute__((warn_unused_result))
int store_send_unhold(PGconn *conn, const struct give_back *g, size_t n);

/* Prepares the statements below on the executor's connection (blocking). */
__attribute__((warn_unused_result))
int store_prepare(PGconn *conn);

/*
 * Sets up a fresh connection to the control database without blocking (it
 * must be non-blocking already): one pipeline that sets search_path,
 * registers the daemon and takes its instance's advisory lock, LISTENs
 * and prepares the statements below.  The instance is old_instance again
 * when it is still this daemon's (no daemon recovered it: its staged rows
 * stay staged), else a new one; store_send_recover_again() then settles
 * what the old one left.  Read every result with store_setup_result()
 * until it returns 1, then the connection is ready (out of pipeline
 * mode).
 */
__attribute__((warn_unused_result))
int store_send_setup(PGconn *conn, const struct config *cfg, int64_t old_instance);
/* What the registration answered. */
struct store_setup {
	int64_t instance;
	bool reused;		/* old_instance, taken back */
};
/* One result of the setup (the caller clears it): 0 go on, 1 done, -EIO
 * a statement failed (PQerrorMessage says why; drop the connection). */
__attribute__((warn_unused_result))
int store_setup_result(PGconn *conn, const PGresult *res, struct store_setup *ret);

/* A staged task whose writer closed it, and when its content's commit was
 * acknowledged (its submitted_at; 0: unknown, its INSERT's time stays);
 * its pool's name (borrowed: the filesystem keeps it until the daemon
 * exits), or NULL. */
struct store_release {
	int64_t id;
	int64_t committed_us;
	const char *pool;
	bool plain;		/* its first statement a plain query (sql_plain_query()):
				 * its session is named with it, not before */
};

/*
 * Queues the staged tasks `release` (their writers closed them), then
 * claims up to want[i] queued tasks of pools[i] for `instance`, which runs
 * running[i] of that pool now; max[i] is the pool's limit across all
 * daemons.  Result rows: store_parse_claimed().
 */
__attribute__((warn_unused_result))
int store_send_claim(PGconn *conn, int64_t instance, const struct store_release *release,
		     size_t n_release, const char *const *pools, const int *max,
		     const int *want, const int *running, size_t n);

/*
 * The claim of one released task, release->id, in its pool `pool` (the
 * daemon's only pool with work): as store_send_claim() with these
 * arguments, in fewer statements when the pool has room and nothing
 * queued goes before it (schema version 8, claim_one()).
 */
__attribute__((warn_unused_result))
int store_send_claim_one(PGconn *conn, int64_t instance, const struct store_release *release,
			 const char *pool, int max, int want, int running);

/*
 * A row of the claim: a claimed task, whose strings point into the
 * PGresult (valid while it lives), or (pool_info) what the claim learnt
 * of a pool: its limit across all daemons, whether it is paused, and when
 * its next held task (not_before, a retry's back-off) is due (0: none).
 */
struct claimed {
	bool done_row;		/* store_send_step()'s last row: done is the
				 * ids its progress part finished ("id:state,..."
				 * or NULL), as store_send_progress() answers */
	const char *done;
	bool pool_info;
	int pool_max;
	bool pool_paused;
	int64_t pool_next_us;
	int64_t id;
	const char *pool;
	const char *name;
	const char *query;
	size_t query_len;
	int64_t submitted_us;
	int64_t log_size;	/* where the executor's log lines continue */
	int64_t attempt;
	uint32_t uid;
	int priority;
};

void store_parse_claimed(const PGresult *res, int row, struct claimed *ret);

/* Removes finished tasks older than the retention and stale reservations. */
__attribute__((warn_unused_result))
int store_send_housekeeping(PGconn *conn, uint64_t retention_ms);

/*
 * A batch of progress: output chunks and task row updates, written by one
 * statement.  The executor fills it while the previous statement runs.
 */
struct progress;

struct task_update {
	int64_t id;
	int64_t result_size, log_size, json_size; /* stored size after this batch */
	int backend_pid;		/* 0: unchanged */
	const char *target;		/* NULL: unchanged */
	const char *daemon;		/* NULL: unchanged */
	int64_t started_us;		/* 0: unchanged */
	int64_t submitted_us;		/* 0: unchanged (held.c: its commit's ack) */
	int state;			/* -1: still running; TASK_QUEUED: to be
					 * tried again, not before retry_at_us */
	int64_t retry_at_us;
	int stmt, n_stmts;		/* where it is: statement stmt (from 1) of
					 * n_stmts; 0: unchanged */
	int64_t rows_now;		/* rows so far (with stmt) */
	int64_t finished_us;
	int64_t rows;			/* -1: unchanged */
	const char *error;		/* NULL: none */
	size_t error_len;
	bool truncate;			/* drop stored result bytes beyond result_size */
};

struct progress *progress_create(void);
void progress_destroy(struct progress *p);
void progress_reset(struct progress *p);
bool progress_empty(const struct progress *p);
size_t progress_bytes(const struct progress *p);
__attribute__((warn_unused_result))
int progress_add_chunk(struct progress *p, int64_t task, enum task_stream stream,
		       int64_t off, const char *data, size_t len);
__attribute__((warn_unused_result))
int progress_add_update(struct progress *p, const struct task_update *u);

/*
 * The batch and a claim (as store_send_claim()) in one statement and one
 * commit: the ends it records free their slots for the claim, whose
 * running[] counts must leave them out.  Result rows: the claim's, then a
 * done_row (store_parse_claimed()).
 */
__attribute__((warn_unused_result))
int store_send_step(PGconn *conn, int64_t instance, struct progress *p,
		    const struct store_release *release, size_t n_release,
		    const char *const *pools,
		    const int *max, const int *want, const int *running, size_t n);

/* Sends the batch.  Result: one row, the ids finished by it (text, or NULL). */
__attribute__((warn_unused_result))
int store_send_progress(PGconn *conn, int64_t instance, struct progress *p);

#endif
