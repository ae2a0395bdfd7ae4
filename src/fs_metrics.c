/*
 * The metrics file: Prometheus text exposition format 0.0.4, made when
 * it is opened.  Tasks by pool and state come from the control database
 * (every daemon's); the counters, histograms and connections are this
 * daemon's since it started (the executor's figures).  Every configured
 * pool and target appears, with zeros when nothing happened.
 */
#include "fs_internal.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "executor.h"

/* The states of pgqfs_tasks, as `stats` shows them. */
static const enum task_state gauge_states[] = {
	TASK_QUEUED, TASK_RUNNING, TASK_DONE, TASK_FAILED, TASK_CANCELLED,
};
#define N_GAUGE_STATES (sizeof(gauge_states) / sizeof(gauge_states[0]))

static const char *const outcome_names[N_OUTCOMES] = {
	[OUTCOME_DONE] = "done", [OUTCOME_FAILED] = "failed", [OUTCOME_CANCELLED] = "cancelled",
};
static const char *const statement_names[N_ESTMTS] = {
	[ESTMT_CLAIM] = "claim", [ESTMT_PROGRESS] = "progress",
	[ESTMT_RECOVER] = "recover", [ESTMT_HOUSEKEEPING] = "housekeeping",
};

/* A label value, escaped as the format wants: \\, \" and \n. */
static int put_label(struct buf *b, const char *v)
{
	int r = 0;

	for (const char *p = v; *p && r == 0; p++) {
		if (*p == '\\')
			r = buf_puts(b, "\\\\");
		else if (*p == '"')
			r = buf_puts(b, "\\\"");
		else if (*p == '\n')
			r = buf_puts(b, "\\n");
		else
			r = buf_append(b, p, 1);
	}
	return r;
}

/* `name{key="value"` (the caller adds more labels, then "} value"). */
static int put_sample(struct buf *b, const char *name, const char *key, const char *value)
{
	int r = buf_printf(b, "%s{%s=\"", name, key);

	if (r == 0)
		r = put_label(b, value);
	if (r == 0)
		r = buf_puts(b, "\"");
	return r;
}

static int put_family(struct buf *b, const char *name, const char *type, const char *help)
{
	return buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted names without repeats: n becomes the count. */
static void sort_unique(const char **names, size_t *n)
{
	size_t w = 0;

	qsort(names, *n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < *n; i++)
		if (w == 0 || strcmp(names[w - 1], names[i]) != 0)
			names[w++] = names[i];
	*n = w;
}

static const struct executor_pool_metrics *pool_metrics(const struct executor_metrics *m,
							 const char *pool)
{
	for (size_t i = 0; i < m->n_pools; i++)
		if (strcmp(m->pools[i].pool, pool) == 0)
			return &m->pools[i];
	return NULL;
}

static int64_t pool_count(const struct store_counts *c, const char *pool, enum task_state s)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->pools[i].pool, pool) == 0)
			return c->pools[i].n[s];
	return 0;
}

/* One histogram's samples: cumulative buckets, +Inf, _sum and _count,
 * with the label key="value" first. */
static int put_histogram(struct buf *b, const char *name, const char *key, const char *value,
			 const struct executor_histogram *h, const double *bounds, size_t n_bounds)
{
	char bucket[128], sum[128], count[128];
	uint64_t cum = 0;
	int r = 0;

	snprintf(bucket, sizeof(bucket), "%s_bucket", name);
	snprintf(sum, sizeof(sum), "%s_sum", name);
	snprintf(count, sizeof(count), "%s_count", name);
	for (size_t i = 0; i <= n_bounds && r == 0; i++) {
		cum += h && i <= h->n_bounds ? h->bucket[i] : 0;
		r = put_sample(b, bucket, key, value);
		if (r == 0 && i < n_bounds)
			r = buf_printf(b, ",le=\"%g\"} %llu\n", bounds[i], (unsigned long long)cum);
		else if (r == 0)
			r = buf_printf(b, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
	}
	if (r == 0)
		r = put_sample(b, sum, key, value);
	if (r == 0)
		r = buf_printf(b, "} %.9g\n", h ? h->sum : 0.0);
	if (r == 0)
		r = put_sample(b, count, key, value);
	if (r == 0)
		r = buf_printf(b, "} %llu\n", h ? (unsigned long long)h->count : 0ULL);
	return r;
}

static int put_tasks(struct buf *b, const char **pools, size_t n_pools,
		     const struct store_counts *c)
{
	int r = put_family(b, "pgqfs_tasks", "gauge",
			   "Retained tasks in the control database by pool and state (all daemons).");

	for (size_t i = 0; i < n_pools && r == 0; i++)
		for (size_t s = 0; s < N_GAUGE_STATES && r == 0; s++) {
			r = put_sample(b, "pgqfs_tasks", "pool", pools[i]);
			if (r == 0)
				r = buf_printf(b, ",state=\"%s\"} %lld\n",
					       task_state_name(gauge_states[s]),
					       (long long)pool_count(c, pools[i], gauge_states[s]));
		}
	return r;
}

static int put_counters(struct buf *b, const char **pools, size_t n_pools,
			const struct executor_metrics *m)
{
	static const struct {
		const char *name, *help;
		size_t field;
	} counters[] = {
		{ "pgqfs_tasks_submitted_total", "Tasks submitted through this daemon since it started.",
		  offsetof(struct executor_pool_metrics, submitted) },
		{ "pgqfs_tasks_started_total", "Task attempts this daemon started since it started.",
		  offsetof(struct executor_pool_metrics, started) },
		{ "pgqfs_tasks_retried_total",
		  "Failed attempts this daemon queued again (retries=) since it started.",
		  offsetof(struct executor_pool_metrics, retried) },
	};
	int r = 0;

	for (size_t k = 0; k < sizeof(counters) / sizeof(counters[0]) && r == 0; k++) {
		r = put_family(b, counters[k].name, "counter", counters[k].help);
		for (size_t i = 0; i < n_pools && r == 0; i++) {
			const struct executor_pool_metrics *p = pool_metrics(m, pools[i]);
			uint64_t v = p ? *(const uint64_t *)(const void *)((const char *)p +
									  counters[k].field) : 0;

			r = put_sample(b, counters[k].name, "pool", pools[i]);
			if (r == 0)
				r = buf_printf(b, "} %llu\n", (unsigned long long)v);
		}
	}
	if (r == 0)
		r = put_family(b, "pgqfs_tasks_finished_total", "counter",
			       "Tasks that ended on this daemon since it started, by outcome.");
	for (size_t i = 0; i < n_pools && r == 0; i++) {
		const struct executor_pool_metrics *p = pool_metrics(m, pools[i]);

		for (int o = 0; o < N_OUTCOMES && r == 0; o++) {
			r = put_sample(b, "pgqfs_tasks_finished_total", "pool", pools[i]);
			if (r == 0)
				r = buf_printf(b, ",outcome=\"%s\"} %llu\n", outcome_names[o],
					       p ? (unsigned long long)p->finished[o] : 0ULL);
		}
	}
	return r;
}

static int put_durations(struct buf *b, const char **pools, size_t n_pools,
			 const struct executor_metrics *m)
{
	const double *bounds;
	size_t n_bounds;
	int r = put_family(b, "pgqfs_task_duration_seconds", "histogram",
			   "How long tasks that ended on this daemon ran (their last attempt).");

	executor_duration_bounds(&bounds, &n_bounds);
	for (size_t i = 0; i < n_pools && r == 0; i++) {
		const struct executor_pool_metrics *p = pool_metrics(m, pools[i]);

		r = put_histogram(b, "pgqfs_task_duration_seconds", "pool", pools[i],
				  p ? &p->duration : NULL, bounds, n_bounds);
	}
	return r;
}

static int put_targets(struct buf *b, const struct config *cfg, const struct executor_metrics *m)
{
	static const char *const states[] = { "idle", "busy", "connecting" };
	size_t n = cfg->n_targets + m->n_targets;
	const char **names = calloc(n ? n : 1, sizeof(*names));
	int r;

	if (!names)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_targets; i++)
		names[i] = cfg->targets[i].name;
	for (size_t i = 0; i < m->n_targets; i++)
		names[cfg->n_targets + i] = m->targets[i].target;
	sort_unique(names, &n);
	r = put_family(b, "pgqfs_target_connections", "gauge",
		       "This daemon's connections to each target, by state.");
	for (size_t i = 0; i < n && r == 0; i++) {
		const struct executor_target_metrics *t = NULL;

		for (size_t k = 0; k < m->n_targets && !t; k++)
			if (strcmp(m->targets[k].target, names[i]) == 0)
				t = &m->targets[k];
		for (size_t s = 0; s < 3 && r == 0; s++) {
			unsigned v = !t ? 0 : s == 0 ? t->idle : s == 1 ? t->busy : t->connecting;

			r = put_sample(b, "pgqfs_target_connections", "target", names[i]);
			if (r == 0)
				r = buf_printf(b, ",state=\"%s\"} %u\n", states[s], v);
		}
	}
	free(names);
	return r;
}

static int put_statements(struct buf *b, const struct executor_metrics *m)
{
	int r = put_family(b, "pgqfs_control_statement_seconds", "histogram",
			   "Latency of this daemon's statements on its control connection, "
			   "from send to result.");

	for (int s = 0; s < N_ESTMTS && r == 0; s++) {
		const struct executor_histogram *h = &m->statements[s];

		r = put_histogram(b, "pgqfs_control_statement_seconds", "statement",
				  statement_names[s], h, h->bounds, h->n_bounds);
	}
	return r;
}

int metrics_content(struct fs *fs, struct buf *out)
{
	const struct config *cfg = __atomic_load_n(&fs->cfg, __ATOMIC_ACQUIRE);
	struct executor_metrics m = { 0 };
	struct store_counts counts = { 0 };
	const char **pools = NULL;
	size_t start = out->len, n = 0, waiting;
	int r;

	r = store_count_tasks(fs->store, &counts);
	if (r < 0)
		return r;
	if (fs->executor)
		r = executor_get_metrics(fs->executor, &m);
	if (r < 0)
		goto out;
	pools = calloc(cfg->n_pools + counts.n + m.n_pools + 1, sizeof(*pools));
	if (!pools) {
		r = -ENOMEM;
		goto out;
	}
	/* Every configured pool, those other daemons' tasks are in, and those
	 * this daemon counted before a reload removed them. */
	for (size_t i = 0; i < cfg->n_pools; i++)
		pools[n++] = cfg->pools[i].name;
	for (size_t i = 0; i < counts.n; i++)
		pools[n++] = counts.pools[i].pool;
	for (size_t i = 0; i < m.n_pools; i++)
		pools[n++] = m.pools[i].pool;
	sort_unique(pools, &n);
	pthread_mutex_lock(&fs->wait_lock);
	waiting = fs->n_waiters;
	pthread_mutex_unlock(&fs->wait_lock);
	r = put_tasks(out, pools, n, &counts);
	if (r == 0)
		r = put_counters(out, pools, n, &m);
	if (r == 0)
		r = put_durations(out, pools, n, &m);
	if (r == 0)
		r = put_family(out, "pgqfs_waiting_readers", "gauge",
			       "Readers of a task's wait file parked on this mount.");
	if (r == 0)
		r = buf_printf(out, "pgqfs_waiting_readers %zu\n", waiting);
	if (r == 0)
		r = put_targets(out, cfg, &m);
	if (r == 0 && fs->executor)
		r = put_statements(out, &m);
	if (r == 0)
		atomic_store(&fs->metrics_size, out->len - start);
out:
	free(pools);
	executor_metrics_finish(&m);
	store_counts_finish(&counts);
	return r;
}
