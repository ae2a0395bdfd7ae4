/*
 * A reload of the configuration, as the executor takes it (SIGHUP; see
 * main.c): between two rounds of its loop, on its own thread, so that no
 * statement or callback sees half of it.
 *
 * Targets and pools are matched by name.  A target whose conninfo is the
 * same keeps its connections; one that changed or left is retired: its
 * connections with a task finish it, the others close.  A pool keeps its
 * running count; one that left is retired: its running tasks finish and
 * are recorded, and so do those a claim in flight takes for it (the claim
 * was sent before the reload); it claims nothing more.  Retired ones sit after the
 * configuration's in the arrays until a later reload finds them empty.
 * The old configuration stays allocated (the caller keeps every one until
 * exit): retired targets and pools still point into it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "executor_internal.h"
#include "log.h"

void executor_reload(struct executor *e, const struct config *cfg)
{
	pthread_mutex_lock(&e->reload_lock);
	e->reload_cfg = cfg;
	pthread_mutex_unlock(&e->reload_lock);
	executor_wake(e);
}

static size_t find_target(const struct executor *e, const struct config_target *ct)
{
	for (size_t j = 0; j < e->n_targets; j++)
		if (strcmp(e->targets[j].cfg->name, ct->name) == 0 &&
		    strcmp(e->targets[j].cfg->conninfo, ct->conninfo) == 0)
			return j;
	return SIZE_MAX;
}

static size_t find_pool(const struct executor *e, const char *name)
{
	for (size_t j = 0; j < e->n_pools; j++)
		if (strcmp(e->pools[j].cfg->name, name) == 0)
			return j;
	return SIZE_MAX;
}

/* Tasks of its own, or a claim in flight that may bring some: a claim
 * answers for the pools it was sent for, and the tasks it took are this
 * daemon's to run. */
static bool pool_has_tasks(const struct executor *e, const struct pool *p)
{
	if (p->claim_asked)
		return true;
	for (const struct task *t = e->tasks; t; t = t->next)
		if (t->pool == p)
			return true;
	return false;
}

void reload_apply(struct executor *e)
{
	const struct config *cfg;
	size_t nt, np, *tmap = NULL, *pmap = NULL;
	struct target *T = NULL;
	struct pool *P = NULL;
	bool *kept = NULL;	/* an old target a retired pool still points at */
	bool ok = true;

	/* Not while a staging holds a slot of a pool (held.c): its answer
	 * gives it back to that pool.  It wakes the loop then. */
	if (e->n_holding)
		return;
	pthread_mutex_lock(&e->reload_lock);
	cfg = e->reload_cfg;
	e->reload_cfg = NULL;
	pthread_mutex_unlock(&e->reload_lock);
	if (!cfg)
		return;
	T = calloc(cfg->n_targets + e->n_targets, sizeof(*T));
	P = calloc(cfg->n_pools + e->n_pools, sizeof(*P));
	tmap = malloc((e->n_targets + 1) * sizeof(*tmap));
	pmap = malloc((e->n_pools + 1) * sizeof(*pmap));
	kept = calloc(e->n_targets + 1, sizeof(*kept));
	ok = T && P && tmap && pmap && kept;
	/* Every allocation first, so that a failure changes nothing. */
	for (size_t i = 0; ok && i < cfg->n_targets; i++) {
		if (find_target(e, &cfg->targets[i]) != SIZE_MAX)
			continue;
		T[i].conns = calloc((size_t)cfg->targets[i].max_workers, sizeof(struct conn *));
		T[i].cap_conns = (size_t)cfg->targets[i].max_workers;
		ok = T[i].conns != NULL;
	}
	if (!ok) {
		for (size_t i = 0; T && i < cfg->n_targets; i++)
			free(T[i].conns);
		log_error("reload: out of memory; the executor keeps the running configuration");
		goto out;
	}
	for (size_t j = 0; j < e->n_targets; j++)
		tmap[j] = SIZE_MAX;
	for (size_t j = 0; j < e->n_pools; j++)
		pmap[j] = SIZE_MAX;
	/* The configuration's targets: the same ones keep their connections. */
	for (nt = 0; nt < cfg->n_targets; nt++) {
		const struct config_target *ct = &cfg->targets[nt];
		size_t j = find_target(e, ct);

		T[nt].e = e;
		T[nt].cfg = ct;
		if (j == SIZE_MAX) {
			log_info("reload: target %s set up", LOG_ESCAPE(ct->name));
			continue;
		}
		T[nt].conns = e->targets[j].conns;
		T[nt].n_conns = e->targets[j].n_conns;
		T[nt].cap_conns = e->targets[j].cap_conns;
		tmap[j] = nt;
	}
	/* The others keep what still runs, and stay while a pool that goes
	 * keeps tasks (their ends not yet on record) and points at them. */
	for (size_t j = 0; j < e->n_pools; j++) {
		bool stays = false;

		for (size_t i = 0; i < cfg->n_pools && !stays; i++)
			stays = strcmp(cfg->pools[i].name, e->pools[j].cfg->name) == 0;
		if (!stays && pool_has_tasks(e, &e->pools[j]))
			kept[e->pools[j].target - e->targets] = true;
	}
	for (size_t j = 0; j < e->n_targets; j++) {
		if (tmap[j] != SIZE_MAX)
			continue;
		if (e->targets[j].n_conns == 0 && !kept[j]) {
			free(e->targets[j].conns);
			continue;
		}
		if (!e->targets[j].retired)
			log_info("reload: target %s retired: its busy connections finish their tasks",
				 LOG_ESCAPE(e->targets[j].cfg->name));
		T[nt] = e->targets[j];
		T[nt].retired = true;
		tmap[j] = nt++;
	}
	/* Pools.  Their timers are in the loop's heap, which holds their
	 * addresses: stopped here, set again by the next claim. */
	for (size_t j = 0; j < e->n_pools; j++)
		timer_cancel(&e->pools[j].hold_timer);
	for (np = 0; np < cfg->n_pools; np++) {
		const struct config_pool *cp = &cfg->pools[np];
		size_t j = find_pool(e, cp->name);

		P[np].cfg = cp;
		P[np].target = &T[cp->target];
		P[np].live_max = cp->max_workers;
		P[np].has_work = true;
		P[np].saturated = true;
		if (j != SIZE_MAX) {
			P[np].running = e->pools[j].running;
			P[np].paused = e->pools[j].paused;
			P[np].claim_want = e->pools[j].claim_want;
			P[np].claim_asked = e->pools[j].claim_asked;
			if (e->pools[j].cfg->max_workers == cp->max_workers)
				P[np].live_max = e->pools[j].live_max;
			pmap[j] = np;
		} else {
			log_info("reload: pool %s added", LOG_ESCAPE(cp->name));
		}
		timer_init(&P[np].hold_timer, &e->timers, pool_hold_due, &P[np]);
	}
	for (size_t j = 0; j < e->n_pools; j++) {
		struct pool *old = &e->pools[j];

		if (pmap[j] != SIZE_MAX)
			continue;
		if (!pool_has_tasks(e, old)) {
			if (!old->retired)
				log_info("reload: pool %s removed", LOG_ESCAPE(old->cfg->name));
			continue;
		}
		if (!old->retired && old->claim_asked && !old->running)
			log_info("reload: pool %s removed: the tasks the claim in flight "
				 "takes for it run", LOG_ESCAPE(old->cfg->name));
		else if (!old->retired)
			log_info("reload: pool %s removed: its %d running tasks finish",
				 LOG_ESCAPE(old->cfg->name), old->running);
		P[np] = *old;
		P[np].retired = true;
		P[np].has_work = false;
		P[np].target = &T[tmap[old->target - e->targets]];
		timer_init(&P[np].hold_timer, &e->timers, pool_hold_due, &P[np]);
		pmap[j] = np++;
	}
	/* Everything that points at a target or a pool moves with it. */
	for (size_t i = 0; i < nt; i++)
		for (size_t k = 0; k < T[i].n_conns; k++)
			T[i].conns[k]->target = &T[i];
	for (struct task *t = e->tasks; t; t = t->next)
		t->pool = &P[pmap[t->pool - e->pools]];
	free(e->targets);
	free(e->pools);
	e->targets = T;
	e->pools = P;
	e->n_targets = nt;
	e->n_pools = np;
	e->cfg = cfg;
	T = NULL;
	P = NULL;
	log_info("reload: the executor runs %zu pools on %zu targets", cfg->n_pools,
		 cfg->n_targets);
out:
	free(T);
	free(P);
	free(tmap);
	free(pmap);
	free(kept);
}
