/*
 * The executor's private types, shared by its rooms: the loop and life
 * cycle (executor.c), target connections (target.c, jobs.c), running a
 * task's statements (run.c), the control connection (control.c,
 * control_conn.c) with its progress batches (batch.c) and claims
 * (claim.c), schedules (schedule.c), reloads (executor_reload.c) and
 * metrics (executor_metrics.c).  Everything here lives on the executor
 * thread, except where a field says otherwise.
 */
#ifndef PGQFS_EXECUTOR_INTERNAL_H
#define PGQFS_EXECUTOR_INTERNAL_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "executor.h"
#include "header.h"
#include "log.h"
#include "split.h"
#include "store.h"
#include "task.h"
#include "timer.h"


/* Past this many unsent result bytes a task stops reading its connection
 * until the control connection has stored them: output is bounded. */
#define PENDING_MAX (2 * CHUNK_MAX)
/* One progress statement carries at most about this much output. */
#define BATCH_BYTES (4 * 1024 * 1024)
/* Partial output of a running task is stored this often, for tail -f. */
#define PARTIAL_FLUSH_MS 1000
/* A task's start (backend pid, log line) is stored after this long, or
 * with its end if that comes first: one write for a short task. */
#define START_FLUSH_MS 100
/* Dead daemons are looked for this often: one small query, no write.  (A
 * daemon that believes it is alone cannot know when another starts, so
 * it looks as often.) */
#define RECOVER_MS 5000
#define HOUSEKEEPING_MS (3600 * 1000)
/* How long a stopping daemon waits for cancelled tasks to end. */
#define STOP_GRACE_MS 10000
/* A statement still running this long after its cancel was sent (the
 * server may be hung) loses its connection: the task fails then. */
#define CANCEL_GRACE_MS 5000
/* A connection that received a row or field this large has a libpq input
 * buffer at least as large, which it keeps: it is closed after its task
 * instead of being reused. */
#define BIG_MESSAGE_BYTES (8 * 1024 * 1024)

enum conn_state {
	CONN_CONNECTING,	/* PQconnectPoll in progress */
	CONN_IDLE,		/* connected, no task */
	CONN_BUSY,		/* running task->stmts */
	CONN_RESET,		/* ROLLBACK / DISCARD ALL after a task */
	CONN_BROKEN,		/* to be freed */
};

/* A connection in libpq's pipeline mode (pipe.c). */
enum conn_pipe {
	PIPE_NONE,		/* not in pipeline mode */
	PIPE_TASK,		/* its task's naming and statement in flight */
	PIPE_RESET,		/* the statement ended; DISCARD ALL's Sync to come */
};

enum task_phase {
	PHASE_CONNECT,		/* waiting for its connection */
	PHASE_SETUP,		/* application_name being set */
	PHASE_STMT,		/* statement `cur` in flight */
	PHASE_FINISHED,		/* outcome known; final update not yet stored */
};

struct target;
struct pool;
struct task;
struct job;

struct conn {
	PGconn *pg;
	struct target *target;
	enum conn_state state;
	PostgresPollingStatusType poll;	/* while connecting: what to wait for */
	struct task *task;		/* while busy (or connecting for one) */
	int reset_step;			/* CONN_RESET: the reset_sql[] in flight */
	enum conn_pipe pipe;		/* pipeline mode (pipe.c) */
	int64_t named_id;		/* its session's application_name names this
					 * task (0: none, or not known) */
	bool unname;			/* CONN_RESET: take the name back once idle */
	bool want_write;		/* PQflush returned 1 */
	int backend_pid;
	/* CONN_CONNECTING with pg NULL: its host names are being resolved
	 * (target.c) before PQconnectStartParams. */
	PQconninfoOption *opts;		/* the target's conninfo, until connecting */
	struct job *job;		/* the resolution in flight, if any */
	bool resolving;			/* host names to resolve before connecting */
	int64_t opened_ms;		/* monotonic: when conn_open() began */
	uint64_t connect_timeout_ms;	/* the conninfo's connect_timeout, else the
					 * configuration's */
	int64_t drop_due_ms;		/* a cancel was sent: past this the task
					 * still on it fails and it closes; 0: none */
	bool no_reuse;			/* closed after its task, never reset */
	/* Who it connects as: the conninfo's role, or (as_submitter) the role
	 * named like uid's user, which its resolve job looks up: role, NULL
	 * until then and for the conninfo's.  Reused only for the same. */
	bool as_submitter;
	uint32_t uid;
	char *role;
	struct timer connect_timer;	/* CONN_CONNECTING: gives up at the timeout */
	struct timer drop_timer;	/* at drop_due_ms: a cancel went unanswered */
	size_t max_message;		/* largest row or COPY line received */
	char err[256];			/* our own error, when not libpq's */
};

struct target {
	struct executor *e;
	const struct config_target *cfg;
	struct conn **conns;		/* at most cfg->max_workers open, and
					 * closed ones not yet reaped */
	size_t n_conns, cap_conns;
	bool retired;			/* gone from the configuration (a reload):
					 * its busy connections finish their
					 * tasks, then close */
	int unassigned;			/* claimed tasks waiting for claimed_assign():
					 * connections as good as taken */
	int deal_free;			/* claim_deal()'s count of its free
					 * connections not yet dealt */
};

struct pool {
	const struct config_pool *cfg;
	struct target *target;
	int running;		/* tasks of this pool held here: claimed, end not on record */
	bool has_work;		/* queued tasks may exist: worth a claim */
	int claim_want;		/* what the claim in flight asked for */
	bool claim_asked;	/* it is in the claim in flight */
	/* Its last claim got all it asked for (or asked for nothing: it
	 * was full): more may be queued, so a slot that frees is worth a
	 * claim.  False once a claim came back short: the queue was empty,
	 * and new work comes with a NOTIFY or a release. */
	bool saturated;
	int batch_freed;	/* its tasks whose end is in the batch being sent */
	/* Its live settings (pools/POOL/), as the last claim saw them. */
	int live_max;		/* max_workers across all daemons */
	bool paused;		/* starts nothing (a NOTIFY says when that changes) */
	struct timer hold_timer; /* its next held task is due: claim then */
	bool retired;		/* gone from the configuration: its running
				 * tasks finish, it claims nothing */
};

/* Where a single_transaction task is in its BEGIN ... COMMIT. */
enum task_tx { TX_NONE, TX_BEGIN, TX_OPEN, TX_COMMIT, TX_DONE };

/* A stream's bytes not yet handed to a progress batch. */
struct stream_out {
	struct buf pending;
	int64_t base;		/* stream offset of pending.data[0] */
};

struct task {
	struct task *next;
	int64_t id;
	struct pool *pool;
	uint32_t uid;		/* its submitter's (run_as = submitter) */
	char *name;
	char *query;
	size_t query_len;
	struct sql_stmt *stmts;
	size_t n_stmts;
	size_t cur;
	struct conn *conn;
	bool unassigned;	/* claimed, its session not yet chosen (claimed_assign()) */
	bool held;		/* claimed with its staging: starts at its
				 * file's release (held.c) */
	bool was_held;		/* claimed so, started since: its start
				 * may not be on record yet (started_at) */
	enum task_phase phase;
	struct stream_out out[N_STREAMS]; /* by enum task_stream */
	int64_t stmt_start;	/* result offset where the current statement began */
	int64_t stmt_start_json; /* the same in result.json */
	bool stmt_rows;		/* the current result printed its header */
	int64_t stmt_nrows;	/* rows of the current result so far */
	bool copy_out;		/* in COPY TO STDOUT */
	/* Its session named in the query string of its first statement
	 * (task_next_statement()): name_first until it is sent, then the naming's
	 * rows come first (naming_rows), and the statement's error counts
	 * one line too many (folded). */
	bool name_first, naming_rows, folded;
	/* Sent in pipeline mode (pipe.c); the naming's results still come
	 * first (pipe_naming). */
	bool piped, pipe_naming;
	bool truncate;		/* stored result bytes past the end must go */
	int64_t rows;
	int backend_pid;	/* of its target connection, 0 until it began */
	int64_t started_us;
	int64_t submitted_us;	/* claimed with its staging (held.c): its
				 * commit's ack, stored with its start */
	int64_t finished_us;
	int64_t started_mono_ms;
	int final_state;	/* -1 until known */
	struct task_options opts; /* its header's */
	int64_t attempt;	/* 1 for the first run */
	uint64_t timeout_ms;	/* its own timeout, else its pool's; 0: none */
	enum task_tx tx;	/* single_transaction */
	char sqlstate[6];	/* of the error that ended it, "" if none */
	bool cancel_asked;	/* tasks/ID/cancel: being cancelled */
	bool where_unsent;	/* a statement began since the last batch */
	uint32_t cancel_uid;	/* who asked */
	int64_t retry_at_us;	/* queued again (final_state TASK_QUEUED): when */
	bool timed_out;		/* ran past its timeout: being cancelled */
	bool log_over_cap;	/* over_cap, by its log (task_notice()) */
	bool over_cap;		/* its result reached max_result_bytes: being
				 * cancelled, further output dropped */
	struct buf error;
	bool start_unsent;	/* pid/target/start time not yet in a batch */
	bool final_sent;	/* the final update is in the batch in flight */
	int64_t first_unsent_ms; /* when pending output began to wait, 0 if none */
	struct timer timeout_timer;	/* its pool's timeout, while it runs */
	struct timer flush_timer;	/* its start or partial output is due */
};

enum ctl_op { OP_NONE, OP_RECOVER, OP_CLAIM, OP_PROGRESS, OP_STEP, OP_HOUSEKEEPING,
	OP_SCHEDULE,		/* fire_schedules(): schedule.c */
	OP_CANCELS,		/* which stop NOTIFYs a cancel on record confirms */
	OP_UNHOLD,		/* held tasks a lost connection dropped: staged again */
};

/*
 * Schedules (schedule.c): what the last fire_schedules() answer said of
 * the earliest ones, so that the daemon fires them when due without
 * asking first.  Fixed room: nothing to free.
 */
#define SCHED_ROWS 32
struct sched_row {
	char pool[64];
	char name[256];
	int64_t next_ms;	/* its next tick (ms since 1970, database clock) */
	int64_t every_ms;	/* every=, or 0 */
	char cron[HEADER_CRON_MAX];	/* "" for every= */
	char tz[HEADER_TZ_MAX];		/* "" for UTC */
	bool broken;		/* its next tick cannot be computed here */
};
struct schedules {
	struct sched_row rows[SCHED_ROWS];	/* by next tick */
	size_t n;
	int64_t db_now_ms;	/* the database's clock at the answer */
	int64_t answer_mono_ms;	/* when the answer came */
	int64_t instance;	/* the instance that asked (a new connection asks again) */
	uint64_t want_seq;	/* bumped when the schedules changed (NOTIFY) */
	uint64_t sent_seq;	/* want_seq when the statement in flight was sent */
	uint64_t answered_seq;	/* ... when the last answer's was */
	bool asked;		/* an answer came on this instance */
	int64_t next_send_ms;	/* no statement before (mono): no spinning */
	bool in_flight;		/* sent, no answer yet: failed if the
				 * connection is idle again without one */
	size_t n_sent;		/* ticks in the statement in flight */
	bool held;		/* the last statement sent no tick, a change
				 * being unread (sched_send()) */
	int64_t gap_ms;		/* between statements: doubles while the
				 * ticks sent are not taken (held elsewhere) */
	struct timer timer;	/* the earliest tick */
};

/* A task claimed in SQL that could not be taken here (out of memory):
 * the next progress batch records it failed, so that it is not left
 * running under a live daemon. */
struct orphan {
	int64_t id;
	int64_t log_size;
	bool no_pool;		/* its pool is unknown here, not out of memory */
};

/* The control connection's life (control.c). */
enum ctl_conn {
	CTL_UP,			/* set up: statements may be sent */
	CTL_DOWN,		/* lost: a new one is started at ctl_retry_ms */
	CTL_CONNECTING,		/* PQconnectPoll in progress, or ctl_job first */
	CTL_SETUP,		/* connected: the setup pipeline is in flight */
};
/* A task's error is stored with its row, and read with every look-up of
 * the task: at most this much of it is kept (a RAISE can say 1 GB). */
#define ERROR_MAX (64 * 1024)
/* Lost instances remembered until settled (struct executor's lost). */
#define LOST_MAX 8
/* A lost instance's batch is given up after this many failed statements. */
#define BATCH_LOST_TRIES 5
/* Back-off after a failed control statement or connection attempt. */
#define CTL_BACKOFF_MIN_MS 100
#define CTL_BACKOFF_MAX_MS 5000

struct executor {
	const struct config *cfg;
	struct store *store;
	PGconn *control;		/* NULL while down */
	enum ctl_conn ctl_state;
	PostgresPollingStatusType ctl_poll; /* CTL_CONNECTING: what to wait for */
	int64_t ctl_retry_ms;		/* no statement or attempt before this */
	int64_t ctl_backoff_ms;		/* the next failure waits this long */
	int64_t ctl_deadline_ms;	/* a connect attempt is given up at */
	struct store_setup setup;	/* CTL_SETUP: how it registered */
	/* The instances of the connections lost, oldest first, until the
	 * recoveries of the next connection settle them (recover_again()):
	 * two losses in a row may leave two, each with staged rows. */
	int64_t lost[LOST_MAX];
	size_t n_lost;
	struct job *ctl_job;		/* CTL_CONNECTING, control NULL: resolving
					 * its host names (a job on e->jobs) */
	bool batch_unsent;		/* batch holds state not yet committed */
	int64_t batch_instance;		/* the batch is this lost instance's: it
					 * goes first on the next connection */
	int batch_lost_tries;		/* its statements that failed */
	struct orphan *orphans;		/* claimed, not taken: to be failed */
	size_t n_orphans, cap_orphans;
	size_t orphans_batched;		/* orphans[0..this) are in the batch */
	executor_reconnected_fn *on_reconnected;
	void *on_reconnected_arg;
	int64_t instance;
	size_t deal_next;		/* the pool dealt a free slot first by the
					 * next claim (claim_deal()) */
	enum ctl_op op;			/* statement in flight on control */
	/* Tasks of ours named by SCHEMA_stop NOTIFYs: cancelled once the
	 * database confirms (OP_CANCELS), since anyone may NOTIFY.  The
	 * first n_stop_sent are in the statement in flight. */
	int64_t *stop_ids;
	size_t n_stop, cap_stop, n_stop_sent;
	bool cancels_last;		/* the last statement sent was a check */
	int64_t prenamed_id;		/* the claim in flight named a session for it */
	const char *prenamed_pool;
	bool ctl_want_write;
	/*
	 * The configuration's targets and pools, in its order (e->cfg->n_*),
	 * then retired ones that a reload removed while they still had
	 * connections or tasks (up to n_targets, n_pools).
	 */
	struct target *targets;
	struct pool *pools;
	size_t n_targets, n_pools;
	pthread_mutex_t reload_lock;
	const struct config *reload_cfg; /* handed over, not yet applied */
	struct task *tasks;		/* every live task, newest first */
	int running;			/* tasks held: claimed, end not yet on record */
	/* held.c: stagings that asked for a claim, their slots taken until
	 * the answer; tasks claimed with their staging, not yet released. */
	int n_holding;
	atomic_int n_held;
	uint64_t ctl_epoch;		/* control connections lost so far */
	/* Held tasks (never started) that a lost control connection dropped,
	 * or whose claims the filesystem could not give back, with the
	 * instance that claimed them: given back (OP_UNHOLD) before any
	 * recovery could fail them.  The first n_unhold_sent are in the
	 * statement in flight. */
	struct give_back *unhold;
	size_t n_unhold, cap_unhold, n_unhold_sent;
	struct progress *batch;
	struct buf stmt;		/* the statement being sent (scratch) */
	int64_t next_recover_ms;
	int64_t next_housekeeping_ms;
	int wake_fd;
	/*
	 * Held by the executor's thread except while it sleeps in poll().
	 * A thread that releases a file while it sleeps (parked) sends the
	 * claim itself, under the lock, instead of waking it: the claim's
	 * answer wakes it, one wake-up less on a pickup (executor_release()).
	 */
	pthread_mutex_t loop_lock;
	atomic_bool parked;		/* in poll() (cleared as it returns) */
	int64_t parked_due;		/* the deadline it sleeps until; -1: none */
	atomic_bool wake_all;		/* a wake-up that is not a release: every pool may have work */
	pthread_t thread;
	bool thread_started;
	atomic_bool stopping;
	atomic_bool draining;		/* claims nothing more (executor_drain()) */
	atomic_bool drained;		/* draining, and nothing is left */
	int64_t stop_deadline_ms;
	bool cancels_sent;
	executor_finished_fn *on_finished;
	void *on_finished_arg;
	pthread_mutex_t release_lock;	/* guards release, held_rel */
	struct store_release *release;	/* staged tasks to queue, from the fs */
	size_t n_release, cap_release;
	struct store_release *held_rel;	/* held tasks released (held.c) */
	size_t n_held_rel, cap_held_rel;
	uint64_t release_seq;		/* releases so far (under release_lock) */
	uint64_t releasing_seq;		/* the last release in `releasing` */
	atomic_uint_fast64_t settled_seq; /* releases a committed claim has taken */
	struct store_release *releasing; /* those sent with the claim (executor only) */
	size_t n_releasing, cap_releasing;
	atomic_uint_fast64_t n_started, n_done, n_failed;
	struct exec_metrics *metrics;	/* executor_metrics.c: its own lock */
	int64_t ctl_sent_us;		/* monotonic: when e->op was sent */
	int64_t ctl_answered_ms;	/* monotonic: when the last statement's answer ended */
	bool gathering;			/* ctl_next() holds a step back (gather_timer) */
	size_t step_items;		/* ends and releases in the last step, claim or progress */
	atomic_size_t n_waiters;	/* `wait` readers parked on the mount (fs_wait.c) */
	/* The ends our last progress recorded, as its NOTIFY carries them:
	 * that NOTIFY comes back to us and says nothing new. */
	char *own_done;
	uint64_t n_claims, n_claimed, n_progress;	/* statements, for the log */
	char daemon[300];
	struct job *jobs;		/* threads resolving or cancelling (target.c) */
	/* Every deadline of the loop: tasks' timeouts and flushes,
	 * connections' connect timeouts and cancel graces, and these. */
	struct timer_list timers;
	struct timer ctl_retry_timer;	/* ctl_retry_ms: the back-off ends */
	struct timer ctl_deadline_timer; /* ctl_deadline_ms: an attempt gives up */
	struct timer recover_timer;	/* next_recover_ms */
	struct timer housekeeping_timer; /* next_housekeeping_ms */
	struct timer stop_timer;	/* stop_deadline_ms */
	struct timer gather_timer;	/* a step that gathers ends is due (gather.c) */
	struct schedules sched;		/* schedule.c */
};

/* The executor a timer of e->timers belongs to. */
static inline struct executor *timer_executor(const struct timer *tm)
{
	return (struct executor *)(void *)((char *)tm->list - offsetof(struct executor, timers));
}

/* A timer that only wakes the loop: what is due is checked by the round
 * itself (ctl_next() sends the statement or flush that is due, the loop
 * ends a stop past its deadline). */
void timer_wake(struct timer *tm, void *arg, int64_t now);

/* schedule.c: firing schedules (DESIGN.md, Schedules) */
void sched_init(struct executor *e);
/* Whether fire_schedules() is due now: a tick, a change, a new connection. */
bool sched_due(struct executor *e, int64_t now);
/* Sends it (the ticks due, and a read of the next ones): 0 or -errno. */
__attribute__((warn_unused_result))
int sched_send(struct executor *e, int64_t now);
void sched_result(struct executor *e, PGresult *res);
/* A schedule was written or removed (NOTIFY): read them again. */
void sched_changed(struct executor *e);

/* states.c: the only places a connection's state or a task's phase
 * changes.  A move the state machine does not have is refused (logged,
 * and an abort in a debug build): false. */
bool conn_set_state(struct conn *c, enum conn_state to);
bool task_set_phase(struct task *t, enum task_phase to);
/* c runs t (neither had a task or connection). */
void conn_attach_task(struct conn *c, struct task *t);
/* c's task (if any) and c part: both links cleared. */
void conn_detach_task(struct conn *c);

/* target.c: connections to targets */
void conn_free(struct conn *c);
void conn_flush(struct conn *c);
/* A new connection, owned by tg: connecting, or broken (reap_conns() frees
 * it).  NULL when tg has max_workers connections or memory ran out. */
struct conn *target_add_conn(struct target *tg);
/* Whether c connects as the role t runs as. */
bool conn_fits(const struct conn *c, const struct task *t);
/* A new connection for t's role, as target_add_conn(); when tg has
 * max_workers open, one without a task (the caller found none of t's
 * role) is closed for it. */
struct conn *target_add_conn_for(struct target *tg, const struct task *t);
int target_free(const struct target *tg);
void conn_start_reset(struct conn *c);
/* The statements of a session's reset: ROLLBACK (only in a transaction),
 * then the others, each its own (conn.c); a piped task's is DISCARD ALL
 * alone (pipe.c). */
#define RESET_STEPS 3
extern const char *const reset_sql[RESET_STEPS];
/*
 * Sets the session of an idle connection of pool p's target, of p's role,
 * to carry task id's application_name, while the claim that should give
 * it that task is in flight: the task then sends its first statement
 * without a round trip of its own (or while its file is closed, for a
 * task claimed with its staging: meanwhile says which, for the log).  Does
 * nothing when no connection is idle, or p runs its tasks as their
 * submitters.
 */
void conn_prename(struct pool *p, int64_t id, const char *meanwhile);
/* The claim did not give this daemon task id (or its held claim was
 * dropped, or it ended before it started): a session named for it
 * (conn_prename()) takes its name back, so that only the session that
 * runs a task carries its name. */
void conn_unname(struct pool *p, int64_t id);
/* The query that names a session for task id (its application_name). */
void app_name_query(char *buf, size_t size, int64_t id);
void conn_event(struct executor *e, struct conn *c, short revents);
void reap_conns(struct executor *e);
/* libpq's error for c, or ours. */
const char *conn_error(const struct conn *c);
/*
 * Cancels the statement running on c without blocking: the cancel request
 * is sent by a thread of its own (PQcancel blocks, and may hang on a hung
 * server).  c is never reused after its task; if that task is still on it
 * CANCEL_GRACE_MS later, the task fails and c is closed.  Safe to call
 * on any connection; c may be freed right after.
 */
/* Whether idle connection c is still up (a non-blocking look at its
 * socket); if not, it is marked broken for reap_conns(). */
bool conn_idle_alive(struct conn *c);
void conn_cancel(struct executor *e, struct conn *c);
/* The connect timeout a conninfo asks for (parsed: PQconninfoParse or
 * PQconninfo), as libpq reads it, or dflt_ms when it sets none. */
uint64_t conninfo_connect_timeout_ms(const PQconninfoOption *opts, uint64_t dflt_ms);
/* A resolution job (not started) for the host names libpq would resolve
 * for opts; NULL in *ret when it resolves none (sockets, addresses,
 * hostaddr or a service). */
__attribute__((warn_unused_result))
int resolve_job_new(const PQconninfoOption *opts, struct job **ret);
/* Parameters for PQconnectStartParams(keys, vals, 0). */
struct conn_params {
	const char **keys, **vals;
	struct buf host, addr, port;	/* what vals point into */
};
/*
 * The parameters of a parsed conninfo, with application_name set; with j
 * (a finished resolve_job_new() job), its hosts replaced by what j
 * resolved.  On failure (-ENOMEM, or -ENOENT: no host resolved) err says
 * why and nothing is held; else conn_params_finish() frees p.
 */
__attribute__((warn_unused_result))
int conn_params_build(struct conn_params *p, const PQconninfoOption *opts,
		      const struct job *j, const char *application_name,
		      char *err, size_t err_size);
void conn_params_finish(struct conn_params *p);
/*
 * Once per loop round: starts host name resolutions, takes their results,
 * fails the connections that could not start.  (Connect timeouts and
 * cancel graces are timers of their own.)
 */
void targets_tick(struct executor *e);

/* target.c and conn.c share these */
/* Connects c (resolved by job j, or NULL) as PQconnectStartParams would. */
void conn_start(struct conn *c, const struct job *j);
/* Starts c's host name (and user name) resolution on a job. */
void conn_resolve_start(struct executor *e, struct conn *c);
/* c's connect timeout, and the end of its cancel's grace (timers). */
void conn_connect_timed_out(struct timer *tm, void *arg, int64_t now);
void conn_drop_due(struct timer *tm, void *arg, int64_t now);

/* jobs.c: blocking calls on threads of their own */
/* Helper threads at once, at most; past it a cancel is not sent (the
 * connection is closed at once) and a connection waits for one to end
 * before it resolves its host names (within its connect deadline). */
#define JOBS_MAX 64
/* Addresses kept per host name: libpq would try each in turn. */
#define ADDRS_PER_NAME 8

enum job_kind { JOB_RESOLVE, JOB_CANCEL };
enum { JOB_RUNNING, JOB_DONE, JOB_ABANDONED };

/*
 * A blocking call run by a thread of its own.  The executor owns it while
 * it is on e->jobs; the thread sets state to JOB_DONE when it is finished
 * (the loop then joins and frees it), unless the executor went away first
 * and set JOB_ABANDONED: then the thread frees it and touches nothing else.
 */
struct job {
	struct job *next;
	enum job_kind kind;
	pthread_t thread;
	atomic_int state;
	struct executor *e;
	/* JOB_CANCEL (the thread's: freed by it) */
	PGcancel *cancel;
	long long task_id;
	char target[LOG_ESCAPE_MAX];	/* escaped name, for the log */
	/* JOB_RESOLVE */
	struct conn *conn;	/* waiting for it; NULL once gone (loop only) */
	bool ctl;		/* the control connection waits for it (as
				 * e->ctl_job); false once given up (loop only) */
	char **names;		/* host names to resolve */
	size_t n_names;
	char **addrs;		/* out: per name, "a,b,...", NULL if it failed */
	int *gai;		/* out: per name, getaddrinfo()'s error */
	/* JOB_RESOLVE of a run_as = submitter connection: the user names
	 * (getpwuid_r may block: NSS, LDAP) are looked up here too. */
	bool lookup_user;	/* uid's name, into user */
	bool lookup_self;	/* the daemon's own, into self_user */
	uint32_t uid;
	char *user;		/* out: uid's name, or NULL and user_err */
	int user_err;		/* out: -ENOENT: uid has no name; -errno */
	char *self_user;	/* out: NULL if it has none */
};

/* Frees j and what it holds; accepts NULL. */
void job_free(struct job *j);
/* Starts j's thread and puts j on e->jobs; on failure frees j (-EAGAIN:
 * JOBS_MAX threads run already). */
__attribute__((warn_unused_result))
int job_start(struct executor *e, struct job *j);
/* At destroy: waits for finished helper threads, lets the others go. */
void jobs_finish(struct executor *e);

/* run.c: a task's life */
__attribute__((format(printf, 2, 3)))
void task_log(struct task *t, const char *fmt, ...);
/* A notice or warning of t's session, len bytes, for its log: past its
 * pool's max_result_bytes of log, dropped and the statement cancelled. */
void task_notice(struct executor *e, struct task *t, const char *line, size_t len);
__attribute__((format(printf, 3, 4)))
void task_fail(struct executor *e, struct task *t, const char *fmt, ...);
/* The caller unlinked t from e->tasks. */
void task_free(struct task *t);
void task_begin(struct executor *e, struct task *t);
void task_pump(struct executor *e, struct task *t);
void task_assign(struct executor *e, struct task *t);
/* The outcome of t is known: recorded for the next progress batch, its
 * connection freed. */
void task_finish(struct executor *e, struct task *t, enum task_state state);
/* stop.c: stopping a running task */
/* t's statement did not end within CANCEL_GRACE_MS of its cancel: t fails
 * and its connection is closed. */
void task_abandon(struct executor *e, struct task *t);
/* tasks/ID/cancel, heard on the control connection: stops t. */
void task_cancel_by(struct executor *e, struct task *t, uint32_t uid);
/* t timed out with no statement of its own running (before its session
 * was ready, or between two statements): it fails, saying so. */
void task_fail_timed_out(struct executor *e, struct task *t);
/* t's timeout timer (task_timers_init()). */
void task_timed_out(struct timer *tm, void *arg, int64_t now);
/* Whether every statement of t has ended well (a single transaction's
 * COMMIT too): a cancel, a timeout or a stop heard now stops nothing. */
bool task_ran_all(const struct task *t);
/* The naming of t's session, a round trip of its own, failed with res. */
void task_setup_failed(struct executor *e, struct task *t, const PGresult *res);
/* The first line of t's error when its timeout, a cancel or its result
 * cap stopped it. */
void task_timeout_error(const struct task *t, struct buf *out);
void task_cancel_error(const struct task *t, struct buf *out);
void task_cap_error(const struct task *t, struct buf *out);
/* pipe.c: a one-statement task's naming, statement and reset in one write */
/* Puts t's idle connection in pipeline mode if t may go so (t->piped). */
bool task_pipe_begin(struct task *t);
/* Sends them (task_next_statement()): 0, or -1 when a send failed. */
int task_pipe_send(struct task *t, const char *stmt);
/* Takes what task_pump() read for a piped task: true when *res was its
 * own (the naming's, an end of results), else task_pump() handles *res,
 * set to NULL for the statement's Sync (its end). */
bool task_pipe_filter(struct executor *e, struct task *t, PGresult **res);
/* Reads the pipelined reset of c: 1 done (out of pipeline mode), 0 more
 * to come, -1 failed. */
int conn_pipe_reset(struct conn *c);
/* retry.c: whether an error with this SQLSTATE is worth another attempt
 * (DESIGN.md, Task control: retries). */
bool sqlstate_transient(const char *sqlstate);
/* A failed attempt of t: whether it runs again (a transient error, attempts
 * left, nobody cancelled it, the daemon not stopping), and then when
 * (t->retry_at_us, logged). */
bool task_retry_due(struct executor *e, struct task *t);
/* A new task's timers (claimed_tasks()). */
void task_timers_init(struct executor *e, struct task *t);
/* Arms t's flush timer for what of it must be stored next, or disarms it. */
void task_flush_rearm(struct task *t);

/* control.c: the control connection */
void ctl_next(struct executor *e);
/* gather.c: true when the next step waits for more ends and releases
 * (gather_timer armed, e->gathering set); called by ctl_next(). */
bool gather_wait(struct executor *e, int64_t now, bool stopping);
void ctl_event(struct executor *e, short revents);
/* Whether statements can be sent (the connection is set up). */
bool ctl_up(const struct executor *e);
/* The socket to poll for the control connection and its events; -1: none. */
int ctl_pollfd(const struct executor *e, short *ret_events);
/* The control connection's timers (before ctl_setup()). */
void ctl_timers_init(struct executor *e);
/* Sets next_recover_ms and its timer. */
void ctl_recover_at(struct executor *e, int64_t when);
__attribute__((warn_unused_result))
int ctl_setup(struct executor *e);

/* executor_metrics.c: this daemon's figures for `metrics` (a lock of
 * their own; the pools' by name).  Called on the executor thread. */
__attribute__((warn_unused_result))
int metrics_create(struct executor *e);
void metrics_destroy(struct executor *e);
void metrics_task_started(struct executor *e, const char *pool);
/* A task ended here (not a retried attempt): its outcome and how long
 * this attempt ran, in microseconds. */
void metrics_task_ended(struct executor *e, const char *pool, enum task_state state,
			int64_t us);
void metrics_task_retried(struct executor *e, const char *pool);
/* Control statement op took us microseconds from send to result. */
void metrics_statement(struct executor *e, enum ctl_op op, int64_t us);
/* Once per loop round: publishes the connections per target if they
 * changed. */
void metrics_conns_publish(struct executor *e);

/* executor_reload.c: takes a configuration handed over by
 * executor_reload(), between two rounds of the loop. */
void reload_apply(struct executor *e);
/* A pool's held task is due (its hold_timer): worth a claim. */
void pool_hold_due(struct timer *tm, void *arg, int64_t now);
/* Schedules the next attempt after a failure; returns the wait (ms). */
int64_t ctl_back_off(struct executor *e);
/* Sends what libpq holds for the control connection. */
void ctl_flush(struct executor *e);

/* batch.c: the progress batch */
/* Builds a batch if any task has something to store (or keeps the one not
 * yet committed); true if there is one. */
bool ctl_build_progress(struct executor *e, int64_t now, bool stopping);
/* Room for `more` orphans: taking a claimed task must not need memory that
 * may be missing. */
__attribute__((warn_unused_result))
int reserve_orphans(struct executor *e, size_t more);
void add_orphan(struct executor *e, int64_t id, int64_t log_size, bool no_pool);
/* The batch is committed; done: the ids it finished ("id:state,..."), or
 * NULL. */
void progress_stored(struct executor *e, const char *done);

/* claim.c: what a claim brought */
struct pool *pool_find(struct executor *e, const char *name);
struct task *claimed_take(struct executor *e, struct pool *p, const struct claimed *cl);
void pool_learnt(struct executor *e, struct pool *p, const struct claimed *cl);

/* held.c: tasks claimed with their staging */
/* Under loop_lock: starts the held task id if it is here (false if not);
 * sets *ret_wake if the loop has to see to it at once. */
bool held_start(struct executor *e, int64_t id, bool *ret_wake);
/* In the loop's round: starts the held tasks whose files were released
 * while it was awake, and leaves the other releases for the claim. */
void held_take_releases(struct executor *e);
/* Under loop_lock: the claim of task id, by instance, goes back with the
 * next OP_UNHOLD (started: failed, as a task cancelled by the lost
 * connection); -ENOMEM. */
int unhold_add(struct executor *e, int64_t id, int64_t instance, bool started);

/* executor.c */
/* Under loop_lock, the executor parked: whether it may sleep on after
 * another thread sent or started something for it. */
bool parked_may_sleep(struct executor *e);
void wake_loop(struct executor *e);
/* Appends a release to list *v (n, cap), under release_lock; -ENOMEM. */
int release_add(struct store_release **v, size_t *n, size_t *cap,
		const struct store_release *rel);
void claimed_tasks(struct executor *e, PGresult *res);
/* Gives the tasks claimed_tasks() took their sessions, in claim order. */
void claimed_assign(struct executor *e);

/* control.c */
/* Finished tasks "id:state,...", from a progress result or a NOTIFY. */
void report_finished(struct executor *e, const char *list, bool own);

/* control_conn.c: the connection's life (control.c uses these). */
void ctl_connect_start(struct executor *e, int64_t now);
void ctl_connect_poll(struct executor *e);
/* The control connection's resolve job e->ctl_job finished (jobs_reap()):
 * connect to what it found.  j stays the caller's. */
void ctl_resolved(struct executor *e, const struct job *j);
void ctl_setup_results(struct executor *e);
/* A connect or set-up attempt failed (why: libpq's text): back off. */
void ctl_attempt_failed(struct executor *e, const char *why);
/* The connection is gone: cancel the running tasks, keep the ends of the
 * others for the lost instance, reconnect. */
void ctl_lost(struct executor *e);
/* Frees the tasks held here, but those that ended if keep_ended. */
void ctl_drop_tasks(struct executor *e, bool keep_ended);

#endif
