/*
 * The filesystem's parked `wait` readers.
 *
 * A read of `wait` on a task that has not ended is parked: no thread is
 * held, the request stays unanswered until the task ends (the executor's
 * fs_tasks_finished), the reader is interrupted (FUSE INTERRUPT), the
 * control connection came back and a re-check finds the task ended
 * (fs_recheck_waiters), or the daemon stops (fs_release_waiters).
 *
 * Who answers, and under which locks (libfuse 3.14, lib/fuse_lowlevel.c):
 *
 * - fuse_req_interrupt_func(req, fn, data) takes req->lock, then se->lock
 *   to store fn/data, drops se->lock and, if the request was already
 *   interrupted, calls fn *with req->lock held*.  find_interrupted (a FUSE
 *   INTERRUPT arriving on another worker) takes a reference on the request,
 *   reads fn/data under se->lock, and calls fn with req->lock held.
 * - fuse_reply_*() ends in fuse_free_req, which clears fn/data under
 *   se->lock and frees the request (destroying req->lock) unless a
 *   find_interrupted still holds its reference.
 *
 * So a reply from inside fn may free the request while libfuse still holds
 * (and later unlocks) its lock, and fn may run after the request was
 * answered, with data that was read before the answer.  Hence the
 * invariant kept here:
 *
 *   Exactly one path answers a waiter: whoever takes it out of the table
 *   (under wait_lock).  The interrupt callback never answers and never
 *   frees: it finds its waiter by a 64-bit key that is never reused and,
 *   if the waiter is still parked, moves it to the replier thread's queue.
 *   A waiter is published before its interrupt callback is registered but
 *   stays "registering" until wait_read has registered it and looked at
 *   the task: meanwhile nobody takes it out, others only mark it
 *   (interrupted, or ended with a state) and wait_read answers it.
 *   No fuse_reply_* and no fuse_req_interrupt_func is called with
 *   wait_lock held (lock order: req->lock, then wait_lock).
 *
 * Waiters are hashed by task id (a batch of finished tasks costs one probe
 * per id) and by key (an interrupt costs one probe).
 */
#include "fs_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#define WAIT_BUCKETS 4096	/* power of two; thousands of waiters stay O(1) */

enum waiter_phase {
	W_REGISTERING,	/* wait_read still owns it: others only mark it */
	W_PARKED,	/* in the table: whoever takes it out answers it */
};

/* A `wait` read parked until its task ends. */
struct waiter {
	struct waiter *id_next, *id_prev;	/* chain of its id's bucket */
	struct waiter *key_next, *key_prev;	/* chain of its key's bucket */
	struct waiter *q_next;		/* the replier's queue, once taken out */
	fuse_req_t req;
	uint64_t key;		/* never reused: what the interrupt callback holds */
	int64_t id;
	size_t size;		/* bytes the reader asked for */
	off_t off;		/* from where in the state line */
	atomic_int *answer;	/* its handle's wait_answer (the kernel keeps the
				 * file open while the read is in flight) */
	enum waiter_phase phase;
	bool interrupted;	/* answer EINTR */
	bool ended;		/* answer with state */
	int err;		/* answer this errno (a failed look-up) */
	enum task_state state;	/* the answer, once known */
};

/* The parked waiters and the thread that answers them; under fs->wait_lock. */
struct waitq {
	struct waiter *by_id[WAIT_BUCKETS];
	struct waiter *by_key[WAIT_BUCKETS];
	uint64_t next_key;
	struct waiter *queue;	/* taken out, to be answered by the replier */
	bool recheck;		/* look every parked id up in the store */
	int64_t *verify;	/* ids another daemon's NOTIFY says ended: to be
				 * looked up (anyone may NOTIFY) */
	size_t n_verify, cap_verify;
	bool stop;		/* the replier ends once its queue is empty */
	bool started;
	pthread_t thread;
	pthread_cond_t cond;	/* wakes the replier */
};

static size_t id_bucket(int64_t id)
{
	return (size_t)((uint64_t)id * 0x9E3779B97F4A7C15u >> 52) & (WAIT_BUCKETS - 1);
}

static size_t key_bucket(uint64_t key)
{
	return (size_t)key & (WAIT_BUCKETS - 1);
}

static void waiter_link(struct waitq *q, struct waiter *w)
{
	struct waiter **h = &q->by_id[id_bucket(w->id)];
	struct waiter **k = &q->by_key[key_bucket(w->key)];

	w->id_prev = NULL;
	w->id_next = *h;
	if (*h)
		(*h)->id_prev = w;
	*h = w;
	w->key_prev = NULL;
	w->key_next = *k;
	if (*k)
		(*k)->key_prev = w;
	*k = w;
}

/* Takes w out of the table (the caller then answers it). */
static void waiter_unlink(struct fs *fs, struct waiter *w)
{
	struct waitq *q = fs->waitq;

	if (w->id_prev)
		w->id_prev->id_next = w->id_next;
	else
		q->by_id[id_bucket(w->id)] = w->id_next;
	if (w->id_next)
		w->id_next->id_prev = w->id_prev;
	if (w->key_prev)
		w->key_prev->key_next = w->key_next;
	else
		q->by_key[key_bucket(w->key)] = w->key_next;
	if (w->key_next)
		w->key_next->key_prev = w->key_prev;
	fs->n_waiters--;
	executor_set_waiters(fs->executor, fs->n_waiters);
}

/* Takes parked w out and queues it for the replier. */
static void waiter_queue(struct fs *fs, struct waiter *w)
{
	waiter_unlink(fs, w);
	w->q_next = fs->waitq->queue;
	fs->waitq->queue = w;
	pthread_cond_signal(&fs->waitq->cond);
}

/* The state line from off, cut to what the reader asked for. */
static void reply_state(fuse_req_t req, enum task_state s, off_t off, size_t size)
{
	char line[16];
	int n = snprintf(line, sizeof(line), "%s\n", shown_state(s));
	size_t left = off < n ? (size_t)(n - off) : 0;

	fuse_reply_buf(req, line + (left ? off : 0), left < size ? left : size);
}

/* Answers a waiter that was taken out of the table, and frees it. */
static void waiter_answer(struct waiter *w)
{
	if (w->interrupted)
		fuse_reply_err(w->req, EINTR);
	else if (w->err)
		fuse_reply_err(w->req, w->err);
	else {
		atomic_store(w->answer, 1 + (int)w->state);
		reply_state(w->req, w->state, w->off, w->size);
	}
	free(w);
}

/*
 * FUSE INTERRUPT: runs under the request's own lock (see the top), so it
 * only marks; the replier answers.
 */
static void waiter_interrupted(fuse_req_t req, void *data)
{
	struct fs *fs = fs_of(req);
	uint64_t key = (uint64_t)(uintptr_t)data;

	pthread_mutex_lock(&fs->wait_lock);
	if (fs->waitq) {
		for (struct waiter *w = fs->waitq->by_key[key_bucket(key)]; w; w = w->key_next) {
			if (w->key != key)
				continue;
			w->interrupted = true;
			if (w->phase == W_PARKED)
				waiter_queue(fs, w);
			break;
		}
	}
	pthread_mutex_unlock(&fs->wait_lock);
}

/* Distinct task ids of the parked waiters (for a re-check); wait_lock held. */
static size_t parked_ids(struct waitq *q, int64_t **ret)
{
	size_t n = 0, cap = 0;
	int64_t *ids = NULL;

	for (size_t b = 0; b < WAIT_BUCKETS; b++) {
		for (struct waiter *w = q->by_id[b]; w; w = w->id_next) {
			bool seen = false;

			if (w->phase != W_PARKED)
				continue;
			/* Same id, same bucket: only this bucket's ids so far can match. */
			for (struct waiter *v = q->by_id[b]; v != w && !seen; v = v->id_next)
				seen = v->phase == W_PARKED && v->id == w->id;
			if (seen)
				continue;
			if (n == cap) {
				size_t ncap = cap ? 2 * cap : 64;
				int64_t *ni = realloc(ids, ncap * sizeof(*ids));

				if (!ni)
					goto out;
				ids = ni;
				cap = ncap;
			}
			ids[n++] = w->id;
		}
	}
out:
	*ret = ids;
	return n;
}

/* Queues the parked waiters of task id, which ended in state s; wait_lock held. */
static void ended_locked(struct fs *fs, int64_t id, enum task_state s)
{
	struct waiter *w = fs->waitq->by_id[id_bucket(id)];

	while (w) {
		struct waiter *next = w->id_next;

		if (w->id == id) {
			w->ended = true;
			w->state = s;
			if (w->phase == W_PARKED)
				waiter_queue(fs, w);
		}
		w = next;
	}
}

/* Takes the parked waiters of task id, which is gone (retention deleted
 * it), out to be answered ENOENT, as a look-up of it would; wait_lock held.
 * A registering one makes its own look-up. */
static void gone_locked(struct fs *fs, int64_t id)
{
	struct waiter *w = fs->waitq->by_id[id_bucket(id)];

	while (w) {
		struct waiter *next = w->id_next;

		if (w->id == id && w->phase == W_PARKED) {
			w->err = ENOENT;
			waiter_queue(fs, w);
		}
		w = next;
	}
}

/* Whether the daemon stops: a re-check gives up (the store polls this). */
static bool recheck_stopped(void *arg)
{
	struct fs *fs = arg;
	bool stop;

	pthread_mutex_lock(&fs->wait_lock);
	stop = fs->waitq->stop;
	pthread_mutex_unlock(&fs->wait_lock);
	return stop;
}

/* Parked ids looked up per statement: bounds a statement's size. */
#define RECHECK_BATCH 4096

/*
 * Re-check (the control connection came back, NOTIFYs may be lost): the
 * parked ids are looked up a batch per statement, off the executor's
 * thread.  A stop interrupts it (within the store's poll interval, not a
 * request_timeout per id), and so does a failed statement: the waiters
 * stay parked, for the next NOTIFY or re-check.
 */
/* The re-check's store calls also give way to waiters waiting for their
 * answer (a Ctrl-C among them): the re-check runs on their replier. */
static bool recheck_yields(void *arg)
{
	struct fs *fs = arg;
	bool yield;

	pthread_mutex_lock(&fs->wait_lock);
	yield = fs->waitq->stop || fs->waitq->queue != NULL;
	pthread_mutex_unlock(&fs->wait_lock);
	return yield;
}

/* Looks ids up in the store and answers their parked waiters: those of a
 * task that ended, or is gone.  verify: the ids an end's NOTIFY named.
 * Without wait_lock. */
static void recheck_ids(struct fs *fs, const int64_t *ids, size_t n, bool verify)
{
	int *states = n > 0 ? malloc(n * sizeof(*states)) : NULL;

	for (size_t i = 0; states && i < n && !recheck_stopped(fs); i += RECHECK_BATCH) {
		size_t m = n - i < RECHECK_BATCH ? n - i : RECHECK_BATCH;
		int r;

		store_request_begin(fs->store, recheck_yields, fs, 0);
		r = store_get_states(fs->store, ids + i, m, states + i);
		store_request_end();
		if (r == -EINTR || (r < 0 && verify)) {
			/* Answers to send first; or the look-up an end's NOTIFY
			 * asked for failed (no NOTIFY will come again): every
			 * parked id again after, once. */
			pthread_mutex_lock(&fs->wait_lock);
			if (!fs->waitq->stop)
				fs->waitq->recheck = true;
			pthread_mutex_unlock(&fs->wait_lock);
		}
		if (r < 0)
			break;
		pthread_mutex_lock(&fs->wait_lock);
		for (size_t j = i; j < i + m; j++) {
			if (states[j] == -ENOENT)
				gone_locked(fs, ids[j]);
			else if (states[j] >= 0 && task_state_final((enum task_state)states[j]))
				ended_locked(fs, ids[j], (enum task_state)states[j]);
		}
		pthread_mutex_unlock(&fs->wait_lock);
	}
	free(states);
}

static void recheck(struct fs *fs)
{
	int64_t *ids;
	size_t n;

	pthread_mutex_lock(&fs->wait_lock);
	n = parked_ids(fs->waitq, &ids);
	pthread_mutex_unlock(&fs->wait_lock);
	recheck_ids(fs, ids, n, false);
	free(ids);
}

/* The replier: answers taken-out waiters outside every libfuse lock. */
static void *replier_main(void *arg)
{
	struct fs *fs = arg;
	struct waitq *q = fs->waitq;

	pthread_mutex_lock(&fs->wait_lock);
	for (;;) {
		struct waiter *batch;

		while (!q->queue && !q->recheck && !q->n_verify && !q->stop)
			pthread_cond_wait(&q->cond, &fs->wait_lock);
		if (q->recheck && !q->stop) {
			q->recheck = false;
			pthread_mutex_unlock(&fs->wait_lock);
			recheck(fs);
			pthread_mutex_lock(&fs->wait_lock);
		} else if (q->n_verify && !q->stop) {
			int64_t *ids = q->verify;
			size_t n = q->n_verify;

			q->verify = NULL;
			q->n_verify = q->cap_verify = 0;
			pthread_mutex_unlock(&fs->wait_lock);
			recheck_ids(fs, ids, n, true);
			free(ids);
			pthread_mutex_lock(&fs->wait_lock);
		}
		batch = q->queue;
		q->queue = NULL;
		if (!batch && q->stop)
			break;
		pthread_mutex_unlock(&fs->wait_lock);
		while (batch) {
			struct waiter *w = batch;

			batch = w->q_next;
			waiter_answer(w);
		}
		pthread_mutex_lock(&fs->wait_lock);
	}
	pthread_mutex_unlock(&fs->wait_lock);
	return NULL;
}

/*
 * The table and its replier, made on first use: fs_create runs before the
 * daemon forks, and a thread would not survive the fork.  wait_lock held.
 */
static int waitq_ready(struct fs *fs)
{
	struct waitq *q = fs->waitq;

	if (fs->wait_stopped)
		return -EINTR;
	if (q && q->started)
		return 0;
	if (!q) {
		q = calloc(1, sizeof(*q));
		if (!q)
			return -ENOMEM;
		pthread_cond_init(&q->cond, NULL);
		fs->waitq = q;
	}
	if (pthread_create(&q->thread, NULL, replier_main, fs) != 0)
		return -EAGAIN;
	q->started = true;
	return 0;
}

/* A read of `wait`: parked until the task ends; never holds a thread. */
void wait_read(struct fs *fs, fuse_req_t req, struct handle *h, off_t off,
	       size_t size)
{
	struct waiter *w;
	struct task_info t;
	bool answer = false;
	int r;

	/* A read at an offset (dd bs=1, pread) waits as one from the start
	 * does, and gets the state line from there: once the task has ended,
	 * at once, and past the line, nothing.  After an answer on this
	 * descriptor (cat's second read), no look-up. */
	if (off > 0 && atomic_load(&h->wait_answer) > 0) {
		reply_state(req, (enum task_state)(atomic_load(&h->wait_answer) - 1), off, size);
		return;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	w->req = req;
	w->id = h->id;
	w->size = size;
	w->off = off;
	w->answer = &h->wait_answer;
	w->phase = W_REGISTERING;
	/* Park first, then look: a finish in between cannot be missed. */
	pthread_mutex_lock(&fs->wait_lock);
	r = waitq_ready(fs);
	if (r == 0) {
		w->key = ++fs->waitq->next_key;
		waiter_link(fs->waitq, w);
		fs->n_waiters++;
		executor_set_waiters(fs->executor, fs->n_waiters);
	}
	pthread_mutex_unlock(&fs->wait_lock);
	if (r < 0) {
		fuse_reply_err(req, -r);
		free(w);
		return;
	}
	/* May call waiter_interrupted at once: it only marks w. */
	fuse_req_interrupt_func(req, waiter_interrupted, (void *)(uintptr_t)w->key);
	/* In the request's span: Ctrl-C ends the look-up too (w is still
	 * registering, so only this thread answers req). */
	fs_store_begin(req);
	r = store_get_task(fs->store, h->id, &t);
	fs_store_end();
	pthread_mutex_lock(&fs->wait_lock);
	w->phase = W_PARKED;
	if (w->interrupted || w->ended) {
		answer = true;
	} else if (r < 0) {
		w->err = -r;
		answer = true;
	} else if (task_state_final(t.state)) {
		w->ended = true;
		w->state = t.state;
		answer = true;
	}
	if (answer)
		waiter_unlink(fs, w);
	pthread_mutex_unlock(&fs->wait_lock);
	if (r == 0)
		task_info_finish(&t);
	if (answer)
		waiter_answer(w);
}

/* Task id, with waiters, is said to have ended by a NOTIFY: the replier
 * looks it up.  A registering waiter counts too: its own look-up may have
 * come before the end (ended_locked() marks it then).  wait_lock held. */
static void verify_locked(struct fs *fs, int64_t id)
{
	struct waitq *q = fs->waitq;
	bool waiting = false;

	for (struct waiter *w = q->by_id[id_bucket(id)]; w && !waiting; w = w->id_next)
		waiting = w->id == id;
	if (!waiting)
		return;
	/* At most one entry per parked id (forged NOTIFYs repeat). */
	for (size_t i = 0; i < q->n_verify; i++)
		if (q->verify[i] == id)
			return;
	if (q->n_verify == q->cap_verify) {
		size_t cap = q->cap_verify ? 2 * q->cap_verify : 64;
		int64_t *p = realloc(q->verify, cap * sizeof(*p));

		if (!p) {
			q->recheck = true;	/* every parked id, then */
			return;
		}
		q->verify = p;
		q->cap_verify = cap;
	}
	q->verify[q->n_verify++] = id;
}

void fs_tasks_finished(void *arg, const int64_t *ids, const enum task_state *states, size_t n,
		       bool own)
{
	struct fs *fs = arg;

	/* The executor's thread: only moves waiters to the replier's queue,
	 * or, for another daemon's ends (a NOTIFY anyone may send), the ids
	 * to its look-ups. */
	pthread_mutex_lock(&fs->wait_lock);
	if (fs->waitq && fs->n_waiters > 0) {
		for (size_t i = 0; i < n; i++) {
			if (own)
				ended_locked(fs, ids[i], states[i]);
			else
				verify_locked(fs, ids[i]);
		}
		if (!own && (fs->waitq->n_verify || fs->waitq->recheck))
			pthread_cond_signal(&fs->waitq->cond);
	}
	pthread_mutex_unlock(&fs->wait_lock);
}

void fs_recheck_waiters(void *arg)
{
	struct fs *fs = arg;

	pthread_mutex_lock(&fs->wait_lock);
	if (fs->waitq && fs->waitq->started && fs->n_waiters > 0) {
		fs->waitq->recheck = true;
		pthread_cond_signal(&fs->waitq->cond);
	}
	pthread_mutex_unlock(&fs->wait_lock);
}

void fs_release_waiters(struct fs *fs)
{
	struct waitq *q;
	bool join;

	if (!fs)
		return;
	pthread_mutex_lock(&fs->wait_lock);
	fs->wait_stopped = true;	/* later reads of `wait` get EINTR at once */
	q = fs->waitq;
	if (q) {
		for (size_t b = 0; b < WAIT_BUCKETS; b++) {
			struct waiter *w = q->by_id[b];

			while (w) {
				struct waiter *next = w->id_next;

				/* wait_read answers a registering one: with its
				 * state if its task has ended meanwhile. */
				if (!w->ended)
					w->interrupted = true;
				if (w->phase == W_PARKED)
					waiter_queue(fs, w);
				w = next;
			}
		}
		q->stop = true;
		pthread_cond_signal(&q->cond);
	}
	join = q && q->started;
	pthread_mutex_unlock(&fs->wait_lock);
	/* The replier answers what is queued before it ends: EINTR reaches the
	 * readers while the mount is still there. */
	if (join) {
		pthread_join(q->thread, NULL);
		q->started = false;
	}
}

void wait_destroy(struct fs *fs)
{
	struct waitq *q = fs->waitq;

	if (!q)
		return;
	/*
	 * Normally empty: libfuse never cancels a worker inside a request
	 * (fuse_do_work in lib/fuse_loop_mt.c enables cancellation only
	 * while it receives), fuse_session_loop_mt joins its workers before
	 * it returns, so every wait_read has finished, and fs_release_waiters
	 * then answered every parked waiter.  Left only if that was not
	 * called: the session is gone, so they cannot be answered, only
	 * freed.
	 */
	for (size_t b = 0; b < WAIT_BUCKETS; b++)
		while (q->by_id[b]) {
			struct waiter *w = q->by_id[b];

			waiter_unlink(fs, w);
			free(w);
		}
	pthread_cond_destroy(&q->cond);
	free(q->verify);
	free(q);
	fs->waitq = NULL;
}
