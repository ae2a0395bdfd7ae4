/*
 * A target connection's life once opened (target.c opens them): its reset
 * between tasks, what its socket says, its failures, its cancel and the
 * cancel's grace, and the loop's round over every target (host names
 * resolved by jobs, connections reaped).  Nothing here blocks the loop.
 */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "executor_internal.h"
#include "format.h"
#include "log.h"

static void notice_receiver(void *arg, const PGresult *res)
{
	struct conn *c = arg;
	struct buf line;

	if (!c->task)
		return;
	buf_init(&line);
	if (format_notice(&line, res) == 0 && buf_cstr(&line))
		task_notice(c->target->e, c->task, line.data, line.len);
	buf_finish(&line);
}

/*
 * c's reset (or naming) is in flight: past the connect timeout with no
 * answer, conn_connect_timed_out() closes c, and a task waiting for it
 * takes another connection.  (A reset can wait: DISCARD ALL drops the
 * session's temporary tables, which another session may hold a lock on.)
 */
static void conn_reset_deadline(struct conn *c)
{
	timer_set(&c->connect_timer, mono_ms() + (int64_t)c->connect_timeout_ms);
}

/*
 * A session's reset between two tasks, in order: an open transaction
 * rolled back (as when psql exits), no statement timeout, then DISCARD
 * ALL.  A statement timeout the task set is armed again for each of
 * these: past it during DISCARD ALL (which drops temporary tables and
 * does not look for the timeout meanwhile), the server cancels the next
 * statement on the session instead, the next task's (a review found it,
 * 30 temporary tables and a 2 ms timeout).  Past it during the SET, it
 * cancels DISCARD ALL: the reset fails, and the connection is closed.
 */
const char *const reset_sql[RESET_STEPS] = {
	"ROLLBACK", "SET statement_timeout = 0", "DISCARD ALL",
};

void conn_start_reset(struct conn *c)
{
	PGTransactionStatusType ts = PQtransactionStatus(c->pg);

	conn_detach_task(c);
	c->named_id = 0;	/* DISCARD ALL, or a new session */
	c->unname = false;
	/* After a cancel the request may still be on its way: it must not
	 * hit the next task.  And libpq never shrinks its input buffer: a
	 * connection that took a huge row would keep that memory. */
	if (c->no_reuse || c->max_message >= BIG_MESSAGE_BYTES) {
		conn_set_state(c, CONN_BROKEN);
		return;
	}
	/* A piped task (pipe.c): its reset was sent with it, and ran once
	 * its statement's Sync came; a task that ended before that (a
	 * failure of ours) leaves a pipeline that nobody can read to the end. */
	if (c->pipe == PIPE_RESET) {
		int r;

		conn_set_state(c, CONN_RESET);
		/* Its results may be read in already: no POLLIN would come. */
		r = conn_pipe_reset(c);
		if (r < 0)
			conn_set_state(c, CONN_BROKEN);
		else if (r > 0)
			conn_set_state(c, CONN_IDLE);
		else
			conn_reset_deadline(c);
		return;
	}
	if (c->pipe == PIPE_TASK) {
		if (!PQexitPipelineMode(c->pg)) {
			conn_set_state(c, CONN_BROKEN);
			return;
		}
		c->pipe = PIPE_NONE;	/* nothing was sent */
	}
	if (ts == PQTRANS_UNKNOWN || PQstatus(c->pg) != CONNECTION_OK) {
		conn_set_state(c, CONN_BROKEN);
		return;
	}
	/* An open transaction ends as it would when psql exits: rolled back.
	 * Then nothing of this task's session may leak into the next one. */
	conn_set_state(c, CONN_RESET);
	conn_reset_deadline(c);
	c->reset_step = ts == PQTRANS_IDLE ? 1 : 0;
	if (!PQsendQuery(c->pg, reset_sql[c->reset_step])) {
		conn_set_state(c, CONN_BROKEN);
		return;
	}
	conn_flush(c);
}

/* Sends the query that names idle c's session for task id (or, id 0,
 * takes the name back); its result is read as a reset's. */
static void conn_name(struct conn *c, int64_t id)
{
	char app[96];

	if (id)
		app_name_query(app, sizeof(app), id);
	else
		snprintf(app, sizeof(app), "RESET application_name");
	/* Nothing more to send after it, then idle (or its task begins). */
	conn_set_state(c, CONN_RESET);
	conn_reset_deadline(c);
	c->reset_step = RESET_STEPS;
	c->unname = false;
	if (!PQsendQuery(c->pg, app)) {
		conn_set_state(c, CONN_BROKEN);
		return;
	}
	c->named_id = id;
	conn_flush(c);
}

/* c's reset is done: the task waiting for it begins, else c is idle. */
static void conn_reset_done(struct executor *e, struct conn *c)
{
	timer_cancel(&c->connect_timer);
	if (c->task) {
		c->unname = false;
		conn_set_state(c, CONN_BUSY);
		task_begin(e, c->task);
	} else {
		conn_set_state(c, CONN_IDLE);
		if (c->unname)
			conn_name(c, 0);
	}
}

void conn_prename(struct pool *p, int64_t id, const char *meanwhile)
{
	struct target *tg = p ? p->target : NULL;
	struct conn *idle = NULL;

	if (!tg || p->cfg->run_as == RUN_AS_SUBMITTER)
		return;
	for (size_t i = 0; i < tg->n_conns; i++) {
		struct conn *c = tg->conns[i];

		if (c->named_id == id && !c->task &&
		    (c->state == CONN_IDLE || c->state == CONN_RESET)) {
			c->unname = false;
			return;		/* named already (a claim tried again) */
		}
		if (!idle && c->state == CONN_IDLE && !c->task && !c->as_submitter &&
		    conn_idle_alive(c))
			idle = c;
	}
	if (idle) {
		log_debug("task %lld: a session is named for it while %s", (long long)id,
			  meanwhile);
		conn_name(idle, id);
	}
}

void conn_unname(struct pool *p, int64_t id)
{
	struct target *tg = p ? p->target : NULL;

	for (size_t i = 0; tg && i < tg->n_conns; i++) {
		struct conn *c = tg->conns[i];

		if (c->named_id != id || c->task)
			continue;
		log_debug("task %lld: not run here; the session named for it takes its name back",
			  (long long)id);
		if (c->state == CONN_IDLE)
			conn_name(c, 0);
		else if (c->state == CONN_RESET)
			c->unname = true;
	}
}

/* c could not connect: its task (if any) fails, saying why (msg ends in a
 * newline). */
static void conn_connect_failed(struct executor *e, struct conn *c, const char *msg)
{
	struct task *t = c->task;
	const char *name = c->target->cfg->name;

	conn_set_state(c, CONN_BROKEN);
	if (t && c->role) {
		conn_detach_task(c);
		task_log(t, "could not connect to target %s as role %s", name, c->role);
		task_fail(e, t, "pgqfs: could not connect to target %s as role %s: %s", name,
			  c->role, msg);
	} else if (t) {
		conn_detach_task(c);
		task_log(t, "could not connect to target %s", name);
		task_fail(e, t, "pgqfs: could not connect to target %s: %s", name, msg);
	} else {
		log_warn("could not connect to target %s: %s", LOG_ESCAPE(name), msg);
	}
}

/* c's role name could not be looked up (err: -ENOENT, uid has none): its
 * task fails, saying so. */
static void conn_no_role(struct executor *e, struct conn *c, int err)
{
	struct task *t = c->task;

	conn_set_state(c, CONN_BROKEN);
	if (!t)
		return;
	conn_detach_task(c);
	task_log(t, "could not connect to target %s: no user name for uid %u",
		 c->target->cfg->name, (unsigned)c->uid);
	if (err == -ENOENT)
		task_fail(e, t, "pgqfs: uid %u has no user name; run_as = submitter needs a role "
			  "named like the user\n", (unsigned)c->uid);
	else
		task_fail(e, t, "pgqfs: cannot look up the user name of uid %u: %s\n",
			  (unsigned)c->uid, strerror(-err));
}

/* A connection is readable or writable (or has buffered input to use). */
void conn_event(struct executor *e, struct conn *c, short revents)
{
	if (c->state == CONN_CONNECTING) {
		c->poll = PQconnectPoll(c->pg);
		if (c->poll == PGRES_POLLING_FAILED) {
			conn_connect_failed(e, c, PQerrorMessage(c->pg));
			return;
		}
		if (c->poll != PGRES_POLLING_OK)
			return;
		if (PQsetnonblocking(c->pg, 1) < 0) {
			conn_set_state(c, CONN_BROKEN);
			return;
		}
		PQsetNoticeReceiver(c->pg, notice_receiver, c);
		timer_cancel(&c->connect_timer);
		conn_set_state(c, c->task ? CONN_BUSY : CONN_IDLE);
		if (c->task)
			task_begin(e, c->task);
		return;
	}
	if ((revents & POLLOUT) && c->want_write)
		conn_flush(c);
	if ((revents & (POLLIN | POLLHUP | POLLERR)) && !PQconsumeInput(c->pg)) {
		struct task *t = c->task;

		conn_set_state(c, CONN_BROKEN);
		if (t) {
			conn_detach_task(c);
			task_fail(e, t, "pgqfs: lost the connection to target %s: %s",
				  c->target->cfg->name, conn_error(c));
		}
		return;
	}
	if (c->state == CONN_BUSY && c->task) {
		task_pump(e, c->task);
	} else if (c->state == CONN_RESET && c->pipe == PIPE_RESET) {
		int r = conn_pipe_reset(c);

		if (r < 0)
			conn_set_state(c, CONN_BROKEN);
		else if (r > 0)
			conn_reset_done(e, c);
	} else if (c->state == CONN_RESET) {
		while (!PQisBusy(c->pg)) {
			PGresult *res = PQgetResult(c->pg);

			if (res) {
				ExecStatusType st = PQresultStatus(res);

				/* reset_sql[]'s; conn_name()'s SELECT or RESET */
				if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
					conn_set_state(c, CONN_BROKEN);
				PQclear(res);
				continue;
			}
			if (c->state == CONN_BROKEN)
				return;
			if (++c->reset_step < RESET_STEPS) {
				if (!PQsendQuery(c->pg, reset_sql[c->reset_step])) {
					conn_set_state(c, CONN_BROKEN);
					return;
				}
				conn_flush(c);
				return;
			}
			conn_reset_done(e, c);
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
void reap_conns(struct executor *e)
{
	bool trim = false;

	for (size_t i = 0; i < e->n_targets; i++) {
		struct target *tg = &e->targets[i];
		size_t k = 0;

		for (size_t j = 0; j < tg->n_conns; j++) {
			struct conn *c = tg->conns[j];

			/* A retired target keeps only connections with a task. */
			if (tg->retired && !c->task && c->state != CONN_BROKEN) {
				conn_set_state(c, CONN_BROKEN);
				snprintf(c->err, sizeof(c->err), "its target left the configuration\n");
			}

			if (c->state == CONN_BROKEN && c->task) {
				struct task *t = c->task;

				conn_detach_task(c);
				task_fail(e, t, "pgqfs: lost the connection to target %s: %s",
					  tg->cfg->name, conn_error(c));
			}
			if (c->state == CONN_BROKEN) {
				trim |= c->max_message >= BIG_MESSAGE_BYTES;
				conn_free(c);
			} else {
				tg->conns[k++] = c;
			}
		}
		tg->n_conns = k;
	}
	/* Give the memory of a huge row back to the system: the task's
	 * buffers went already, libpq's just now. */
	if (trim)
		malloc_trim(0);
}

bool conn_idle_alive(struct conn *c)
{
	struct pollfd pfd = { .fd = PQsocket(c->pg), .events = POLLIN };

	/* An idle connection has nothing to say: anything readable is the
	 * server ending the session (a restart), which the loop would only
	 * see on its next round, after a claim has handed out the task. */
	if (pfd.fd >= 0 && poll(&pfd, 1, 0) == 0)
		return true;
	/* Readable: usually a FATAL (57P01, an idle timeout) before the
	 * close, which libpq hands an idle connection to the notice
	 * processor, leaving its status OK until it reads the end. */
	conn_set_state(c, CONN_BROKEN);
	return false;
}

/* Sends a cancel request for what c's backend runs, from a job's thread:
 * 0, or -errno when no job could take it.  c may be closed right after. */
static int conn_cancel_job(struct executor *e, struct conn *c)
{
	PGcancel *cancel = PQgetCancel(c->pg);
	struct job *j = cancel ? calloc(1, sizeof(*j)) : NULL;

	if (!j) {
		if (cancel)
			PQfreeCancel(cancel);
		return -ENOMEM;
	}
	j->kind = JOB_CANCEL;
	j->cancel = cancel;
	j->task_id = c->task ? (long long)c->task->id : 0;
	log_escape(c->target->cfg->name, j->target);
	return job_start(e, j);	/* frees j (and cancel) on failure */
}

void conn_cancel(struct executor *e, struct conn *c)
{
	int64_t now = mono_ms();
	int r;

	c->no_reuse = true;
	if (!c->drop_due_ms) {
		c->drop_due_ms = now + CANCEL_GRACE_MS;
		timer_set(&c->drop_timer, c->drop_due_ms);
	}
	/* Nothing runs on a connection not yet up or being reset; a task
	 * waiting for it is failed by the caller or the connect timeout. */
	if (c->state != CONN_BUSY || !c->pg)
		return;
	r = conn_cancel_job(e, c);
	if (r < 0) {
		log_warn("cannot cancel task %lld on target %s (%s): closing its connection",
			 c->task ? (long long)c->task->id : 0LL, LOG_ESCAPE(c->target->cfg->name),
			 r == -EAGAIN ? "too many cancels in progress" : strerror(-r));
		c->drop_due_ms = now;
		timer_set(&c->drop_timer, now);
	}
}

/* c was still connecting at its connect timeout: its task fails. */
void conn_connect_timed_out(struct timer *tm, void *arg, int64_t now)
{
	struct conn *c = arg;
	uint64_t ms = c->connect_timeout_ms;
	char msg[64];

	(void)now;
	if (c->state == CONN_RESET) {
		struct task *t = c->task;

		log_warn("target %s: a session's reset got no answer within %llu ms: its "
			 "connection is closed", LOG_ESCAPE(c->target->cfg->name),
			 (unsigned long long)ms);
		snprintf(c->err, sizeof(c->err), "no answer to its session's reset within %llu ms\n",
			 (unsigned long long)ms);
		conn_set_state(c, CONN_BROKEN);
		/* Its slot is free now (reap_conns() frees the rest).  A backend
		 * waiting for a lock does not read its socket: the cancel ends
		 * it, or max_workers would not hold on the server for long.  The
		 * task waiting for c has run nothing, and takes another. */
		if (t)
			conn_detach_task(c);
		(void)conn_cancel_job(timer_executor(tm), c);
		PQfinish(c->pg);
		c->pg = NULL;
		if (t) {
			log_info("task %lld: the session it waited for was closed; it takes another",
				 (long long)t->id);
			task_assign(timer_executor(tm), t);
		}
		return;
	}
	if (c->state != CONN_CONNECTING)
		return;
	if (c->resolving && !c->job) {
		/* It never got a thread to resolve in (conn_resolve_start()):
		 * JOBS_MAX lookups or cancels were running all along. */
		conn_connect_failed(timer_executor(tm), c,
				    "timeout waiting to resolve its host name: too many host name "
				    "lookups and cancels in progress\n");
		return;
	}
	if (ms % 1000)
		snprintf(msg, sizeof(msg), "timeout after %llu ms\n", (unsigned long long)ms);
	else
		snprintf(msg, sizeof(msg), "timeout after %llu s\n", (unsigned long long)(ms / 1000));
	conn_connect_failed(timer_executor(tm), c, msg);
}

/* CANCEL_GRACE_MS after a cancel: a task still running on c fails, and c
 * closes. */
void conn_drop_due(struct timer *tm, void *arg, int64_t now)
{
	struct conn *c = arg;

	(void)now;
	if (c->state == CONN_BUSY && c->task)
		task_abandon(timer_executor(tm), c->task);
}

/* Takes what finished jobs did; frees them. */
static void jobs_reap(struct executor *e)
{
	struct job **pp = &e->jobs;

	while (*pp) {
		struct job *j = *pp;
		struct conn *c = j->conn;

		if (atomic_load(&j->state) != JOB_DONE) {
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		pthread_join(j->thread, NULL);
		if (j->ctl) {
			/* e->ctl_job is j: ctl_resolved() takes it. */
			ctl_resolved(e, j);
		} else if (c) {
			c->job = NULL;
			c->resolving = false;
			if (c->state == CONN_CONNECTING && j->lookup_user && !j->user) {
				conn_no_role(e, c, j->user_err);
			} else if (c->state == CONN_CONNECTING) {
				if (j->lookup_user) {
					c->role = j->user;
					j->user = NULL;
				}
				conn_start(c, j);
				if (c->state == CONN_BROKEN)
					conn_connect_failed(e, c, conn_error(c));
			}
		}
		job_free(j);
	}
}

void targets_tick(struct executor *e)
{
	jobs_reap(e);
	for (size_t i = 0; i < e->n_targets; i++) {
		struct target *tg = &e->targets[i];

		for (size_t k = 0; k < tg->n_conns; k++) {
			struct conn *c = tg->conns[k];

			if (c->state != CONN_CONNECTING)
				continue;
			if (c->resolving && !c->job)
				conn_resolve_start(e, c);
			if (c->state == CONN_BROKEN)
				conn_connect_failed(e, c, c->err);
			else if (c->pg && PQstatus(c->pg) == CONNECTION_BAD)
				conn_connect_failed(e, c, PQerrorMessage(c->pg));
		}
	}
}
