/*
 * Tasks claimed with their staging (schema_v13.sql.h).
 *
 * On an idle daemon, the flush that stages a file asks for its claim in
 * the same transaction when its pool has room here: executor_hold_room()
 * takes a slot of the pool, the daemon and the target for the staging's
 * time, and executor_hold() turns it into a held task (or gives it back).
 * The held task is the executor's like any claimed one, but starts only
 * when its file is released (its last close): executor_release() starts
 * it on the spot when the loop sleeps, else the loop does in its next
 * round (held_take_releases()).  So a pickup is the staging's commit, which
 * cp waits for anyway, and no round trip more.
 *
 * A held file written again, removed or renamed loses its claim: the
 * store puts its row back to staged (or removes it), then
 * executor_unhold() drops the task; so do those still open when the
 * daemon stops (fs_unhold_all()).  A lost control connection drops the
 * held tasks, whose claims go back once it is connected again
 * (OP_UNHOLD, control.c), before any recovery.
 */
#include "executor_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

static struct task *held_find(struct executor *e, int64_t id)
{
	for (struct task *t = e->tasks; t; t = t->next)
		if (t->id == id && t->held)
			return t;
	return NULL;
}

bool executor_hold_room(struct executor *e, const char *pool, struct stage_claim *c)
{
	struct pool *p;
	bool ok = false;
	int local;

	if (!e || pthread_mutex_trylock(&e->loop_lock) != 0)
		return false;	/* busy: the release claims it */
	p = pool_find(e, pool);
	/* Its tasks here: running (ended ones too, until their ends commit:
	 * the staging's transaction is not the one that records them),
	 * held, and reserved by other stagings. */
	local = p ? p->running : 0;
	/* Only on an idle executor: no statement in flight, whose claim
	 * would count on slots and connections that this one takes, and no
	 * claim waiting to be given back (unhold() of a row claimed again
	 * by this staging would undo the new claim). */
	if (p && atomic_load(&e->parked) && e->ctl_state == CTL_UP && e->op == OP_NONE &&
	    e->instance && e->n_unhold == 0 && e->n_lost == 0 &&
	    !atomic_load(&e->stopping) && !atomic_load(&e->draining) && !p->retired &&
	    !p->paused && !p->has_work && local < p->live_max &&
	    target_free(p->target) > 0 && (e->cfg->workers == 0 || e->running < e->cfg->workers)) {
		c->max = p->cfg->max_workers;
		c->want = 1;
		c->local = local;
		c->claimed = false;
		c->epoch = e->ctl_epoch;
		c->instance = 0;	/* the staging's, once sent */
		/* Its slot, until executor_hold(): no claim of the loop's
		 * may take it meanwhile. */
		p->running++;
		e->running++;
		p->target->unassigned++;
		e->n_holding++;
		ok = true;
	}
	pthread_mutex_unlock(&e->loop_lock);
	return ok;
}

bool executor_hold(struct executor *e, const char *pool, int64_t id, const char *name,
		   const char *query, size_t len, bool plain, const struct stage_claim *c)
{
	struct pool *p;
	bool held = false;

	pthread_mutex_lock(&e->loop_lock);
	p = pool_find(e, pool);	/* reload_apply() waits for n_holding */
	if (!p) {
		pthread_mutex_unlock(&e->loop_lock);
		return false;
	}
	p->running--;
	e->running--;
	p->target->unassigned--;
	e->n_holding--;
	/* The control connection was lost meanwhile: the claim may be the
	 * lost instance's (its recovery fails it) or the new one's (the
	 * caller gives it back).  A drain or a stop begun meanwhile starts
	 * nothing new here: the caller gives it back too. */
	if (c->claimed && id && c->epoch == e->ctl_epoch && !executor_draining(e)) {
		struct claimed cl = {
			.pool_max = c->pool_max, .pool_paused = c->pool_paused,
			.pool_next_us = c->pool_next_us, .id = id, .pool = pool, .name = name,
			.query = query, .query_len = len, .submitted_us = c->submitted_us,
			.log_size = c->log_size, .attempt = c->attempt, .uid = c->uid,
			.priority = c->priority,
		};
		struct task *t;

		pool_learnt(e, p, &cl);
		/* As after a claim that got all it asked: when a slot frees,
		 * the step that records its end asks again (claim.c). */
		p->saturated = true;
		if (reserve_orphans(e, 1) < 0)
			log_error("task %lld: out of memory holding its claim", (long long)id);
		t = claimed_take(e, p, &cl);
		if (t) {
			log_debug("task %lld: claimed with its staging; it starts at its release",
				  (long long)id);
			t->held = true;
			t->was_held = true;
			t->submitted_us = c->submitted_us;
			atomic_fetch_add(&e->n_held, 1);
			/* Its session named while its file is closed, unless it
			 * is named with its first statement (task_begin()). */
			if (!plain)
				conn_prename(p, id, "its file is closed (claimed with its staging)");
		}
		held = true;	/* or failed at once, which its end records */
	}
	pthread_mutex_unlock(&e->loop_lock);
	/* A slot given back, a reload waiting, or a task that failed at
	 * once (its end to record): the loop's business. */
	wake_loop(e);
	return held;
}

int unhold_add(struct executor *e, int64_t id, int64_t instance, bool started)
{
	if (e->n_unhold == e->cap_unhold) {
		size_t cap = e->cap_unhold ? e->cap_unhold * 2 : 16;
		struct give_back *g = realloc(e->unhold, cap * sizeof(*g));

		if (!g)
			return -ENOMEM;
		e->unhold = g;
		e->cap_unhold = cap;
	}
	e->unhold[e->n_unhold++] = (struct give_back){ .id = id, .instance = instance,
						       .started = started };
	return 0;
}

void executor_unhold_later(struct executor *e, int64_t id, int64_t instance)
{
	int r;

	if (!e)
		return;
	pthread_mutex_lock(&e->loop_lock);
	r = unhold_add(e, id, instance, false);
	pthread_mutex_unlock(&e->loop_lock);
	if (r < 0)
		log_error("out of memory: task %lld, claimed with its staging, is not given "
			  "back; a recovery fails it once this daemon has stopped", (long long)id);
	wake_loop(e);
}

bool executor_draining(struct executor *e)
{
	return e && (atomic_load(&e->draining) || atomic_load(&e->stopping));
}

void executor_unhold_rest(struct executor *e, struct store *store)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n_unhold; i++) {
		const struct give_back *g = &e->unhold[i];

		if (store_unhold(store, g->instance, g->id, g->started) < 0)
			log_warn("task %lld: its claim, taken with its staging, could not be given "
				 "back (%s): the recovery of instance %lld fails it as of unknown "
				 "outcome", (long long)g->id, store_last_error(),
				 (long long)g->instance);
		else
			log_info("task %lld: its claim, taken with its staging, is given back",
				 (long long)g->id);
	}
	e->n_unhold = e->n_unhold_sent = 0;
}

void executor_unhold(struct executor *e, int64_t id)
{
	struct task **pp;

	if (!e)
		return;
	pthread_mutex_lock(&e->loop_lock);
	for (pp = &e->tasks; *pp; pp = &(*pp)->next)
		if ((*pp)->id == id && (*pp)->held) {
			struct task *t = *pp;

			*pp = t->next;
			t->pool->running--;
			e->running--;
			conn_unname(t->pool, t->id);
			/* Its slot is free: a queued task may take it. */
			t->pool->has_work = true;
			log_debug("task %lld: its file changed after the flush that claimed it: "
				  "it is staged again", (long long)id);
			task_free(t);	/* and n_held */
			break;
		}
	pthread_mutex_unlock(&e->loop_lock);
	wake_loop(e);
}

bool held_start(struct executor *e, int64_t id, bool *ret_wake)
{
	struct task *t = held_find(e, id);
	struct target *tg;
	size_t before;

	if (!t)
		return false;
	tg = t->pool->target;
	before = tg->n_conns;
	t->held = false;
	atomic_fetch_sub(&e->n_held, 1);
	/* Its timeout runs from its start, not from its staging. */
	t->started_mono_ms = mono_ms();
	task_assign(e, t);
	/* A connection opened for it, or an end to record: the loop's. */
	if (ret_wake && (tg->n_conns != before || t->phase == PHASE_FINISHED ||
			 !t->conn || t->conn->state != CONN_BUSY))
		*ret_wake = true;
	return true;
}

void held_take_releases(struct executor *e)
{
	int64_t ids[64];
	size_t n;

	/*
	 * Taken from the list first, started after (a start may end its task
	 * at once).  One whose hold is gone (dropped with a lost control
	 * connection, or ended by a cancel) goes to the claim as any release:
	 * its row says what becomes of it.
	 */
	do {
		n = 0;
		pthread_mutex_lock(&e->release_lock);
		while (e->n_held_rel > 0 && n < sizeof(ids) / sizeof(ids[0])) {
			struct store_release rel = e->held_rel[--e->n_held_rel];

			if (held_find(e, rel.id)) {
				ids[n++] = rel.id;
				continue;
			}
			if (release_add(&e->release, &e->n_release, &e->cap_release, &rel) < 0) {
				e->n_held_rel++;	/* the next round */
				break;
			}
			e->release_seq++;
		}
		pthread_mutex_unlock(&e->release_lock);
		for (size_t i = 0; i < n; i++)
			(void)held_start(e, ids[i], NULL);
	} while (n == sizeof(ids) / sizeof(ids[0]));
}

size_t executor_task_ids(struct executor *e, const char *pool, const char *name, int64_t *ids,
			 size_t max)
{
	size_t n = 0;

	if (!e)
		return 0;
	pthread_mutex_lock(&e->loop_lock);
	for (const struct task *t = e->tasks; t && n < max; t = t->next)
		if (t->name && strcmp(t->name, name) == 0 && strcmp(t->pool->cfg->name, pool) == 0)
			ids[n++] = t->id;
	pthread_mutex_unlock(&e->loop_lock);
	return n;
}
