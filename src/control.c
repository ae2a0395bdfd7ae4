/*
 * The control connection: one statement at a time (recover, claim,
 * step, progress, schedules, housekeeping), its results, NOTIFYs, and its
 * loss.  What a claim brought is taken by claim.c (tasks go to run.c);
 * their output goes back in progress batches (batch.c).
 *
 * A statement that fails (a lock or statement timeout, a deadlock) rolled
 * back and is sent again after a back-off: a progress batch stays whole
 * until it is committed, a claim's releases stay for the next claim.  Only
 * a lost connection ends the instance; the new one is opened and set up
 * inside the event loop, never blocking it.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "executor_internal.h"
#include "log.h"
#include "store.h"

/* Microseconds on the monotonic clock: a statement's latency. */
static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int global_free(const struct executor *e)
{
	if (e->cfg->workers == 0)
		return 1 << 30;
	return e->cfg->workers - e->running;
}

void ctl_flush(struct executor *e)
{
	/* -1: the socket failed; the next read says the connection is lost. */
	int r = PQflush(e->control);

	e->ctl_want_write = r == 1;
}

static const char *op_name(enum ctl_op op)
{
	switch (op) {
	case OP_RECOVER:
		return "recover";
	case OP_CLAIM:
		return "claim";
	case OP_STEP:
		return "claim with progress";
	case OP_PROGRESS:
		return "progress";
	case OP_HOUSEKEEPING:
		return "housekeeping";
	case OP_SCHEDULE:
		return "schedules";
	case OP_CANCELS:
		return "cancel check";
	case OP_UNHOLD:
		return "unhold";
	case OP_NONE:
		break;
	}
	return "statement";
}

/* Waits the back-off before the next statement or attempt, and doubles it. */
int64_t ctl_back_off(struct executor *e)
{
	int64_t wait = e->ctl_backoff_ms < CTL_BACKOFF_MIN_MS ? CTL_BACKOFF_MIN_MS :
		       e->ctl_backoff_ms;

	e->ctl_retry_ms = mono_ms() + wait;
	timer_set(&e->ctl_retry_timer, e->ctl_retry_ms);
	e->ctl_backoff_ms = wait * 2 > CTL_BACKOFF_MAX_MS ? CTL_BACKOFF_MAX_MS : wait * 2;
	return wait;
}

/*
 * Statement `op` failed or could not be sent.  Its transaction rolled
 * back, so nothing of it happened: unless the connection is gone it is
 * tried again after a back-off, with the same batch or releases.
 */
static void ctl_failed(struct executor *e, enum ctl_op op, const char *why)
{
	int len = (int)strlen(why);
	int64_t wait;

	if (PQstatus(e->control) == CONNECTION_BAD) {
		log_error("lost the control connection: %s", why);
		ctl_lost(e);
		return;
	}
	while (len > 0 && why[len - 1] == '\n')
		len--;
	switch (op) {
	case OP_CLAIM:
	case OP_STEP:
		/* Nothing was claimed: the pools still have their work (and a
		 * step's batch is sent again as it is).  A session named for
		 * a released file keeps its name until a claim's answer says
		 * whether this daemon runs it. */
		for (size_t i = 0; i < e->n_pools; i++) {
			if (e->pools[i].claim_want > 0)
				e->pools[i].has_work = true;
			e->pools[i].claim_want = 0;
			e->pools[i].claim_asked = false;
		}
		break;
	case OP_CANCELS:
		e->n_stop_sent = 0;	/* asked again after the back-off */
		break;
	case OP_UNHOLD:
		e->n_unhold_sent = 0;	/* sent again after the back-off */
		break;
	case OP_RECOVER:
		/* At its usual pace: claims and progress go on meanwhile.  But
		 * what a lost connection left is settled before anything is
		 * claimed: tried again after the back-off. */
		ctl_recover_at(e, e->n_lost ? 0 : mono_ms() + RECOVER_MS);
		break;
	case OP_PROGRESS:
		/* The lost instance's batch holds up the recovery: tried again
		 * a few times, as any statement (a lock timeout, a deadlock),
		 * then given up, and the recovery fails those tasks, their
		 * outcome unknown. */
		if (e->batch_instance && ++e->batch_lost_tries >= BATCH_LOST_TRIES) {
			log_warn("control database: the ends of the tasks that ended when the "
				 "control connection went were not stored: %.*s", len, why);
			progress_reset(e->batch);
			e->batch_unsent = false;
			e->batch_instance = 0;
			e->n_orphans = e->orphans_batched = 0;
			ctl_drop_tasks(e, false);
			return;
		}
		break;
	default:
		break;
	}
	wait = ctl_back_off(e);
	log_warn("control database: %s failed, trying again in %lld ms: %.*s", op_name(op),
		 (long long)wait, len, why);
}

/* Puts statement `op` in flight, or fails it when store_send_*() did. */
static bool ctl_sent(struct executor *e, enum ctl_op op, int r)
{
	if (r < 0) {
		ctl_failed(e, op, r == -ENOMEM ? "out of memory" : PQerrorMessage(e->control));
		return false;
	}
	e->cancels_last = op == OP_CANCELS;
	e->op = op;
	e->ctl_sent_us = mono_us();
	ctl_flush(e);
	return true;
}

/* Asks which of the tasks named by stop hints have a cancel on record. */
static void cancels_send(struct executor *e)
{
	e->n_stop_sent = e->n_stop;
	(void)ctl_sent(e, OP_CANCELS,
		       store_send_cancels(e->control, e->instance, e->stop_ids, e->n_stop));
}

/*
 * Which pools a claim asks about (into names, max, want, running; their
 * number is returned), and for how many tasks each.  The free slots (the
 * daemon's room, each target's free connections, each pool's
 * max_workers) are dealt one at a time to the pools with work, in turn,
 * beginning after the pool dealt the last slot of the claim before: pools
 * that share a target or the daemon's workers take turns, and a pool
 * with a long queue does not keep the others from starting until it is
 * empty.  A pool dealt nothing because its turn never came (room ran out)
 * is not asked and keeps its work for the next claim; one at its limit,
 * paused, or whose target is full is asked for nothing: its settings may
 * have changed, and a full answer brings it back when a slot frees.
 */
static size_t claim_deal(struct executor *e, int room, const char **names, int *max,
			 int *want, int *running, int *sum_want)
{
	size_t np = e->cfg->n_pools < 256 ? e->cfg->n_pools : 256;
	int cap[256], give[256];
	size_t n = 0, last = SIZE_MAX;
	bool dealt = true;

	if (np == 0)
		return 0;
	for (size_t i = 0; i < np; i++)
		e->pools[i].target->deal_free = target_free(e->pools[i].target);
	for (size_t i = 0; i < np; i++) {
		struct pool *p = &e->pools[i];
		int held = p->running - p->batch_freed;

		cap[i] = p->has_work && !p->paused && p->live_max > held ? p->live_max - held : 0;
		give[i] = 0;
	}
	while (dealt && room > 0) {
		dealt = false;
		for (size_t k = 0; k < np && room > 0; k++) {
			size_t i = (e->deal_next + k) % np;
			struct target *t = e->pools[i].target;

			if (give[i] >= cap[i] || t->deal_free <= 0)
				continue;
			give[i]++;
			t->deal_free--;
			room--;
			dealt = true;
			last = i;
		}
	}
	if (last != SIZE_MAX)
		e->deal_next = (last + 1) % np;
	for (size_t i = 0; i < np; i++) {
		struct pool *p = &e->pools[i];

		if (!p->has_work)
			continue;
		if (give[i] == 0 && cap[i] > 0 && room == 0 && p->target->deal_free > 0)
			continue;
		names[n] = p->cfg->name;
		max[n] = p->cfg->max_workers;
		want[n] = give[i];
		running[n] = p->running - p->batch_freed;
		/* Work, room for it, and nothing dealt (its target's free
		 * connections went to pools ahead of it, which may come back
		 * short): it counts as full, so that it asks again when this
		 * claim leaves a slot unused (claim.c), even if its own last
		 * claim came back short. */
		if (give[i] == 0 && cap[i] > 0)
			p->saturated = true;
		/* It has work again if the claim comes back full, or when a
		 * NOTIFY or a finished task says so. */
		p->claim_want = give[i];
		p->claim_asked = true;
		p->has_work = false;
		*sum_want += give[i];
		n++;
	}
	return n;
}

void ctl_next(struct executor *e)
{
	int64_t now = mono_ms();
	bool stopping = atomic_load(&e->stopping);
	const char *names[256];
	int max[256], want[256], running[256];
	size_t n = 0;
	int room = stopping || atomic_load(&e->draining) ? 0 : global_free(e);
	int sum_want = 0, freed = 0;
	bool batch;

	e->gathering = false;
	switch (e->ctl_state) {
	case CTL_DOWN:
		if (!stopping && now >= e->ctl_retry_ms)
			ctl_connect_start(e, now);
		return;
	case CTL_CONNECTING:
	case CTL_SETUP:
		return;		/* its deadline is a timer */
	case CTL_UP:
		break;
	}
	if (e->op != OP_NONE || now < e->ctl_retry_ms)
		return;
	/* The ends a lost connection did not commit go before the recovery
	 * that fails what the lost instance was running. */
	if (e->batch_instance) {
		if (ctl_build_progress(e, now, true)) {
			(void)ctl_sent(e, OP_PROGRESS,
				       store_send_progress(e->control, e->batch_instance, e->batch));
			return;
		}
		e->batch_instance = 0;
	}
	/* Held tasks a lost connection dropped, before a recovery fails them. */
	if (e->n_unhold) {
		e->n_unhold_sent = e->n_unhold;
		(void)ctl_sent(e, OP_UNHOLD, store_send_unhold(e->control, e->unhold, e->n_unhold));
		return;
	}
	/* Recovery first: at start it decides what the old instance left. */
	if (now >= e->next_recover_ms) {
		(void)ctl_sent(e, OP_RECOVER, e->n_lost ?
			       store_send_recover_again(e->control, e->instance, e->lost[0]) :
			       store_send_recover(e->control, e->instance));
		return;
	}
	/* Cancels before anything else is claimed or recorded, but never two
	 * checks in a row while other work waits: a flood of forged hints
	 * must not starve the rest (see the end, when nothing else is sent). */
	if (e->n_stop && !e->cancels_last) {
		cancels_send(e);
		return;
	}
	/* A schedule's tick: one statement per tick at most. */
	if (sched_due(e, now)) {
		(void)ctl_sent(e, OP_SCHEDULE, sched_send(e, now));
		return;
	}
	/*
	 * A batch goes with the claim, in one statement and one commit
	 * (step()): the slots of the tasks it ends are free for the claim.
	 */
	if (gather_wait(e, now, stopping))
		return;
	batch = ctl_build_progress(e, now, stopping);
	for (size_t i = 0; i < e->n_pools; i++)
		e->pools[i].batch_freed = 0;
	for (struct task *t = e->tasks; batch && t; t = t->next)
		if (t->final_sent) {
			t->pool->batch_freed++;
			freed++;
		}
	/* The slots and connections these ends free go to queued tasks in
	 * this very statement: of any pool that had more than it could
	 * start (pools share targets and the daemon's workers). */
	for (size_t i = 0; freed && i < e->cfg->n_pools; i++)
		if (e->pools[i].saturated)
			e->pools[i].has_work = true;
	if (!stopping && !atomic_load(&e->draining))
		room += freed;

	/* Take the releases the filesystem made since the last claim. */
	pthread_mutex_lock(&e->release_lock);
	if (e->n_release && e->n_releasing == 0) {
		struct store_release *tmp = e->releasing;
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
			struct store_release *p = realloc(e->releasing, need * sizeof(*p));

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
	/* A released task is work for its pool (only). */
	for (size_t i = 0; i < e->n_releasing; i++) {
		struct pool *p = e->releasing[i].pool ? pool_find(e, e->releasing[i].pool) : NULL;

		if (p)
			p->has_work = true;
	}
	if (room > 0)
		n = claim_deal(e, room, names, max, want, running, &sum_want);
	if (n > 0 || e->n_releasing) {
		int r = reserve_orphans(e, (size_t)sum_want);
		/* One file released into a pool with room, and nothing else to
		 * claim or record: the pickup of a cp on an idle daemon. */
		bool one = !batch && n == 1 && e->n_releasing == 1 && want[0] > 0 &&
			   e->releasing[0].pool && strcmp(e->releasing[0].pool, names[0]) == 0;

		if (r == 0 && batch)
			r = store_send_step(e->control, e->instance, e->batch, e->releasing,
					    e->n_releasing, names, max, want, running, n);
		else if (r == 0 && one)
			r = store_send_claim_one(e->control, e->instance, &e->releasing[0],
						 names[0], max[0], want[0], running[0]);
		else if (r == 0)
			r = store_send_claim(e->control, e->instance, e->releasing,
					     e->n_releasing, names, max, want, running, n);
		if (!ctl_sent(e, batch ? OP_STEP : OP_CLAIM, r))
			return;
		e->step_items = (size_t)freed + e->n_releasing;
		if (batch)
			e->n_progress++;
		/* Its session is named while the claim is in flight, unless
		 * it is named with its first statement (task_next_statement()):
		 * a naming meanwhile only takes a CPU from the claim. */
		if (one && !e->releasing[0].plain) {
			e->prenamed_id = e->releasing[0].id;
			e->prenamed_pool = names[0];
			conn_prename(pool_find(e, names[0]), e->prenamed_id,
				     "its claim is in flight");
		}
		return;
	}
	if (batch) {
		if (ctl_sent(e, OP_PROGRESS, store_send_progress(e->control, e->instance, e->batch))) {
			e->step_items = (size_t)freed;
			e->n_progress++;
		}
		return;
	}
	if (!stopping && now >= e->next_housekeeping_ms) {
		e->next_housekeeping_ms = now + HOUSEKEEPING_MS;
		timer_set(&e->housekeeping_timer, e->next_housekeeping_ms);
		(void)ctl_sent(e, OP_HOUSEKEEPING,
			       store_send_housekeeping(e->control, e->cfg->retention_ms));
		return;
	}
	if (e->n_stop)
		cancels_send(e);	/* nothing else to send */
}

/*
 * Finished tasks "id:state,id:state", from a progress result (own) or a
 * NOTIFY.  Another daemon's task finishing may free room in a pool shared
 * with it; our own ends were in the claim that went with them.
 */
void report_finished(struct executor *e, const char *list, bool own)
{
	int64_t ids[512];
	enum task_state states[512];
	size_t n = 0;

	for (size_t i = 0; i < e->cfg->n_pools && !own; i++)
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
			e->on_finished(e->on_finished_arg, ids, states, n, own);
			n = 0;
		}
		if (*list == ',')
			list++;
	}
	if (n)
		e->on_finished(e->on_finished_arg, ids, states, n, own);
}

/* Whether task id is this daemon's now. */
static bool task_here(const struct executor *e, int64_t id)
{
	for (const struct task *t = e->tasks; t; t = t->next)
		if (t->id == id)
			return true;
	return false;
}

/* Task id, if it runs here, may have a cancel on record: ask. */
static void stop_hint(struct executor *e, int64_t id)
{
	if (!task_here(e, id))
		return;
	for (size_t i = 0; i < e->n_stop; i++)
		if (e->stop_ids[i] == id)
			return;
	if (e->n_stop == e->cap_stop) {
		size_t cap = e->cap_stop ? e->cap_stop * 2 : 16;
		int64_t *p = realloc(e->stop_ids, cap * sizeof(*p));

		if (!p) {
			log_error("out of memory: the cancel of task %lld is not applied",
				  (long long)id);
			return;
		}
		e->stop_ids = p;
		e->cap_stop = cap;
	}
	e->stop_ids[e->n_stop++] = id;
}

/* The cancels on record among the hinted tasks: id, cancel_uid rows. */
static void cancels_confirmed(struct executor *e, PGresult *res)
{
	for (int i = 0; i < PQntuples(res); i++) {
		int64_t id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		uint32_t uid = (uint32_t)strtoul(PQgetvalue(res, i, 1), NULL, 10);

		for (struct task *t = e->tasks; t; t = t->next)
			if (t->id == id)
				task_cancel_by(e, t, uid);
	}
	memmove(e->stop_ids, e->stop_ids + e->n_stop_sent,
		(e->n_stop - e->n_stop_sent) * sizeof(*e->stop_ids));
	e->n_stop -= e->n_stop_sent;
	e->n_stop_sent = 0;
}

static void ctl_result(struct executor *e, PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	if (e->ctl_sent_us) {	/* the statement's first result */
		metrics_statement(e, e->op, mono_us() - e->ctl_sent_us);
		e->ctl_sent_us = 0;
	}
	if (st != PGRES_TUPLES_OK) {
		ctl_failed(e, e->op, PQresultErrorMessage(res));
		return;
	}
	e->ctl_backoff_ms = CTL_BACKOFF_MIN_MS;
	switch (e->op) {
	case OP_PROGRESS:
		progress_stored(e, PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) ?
				   PQgetvalue(res, 0, 0) : NULL);
		break;
	case OP_STEP: {
		const char *done = NULL;

		/* Its batch first: the ends it recorded freed the slots the
		 * claim filled. */
		for (int i = PQntuples(res) - 1; i >= 0; i--) {
			struct claimed cl;

			store_parse_claimed(res, i, &cl);
			if (cl.done_row) {
				done = cl.done;
				break;
			}
		}
		progress_stored(e, done);
	}
		/* fall through */
	case OP_CLAIM:
		/* They are claimed or queued now: no longer staged. */
		atomic_store(&e->settled_seq, e->releasing_seq);
		e->n_releasing = 0;
		e->n_claims++;
		e->n_claimed += (uint64_t)PQntuples(res);
		claimed_tasks(e, res);
		if (e->prenamed_id && !task_here(e, e->prenamed_id))
			conn_unname(pool_find(e, e->prenamed_pool), e->prenamed_id);
		e->prenamed_id = 0;
		break;
	case OP_RECOVER: {
		long long failed = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		long long requeued = strtoll(PQgetvalue(res, 0, 1), NULL, 10);

		if (failed || requeued)
			log_warn("a daemon sharing the queue stopped, or lost its control "
				 "connection: %lld of its running tasks marked failed (outcome "
				 "unknown), %lld staged tasks queued", failed, requeued);
		if (PQnfields(res) == 4) {
			long long own = strtoll(PQgetvalue(res, 0, 3), NULL, 10);

			if (own)
				log_warn("%lld tasks this daemon was running when its control "
					 "connection went marked failed (outcome unknown)", own);
			if (e->n_lost)
				memmove(e->lost, e->lost + 1, --e->n_lost * sizeof(*e->lost));
		}
		/* The next lost instance at once, before any claim. */
		ctl_recover_at(e, e->n_lost ? 0 : mono_ms() + RECOVER_MS);
		break;
	}
	case OP_HOUSEKEEPING: {
		long long n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);

		if (n)
			log_info("removed %lld finished tasks older than the retention", n);
		break;
	}
	case OP_SCHEDULE:
		sched_result(e, res);
		break;
	case OP_CANCELS:
		cancels_confirmed(e, res);
		break;
	case OP_UNHOLD:
		if (e->n_unhold_sent)
			log_info("%zu claims taken with files' stagings are given back (staged "
				 "again, or failed if the task had started)", e->n_unhold_sent);
		memmove(e->unhold, e->unhold + e->n_unhold_sent,
			(e->n_unhold - e->n_unhold_sent) * sizeof(*e->unhold));
		e->n_unhold -= e->n_unhold_sent;
		e->n_unhold_sent = 0;
		break;
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

		if (strcmp(suffix, STORE_CHANNEL_QUEUE) == 0 &&
		    strcmp(n->extra, STORE_SCHEDULES_PAYLOAD) == 0) {
			sched_changed(e);
		} else if (strcmp(suffix, STORE_CHANNEL_QUEUE) == 0) {
			struct pool *p = n->extra[0] ? pool_find(e, n->extra) : NULL;

			if (p) {
				p->has_work = true;
			} else {
				for (size_t i = 0; i < e->cfg->n_pools; i++)
					e->pools[i].has_work = true;
			}
		} else if (strcmp(suffix, STORE_CHANNEL_DONE) == 0) {
			/* Ours, back from the server: known already. */
			if (!e->own_done || strcmp(n->extra, e->own_done) != 0)
				report_finished(e, n->extra, false);
		} else if (strcmp(suffix, STORE_CHANNEL_CANCEL) == 0) {
			/* A hint: its task is cancelled once the database says
			 * a cancel is on record (anyone may NOTIFY). */
			stop_hint(e, strtoll(n->extra, NULL, 10));
		}
		PQfreemem(n);
	}
}

void ctl_recover_at(struct executor *e, int64_t when)
{
	e->next_recover_ms = when;
	timer_set(&e->recover_timer, when);
}

/* A connect or set-up attempt took too long. */
static void ctl_attempt_timed_out(struct timer *tm, void *arg, int64_t now)
{
	struct executor *e = arg;

	(void)tm;
	(void)now;
	if (e->ctl_state == CTL_CONNECTING || e->ctl_state == CTL_SETUP)
		ctl_attempt_failed(e, "timed out\n");
}

/*
 * Recover, housekeeping and the end of a back-off only wake the loop:
 * ctl_next() runs every round and sends, one at a time, what is due.  A
 * statement in flight holds them back until its result comes (on the
 * socket): a timer that fired meanwhile is not armed again, so nothing
 * spins.
 */
void ctl_timers_init(struct executor *e)
{
	timer_init(&e->ctl_retry_timer, &e->timers, timer_wake, e);
	timer_init(&e->ctl_deadline_timer, &e->timers, ctl_attempt_timed_out, e);
	timer_init(&e->recover_timer, &e->timers, timer_wake, e);
	timer_init(&e->housekeeping_timer, &e->timers, timer_wake, e);
	timer_init(&e->gather_timer, &e->timers, timer_wake, e);
	sched_init(e);
}

/* Whether a task ended whose end is not yet in a statement. */
static bool ends_waiting(const struct executor *e)
{
	for (const struct task *t = e->tasks; t; t = t->next)
		if (t->phase == PHASE_FINISHED && !t->final_sent)
			return true;
	return false;
}

void ctl_event(struct executor *e, short revents)
{
	if (e->ctl_state == CTL_CONNECTING) {
		ctl_connect_poll(e);
		return;
	}
	if ((revents & POLLOUT) && e->ctl_want_write)
		ctl_flush(e);
	if (!(revents & (POLLIN | POLLHUP | POLLERR)))
		return;
	if (!PQconsumeInput(e->control)) {
		if (e->ctl_state == CTL_SETUP) {
			ctl_attempt_failed(e, PQerrorMessage(e->control));
			return;
		}
		log_error("lost the control connection: %s", PQerrorMessage(e->control));
		ctl_lost(e);
		return;
	}
	if (e->ctl_state == CTL_SETUP) {
		ctl_setup_results(e);
		return;
	}
	while (e->op != OP_NONE && !PQisBusy(e->control)) {
		PGresult *res = PQgetResult(e->control);

		if (!res) {
			e->op = OP_NONE;
			e->ctl_answered_ms = mono_ms();
			break;
		}
		ctl_result(e, res);
		PQclear(res);
		if (!e->control)
			return;
	}
	/* What NOTIFYs say (queued work, cancels, others' ends) first, as
	 * before any statement.  Then, while tasks end, the next step (their
	 * ends, and claims for the slots they free) goes before the tasks a
	 * claim brought get their sessions: the server works on the one while
	 * this thread does the other (unless the step gathers: under load,
	 * when no full pool waits for its slots).  With no end waiting (a
	 * pickup on an idle daemon) the tasks start first. */
	ctl_notifies(e);
	if (e->op == OP_NONE && ends_waiting(e))
		ctl_next(e);
	claimed_assign(e);
}
