#include "executor.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "executor_internal.h"
#include "log.h"

/* ------------------------------------------------------------------ */
/* the loop                                                            */

void timer_wake(struct timer *tm, void *arg, int64_t now)
{
	(void)tm;
	(void)arg;
	(void)now;
}

static void cancel_all(struct executor *e)
{
	for (struct task *t = e->tasks; t; t = t->next) {
		if (t->conn && t->phase != PHASE_FINISHED && t->conn->state == CONN_BUSY) {
			task_log(t, "cancelling: the daemon is stopping%s",
				 atomic_load(&e->draining) ? " and its shutdown_grace ran out" : "");
			conn_cancel(e, t->conn);
		} else if (t->phase == PHASE_CONNECT) {
			task_fail(e, t, "pgqfs: the daemon stopped before this task started\n");
		}
	}
	e->cancels_sent = true;
}

/* Something not yet on record: a task, a statement in flight, the end of
 * a claimed task not taken (an orphan), a release (its file is queued by
 * the next claim, which asks for nothing once the daemon stops). */
static bool work_left(struct executor *e)
{
	bool releases;

	pthread_mutex_lock(&e->release_lock);
	releases = e->n_release > 0 || e->n_held_rel > 0;
	pthread_mutex_unlock(&e->release_lock);
	return e->tasks != NULL || e->op != OP_NONE || e->n_orphans > 0 ||
	       e->n_releasing > 0 || e->n_unhold > 0 || releases;
}

void wake_loop(struct executor *e)
{
	uint64_t one = 1;

	if (write(e->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("cannot wake the executor: %s", strerror(errno));
}

static void *executor_main(void *arg)
{
	struct executor *e = arg;
	struct pollfd *fds = NULL;
	struct conn **fd_conn = NULL;
	size_t cap = 0;

	pthread_mutex_lock(&e->loop_lock);
	for (;;) {
		size_t nfds = 0, total = 2;
		int64_t now = mono_ms();
		int timeout, r;
		bool stopping = atomic_load(&e->stopping);

		if (stopping) {
			if (!e->cancels_sent) {
				cancel_all(e);
				e->stop_deadline_ms = now + STOP_GRACE_MS;
				timer_set(&e->stop_timer, e->stop_deadline_ms);
			}
			/* Without the control connection nothing can be
			 * recorded any more: the tasks were cancelled. */
			if (!work_left(e) || !ctl_up(e) || now >= e->stop_deadline_ms)
				break;
		}
		/* A committed batch keeps its contents until the next is built:
		 * what counts is whether one waits to be sent. */
		if (atomic_load(&e->draining) && !work_left(e) && !e->batch_unsent &&
		    !atomic_load(&e->drained)) {
			atomic_store(&e->drained, true);
			log_info("drained: no task runs here any more");
		}
		reload_apply(e);
		reap_conns(e);
		held_take_releases(e);
		/* Deadlines: tasks' timeouts, connect timeouts, cancel graces
		 * and control attempts act; the others wake this round. */
		timer_run_due(&e->timers, now);
		targets_tick(e);
		ctl_next(e);
		claimed_assign(e);	/* none left, unless a result's handling stopped short */
		metrics_conns_publish(e);

		for (size_t i = 0; i < e->n_targets; i++)
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
		fds[nfds].events = 0;
		fds[nfds].fd = ctl_pollfd(e, &fds[nfds].events);
		fd_conn[nfds++] = NULL;
		for (size_t i = 0; i < e->n_targets; i++) {
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
						(c->task->out[STREAM_RESULT].pending.len >= PENDING_MAX ||
						 c->task->out[STREAM_JSON].pending.len >= PENDING_MAX);

					ev = paused ? 0 : POLLIN;
					if (c->want_write)
						ev |= POLLOUT;
				}
				fds[nfds].fd = PQsocket(c->pg);
				fds[nfds].events = ev;
				fd_conn[nfds++] = c;
			}
		}
		/* Sleep until a socket says something or the next deadline. */
		timeout = timer_poll_timeout(&e->timers, now);
		e->parked_due = timer_next_due(&e->timers);
		atomic_store(&e->parked, true);
		pthread_mutex_unlock(&e->loop_lock);
		r = poll(fds, nfds, timeout);
		/* What it woke for goes first: no claim is sent for it now. */
		atomic_store(&e->parked, false);
		pthread_mutex_lock(&e->loop_lock);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			log_error("poll: %s", strerror(errno));
			break;
		}
		if (fds[0].revents & POLLIN) {
			uint64_t v;

			if (read(e->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				log_warn("wake-up: %s", strerror(errno));
			if (atomic_exchange(&e->wake_all, false))
				for (size_t i = 0; i < e->cfg->n_pools; i++)
					e->pools[i].has_work = true;
		}
		/* A release's claim (claim_for_executor()) may have lost the
		 * connection polled: its socket is not this one's any more. */
		if (fds[1].fd >= 0 && fds[1].revents && e->control &&
		    PQsocket(e->control) == fds[1].fd)
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
	pthread_mutex_unlock(&e->loop_lock);
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
	timer_list_init(&e->timers);
	ctl_timers_init(e);
	timer_init(&e->stop_timer, &e->timers, timer_wake, e);
	e->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	e->parked_due = -1;
	pthread_mutex_init(&e->loop_lock, NULL);
	pthread_mutex_init(&e->release_lock, NULL);
	pthread_mutex_init(&e->reload_lock, NULL);
	e->targets = calloc(cfg->n_targets, sizeof(*e->targets));
	e->pools = calloc(cfg->n_pools, sizeof(*e->pools));
	e->batch = progress_create();
	if (gethostname(host, sizeof(host)) < 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(e->daemon, sizeof(e->daemon), "%s:%d", host, (int)getpid());
	if (e->wake_fd < 0 || !e->targets || !e->pools || !e->batch || metrics_create(e) < 0)
		goto fail;
	for (size_t i = 0; i < cfg->n_targets; i++) {
		e->targets[i].e = e;
		e->targets[i].cfg = &cfg->targets[i];
		e->targets[i].conns = calloc((size_t)cfg->targets[i].max_workers,
					     sizeof(struct conn *));
		if (!e->targets[i].conns)
			goto fail;
		e->targets[i].cap_conns = (size_t)cfg->targets[i].max_workers;
		e->n_targets++;
	}
	for (size_t i = 0; i < cfg->n_pools; i++) {
		e->pools[i].cfg = &cfg->pools[i];
		e->pools[i].target = &e->targets[cfg->pools[i].target];
		e->pools[i].live_max = cfg->pools[i].max_workers;
		e->pools[i].saturated = true;
		timer_init(&e->pools[i].hold_timer, &e->timers, pool_hold_due, &e->pools[i]);
		e->n_pools++;
	}
	if (ctl_setup(e) < 0) {
		e->control = NULL;	/* the caller still owns it on failure */
		goto fail;
	}
	e->next_housekeeping_ms = 0;
	timer_set(&e->housekeeping_timer, 0);
	*ret = e;
	return 0;
fail:
	e->control = NULL;
	executor_destroy(e);
	return -ENOMEM;
}

void executor_set_reconnected(struct executor *e, executor_reconnected_fn *fn, void *arg)
{
	e->on_reconnected = fn;
	e->on_reconnected_arg = arg;
}

int executor_start(struct executor *e)
{
	/* Warm connections: the first tasks should not wait for backends. */
	for (size_t i = 0; i < e->cfg->n_targets; i++) {
		struct target *tg = &e->targets[i];
		int want = 0;

		/* (Those of run_as = submitter pools open as their tasks come.) */
		for (size_t p = 0; p < e->cfg->n_pools; p++)
			if (e->pools[p].target == tg && e->pools[p].cfg->run_as == RUN_AS_TARGET)
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

void executor_set_waiters(struct executor *e, size_t n)
{
	if (e)
		atomic_store(&e->n_waiters, n);
}

bool executor_release_settled(struct executor *e, uint64_t seq)
{
	return atomic_load(&e->settled_seq) >= seq;
}

/*
 * The executor sleeps in poll() with nothing in flight on the control
 * connection: this thread (the release's) sends what it would send on
 * waking (ctl_next(): the claim that queues the release), under its lock,
 * and leaves it asleep until the answer comes.  On this VM a thread that
 * sleeps takes 0.35-0.5 ms to run again: that wake-up leaves a pickup's
 * path.  When anything is left that needs the executor awake (output to
 * flush, nothing sent, a deadline earlier than the one it sleeps until),
 * it is woken as before.  Returns whether it may sleep on.
 */
static bool claim_for_executor(struct executor *e)
{
	bool sent = false;

	if (pthread_mutex_trylock(&e->loop_lock) != 0)
		return false;	/* awake: it takes the release in its round */
	if (atomic_load(&e->parked) && e->ctl_state == CTL_UP && e->op == OP_NONE &&
	    !atomic_load(&e->stopping) && !atomic_load(&e->wake_all)) {
		ctl_next(e);
		/* A step held back to gather is as good as sent: its timer
		 * wakes the loop (unless it is due before the loop's own). */
		sent = (e->op != OP_NONE || e->gathering) && parked_may_sleep(e);
	}
	pthread_mutex_unlock(&e->loop_lock);
	return sent;
}

bool parked_may_sleep(struct executor *e)
{
	int64_t due;

	if (e->ctl_want_write)
		return false;
	for (size_t i = 0; i < e->n_targets; i++)
		for (size_t j = 0; j < e->targets[i].n_conns; j++)
			if (e->targets[i].conns[j]->want_write)
				return false;
	due = timer_next_due(&e->timers);
	return due < 0 || (e->parked_due >= 0 && due >= e->parked_due);
}

int release_add(struct store_release **v, size_t *n, size_t *cap,
		       const struct store_release *rel)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 256;
		struct store_release *p = realloc(*v, c * sizeof(*p));

		if (!p)
			return -ENOMEM;
		*v = p;
		*cap = c;
	}
	(*v)[(*n)++] = *rel;
	return 0;
}

int executor_release(struct executor *e, int64_t id, int64_t committed_us, const char *pool,
		     bool plain, bool held, uint64_t *ret_seq)
{
	const struct store_release rel = { .id = id, .committed_us = committed_us, .pool = pool,
					   .plain = plain };
	int r = 0;

	if (held) {
		/*
		 * Claimed with its staging: it starts now, with no round trip,
		 * when the loop sleeps; else the loop starts it in its round
		 * (held_take_releases()), from a list of its own that no claim
		 * takes (a claim would not take a running row).
		 */
		bool wake = false, started = false;

		*ret_seq = 0;
		if (pthread_mutex_trylock(&e->loop_lock) == 0) {
			if (atomic_load(&e->parked)) {
				started = held_start(e, id, &wake);
				wake = wake || (started && !parked_may_sleep(e));
			}
			pthread_mutex_unlock(&e->loop_lock);
		}
		if (!started) {
			pthread_mutex_lock(&e->release_lock);
			r = release_add(&e->held_rel, &e->n_held_rel, &e->cap_held_rel, &rel);
			pthread_mutex_unlock(&e->release_lock);
			if (r == 0)
				wake = true;
		}
		if (!started && r < 0) {
			/* No room in the list: started here, waiting for the
			 * loop's lock, which needs no memory; a held task left
			 * unstarted would keep its claim for good. */
			pthread_mutex_lock(&e->loop_lock);
			started = held_start(e, id, &wake);
			pthread_mutex_unlock(&e->loop_lock);
			wake = true;
		}
		if (wake)
			wake_loop(e);
		if (started || r == 0)
			return 0;
	}
	pthread_mutex_lock(&e->release_lock);
	r = release_add(&e->release, &e->n_release, &e->cap_release, &rel);
	if (r == 0)
		*ret_seq = ++e->release_seq;
	pthread_mutex_unlock(&e->release_lock);
	/* Work for the released task's pool only: ctl_next() says which. */
	if (r == 0 && !claim_for_executor(e))
		wake_loop(e);
	return r;
}

void executor_wake(struct executor *e)
{
	atomic_store(&e->wake_all, true);
	wake_loop(e);
}

void executor_drain(struct executor *e)
{
	if (!e)
		return;
	atomic_store(&e->draining, true);
	executor_wake(e);
}

bool executor_drained(struct executor *e)
{
	return !e || !e->thread_started || atomic_load(&e->drained);
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
	jobs_finish(e);
	while (e->tasks) {
		struct task *t = e->tasks;

		e->tasks = t->next;
		task_free(t);
	}
	if (e->targets) {
		for (size_t i = 0; i < e->n_targets; i++) {
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
	free(e->held_rel);
	free(e->unhold);
	free(e->releasing);
	free(e->own_done);
	free(e->orphans);
	free(e->stop_ids);
	metrics_destroy(e);
	pthread_mutex_destroy(&e->release_lock);
	pthread_mutex_destroy(&e->reload_lock);
	if (e->wake_fd >= 0)
		close(e->wake_fd);
	pthread_mutex_destroy(&e->loop_lock);
	free(e);
}

void executor_get_counters(struct executor *e, struct executor_counters *ret)
{
	ret->started = atomic_load(&e->n_started);
	ret->done = atomic_load(&e->n_done);
	ret->failed = atomic_load(&e->n_failed);
}
