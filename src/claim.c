/*
 * What a claim brought (see control.c): tasks to start, in (priority,
 * submission) order, and what it learnt of each pool's settings and held
 * tasks.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "executor_internal.h"
#include "log.h"
#include "store.h"

struct pool *pool_find(struct executor *e, const char *name)
{
	/* Retired pools too: a claim sent before a reload may answer for one. */
	for (size_t i = 0; i < e->n_pools; i++)
		if (strcmp(e->pools[i].cfg->name, name) == 0)
			return &e->pools[i];
	return NULL;
}

struct claim_order {
	int priority;
	int64_t id;
	int row;
};

static int claim_order_cmp(const void *a, const void *b)
{
	const struct claim_order *x = a, *y = b;

	if (x->priority != y->priority)
		return (x->priority > y->priority) - (x->priority < y->priority);
	return (x->id > y->id) - (x->id < y->id);
}

/* Pool p's tasks that hold a slot here: running, not ended. */
static int pool_held(const struct executor *e, const struct pool *p)
{
	int ended = 0;

	for (const struct task *t = e->tasks; t; t = t->next)
		if (t->pool == p && t->phase == PHASE_FINISHED)
			ended++;
	return p->running - ended;
}

void pool_hold_due(struct timer *tm, void *arg, int64_t now)
{
	struct pool *p = arg;

	(void)tm;
	(void)now;
	p->has_work = true;
}

/* What a claim learnt of pool p's settings and held tasks. */
void pool_learnt(struct executor *e, struct pool *p, const struct claimed *cl)
{
	/* Asked for less than the limit allows now: ask again. */
	if (cl->pool_max > p->live_max || (p->paused && !cl->pool_paused))
		p->has_work = true;
	if (cl->pool_max != p->live_max)
		log_info("pool %s: max_workers is %d (across all daemons)",
			 LOG_ESCAPE(p->cfg->name), cl->pool_max);
	if (cl->pool_paused != p->paused)
		log_info("pool %s %s", LOG_ESCAPE(p->cfg->name),
			 cl->pool_paused ? "paused: it starts no task" : "resumed");
	p->live_max = cl->pool_max;
	p->paused = cl->pool_paused;
	if (cl->pool_next_us > 0) {
		/* In wall-clock time, which the server's clock_timestamp()
		 * compares; a millisecond late rather than early. */
		int64_t in_ms = (cl->pool_next_us - wall_us()) / 1000 + 1;

		timer_set(&p->hold_timer, mono_ms() + (in_ms > 0 ? in_ms : 0));
	} else {
		timer_cancel(&p->hold_timer);
	}
	(void)e;
}

void claimed_assign(struct executor *e)
{
	struct task **list;
	size_t n = 0, cap = 0;

	/* The flags, not the targets' counts: a reload may replace a target. */
	for (const struct task *t = e->tasks; t; t = t->next)
		if (t->unassigned)
			cap++;
	if (cap == 0)
		return;
	/* e->tasks is newest first: the claim's first task is the last. */
	list = malloc(cap * sizeof(*list));
	for (struct task *t = e->tasks; t; t = t->next) {
		if (!t->unassigned)
			continue;
		t->unassigned = false;
		t->pool->target->unassigned--;
		if (t->phase == PHASE_FINISHED)
			continue;	/* failed or cancelled meanwhile (a stop) */
		if (list && n < cap)
			list[n++] = t;
		else
			task_assign(e, t);	/* no memory for the order */
	}
	while (n > 0)
		task_assign(e, list[--n]);
	free(list);
}

/*
 * A claimed task, from its row cl of pool p (NULL: not this daemon's):
 * held here from now on, not yet given a session.  NULL when it failed
 * at once (recorded as it ends) or became an orphan.
 */
struct task *claimed_take(struct executor *e, struct pool *p, const struct claimed *cl)
{
	char err[256];
	struct task *t = calloc(1, sizeof(*t));

	if (!p || !t) {
		free(t);
		if (!p)
			log_error("claimed task %lld of unknown pool %s: it fails",
				  (long long)cl->id, LOG_ESCAPE(cl->pool));
		else
			log_error("out of memory taking claimed task %lld: it fails",
				  (long long)cl->id);
		add_orphan(e, cl->id, cl->log_size, !p);
		return NULL;
	}
	t->id = cl->id;
	t->pool = p;
	t->uid = cl->uid;
	t->final_state = -1;
	t->name = strdup(cl->name);
	t->query = malloc(cl->query_len + 1);
	t->out[STREAM_LOG].base = cl->log_size;
	t->next = e->tasks;
	e->tasks = t;
	p->running++;
	e->running++;
	t->phase = PHASE_CONNECT;	/* its first phase, not a move */
	task_timers_init(e, t);
	t->started_mono_ms = mono_ms();
	if (!t->name || !t->query) {
		task_fail(e, t, "pgqfs: out of memory\n");
		return NULL;
	}
	memcpy(t->query, cl->query, cl->query_len);
	t->query[cl->query_len] = '\0';
	t->query_len = cl->query_len;
	t->attempt = cl->attempt;
	/* Checked when it was queued (a bad header fails it then); a
	 * task queued by an older pgqfs may still have one.  A
	 * schedule's run has its schedule's header, every= or cron=
	 * included: keys that a file of queue/ was refused for at
	 * its submission, so accepting them here changes nothing else. */
	if (header_parse(t->query, t->query_len, true, &t->opts, err, sizeof(err)) < 0) {
		task_options_init(&t->opts);
		task_fail(e, t, "pgqfs: not run: bad \"-- pgqfs:\" header: %s\n", err);
		return NULL;
	}
	t->timeout_ms = task_options_has(&t->opts, HEADER_TIMEOUT) ? t->opts.timeout_ms
								   : p->cfg->timeout_ms;
	return t;
}

void claimed_tasks(struct executor *e, PGresult *res)
{
	int n = PQntuples(res);
	struct claim_order *order = n ? malloc(sizeof(*order) * (size_t)n) : NULL;
	int got_per_pool[256] = { 0 };

	if (n && !order) {
		log_error("out of memory taking %d claimed tasks: they fail", n);
		for (int i = 0; i < n; i++) {
			struct claimed cl;

			store_parse_claimed(res, i, &cl);
			if (!cl.pool_info && !cl.done_row)
				add_orphan(e, cl.id, cl.log_size, false);
		}
		goto out;
	}
	/* Start them in (priority, submission) order, as claimed. */
	for (int i = 0; i < n; i++) {
		struct claimed cl;

		store_parse_claimed(res, i, &cl);
		order[i].priority = cl.pool_info || cl.done_row ? INT_MIN : cl.priority;
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
		if (cl.done_row)
			continue;	/* step()'s: taken by ctl_result() */
		p = pool_find(e, cl.pool);
		if (cl.pool_info) {
			if (p)
				pool_learnt(e, p, &cl);
			continue;
		}
		if (p && p - e->pools < 256)
			got_per_pool[p - e->pools]++;
		t = claimed_take(e, p, &cl);
		if (t) {
			/* Its session is chosen once the next control statement
			 * is on its way (claimed_assign()); split in
			 * task_begin(), as the session reads strings. */
			t->unassigned = true;
			p->target->unassigned++;
		}
	}
out:
	free(order);
	/* A pool that gave all we asked may have more. */
	for (size_t i = 0; i < e->n_pools && i < 256; i++) {
		struct pool *p = &e->pools[i];

		/*
		 * Full, and room left (the claim was cut short by the batch
		 * size, not by the pool): ask again at once.  A pool that is
		 * at its limit now asks again when a slot frees (saturated).
		 * So does a pool with work that was asked for nothing because
		 * an earlier pool took its target's free connections and got
		 * less than it asked: else, when the ends that freed them
		 * were the last, its queued files would wait for a NOTIFY
		 * that never comes.
		 */
		bool full = p->claim_want > 0 ? got_per_pool[i] >= p->claim_want :
			    p->claim_asked && p->saturated && !p->paused;

		if (full && pool_held(e, p) < p->live_max && target_free(p->target) > 0 &&
		    (e->cfg->workers == 0 || e->running < e->cfg->workers))
			p->has_work = true;
		if (p->claim_asked)
			p->saturated = got_per_pool[i] >= p->claim_want;
	}
	for (size_t i = 0; i < e->n_pools; i++) {
		e->pools[i].claim_want = 0;
		e->pools[i].claim_asked = false;
	}
}
