/*
 * Stopping a running task: a cancel asked through tasks/ID/cancel, its
 * timeout, a statement that outlives its cancel, a session whose set-up
 * such a cancel met; and what the task's error says each time.  The
 * result cap's cancel is run.c's (result_check_cap()), its error here.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "executor_internal.h"

/* Whether nothing of t's own has been sent: its session is still being
 * reset, named or connected. */
static bool before_first(const struct task *t)
{
	return t->phase == PHASE_CONNECT || t->phase == PHASE_SETUP;
}

void task_fail_timed_out(struct executor *e, struct task *t)
{
	memcpy(t->sqlstate, "57014", 6);
	buf_reset(&t->error);
	task_timeout_error(t, &t->error);
	(void)buf_puts(&t->error, "SQLSTATE: 57014\n");
	task_finish(e, t, TASK_FAILED);
}

/* t ran past its timeout: cancel its statement (off the loop: see
 * conn_cancel()). */
void task_timed_out(struct timer *tm, void *arg, int64_t now)
{
	struct task *t = arg;
	struct conn *c = t->conn;

	(void)now;
	if (!t->timed_out && c && t->phase == PHASE_CONNECT && c->state == CONN_RESET) {
		/* Its session never came back from its reset (or naming): the
		 * target hangs.  It is closed; the task fails, having run
		 * nothing. */
		t->timed_out = true;
		conn_detach_task(c);
		conn_set_state(c, CONN_BROKEN);
		task_fail_timed_out(timer_executor(tm), t);
		return;
	}
	if (t->timed_out || !t->conn || (t->phase != PHASE_SETUP && t->phase != PHASE_STMT))
		return;
	t->timed_out = true;
	task_log(t, "timed out after %llu ms: cancelling", (unsigned long long)t->timeout_ms);
	conn_cancel(timer_executor(tm), t->conn);
}

/* Whether every statement of t has ended well (a single transaction's
 * COMMIT too): a cancel, a timeout or a stop that comes now stops nothing. */
bool task_ran_all(const struct task *t)
{
	return t->cur >= t->n_stmts && (!t->opts.single_transaction || t->tx == TX_DONE ||
					t->n_stmts == 0);
}

void task_timeout_error(const struct task *t, struct buf *out)
{
	uint64_t ms = t->timeout_ms;
	const char *whose = task_options_has(&t->opts, HEADER_TIMEOUT) ? "its" : "the pool's";

	if (before_first(t))
		(void)buf_printf(out, "pgqfs: timed out: %s timeout of %llu ms passed before its "
				 "session on target %s was ready; nothing ran\n", whose,
				 (unsigned long long)ms, t->pool->target->cfg->name);
	else if (ms % 1000)
		(void)buf_printf(out, "pgqfs: timed out: cancelled after %s timeout of %llu ms\n",
				 whose, (unsigned long long)ms);
	else
		(void)buf_printf(out, "pgqfs: timed out: cancelled after %s timeout of %llu s\n",
				 whose, (unsigned long long)(ms / 1000));
}

void task_cancel_error(const struct task *t, struct buf *out)
{
	if (before_first(t))
		(void)buf_printf(out, "pgqfs: cancelled by uid %lu before its first statement, "
				 "while its session on target %s was being prepared\n",
				 (unsigned long)t->cancel_uid, t->pool->target->cfg->name);
	else
		(void)buf_printf(out, "pgqfs: cancelled by uid %lu while it ran\n",
				 (unsigned long)t->cancel_uid);
}

void task_cancel_by(struct executor *e, struct task *t, uint32_t uid)
{
	if (t->phase == PHASE_FINISHED || t->cancel_asked)
		return;
	t->cancel_asked = true;
	t->cancel_uid = uid;
	task_log(t, "cancelling: asked by uid %lu", (unsigned long)uid);
	if (t->conn && (t->phase == PHASE_SETUP || t->phase == PHASE_STMT)) {
		conn_cancel(e, t->conn);
		return;
	}
	/* Not started yet. */
	buf_reset(&t->error);
	(void)buf_printf(&t->error, "pgqfs: cancelled by uid %lu before it started\n",
			 (unsigned long)uid);
	task_finish(e, t, TASK_CANCELLED);
}

void task_cap_error(const struct task *t, struct buf *out)
{
	if (t->log_over_cap) {
		(void)buf_printf(out, "pgqfs: the log reached the pool's max_result_bytes of %llu "
				 "bytes: the statement was cancelled and its further notices "
				 "dropped\nSQLSTATE: 54000\n",
				 (unsigned long long)t->pool->cfg->max_result_bytes);
		return;
	}
	(void)buf_printf(out, "pgqfs: the result reached the pool's max_result_bytes of %llu bytes: "
			 "the statement was cancelled and the rest of its output dropped\n"
			 "SQLSTATE: 54000\n",
			 (unsigned long long)t->pool->cfg->max_result_bytes);
}

void task_abandon(struct executor *e, struct task *t)
{
	struct conn *c = t->conn;
	const char *name = t->pool->target->cfg->name;

	buf_reset(&t->error);
	if (t->cancel_asked)
		task_cancel_error(t, &t->error);
	else if (t->timed_out)
		task_timeout_error(t, &t->error);
	else if (t->over_cap)
		(void)buf_printf(&t->error, "pgqfs: the result reached the pool's max_result_bytes of %llu bytes\n",
				 (unsigned long long)t->pool->cfg->max_result_bytes);
	else
		(void)buf_puts(&t->error, "pgqfs: the daemon stopped before this task ended\n");
	(void)buf_printf(&t->error, "pgqfs: the %s did not end within %d s of its cancel: "
			 "closed the connection to target %s\n",
			 before_first(t) ? "session's set-up" : "statement", CANCEL_GRACE_MS / 1000,
			 name);
	if (t->timed_out || t->over_cap)
		(void)buf_printf(&t->error, "SQLSTATE: %s\n", t->timed_out ? "57014" : "54000");
	task_log(t, "no answer %d s after the cancel: closing the connection", CANCEL_GRACE_MS / 1000);
	if (c)
		conn_set_state(c, CONN_BROKEN);
	task_finish(e, t, t->cancel_asked ? TASK_CANCELLED : TASK_FAILED);
}

/*
 * The naming of t's session, a round trip of its own, failed.  A cancel, a
 * timeout or the daemon's stop that met it is the task's reason, and is
 * said as such; else the session could not be prepared.
 */
void task_setup_failed(struct executor *e, struct task *t, const PGresult *res)
{
	const char *tg = t->pool->target->cfg->name;
	const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	if (st && strlen(st) == 5 && !t->sqlstate[0])
		memcpy(t->sqlstate, st, 6);
	if (t->cancel_asked) {
		buf_reset(&t->error);
		task_cancel_error(t, &t->error);
		task_finish(e, t, TASK_CANCELLED);
	} else if (t->timed_out) {
		task_fail_timed_out(e, t);
	} else if (atomic_load(&e->stopping) && e->cancels_sent) {
		task_fail(e, t, "pgqfs: the daemon stopped before this task's first statement; "
			  "nothing ran\n");
	} else {
		task_fail(e, t, "pgqfs: cannot prepare the session on target %s: %s", tg,
			  PQresultErrorMessage(res));
	}
}
