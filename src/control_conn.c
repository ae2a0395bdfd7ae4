/*
 * The control connection's life: opened and set up inside the event loop
 * (never blocking it), registered as an instance, and given up when lost.
 * What runs on it is control.c's.
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "executor_internal.h"
#include "log.h"
#include "store.h"

/* Gives up the resolution in flight, if any: jobs_reap() frees the job
 * when its thread ends. */
static void ctl_abandon_job(struct executor *e)
{
	if (e->ctl_job) {
		e->ctl_job->ctl = false;
		e->ctl_job = NULL;
	}
}

/* A connect attempt failed: drop it, try again after the back-off. */
void ctl_attempt_failed(struct executor *e, const char *why)
{
	int len = (int)strlen(why);
	int64_t wait;

	while (len > 0 && why[len - 1] == '\n')
		len--;
	wait = ctl_back_off(e);
	log_warn("cannot connect to the control database, trying again in %lld ms: %.*s",
		 (long long)wait, len, why);
	ctl_abandon_job(e);
	PQfinish(e->control);
	e->control = NULL;
	e->ctl_state = CTL_DOWN;
	e->ctl_want_write = false;
	timer_cancel(&e->ctl_deadline_timer);
}

/* Starts connecting with opts; with j, to the addresses it resolved. */
static void ctl_connect_with(struct executor *e, const PQconninfoOption *opts,
			     const struct job *j)
{
	struct conn_params p;
	char err[256];

	if (conn_params_build(&p, opts, j, "pgqfs executor", err, sizeof(err)) < 0) {
		ctl_attempt_failed(e, err);
		return;
	}
	/* The conninfo was parsed already: no dbname to expand. */
	e->control = PQconnectStartParams(p.keys, p.vals, 0);
	conn_params_finish(&p);
	if (!e->control || PQstatus(e->control) == CONNECTION_BAD) {
		ctl_attempt_failed(e, e->control ? PQerrorMessage(e->control) : "out of memory");
		return;
	}
	e->ctl_state = CTL_CONNECTING;
	e->ctl_poll = PGRES_POLLING_WRITING;
	e->ctl_want_write = false;
}

/*
 * Starts a connection without blocking.  libpq would resolve host names
 * synchronously: as for targets (target.c), a thread of its own resolves
 * them first (e->ctl_job), and ctl_resolved() connects to the addresses.
 * The deadline covers both.
 */
void ctl_connect_start(struct executor *e, int64_t now)
{
	char *msg = NULL;
	PQconninfoOption *opts = PQconninfoParse(e->cfg->control, &msg);
	struct job *j = NULL;
	int r;

	if (!opts) {
		/* libpq's message may quote the conninfo, password and all. */
		PQfreemem(msg);
		ctl_attempt_failed(e, "its conninfo cannot be parsed");
		return;
	}
	e->ctl_deadline_ms = now + (int64_t)conninfo_connect_timeout_ms(
		opts, e->cfg->connect_timeout_ms);
	timer_set(&e->ctl_deadline_timer, e->ctl_deadline_ms);
	if (resolve_job_new(opts, &j) < 0) {
		ctl_attempt_failed(e, "out of memory");
		goto out;
	}
	if (!j) {
		ctl_connect_with(e, opts, NULL);
		goto out;
	}
	j->ctl = true;
	r = job_start(e, j);	/* frees j on failure */
	if (r < 0) {
		ctl_attempt_failed(e, r == -EAGAIN ? "too many host name lookups in progress" :
				   "cannot start a thread to resolve its host name");
		goto out;
	}
	e->ctl_job = j;
	e->ctl_state = CTL_CONNECTING;	/* with control NULL: nothing to poll */
	e->ctl_want_write = false;
out:
	PQconninfoFree(opts);
}

void ctl_resolved(struct executor *e, const struct job *j)
{
	char *msg = NULL;
	PQconninfoOption *opts;

	e->ctl_job = NULL;
	if (atomic_load(&e->stopping)) {
		/* Nothing will be sent any more: no new connection. */
		e->ctl_state = CTL_DOWN;
		timer_cancel(&e->ctl_deadline_timer);
		return;
	}
	opts = PQconninfoParse(e->cfg->control, &msg);
	if (!opts) {
		PQfreemem(msg);
		ctl_attempt_failed(e, "its conninfo cannot be parsed");
		return;
	}
	ctl_connect_with(e, opts, j);
	PQconninfoFree(opts);
}

void ctl_connect_poll(struct executor *e)
{
	e->ctl_poll = PQconnectPoll(e->control);
	if (e->ctl_poll == PGRES_POLLING_FAILED) {
		ctl_attempt_failed(e, PQerrorMessage(e->control));
		return;
	}
	if (e->ctl_poll != PGRES_POLLING_OK)
		return;
	PQsetNoticeProcessor(e->control, store_log_notice, NULL);
	if (PQsetnonblocking(e->control, 1) < 0 ||
	    store_send_setup(e->control, e->cfg, e->instance) < 0) {
		ctl_attempt_failed(e, PQerrorMessage(e->control));
		return;
	}
	e->ctl_state = CTL_SETUP;
	ctl_flush(e);
}

/* The new connection is registered, listens and has its statements. */
static void ctl_ready(struct executor *e)
{
	e->instance = e->setup.instance;
	store_set_instance(e->store, e->instance);
	e->ctl_state = CTL_UP;
	e->op = OP_NONE;
	e->ctl_retry_ms = 0;
	timer_cancel(&e->ctl_retry_timer);
	timer_cancel(&e->ctl_deadline_timer);
	e->ctl_backoff_ms = CTL_BACKOFF_MIN_MS;
	/* Recover first (a new instance finds our old one dead), and look at
	 * every queue: their NOTIFYs were lost while we were away. */
	ctl_recover_at(e, 0);
	for (size_t i = 0; i < e->cfg->n_pools; i++)
		e->pools[i].has_work = true;
	if (e->setup.reused)
		log_info("reconnected to the control database as instance %lld again: its staged "
			 "files stay staged", (long long)e->instance);
	else
		log_info("reconnected to the control database as instance %lld", (long long)e->instance);
	if (e->on_reconnected)
		e->on_reconnected(e->on_reconnected_arg);
}

void ctl_setup_results(struct executor *e)
{
	int nulls = 0;

	/* In a pipeline each statement's results end with a NULL; two in a
	 * row would mean nothing is left (the sync ends it before). */
	while (nulls < 2 && !PQisBusy(e->control)) {
		PGresult *res = PQgetResult(e->control);
		int r;

		if (!res) {
			nulls++;
			continue;
		}
		nulls = 0;
		r = store_setup_result(e->control, res, &e->setup);
		if (r < 0) {
			const char *msg = PQresultErrorMessage(res);

			ctl_attempt_failed(e, *msg ? msg : PQerrorMessage(e->control));
			PQclear(res);
			return;
		}
		PQclear(res);
		if (r == 1) {
			ctl_ready(e);
			return;
		}
	}
}

bool ctl_up(const struct executor *e)
{
	return e->control && e->ctl_state == CTL_UP;
}

int ctl_pollfd(const struct executor *e, short *ret_events)
{
	if (!e->control)
		return -1;
	if (e->ctl_state == CTL_CONNECTING)
		*ret_events = e->ctl_poll == PGRES_POLLING_READING ? POLLIN : POLLOUT;
	else
		*ret_events = POLLIN | (e->ctl_want_write ? POLLOUT : 0);
	return PQsocket(e->control);
}

int ctl_setup(struct executor *e)
{
	if (store_listen(e->control, e->cfg) < 0)
		return -EIO;
	if (store_prepare(e->control) < 0 || PQsetnonblocking(e->control, 1) < 0)
		return -EIO;
	e->ctl_state = CTL_UP;
	e->ctl_backoff_ms = CTL_BACKOFF_MIN_MS;
	e->op = OP_NONE;
	ctl_recover_at(e, 0);
	for (size_t i = 0; i < e->cfg->n_pools; i++)
		e->pools[i].has_work = true;
	return 0;
}

/*
 * The control connection is gone, and with it the advisory lock that said
 * this daemon is alive: another daemon may already have failed our running
 * tasks.  Cancel them.  A new connection (ctl_next() starts it, without
 * blocking the loop) takes the instance back if no daemon recovered it
 * meanwhile, and fails those tasks then; else it registers a new one, and
 * recovery fails them.
 *
 * Tasks that had ended are not failed with them.  The batch not committed
 * and the ended tasks are kept for the lost instance (e->batch_instance),
 * and their ends are stored first on the next connection, before the
 * recovery that fails the rest.  progress() records only what is still
 * running under that instance: it is harmless when the batch had committed
 * after all, or when a daemon recovered the instance meanwhile.
 */
static bool lost_has(const struct executor *e, int64_t instance)
{
	for (size_t i = 0; i < e->n_lost; i++)
		if (e->lost[i] == instance)
			return true;
	return false;
}

/* Frees the tasks held here, but those that ended if keep_ended. */
void ctl_drop_tasks(struct executor *e, bool keep_ended)
{
	struct task **pp = &e->tasks;

	while (*pp) {
		struct task *t = *pp;

		if (keep_ended && t->phase == PHASE_FINISHED) {
			pp = &t->next;
			continue;
		}
		*pp = t->next;
		t->pool->running--;
		e->running--;
		task_free(t);
	}
}

/* Tasks claimed with their staging: once connected again (OP_UNHOLD),
 * those never started go back to staged, not failed by a recovery as if
 * they had run; those started since fail, as a task cancelled with the
 * lost connection does, if their start is not on record (a recovery
 * leaves such rows of a daemon that lives to it: schema_v14.sql.h). */
static void unhold_later(struct executor *e)
{
	for (const struct task *t = e->tasks; t; t = t->next)
		if ((t->held || t->was_held) && unhold_add(e, t->id, e->instance, !t->held) < 0)
			log_error("out of memory: task %lld, claimed with its staging, is not "
				  "given back; a recovery fails it once this daemon has stopped",
				  (long long)t->id);
}

void ctl_lost(struct executor *e)
{
	e->ctl_epoch++;		/* a claim asked before is not for the new instance */
	e->n_unhold_sent = 0;	/* sent again */
	if (e->instance)
		unhold_later(e);
	for (struct task *t = e->tasks; t; t = t->next) {
		struct conn *c = t->conn;

		if (c) {
			/* One still resolving its host or role (no pg yet) is
			 * broken too: its task is freed below, and must not be
			 * found on it when the look-up ends. */
			if (c->pg)
				conn_cancel(e, c);	/* sent off the loop */
			conn_detach_task(c);
			conn_set_state(c, CONN_BROKEN);
		}
	}
	ctl_drop_tasks(e, e->instance != 0);
	e->n_stop = e->n_stop_sent = 0;	/* their tasks are cancelled now */
	if (e->instance && !e->batch_instance && (e->tasks || e->batch_unsent)) {
		e->batch_instance = e->instance;
		e->batch_lost_tries = 0;
	}
	if (!e->batch_instance) {
		progress_reset(e->batch);
		e->batch_unsent = false;
	}
	/* The orphans not in the batch belonged to the old instance:
	 * recover() ends them. */
	if (!e->batch_unsent)
		e->orphans_batched = 0;
	e->n_orphans = e->orphans_batched;
	for (size_t i = 0; i < e->n_pools; i++) {
		e->pools[i].claim_want = 0;
		e->pools[i].claim_asked = false;
	}
	/* A loss before the recoveries settled an earlier one adds to it:
	 * files written meanwhile were staged under the instance lost now. */
	if (e->instance && !lost_has(e, e->instance)) {
		if (e->n_lost < LOST_MAX)
			e->lost[e->n_lost++] = e->instance;
		else
			log_warn("control connection lost %d times in a row: instance %lld's "
				 "staged files may be queued by a recovery", LOST_MAX,
				 (long long)e->instance);
	}
	ctl_abandon_job(e);
	PQfinish(e->control);
	e->control = NULL;
	e->op = OP_NONE;
	e->ctl_want_write = false;
	e->ctl_state = CTL_DOWN;
	e->ctl_retry_ms = 0;
	timer_cancel(&e->ctl_retry_timer);
	e->ctl_backoff_ms = CTL_BACKOFF_MIN_MS;
}
