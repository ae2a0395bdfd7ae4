/*
 * This daemon's figures for the `metrics` file: per pool (by name, so that
 * a reload neither loses nor mixes them) the tasks submitted, started,
 * finished by outcome and retried, and a histogram of their durations;
 * the connections per target; the latency of control statements.
 *
 * The executor thread counts; filesystem threads copy (executor_get_metrics).
 * Everything shared is under m->lock; the connection counts are published
 * there once per loop round when they changed, so that no filesystem
 * thread reads the executor's connections.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "executor_internal.h"

/* Pool names counted at most: twice what one configuration may have, so
 * that reloads that rename pools keep counting.  Past it, new names are
 * not counted (their figures are missing, never wrong). */
#define METRIC_POOLS (2 * CONFIG_MAX_POOLS)

static const double duration_bounds[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
};
static const double latency_bounds[] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
#define N_BOUNDS(a) (sizeof(a) / sizeof((a)[0]))
_Static_assert(N_BOUNDS(duration_bounds) < EXECUTOR_HIST_MAX, "histogram too wide");
_Static_assert(N_BOUNDS(latency_bounds) < EXECUTOR_HIST_MAX, "histogram too wide");

/* A target's connections by state (as shown). */
struct conn_count {
	const char *target;	/* the configuration's (kept until exit) */
	unsigned idle, busy, connecting;
};

struct exec_metrics {
	pthread_mutex_t lock;
	struct executor_pool_metrics pools[METRIC_POOLS];	/* names malloc'd */
	size_t n_pools;
	struct executor_target_metrics *targets;	/* published; names malloc'd */
	size_t n_targets;
	struct executor_histogram statements[N_ESTMTS];
	/* The executor thread's own: the counts last published, and scratch. */
	struct conn_count *last, *now;
	size_t n_last, cap;
	bool published;
};

static void hist_init(struct executor_histogram *h, const double *bounds, size_t n)
{
	memset(h, 0, sizeof(*h));
	h->bounds = bounds;
	h->n_bounds = n;
}

static void hist_observe(struct executor_histogram *h, double v)
{
	size_t i = 0;

	while (i < h->n_bounds && v > h->bounds[i])
		i++;
	h->bucket[i]++;
	h->sum += v;
	h->count++;
}

void executor_duration_bounds(const double **ret, size_t *ret_n)
{
	*ret = duration_bounds;
	*ret_n = N_BOUNDS(duration_bounds);
}

int metrics_create(struct executor *e)
{
	struct exec_metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	hist_init(&m->statements[ESTMT_CLAIM], latency_bounds, N_BOUNDS(latency_bounds));
	hist_init(&m->statements[ESTMT_PROGRESS], latency_bounds, N_BOUNDS(latency_bounds));
	hist_init(&m->statements[ESTMT_RECOVER], latency_bounds, N_BOUNDS(latency_bounds));
	hist_init(&m->statements[ESTMT_HOUSEKEEPING], latency_bounds, N_BOUNDS(latency_bounds));
	e->metrics = m;
	return 0;
}

static void targets_free(struct executor_target_metrics *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(t[i].target);
	free(t);
}

void metrics_destroy(struct executor *e)
{
	struct exec_metrics *m = e->metrics;

	if (!m)
		return;
	for (size_t i = 0; i < m->n_pools; i++)
		free(m->pools[i].pool);
	targets_free(m->targets, m->n_targets);
	free(m->last);
	free(m->now);
	pthread_mutex_destroy(&m->lock);
	free(m);
	e->metrics = NULL;
}

/* The figures of pool `name` (m->lock held), made on first use; NULL when
 * the table is full or memory ran out. */
static struct executor_pool_metrics *pool_slot(struct exec_metrics *m, const char *name)
{
	struct executor_pool_metrics *p;

	for (size_t i = 0; i < m->n_pools; i++)
		if (strcmp(m->pools[i].pool, name) == 0)
			return &m->pools[i];
	if (m->n_pools == METRIC_POOLS)
		return NULL;
	p = &m->pools[m->n_pools];
	memset(p, 0, sizeof(*p));
	p->pool = strdup(name);
	if (!p->pool)
		return NULL;
	hist_init(&p->duration, duration_bounds, N_BOUNDS(duration_bounds));
	m->n_pools++;
	return p;
}

void executor_count_submitted(struct executor *e, const char *pool)
{
	struct executor_pool_metrics *p;

	if (!e || !e->metrics)
		return;
	pthread_mutex_lock(&e->metrics->lock);
	p = pool_slot(e->metrics, pool);
	if (p)
		p->submitted++;
	pthread_mutex_unlock(&e->metrics->lock);
}

void metrics_task_started(struct executor *e, const char *pool)
{
	struct executor_pool_metrics *p;

	pthread_mutex_lock(&e->metrics->lock);
	p = pool_slot(e->metrics, pool);
	if (p)
		p->started++;
	pthread_mutex_unlock(&e->metrics->lock);
}

void metrics_task_ended(struct executor *e, const char *pool, enum task_state state, int64_t us)
{
	struct executor_pool_metrics *p;

	pthread_mutex_lock(&e->metrics->lock);
	p = pool_slot(e->metrics, pool);
	if (p) {
		p->finished[state == TASK_DONE ? OUTCOME_DONE :
			    state == TASK_CANCELLED ? OUTCOME_CANCELLED : OUTCOME_FAILED]++;
		hist_observe(&p->duration, us > 0 ? (double)us / 1e6 : 0.0);
	}
	pthread_mutex_unlock(&e->metrics->lock);
}

void metrics_task_retried(struct executor *e, const char *pool)
{
	struct executor_pool_metrics *p;

	pthread_mutex_lock(&e->metrics->lock);
	p = pool_slot(e->metrics, pool);
	if (p)
		p->retried++;
	pthread_mutex_unlock(&e->metrics->lock);
}

void metrics_statement(struct executor *e, enum ctl_op op, int64_t us)
{
	enum executor_statement s;

	switch (op) {
	case OP_CLAIM: s = ESTMT_CLAIM; break;
	case OP_STEP: s = ESTMT_CLAIM; break;	/* a claim carrying a batch */
	case OP_PROGRESS: s = ESTMT_PROGRESS; break;
	case OP_RECOVER: s = ESTMT_RECOVER; break;
	case OP_HOUSEKEEPING: s = ESTMT_HOUSEKEEPING; break;
	default: return;
	}
	pthread_mutex_lock(&e->metrics->lock);
	hist_observe(&e->metrics->statements[s], us > 0 ? (double)us / 1e6 : 0.0);
	pthread_mutex_unlock(&e->metrics->lock);
}

/* The counts as of now into m->now (by target name: a retired target and
 * its successor of the same name are one); the number of names, or -1. */
static ssize_t conns_count(struct executor *e, struct exec_metrics *m)
{
	size_t n = 0;

	if (e->n_targets > m->cap) {
		struct conn_count *a = realloc(m->now, e->n_targets * sizeof(*a));
		struct conn_count *b = a ? realloc(m->last, e->n_targets * sizeof(*b)) : NULL;

		if (a)
			m->now = a;
		if (b)
			m->last = b;
		if (!a || !b)
			return -1;
		m->cap = e->n_targets;
	}
	for (size_t i = 0; i < e->n_targets; i++) {
		const struct target *tg = &e->targets[i];
		struct conn_count *c = NULL;

		for (size_t k = 0; k < n && !c; k++)
			if (strcmp(m->now[k].target, tg->cfg->name) == 0)
				c = &m->now[k];
		if (!c) {
			c = &m->now[n++];
			memset(c, 0, sizeof(*c));
			c->target = tg->cfg->name;
		}
		for (size_t j = 0; j < tg->n_conns; j++) {
			switch (tg->conns[j]->state) {
			case CONN_CONNECTING: c->connecting++; break;
			case CONN_IDLE: c->idle++; break;
			case CONN_BUSY: case CONN_RESET: c->busy++; break;
			case CONN_BROKEN: break;
			}
		}
	}
	return (ssize_t)n;
}

void metrics_conns_publish(struct executor *e)
{
	struct exec_metrics *m = e->metrics;
	struct executor_target_metrics *t;
	ssize_t n = conns_count(e, m);
	bool same;

	if (n < 0)
		return;
	same = m->published && (size_t)n == m->n_last;
	for (ssize_t i = 0; same && i < n; i++)
		same = m->now[i].target == m->last[i].target && m->now[i].idle == m->last[i].idle &&
		       m->now[i].busy == m->last[i].busy &&
		       m->now[i].connecting == m->last[i].connecting;
	if (same)
		return;
	t = calloc(n ? (size_t)n : 1, sizeof(*t));
	for (ssize_t i = 0; t && i < n; i++) {
		t[i].target = strdup(m->now[i].target);
		t[i].idle = m->now[i].idle;
		t[i].busy = m->now[i].busy;
		t[i].connecting = m->now[i].connecting;
		if (!t[i].target) {
			targets_free(t, (size_t)i);
			t = NULL;
		}
	}
	if (!t)
		return;		/* the old figures stay; tried again next round */
	pthread_mutex_lock(&m->lock);
	targets_free(m->targets, m->n_targets);
	m->targets = t;
	m->n_targets = (size_t)n;
	pthread_mutex_unlock(&m->lock);
	memcpy(m->last, m->now, (size_t)n * sizeof(*m->last));
	m->n_last = (size_t)n;
	m->published = true;
}

void executor_metrics_finish(struct executor_metrics *x)
{
	if (!x)
		return;
	for (size_t i = 0; i < x->n_pools; i++)
		free(x->pools[i].pool);
	free(x->pools);
	targets_free(x->targets, x->n_targets);
	memset(x, 0, sizeof(*x));
}

int executor_get_metrics(struct executor *e, struct executor_metrics *ret)
{
	struct exec_metrics *m = e->metrics;
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	pthread_mutex_lock(&m->lock);
	ret->pools = calloc(m->n_pools ? m->n_pools : 1, sizeof(*ret->pools));
	ret->targets = calloc(m->n_targets ? m->n_targets : 1, sizeof(*ret->targets));
	if (!ret->pools || !ret->targets)
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < m->n_pools; i++) {
		ret->pools[i] = m->pools[i];
		ret->pools[i].pool = strdup(m->pools[i].pool);
		if (!ret->pools[i].pool)
			r = -ENOMEM;
		else
			ret->n_pools++;
	}
	for (size_t i = 0; r == 0 && i < m->n_targets; i++) {
		ret->targets[i] = m->targets[i];
		ret->targets[i].target = strdup(m->targets[i].target);
		if (!ret->targets[i].target)
			r = -ENOMEM;
		else
			ret->n_targets++;
	}
	memcpy(ret->statements, m->statements, sizeof(ret->statements));
	pthread_mutex_unlock(&m->lock);
	if (r < 0)
		executor_metrics_finish(ret);
	return r;
}
