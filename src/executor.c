#include "executor.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "format.h"
#include "log.h"
#include "split.h"

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

enum conn_state {
	CONN_CONNECTING,	/* PQconnectPoll in progress */
	CONN_IDLE,		/* connected, no task */
	CONN_BUSY,		/* running task->stmts */
	CONN_RESET,		/* ROLLBACK / DISCARD ALL after a task */
	CONN_BROKEN,		/* to be freed */
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

struct conn {
	PGconn *pg;
	struct target *target;
	enum conn_state state;
	PostgresPollingStatusType poll;	/* while connecting: what to wait for */
	struct task *task;		/* while busy (or connecting for one) */
	int reset_step;			/* CONN_RESET: queries still to send */
	bool want_write;		/* PQflush returned 1 */
	int backend_pid;
};

struct target {
	const struct config_target *cfg;
	struct conn **conns;		/* at most cfg->max_workers */
	size_t n_conns;
};

struct pool {
	const struct config_pool *cfg;
	struct target *target;
	int running;		/* tasks of this pool held here: claimed, end not on record */
	bool has_work;		/* queued tasks may exist: worth a claim */
	int claim_want;		/* what the claim in flight asked for */
};

/* A stream's bytes not yet handed to a progress batch. */
struct stream_out {
	struct buf pending;
	int64_t base;		/* stream offset of pending.data[0] */
};

struct task {
	struct task *next;
	int64_t id;
	struct pool *pool;
	char *name;
	char *query;
	size_t query_len;
	struct sql_stmt *stmts;
	size_t n_stmts;
	size_t cur;
	struct conn *conn;
	enum task_phase phase;
	struct stream_out out[2];	/* STREAM_RESULT, STREAM_LOG */
	int64_t stmt_start;	/* result offset where the current statement began */
	bool stmt_rows;		/* the current result printed its header */
	int64_t stmt_nrows;	/* rows of the current result so far */
	bool copy_out;		/* in COPY TO STDOUT */
	bool truncate;		/* stored result bytes past the end must go */
	int64_t rows;
	int backend_pid;	/* of its target connection, 0 until it began */
	int64_t started_us;
	int64_t finished_us;
	int64_t started_mono_ms;
	int final_state;	/* -1 until known */
	bool timed_out;		/* ran past its pool's timeout: being cancelled */
	struct buf error;
	bool start_unsent;	/* pid/target/start time not yet in a batch */
	bool final_sent;	/* the final update is in the batch in flight */
	int64_t first_unsent_ms; /* when pending output began to wait, 0 if none */
};

enum ctl_op { OP_NONE, OP_RECOVER, OP_CLAIM, OP_PROGRESS, OP_HOUSEKEEPING };

struct executor {
	const struct config *cfg;
	struct store *store;
	PGconn *control;
	int64_t instance;
	enum ctl_op op;			/* statement in flight on control */
	enum ctl_op last_op;		/* claim or progress: they take turns */
	bool ctl_want_write;
	struct target *targets;
	struct pool *pools;
	struct task *tasks;		/* every live task, newest first */
	int running;			/* tasks held: claimed, end not yet on record */
	struct progress *batch;
	struct buf stmt;		/* the statement being sent (scratch) */
	int64_t next_recover_ms;
	int64_t next_housekeeping_ms;
	int wake_fd;
	pthread_t thread;
	bool thread_started;
	atomic_bool stopping;
	int64_t stop_deadline_ms;
	bool cancels_sent;
	executor_finished_fn *on_finished;
	void *on_finished_arg;
	pthread_mutex_t release_lock;	/* guards release */
	int64_t *release;		/* staged tasks to queue, from the fs */
	size_t n_release, cap_release;
	uint64_t release_seq;		/* releases so far (under release_lock) */
	uint64_t releasing_seq;		/* the last release in `releasing` */
	atomic_uint_fast64_t settled_seq; /* releases a committed claim has taken */
	int64_t *releasing;		/* those sent with the claim (executor only) */
	size_t n_releasing, cap_releasing;
	atomic_uint_fast64_t n_started, n_done, n_failed;
	uint64_t n_claims, n_claimed, n_progress;	/* statements, for the log */
	char daemon[300];
};

/* ------------------------------------------------------------------ */
/* task output                                                         */

static int64_t stream_size(const struct stream_out *s)
{
	return s->base + (int64_t)s->pending.len;
}

static void task_mark_unsent(struct task *t)
{
	if (t->first_unsent_ms == 0)
		t->first_unsent_ms = mono_ms();
}

/* A log line: ISO-8601 UTC timestamp, the event, newline. */
__attribute__((format(printf, 2, 3)))
static void task_log(struct task *t, const char *fmt, ...)
{
	struct buf *b = &t->out[STREAM_LOG].pending;
	struct timespec ts;
	struct tm tm;
	char stamp[40];
	va_list ap;
	size_t at = b->len;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	if (buf_printf(b, "%s.%06ldZ ", stamp, ts.tv_nsec / 1000) < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, (size_t)n + 1) < 0) {
		b->len = at;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	(void)buf_putc(b, '\n');
	task_mark_unsent(t);
}

static void task_free(struct task *t)
{
	if (!t)
		return;
	free(t->name);
	free(t->query);
	free(t->stmts);
	buf_finish(&t->out[0].pending);
	buf_finish(&t->out[1].pending);
	buf_finish(&t->error);
	free(t);
}

/* ------------------------------------------------------------------ */
/* connections to targets                                              */

static void conn_free(struct conn *c)
{
	if (!c)
		return;
	PQfinish(c->pg);
	free(c);
}

static void conn_flush(struct conn *c)
{
	int r = PQflush(c->pg);

	c->want_write = r == 1;
	if (r < 0)
		c->state = CONN_BROKEN;
}

static void notice_receiver(void *arg, const PGresult *res)
{
	struct conn *c = arg;
	struct buf line;

	if (!c->task)
		return;
	buf_init(&line);
	if (format_notice(&line, res) == 0 && buf_cstr(&line))
		task_log(c->task, "%s", line.data);
	buf_finish(&line);
}

static struct conn *conn_open(struct target *tg)
{
	static const char *const keys[] = { "dbname", "application_name", NULL };
	const char *vals[] = { tg->cfg->conninfo, "pgqfs", NULL };
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->target = tg;
	c->pg = PQconnectStartParams(keys, vals, 1);
	if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
		c->state = CONN_BROKEN;
		return c;
	}
	c->state = CONN_CONNECTING;
	c->poll = PGRES_POLLING_WRITING;
	return c;
}

static struct conn *target_add_conn(struct target *tg)
{
	struct conn *c;

	if (tg->n_conns >= (size_t)tg->cfg->max_workers)
		return NULL;
	c = conn_open(tg);
	if (!c)
		return NULL;
	tg->conns[tg->n_conns++] = c;
	return c;
}

/* Slots a new task of this target could take now. */
static int target_free(const struct target *tg)
{
	int busy = 0;

	for (size_t i = 0; i < tg->n_conns; i++)
		if (tg->conns[i]->task)
			busy++;
	return tg->cfg->max_workers - busy;
}

/* ------------------------------------------------------------------ */
/* running a task                                                      */

static void task_finish(struct executor *e, struct task *t, enum task_state state);

static void task_fail(struct executor *e, struct task *t, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void task_fail(struct executor *e, struct task *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n >= 0 && buf_reserve(&t->error, (size_t)n + 1) == 0) {
		va_start(ap, fmt);
		vsnprintf(t->error.data + t->error.len, (size_t)n + 1, fmt, ap);
		va_end(ap);
		t->error.len += (size_t)n;
	}
	task_finish(e, t, TASK_FAILED);
}

static void conn_start_reset(struct conn *c)
{
	PGTransactionStatusType ts = PQtransactionStatus(c->pg);

	c->task = NULL;
	if (ts == PQTRANS_UNKNOWN || PQstatus(c->pg) != CONNECTION_OK) {
		c->state = CONN_BROKEN;
		return;
	}
	/* An open transaction ends as it would when psql exits: rolled back.
	 * Then nothing of this task's session may leak into the next one. */
	c->state = CONN_RESET;
	c->reset_step = ts == PQTRANS_IDLE ? 1 : 0;
	if (!PQsendQuery(c->pg, c->reset_step == 0 ? "ROLLBACK" : "DISCARD ALL")) {
		c->state = CONN_BROKEN;
		return;
	}
	conn_flush(c);
}

/*
 * The outcome of a task is known: record it and free its connection.  The
 * final update is stored by the next progress batch.
 */
static void task_finish(struct executor *e, struct task *t, enum task_state state)
{
	struct conn *c = t->conn;
	int64_t ms;

	if (t->phase == PHASE_FINISHED)
		return;
	if (state == TASK_FAILED && t->stmt_rows) {
		/* psql prints no row of a statement that failed. */
		struct stream_out *r = &t->out[STREAM_RESULT];

		t->rows -= t->stmt_nrows;
		if (t->stmt_start >= r->base) {
			r->pending.len = (size_t)(t->stmt_start - r->base);
		} else {
			r->pending.len = 0;
			r->base = t->stmt_start;
			t->truncate = true;
		}
	}
	t->phase = PHASE_FINISHED;
	t->final_state = (int)state;
	t->finished_us = wall_us();
	ms = mono_ms() - t->started_mono_ms;
	if (state == TASK_DONE)
		task_log(t, "finished: done in %lld ms, %lld rows", (long long)ms,
			 (long long)t->rows);
	else
		task_log(t, "finished: %s after %lld ms", task_state_name(state), (long long)ms);
	task_mark_unsent(t);
	t->conn = NULL;
	atomic_fetch_add(state == TASK_DONE ? &e->n_done : &e->n_failed, 1);
	if (c) {
		if (c->state == CONN_BUSY || c->state == CONN_CONNECTING) {
			if (c->state == CONN_BUSY)
				conn_start_reset(c);
			else
				c->state = CONN_BROKEN;
		}
		c->task = NULL;
	}
}

static void timeout_error(const struct task *t, struct buf *out)
{
	uint64_t ms = t->pool->cfg->timeout_ms;

	if (ms % 1000)
		(void)buf_printf(out, "pgqfs: cancelled after the pool's timeout of %llu ms\n",
				 (unsigned long long)ms);
	else
		(void)buf_printf(out, "pgqfs: cancelled after the pool's timeout of %llu s\n",
				 (unsigned long long)(ms / 1000));
}

/* Sends statement t->cur, or finishes the task after the last one. */
static void task_next_statement(struct executor *e, struct task *t)
{
	struct conn *c = t->conn;
	const struct sql_stmt *s;

	if (t->cur >= t->n_stmts) {
		task_finish(e, t, TASK_DONE);
		return;
	}
	if (t->timed_out) {
		/* The cancel came between two statements: run no more. */
		buf_reset(&t->error);
		timeout_error(t, &t->error);
		task_finish(e, t, TASK_FAILED);
		return;
	}
	s = &t->stmts[t->cur];
	if (s->meta) {
		int len = (int)s->len;

		task_fail(e, t, "psql:query.sql:%u: error: pgqfs does not run psql meta-commands: %.*s\n",
			  s->line, len, t->query + s->start);
		return;
	}
	if (memchr(t->query + s->start, '\0', s->len)) {
		task_fail(e, t, "psql:query.sql:%u: error: pgqfs cannot send a statement that contains a NUL byte\n",
			  s->line);
		return;
	}
	buf_reset(&e->stmt);
	if (sql_stmt_text(&e->stmt, t->query, s) < 0 || !buf_cstr(&e->stmt)) {
		task_fail(e, t, "pgqfs: out of memory\n");
		return;
	}
	t->phase = PHASE_STMT;
	t->stmt_start = stream_size(&t->out[STREAM_RESULT]);
	t->stmt_rows = false;
	t->stmt_nrows = 0;
	t->copy_out = false;
	if (!PQsendQuery(c->pg, e->stmt.data)) {
		task_fail(e, t, "pgqfs: cannot send to target %s: %s", t->pool->target->cfg->name,
			  PQerrorMessage(c->pg));
		return;
	}
	/* Rows are formatted as they arrive; no result is held whole. */
	(void)PQsetSingleRowMode(c->pg);
	conn_flush(c);
}

static void task_begin(struct executor *e, struct task *t)
{
	struct conn *c = t->conn;
	char app[64];
	const char *pv[1] = { app };

	c->backend_pid = PQbackendPID(c->pg);
	t->backend_pid = c->backend_pid;
	t->started_us = wall_us();
	t->started_mono_ms = mono_ms();
	t->start_unsent = true;
	task_log(t, "started on target %s, backend pid %d, daemon %s",
		 t->pool->target->cfg->name, c->backend_pid, e->daemon);
	atomic_fetch_add(&e->n_started, 1);
	/* Recognisable in pg_stat_activity. */
	snprintf(app, sizeof(app), "pgqfs task %lld", (long long)t->id);
	t->phase = PHASE_SETUP;
	if (!PQsendQueryParams(c->pg, "SELECT pg_catalog.set_config('application_name', $1, false)",
			       1, NULL, pv, NULL, NULL, 0)) {
		task_fail(e, t, "pgqfs: cannot send to target %s: %s", t->pool->target->cfg->name,
			  PQerrorMessage(c->pg));
		return;
	}
	conn_flush(c);
}

static int result_append_row(struct task *t, const PGresult *res, int row)
{
	struct buf *b = &t->out[STREAM_RESULT].pending;
	int r = 0;

	if (!t->stmt_rows) {
		r = csv_header(b, res);
		t->stmt_rows = true;
	}
	if (r == 0 && row >= 0) {
		r = csv_row(b, res, row);
		t->rows++;
		t->stmt_nrows++;
	}
	task_mark_unsent(t);
	return r;
}

/* Handles one PGresult of the statement in flight. */
static void task_result(struct executor *e, struct task *t, PGresult *res)
{
	struct conn *c = t->conn;

	switch (PQresultStatus(res)) {
	case PGRES_SINGLE_TUPLE:
		if (result_append_row(t, res, 0) < 0)
			task_fail(e, t, "pgqfs: out of memory\n");
		break;
	case PGRES_TUPLES_OK:
		/* End of a row set; one with no rows still prints its header. */
		if (!t->stmt_rows && result_append_row(t, res, -1) < 0)
			task_fail(e, t, "pgqfs: out of memory\n");
		t->stmt_rows = false;
		t->stmt_nrows = 0;
		t->stmt_start = stream_size(&t->out[STREAM_RESULT]);
		break;
	case PGRES_COPY_OUT:
		t->copy_out = true;
		break;
	case PGRES_COPY_IN:
		/* The server ends the COPY with this as its error message. */
		if (PQputCopyEnd(c->pg, "pgqfs tasks have no input: use COPY FROM a file the server can read, or INSERT") < 0)
			task_fail(e, t, "pgqfs: cannot end COPY on target %s\n", t->pool->target->cfg->name);
		conn_flush(c);
		break;
	case PGRES_FATAL_ERROR: {
		const struct sql_stmt *s = &t->stmts[t->cur];

		if (t->error.len == 0) {
			if (t->timed_out)
				timeout_error(t, &t->error);
			if (format_error(&t->error, "query.sql", s->line, res) < 0)
				t->error.len = 0;
		}
		t->final_state = TASK_FAILED;	/* drained, then finished */
		break;
	}
	default:
		break;
	}
}

/* Reads what the connection has for its task, as far as it may. */
static void task_pump(struct executor *e, struct task *t)
{
	struct conn *c = t->conn;

	while (c && t->conn == c && t->phase != PHASE_FINISHED) {
		PGresult *res;

		if (t->copy_out) {
			char *data = NULL;
			int n = PQgetCopyData(c->pg, &data, 1);

			if (n > 0) {
				int r = buf_append(&t->out[STREAM_RESULT].pending, data, (size_t)n);

				PQfreemem(data);
				task_mark_unsent(t);
				if (r < 0) {
					task_fail(e, t, "pgqfs: out of memory\n");
					return;
				}
				if (t->out[STREAM_RESULT].pending.len >= PENDING_MAX)
					return;
				continue;
			}
			if (n == 0)
				return;		/* needs more input */
			t->copy_out = false;	/* -1: done; -2: error, reported as a result */
			continue;
		}
		if (t->out[STREAM_RESULT].pending.len >= PENDING_MAX)
			return;		/* back-pressure: wait for the store */
		if (PQisBusy(c->pg))
			return;
		res = PQgetResult(c->pg);
		if (!res) {
			/* The query in flight is complete. */
			if (t->phase == PHASE_SETUP) {
				t->cur = 0;
			} else if (t->final_state == TASK_FAILED) {
				task_finish(e, t, TASK_FAILED);
				return;
			} else {
				t->cur++;
			}
			if (atomic_load(&e->stopping) && e->cancels_sent) {
				task_fail(e, t, "pgqfs: the daemon stopped before this task ended\n");
				return;
			}
			task_next_statement(e, t);
			continue;
		}
		if (t->phase == PHASE_SETUP) {
			if (PQresultStatus(res) != PGRES_TUPLES_OK)
				task_fail(e, t, "pgqfs: cannot prepare the session on target %s: %s",
					  t->pool->target->cfg->name, PQresultErrorMessage(res));
		} else {
			task_result(e, t, res);
		}
		PQclear(res);
	}
}

/* A connection is readable or writable (or has buffered input to use). */
static void conn_event(struct executor *e, struct conn *c, short revents)
{
	if (c->state == CONN_CONNECTING) {
		c->poll = PQconnectPoll(c->pg);
		if (c->poll == PGRES_POLLING_FAILED) {
			struct task *t = c->task;

			c->state = CONN_BROKEN;
			if (t) {
				char *msg = PQerrorMessage(c->pg);

				c->task = NULL;
				t->conn = NULL;
				task_log(t, "cannot connect to target %s", c->target->cfg->name);
				task_fail(e, t, "pgqfs: cannot connect to target %s: %s",
					  c->target->cfg->name, msg);
			} else {
				log_warn("cannot connect to target %s: %s", c->target->cfg->name,
					 PQerrorMessage(c->pg));
			}
			return;
		}
		if (c->poll != PGRES_POLLING_OK)
			return;
		if (PQsetnonblocking(c->pg, 1) < 0) {
			c->state = CONN_BROKEN;
			return;
		}
		PQsetNoticeReceiver(c->pg, notice_receiver, c);
		c->state = c->task ? CONN_BUSY : CONN_IDLE;
		if (c->task)
			task_begin(e, c->task);
		return;
	}
	if ((revents & POLLOUT) && c->want_write)
		conn_flush(c);
	if ((revents & (POLLIN | POLLHUP | POLLERR)) && !PQconsumeInput(c->pg)) {
		struct task *t = c->task;

		c->state = CONN_BROKEN;
		if (t) {
			c->task = NULL;
			t->conn = NULL;
			task_fail(e, t, "pgqfs: lost the connection to target %s: %s",
				  c->target->cfg->name, PQerrorMessage(c->pg));
		}
		return;
	}
	if (c->state == CONN_BUSY && c->task) {
		task_pump(e, c->task);
	} else if (c->state == CONN_RESET) {
		while (!PQisBusy(c->pg)) {
			PGresult *res = PQgetResult(c->pg);

			if (res) {
				if (PQresultStatus(res) != PGRES_COMMAND_OK)
					c->state = CONN_BROKEN;
				PQclear(res);
				continue;
			}
			if (c->state == CONN_BROKEN)
				return;
			if (++c->reset_step == 1) {
				if (!PQsendQuery(c->pg, "DISCARD ALL")) {
					c->state = CONN_BROKEN;
					return;
				}
				conn_flush(c);
				return;
			}
			c->state = CONN_IDLE;
			if (c->task) {
				/* A task was waiting for this reset. */
				c->state = CONN_BUSY;
				task_begin(e, c->task);
			}
			return;
		}
	} else if (c->state == CONN_IDLE) {
		/* Nothing is expected; drop anything (a notice, a shutdown). */
		while (!PQisBusy(c->pg)) {
			PGresult *res = PQgetResult(c->pg);

			if (!res)
				break;
			PQclear(res);
		}
	}
}

/*
 * Frees broken connections of every target.  A task still on one (running
 * or waiting for it) fails with the connection's last error.
 */
static void reap_conns(struct executor *e)
{
	for (size_t i = 0; i < e->cfg->n_targets; i++) {
		struct target *tg = &e->targets[i];
		size_t k = 0;

		for (size_t j = 0; j < tg->n_conns; j++) {
			struct conn *c = tg->conns[j];

			if (c->state == CONN_BROKEN && c->task) {
				struct task *t = c->task;

				c->task = NULL;
				t->conn = NULL;
				task_fail(e, t, "pgqfs: lost the connection to target %s: %s",
					  tg->cfg->name, c->pg ? PQerrorMessage(c->pg) : "\n");
			}
			if (c->state == CONN_BROKEN)
				conn_free(c);
			else
				tg->conns[k++] = c;
		}
		tg->n_conns = k;
	}
}

/* Gives a claimed task a connection: an idle one, or a new one. */
static void task_assign(struct executor *e, struct task *t)
{
	struct target *tg = t->pool->target;
	struct conn *c = NULL;

	for (size_t i = 0; i < tg->n_conns; i++)
		if (tg->conns[i]->state == CONN_IDLE && !tg->conns[i]->task) {
			c = tg->conns[i];
			break;
		}
	/* Else one that is being reset or connecting: both are ready in
	 * well under the time a new backend takes to start. */
	for (size_t i = 0; !c && i < tg->n_conns; i++)
		if ((tg->conns[i]->state == CONN_RESET || tg->conns[i]->state == CONN_CONNECTING) &&
		    !tg->conns[i]->task)
			c = tg->conns[i];
	if (!c)
		c = target_add_conn(tg);
	if (!c || c->state == CONN_BROKEN) {
		task_log(t, "cannot connect to target %s", tg->cfg->name);
		task_fail(e, t, "pgqfs: cannot connect to target %s: %s", tg->cfg->name,
			  c ? PQerrorMessage(c->pg) : "no free connection slot\n");
		return;
	}
	c->task = t;
	t->conn = c;
	if (c->state == CONN_IDLE) {
		c->state = CONN_BUSY;
		task_begin(e, t);
	}
}

/* ------------------------------------------------------------------ */
/* the control connection                                              */

static int global_free(const struct executor *e)
{
	if (e->cfg->workers == 0)
		return 1 << 30;
	return e->cfg->workers - e->running;
}

static void ctl_flush(struct executor *e)
{
	int r = PQflush(e->control);

	e->ctl_want_write = r == 1;
}

/* Adds a task's output and state to the batch; false when it is full. */
/* When (monotonic ms) something of t must be stored at the latest; -1: nothing. */
static int64_t task_flush_due(const struct task *t)
{
	if (t->final_sent)
		return -1;
	if (t->start_unsent && t->phase != PHASE_FINISHED)
		return t->started_mono_ms + START_FLUSH_MS;
	if (t->first_unsent_ms)
		return t->first_unsent_ms + PARTIAL_FLUSH_MS;
	return -1;
}

static bool batch_add_task(struct executor *e, struct task *t, int64_t now, bool partial_due)
{
	struct task_update u;
	bool final = t->phase == PHASE_FINISHED;
	bool full = t->out[STREAM_RESULT].pending.len >= CHUNK_MAX ||
		    t->out[STREAM_LOG].pending.len >= CHUNK_MAX;
	bool has_output = t->out[0].pending.len || t->out[1].pending.len;

	bool start_due = t->start_unsent && now - t->started_mono_ms >= START_FLUSH_MS;

	if (t->final_sent)
		return true;
	if (!final && !start_due && !full && !(partial_due && has_output))
		return true;
	if (progress_bytes(e->batch) >= BATCH_BYTES)
		return false;
	for (int s = 0; s < 2; s++) {
		struct stream_out *o = &t->out[s];
		size_t done = 0;

		while (done < o->pending.len) {
			size_t n = o->pending.len - done;

			if (n > CHUNK_MAX)
				n = CHUNK_MAX;
			if (progress_add_chunk(e->batch, t->id, (enum task_stream)s,
					       o->base + (int64_t)done, o->pending.data + done, n) < 0)
				return false;
			done += n;
		}
		o->base += (int64_t)o->pending.len;
		o->pending.len = 0;
	}
	memset(&u, 0, sizeof(u));
	u.id = t->id;
	u.result_size = t->out[STREAM_RESULT].base;
	u.log_size = t->out[STREAM_LOG].base;
	u.state = -1;
	u.rows = -1;
	/* The connection may be gone already (the task finished). */
	if (t->start_unsent && t->started_us) {
		u.backend_pid = t->backend_pid;
		u.started_us = t->started_us;
	}
	if (t->start_unsent)
		u.target = t->pool->target->cfg->name;
	t->start_unsent = false;
	if (final) {
		u.state = t->final_state;
		u.finished_us = t->finished_us;
		u.rows = t->rows;
		u.error = t->error.len ? t->error.data : NULL;
		u.error_len = t->error.len;
		u.truncate = t->truncate;
		t->final_sent = true;
	}
	t->first_unsent_ms = 0;
	return progress_add_update(e->batch, &u) == 0;
}

static bool partial_due(const struct executor *e, int64_t now)
{
	for (const struct task *t = e->tasks; t; t = t->next)
		if (t->first_unsent_ms && now - t->first_unsent_ms >= PARTIAL_FLUSH_MS)
			return true;
	return false;
}

/* Sends a progress batch if any task has something to store; true if sent. */
static bool ctl_send_progress(struct executor *e, int64_t now, bool stopping)
{
	bool due = partial_due(e, now) || stopping;
	int finals = 0;

	progress_reset(e->batch);
	/* NOTIFY payloads hold 8000 bytes: at most 400 "id:state"s. */
	for (struct task *t = e->tasks; t && finals < 400; t = t->next) {
		if (t->phase == PHASE_FINISHED && !t->final_sent)
			finals++;
		if (!batch_add_task(e, t, now, due))
			break;
	}
	if (progress_empty(e->batch))
		return false;
	if (store_send_progress(e->control, e->instance, e->batch) == 0) {
		e->op = OP_PROGRESS;
		e->n_progress++;
		ctl_flush(e);
	}
	return true;
}

/* Puts the most urgent statement on the idle control connection. */
static void ctl_next(struct executor *e)
{
	int64_t now = mono_ms();
	bool stopping = atomic_load(&e->stopping);
	const char *names[256];
	int max[256], want[256], running[256];
	size_t n = 0;
	int room = stopping ? 0 : global_free(e);

	if (e->op != OP_NONE)
		return;
	/* Recovery first: at start it decides what the old instance left. */
	if (now >= e->next_recover_ms) {
		if (store_send_recover(e->control, e->instance) == 0) {
			e->op = OP_RECOVER;
			ctl_flush(e);
		}
		return;
	}
	/* Claims and progress take turns, so that neither starves. */
	if (e->last_op == OP_CLAIM && ctl_send_progress(e, now, stopping))
		return;

	/* Take the releases the filesystem made since the last claim. */
	pthread_mutex_lock(&e->release_lock);
	if (e->n_release && e->n_releasing == 0) {
		int64_t *tmp = e->releasing;
		size_t cap = e->cap_releasing;

		e->releasing = e->release;
		e->cap_releasing = e->cap_release;
		e->n_releasing = e->n_release;
		e->release = tmp;
		e->cap_release = cap;
		e->n_release = 0;
		e->releasing_seq = e->release_seq;
	} else if (e->n_release) {
		/* A claim that failed left its releases: send them again, with
		 * the new ones. */
		size_t need = e->n_releasing + e->n_release;

		if (need > e->cap_releasing) {
			int64_t *p = realloc(e->releasing, need * sizeof(*p));

			if (p) {
				e->releasing = p;
				e->cap_releasing = need;
			}
		}
		if (need <= e->cap_releasing) {
			memcpy(e->releasing + e->n_releasing, e->release,
			       e->n_release * sizeof(*e->release));
			e->n_releasing = need;
			e->n_release = 0;
			e->releasing_seq = e->release_seq;
		}
	}
	pthread_mutex_unlock(&e->release_lock);
	for (size_t i = 0; i < e->cfg->n_pools && n < 256 && room > 0; i++) {
		struct pool *p = &e->pools[i];
		int w = p->cfg->max_workers - p->running;
		int tf = target_free(p->target);

		if (!p->has_work)
			continue;
		if (w > tf)
			w = tf;
		if (w > room)
			w = room;
		if (w <= 0)
			continue;
		names[n] = p->cfg->name;
		max[n] = p->cfg->max_workers;
		want[n] = w;
		running[n] = p->running;
		/* It has work again if the claim comes back full, or when a
		 * NOTIFY or a finished task says so. */
		p->claim_want = w;
		p->has_work = false;
		room -= w;
		n++;
	}
	if (n > 0 || e->n_releasing) {
		if (store_send_claim(e->control, e->instance, e->releasing, e->n_releasing,
				     names, max, want, running, n) == 0) {
			e->op = OP_CLAIM;
			e->last_op = OP_CLAIM;
			ctl_flush(e);
		}
		return;
	}
	e->last_op = OP_PROGRESS;
	if (ctl_send_progress(e, now, stopping))
		return;
	if (!stopping && now >= e->next_housekeeping_ms) {
		if (store_send_housekeeping(e->control, e->cfg->retention_ms) == 0) {
			e->op = OP_HOUSEKEEPING;
			ctl_flush(e);
		}
		e->next_housekeeping_ms = now + HOUSEKEEPING_MS;
	}
}

static struct pool *find_pool(struct executor *e, const char *name)
{
	for (size_t i = 0; i < e->cfg->n_pools; i++)
		if (strcmp(e->pools[i].cfg->name, name) == 0)
			return &e->pools[i];
	return NULL;
}

struct claim_order {
	int64_t id;
	int row;
};

static int claim_order_cmp(const void *a, const void *b)
{
	const struct claim_order *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

static void claimed_tasks(struct executor *e, PGresult *res)
{
	int n = PQntuples(res);
	struct claim_order *order = n ? malloc(sizeof(*order) * (size_t)n) : NULL;
	int got_per_pool[256] = { 0 };

	if (n && !order) {
		log_error("out of memory taking claimed tasks");
		return;
	}
	/* Start them in submission order. */
	for (int i = 0; i < n; i++) {
		struct claimed cl;

		store_parse_claimed(res, i, &cl);
		order[i].id = cl.id;
		order[i].row = i;
	}
	if (n > 1)
		qsort(order, (size_t)n, sizeof(*order), claim_order_cmp);
	for (int i = 0; i < n; i++) {
		struct claimed cl;
		struct task *t;
		struct pool *p;

		store_parse_claimed(res, order[i].row, &cl);
		p = find_pool(e, cl.pool);
		t = calloc(1, sizeof(*t));
		if (!p || !t) {
			free(t);
			log_error("claimed task %lld of unknown pool %s", (long long)cl.id, cl.pool);
			continue;
		}
		got_per_pool[p - e->pools]++;
		t->id = cl.id;
		t->pool = p;
		t->final_state = -1;
		t->name = strdup(cl.name);
		t->query = malloc(cl.query_len + 1);
		t->out[STREAM_LOG].base = cl.log_size;
		t->next = e->tasks;
		e->tasks = t;
		p->running++;
		e->running++;
		t->phase = PHASE_CONNECT;
		t->started_mono_ms = mono_ms();
		if (!t->name || !t->query) {
			task_fail(e, t, "pgqfs: out of memory\n");
			continue;
		}
		memcpy(t->query, cl.query, cl.query_len);
		t->query[cl.query_len] = '\0';
		t->query_len = cl.query_len;
		if (sql_split(t->query, t->query_len, true, &t->stmts, &t->n_stmts) < 0) {
			task_fail(e, t, "pgqfs: out of memory\n");
			continue;
		}
		task_assign(e, t);
	}
	free(order);
	/* A pool that gave all we asked may have more. */
	for (size_t i = 0; i < e->cfg->n_pools && i < 256; i++)
		if (e->pools[i].claim_want > 0 && got_per_pool[i] >= e->pools[i].claim_want)
			e->pools[i].has_work = true;
	for (size_t i = 0; i < e->cfg->n_pools; i++)
		e->pools[i].claim_want = 0;
}

/*
 * Finished tasks "id:state,id:state", from a progress result or a NOTIFY.
 * Any task finishing may free room in a pool shared with other daemons.
 */
static void report_finished(struct executor *e, const char *list)
{
	int64_t ids[512];
	enum task_state states[512];
	size_t n = 0;

	for (size_t i = 0; i < e->cfg->n_pools; i++)
		e->pools[i].has_work = true;
	while (list && *list) {
		char *end, word[16];
		long long v = strtoll(list, &end, 10);
		size_t k = 0;
		int st;

		if (end == list || *end != ':')
			break;
		list = end + 1;
		while (*list && *list != ',' && k < sizeof(word) - 1)
			word[k++] = *list++;
		word[k] = '\0';
		st = task_state_parse(word);
		if (st >= 0) {
			ids[n] = v;
			states[n++] = (enum task_state)st;
		}
		if (n == sizeof(ids) / sizeof(ids[0])) {
			e->on_finished(e->on_finished_arg, ids, states, n);
			n = 0;
		}
		if (*list == ',')
			list++;
	}
	if (n)
		e->on_finished(e->on_finished_arg, ids, states, n);
}

static void progress_stored(struct executor *e, PGresult *res)
{
	struct task **pp = &e->tasks;

	/* Finished tasks whose end is now committed are gone from memory. */
	while (*pp) {
		struct task *t = *pp;

		if (t->final_sent) {
			*pp = t->next;
			/* Its slot is free once its end is on record, so that
			 * the control database never shows more running than a
			 * pool allows (stats, other daemons' claims). */
			t->pool->running--;
			e->running--;
			task_free(t);
		} else {
			pp = &t->next;
		}
	}
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		report_finished(e, PQgetvalue(res, 0, 0));
}

static void ctl_lost(struct executor *e);

static void ctl_result(struct executor *e, PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_TUPLES_OK) {
		log_error("control database: %s", PQresultErrorMessage(res));
		if (e->op == OP_PROGRESS || e->op == OP_CLAIM)
			ctl_lost(e);
		return;
	}
	switch (e->op) {
	case OP_PROGRESS:
		progress_stored(e, res);
		break;
	case OP_CLAIM:
		/* They are claimed or queued now: no longer staged. */
		atomic_store(&e->settled_seq, e->releasing_seq);
		e->n_releasing = 0;
		e->n_claims++;
		e->n_claimed += (uint64_t)PQntuples(res);
		claimed_tasks(e, res);
		break;
	case OP_RECOVER: {
		long long failed = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		long long requeued = strtoll(PQgetvalue(res, 0, 1), NULL, 10);


		if (failed || requeued)
			log_warn("a daemon sharing the queue stopped: %lld of its running tasks "
				 "marked failed (outcome unknown), %lld staged tasks queued",
				 failed, requeued);
		e->next_recover_ms = mono_ms() + RECOVER_MS;
		break;
	}
	case OP_HOUSEKEEPING: {
		long long n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);

		if (n)
			log_info("removed %lld finished tasks older than the retention", n);
		break;
	}
	case OP_NONE:
		break;
	}
}

static void ctl_notifies(struct executor *e)
{
	PGnotify *n;

	while ((n = PQnotifies(e->control))) {
		size_t sl = strlen(e->cfg->schema);
		const char *suffix = strncmp(n->relname, e->cfg->schema, sl) == 0 ?
				     n->relname + sl : "";

		if (strcmp(suffix, STORE_CHANNEL_QUEUE) == 0) {
			struct pool *p = n->extra[0] ? find_pool(e, n->extra) : NULL;

			if (p) {
				p->has_work = true;
			} else {
				for (size_t i = 0; i < e->cfg->n_pools; i++)
					e->pools[i].has_work = true;
			}
		} else if (strcmp(suffix, STORE_CHANNEL_DONE) == 0) {
			report_finished(e, n->extra);
		}
		PQfreemem(n);
	}
}

static void ctl_event(struct executor *e, short revents)
{
	if ((revents & POLLOUT) && e->ctl_want_write)
		ctl_flush(e);
	if (!(revents & (POLLIN | POLLHUP | POLLERR)))
		return;
	if (!PQconsumeInput(e->control)) {
		log_error("lost the control connection: %s", PQerrorMessage(e->control));
		ctl_lost(e);
		return;
	}
	while (e->op != OP_NONE && !PQisBusy(e->control)) {
		PGresult *res = PQgetResult(e->control);

		if (!res) {
			e->op = OP_NONE;
			break;
		}
		ctl_result(e, res);
		PQclear(res);
		if (!e->control)
			return;
	}
	ctl_notifies(e);
}

static int ctl_setup(struct executor *e)
{
	if (store_listen(e->control, e->cfg) < 0)
		return -EIO;
	if (store_prepare(e->control) < 0 || PQsetnonblocking(e->control, 1) < 0)
		return -EIO;
	e->op = OP_NONE;
	e->next_recover_ms = 0;
	for (size_t i = 0; i < e->cfg->n_pools; i++)
		e->pools[i].has_work = true;
	return 0;
}

/*
 * The control connection is gone, and with it the advisory lock that said
 * this daemon is alive: another daemon may already have failed our running
 * tasks.  Cancel them and record nothing; then register anew.
 */
static void ctl_lost(struct executor *e)
{
	int64_t delay = 100;

	for (struct task *t = e->tasks; t; t = t->next) {
		if (t->conn && t->conn->pg) {
			PGcancel *cancel = PQgetCancel(t->conn->pg);
			char err[256];

			if (cancel) {
				(void)PQcancel(cancel, err, sizeof(err));
				PQfreeCancel(cancel);
			}
			t->conn->task = NULL;
			t->conn->state = CONN_BROKEN;
			t->conn = NULL;
		}
	}
	while (e->tasks) {
		struct task *t = e->tasks;

		e->tasks = t->next;
		t->pool->running--;
		e->running--;
		task_free(t);
	}
	PQfinish(e->control);
	e->control = NULL;
	e->op = OP_NONE;
	while (!atomic_load(&e->stopping)) {
		struct timespec ts = { delay / 1000, (delay % 1000) * 1000000 };

		e->control = store_connect(e->cfg, "pgqfs executor");
		if (e->control && store_register(e->control, e->cfg, &e->instance) == 0 &&
		    ctl_setup(e) == 0) {
			store_set_instance(e->store, e->instance);
			log_info("reconnected to the control database as instance %lld",
				 (long long)e->instance);
			return;
		}
		PQfinish(e->control);
		e->control = NULL;
		nanosleep(&ts, NULL);
		if (delay < 5000)
			delay *= 2;
	}
}

/* ------------------------------------------------------------------ */
/* the loop                                                            */

/* When (monotonic ms) t runs past its pool's timeout; -1: never. */
static int64_t task_timeout_due(const struct task *t)
{
	if (!t->pool->cfg->timeout_ms || t->timed_out || !t->started_mono_ms ||
	    (t->phase != PHASE_SETUP && t->phase != PHASE_STMT))
		return -1;
	return t->started_mono_ms + (int64_t)t->pool->cfg->timeout_ms;
}

/* Cancels the tasks that ran past their pool's timeout. */
static void check_timeouts(struct executor *e, int64_t now)
{
	for (struct task *t = e->tasks; t; t = t->next) {
		int64_t due = task_timeout_due(t);
		PGcancel *cancel;
		char err[256];

		if (due < 0 || now < due || !t->conn)
			continue;
		t->timed_out = true;
		task_log(t, "timed out after %llu ms: cancelling",
			 (unsigned long long)t->pool->cfg->timeout_ms);
		cancel = PQgetCancel(t->conn->pg);
		if (!cancel || !PQcancel(cancel, err, sizeof(err)))
			log_warn("cannot cancel task %lld: %s", (long long)t->id,
				 cancel ? err : "out of memory");
		if (cancel)
			PQfreeCancel(cancel);
	}
}

static void cancel_all(struct executor *e)
{
	for (struct task *t = e->tasks; t; t = t->next) {
		if (t->conn && t->phase != PHASE_FINISHED) {
			PGcancel *cancel = PQgetCancel(t->conn->pg);
			char err[256];

			task_log(t, "cancelling: the daemon is stopping");
			if (cancel) {
				if (!PQcancel(cancel, err, sizeof(err)))
					log_warn("cannot cancel task %lld: %s", (long long)t->id, err);
				PQfreeCancel(cancel);
			}
		} else if (t->phase == PHASE_CONNECT) {
			task_fail(e, t, "pgqfs: the daemon stopped before this task started\n");
		}
	}
	e->cancels_sent = true;
}

static bool work_left(const struct executor *e)
{
	return e->tasks != NULL || e->op != OP_NONE;
}

static void *executor_main(void *arg)
{
	struct executor *e = arg;
	struct pollfd *fds = NULL;
	struct conn **fd_conn = NULL;
	size_t cap = 0;

	for (;;) {
		size_t nfds = 0, total = 2;
		int64_t now = mono_ms();
		int timeout = -1;
		bool stopping = atomic_load(&e->stopping);

		if (stopping) {
			if (!e->cancels_sent) {
				cancel_all(e);
				e->stop_deadline_ms = now + STOP_GRACE_MS;
			}
			if (!work_left(e) || !e->control || now >= e->stop_deadline_ms)
				break;
		}
		reap_conns(e);
		check_timeouts(e, now);
		if (e->control)
			ctl_next(e);

		for (size_t i = 0; i < e->cfg->n_targets; i++)
			total += e->targets[i].n_conns;
		if (total > cap) {
			struct pollfd *nf = realloc(fds, total * sizeof(*fds));
			struct conn **nc = nf ? realloc(fd_conn, total * sizeof(*nc)) : NULL;

			if (nf)
				fds = nf;
			if (nc)
				fd_conn = nc;
			if (!nf || !nc) {
				log_error("out of memory in the executor");
				break;
			}
			cap = total;
		}
		fds[nfds].fd = e->wake_fd;
		fds[nfds].events = POLLIN;
		fd_conn[nfds++] = NULL;
		/* Slot 1 is the control connection, or nothing while it is down. */
		fds[nfds].fd = e->control ? PQsocket(e->control) : -1;
		fds[nfds].events = POLLIN | (e->ctl_want_write ? POLLOUT : 0);
		fd_conn[nfds++] = NULL;
		for (size_t i = 0; i < e->cfg->n_targets; i++) {
			struct target *tg = &e->targets[i];

			for (size_t j = 0; j < tg->n_conns; j++) {
				struct conn *c = tg->conns[j];
				short ev = 0;

				if (c->state == CONN_BROKEN || PQsocket(c->pg) < 0)
					continue;
				if (c->state == CONN_CONNECTING) {
					ev = c->poll == PGRES_POLLING_READING ? POLLIN : POLLOUT;
				} else {
					bool paused = c->task &&
						c->task->out[STREAM_RESULT].pending.len >= PENDING_MAX;

					ev = paused ? 0 : POLLIN;
					if (c->want_write)
						ev |= POLLOUT;
				}
				fds[nfds].fd = PQsocket(c->pg);
				fds[nfds].events = ev;
				fd_conn[nfds++] = c;
			}
		}
		/* Timers: partial output, liveness checks, housekeeping. */
		for (struct task *t = e->tasks; t; t = t->next) {
			int64_t due = task_flush_due(t);
			int64_t tdue = task_timeout_due(t);

			if (due < 0 || (tdue >= 0 && tdue < due))
				due = tdue;
			if (due >= 0 && (timeout < 0 || due - now < timeout))
				timeout = due <= now ? 0 : (int)(due - now > INT_MAX ? INT_MAX : due - now);
		}
		if (e->control && e->op == OP_NONE) {
			int64_t next = e->next_recover_ms < e->next_housekeeping_ms ?
				       e->next_recover_ms : e->next_housekeeping_ms;
			int64_t d = next - now;

			if (timeout < 0 || d < timeout)
				timeout = d < 0 ? 0 : (int)(d > 3600000 ? 3600000 : d);
		}
		if (stopping) {
			int64_t d = e->stop_deadline_ms - now;

			if (timeout < 0 || d < timeout)
				timeout = d < 0 ? 0 : (int)d;
		}

		if (poll(fds, nfds, timeout) < 0) {
			if (errno == EINTR)
				continue;
			log_error("poll: %s", strerror(errno));
			break;
		}
		if (fds[0].revents & POLLIN) {
			uint64_t v;

			if (read(e->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				log_warn("wake-up: %s", strerror(errno));
			for (size_t i = 0; i < e->cfg->n_pools; i++)
				e->pools[i].has_work = true;
		}
		if (e->control && fds[1].revents)
			ctl_event(e, fds[1].revents);
		for (size_t i = 2; i < nfds; i++) {
			struct conn *c = fd_conn[i];

			/* Busy connections are pumped every round: a task paused
			 * by back-pressure has input waiting in libpq. */
			if (c->state != CONN_BROKEN &&
			    (fds[i].revents || (c->task && c->state == CONN_BUSY)))
				conn_event(e, c, fds[i].revents);
		}
	}
	free(fds);
	free(fd_conn);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* life cycle                                                          */

int executor_create(const struct config *cfg, struct store *store, PGconn *control,
		    int64_t instance, executor_finished_fn *on_finished, void *arg,
		    struct executor **ret)
{
	struct executor *e = calloc(1, sizeof(*e));
	char host[256];

	if (!e)
		return -ENOMEM;
	e->cfg = cfg;
	e->store = store;
	e->control = control;
	e->instance = instance;
	e->on_finished = on_finished;
	e->on_finished_arg = arg;
	e->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pthread_mutex_init(&e->release_lock, NULL);
	e->targets = calloc(cfg->n_targets, sizeof(*e->targets));
	e->pools = calloc(cfg->n_pools, sizeof(*e->pools));
	e->batch = progress_create();
	if (gethostname(host, sizeof(host)) < 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(e->daemon, sizeof(e->daemon), "%s:%d", host, (int)getpid());
	if (e->wake_fd < 0 || !e->targets || !e->pools || !e->batch)
		goto fail;
	for (size_t i = 0; i < cfg->n_targets; i++) {
		e->targets[i].cfg = &cfg->targets[i];
		e->targets[i].conns = calloc((size_t)cfg->targets[i].max_workers,
					     sizeof(struct conn *));
		if (!e->targets[i].conns)
			goto fail;
	}
	for (size_t i = 0; i < cfg->n_pools; i++) {
		e->pools[i].cfg = &cfg->pools[i];
		e->pools[i].target = &e->targets[cfg->pools[i].target];
	}
	if (ctl_setup(e) < 0) {
		e->control = NULL;	/* the caller still owns it on failure */
		goto fail;
	}
	e->next_housekeeping_ms = 0;
	*ret = e;
	return 0;
fail:
	e->control = NULL;
	executor_destroy(e);
	return -ENOMEM;
}

int executor_start(struct executor *e)
{
	/* Warm connections: the first tasks should not wait for backends. */
	for (size_t i = 0; i < e->cfg->n_targets; i++) {
		struct target *tg = &e->targets[i];
		int want = 0;

		for (size_t p = 0; p < e->cfg->n_pools; p++)
			if (e->pools[p].target == tg)
				want += e->pools[p].cfg->max_workers;
		if (want > tg->cfg->max_workers)
			want = tg->cfg->max_workers;
		while ((int)tg->n_conns < want && target_add_conn(tg))
			;
	}
	if (pthread_create(&e->thread, NULL, executor_main, e) != 0)
		return -errno;
	e->thread_started = true;
	return 0;
}

bool executor_release_settled(struct executor *e, uint64_t seq)
{
	return atomic_load(&e->settled_seq) >= seq;
}

int executor_release(struct executor *e, int64_t id, uint64_t *ret_seq)
{
	int r = 0;

	pthread_mutex_lock(&e->release_lock);
	if (e->n_release == e->cap_release) {
		size_t cap = e->cap_release ? e->cap_release * 2 : 256;
		int64_t *p = realloc(e->release, cap * sizeof(*p));

		if (p) {
			e->release = p;
			e->cap_release = cap;
		} else {
			r = -ENOMEM;
		}
	}
	if (r == 0) {
		e->release[e->n_release++] = id;
		*ret_seq = ++e->release_seq;
	}
	pthread_mutex_unlock(&e->release_lock);
	if (r == 0)
		executor_wake(e);
	return r;
}

void executor_wake(struct executor *e)
{
	uint64_t one = 1;

	if (write(e->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("cannot wake the executor: %s", strerror(errno));
}

void executor_stop(struct executor *e)
{
	if (!e || !e->thread_started)
		return;
	atomic_store(&e->stopping, true);
	executor_wake(e);
	pthread_join(e->thread, NULL);
	e->thread_started = false;
	log_info("executor stopped: %llu tasks started in %llu claims, %llu progress statements",
		 (unsigned long long)atomic_load(&e->n_started), (unsigned long long)e->n_claims,
		 (unsigned long long)e->n_progress);
}

void executor_destroy(struct executor *e)
{
	if (!e)
		return;
	while (e->tasks) {
		struct task *t = e->tasks;

		e->tasks = t->next;
		task_free(t);
	}
	if (e->targets) {
		for (size_t i = 0; i < e->cfg->n_targets; i++) {
			for (size_t j = 0; j < e->targets[i].n_conns; j++)
				conn_free(e->targets[i].conns[j]);
			free(e->targets[i].conns);
		}
	}
	free(e->targets);
	free(e->pools);
	progress_destroy(e->batch);
	buf_finish(&e->stmt);
	PQfinish(e->control);
	free(e->release);
	free(e->releasing);
	pthread_mutex_destroy(&e->release_lock);
	if (e->wake_fd >= 0)
		close(e->wake_fd);
	free(e);
}

void executor_get_counters(struct executor *e, struct executor_counters *ret)
{
	ret->started = atomic_load(&e->n_started);
	ret->done = atomic_load(&e->n_done);
	ret->failed = atomic_load(&e->n_failed);
}
