/* The filesystem's parked `wait` readers. */
#include "fs_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* A `wait` read parked until its task finishes. */
struct waiter {
	struct waiter *next;
	fuse_req_t req;
	int64_t id;
	size_t size;		/* bytes the reader asked for */
	enum task_state state;	/* the answer, once known */
};

static void waiter_interrupted(fuse_req_t req, void *data)
{
	struct fs *fs = fs_of(req);
	struct waiter **pp, *w = NULL;

	pthread_mutex_lock(&fs->wait_lock);
	for (pp = &fs->waiters; *pp; pp = &(*pp)->next)
		if (*pp == data) {
			w = *pp;
			*pp = w->next;
			fs->n_waiters--;
			break;
		}
	pthread_mutex_unlock(&fs->wait_lock);
	if (w) {
		fuse_reply_err(w->req, EINTR);
		free(w);
	}
}

/* Takes the parked reader w out, if it is still parked; true if it was. */
static bool waiter_take(struct fs *fs, struct waiter *w)
{
	bool found = false;

	pthread_mutex_lock(&fs->wait_lock);
	for (struct waiter **pp = &fs->waiters; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			fs->n_waiters--;
			found = true;
			break;
		}
	pthread_mutex_unlock(&fs->wait_lock);
	return found;
}

/* The state line, cut to what the reader asked for. */
static void reply_state(fuse_req_t req, enum task_state s, size_t size)
{
	char line[16];
	int n = snprintf(line, sizeof(line), "%s\n", shown_state(s));

	fuse_reply_buf(req, line, (size_t)n < size ? (size_t)n : size);
}

/* A read of `wait`: parked until the task ends; never holds a thread. */
void wait_read(struct fs *fs, fuse_req_t req, struct handle *h, off_t off,
	       size_t size)
{
	struct waiter *w;
	struct task_info t;
	int r;

	if (off > 0) {
		fuse_reply_buf(req, NULL, 0);	/* the state line was read */
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
	/* Park first, then look: a finish in between cannot be missed. */
	pthread_mutex_lock(&fs->wait_lock);
	w->next = fs->waiters;
	fs->waiters = w;
	fs->n_waiters++;
	pthread_mutex_unlock(&fs->wait_lock);
	fuse_req_interrupt_func(req, waiter_interrupted, w);
	r = store_get_task(fs->store, h->id, &t);
	if (r < 0 || task_state_final(t.state)) {
		if (waiter_take(fs, w)) {
			if (r < 0)
				fuse_reply_err(req, -r);
			else
				reply_state(req, t.state, size);
			free(w);
		}
	}
	if (r == 0)
		task_info_finish(&t);
}

void fs_tasks_finished(void *arg, const int64_t *ids, const enum task_state *states, size_t n)
{
	struct fs *fs = arg;
	struct waiter *ready = NULL;

	pthread_mutex_lock(&fs->wait_lock);
	for (struct waiter **pp = &fs->waiters; *pp;) {
		struct waiter *w = *pp;
		size_t i;

		for (i = 0; i < n && ids[i] != w->id; i++)
			;
		if (i < n) {
			*pp = w->next;
			fs->n_waiters--;
			w->next = ready;
			w->state = states[i];
			ready = w;
		} else {
			pp = &w->next;
		}
	}
	pthread_mutex_unlock(&fs->wait_lock);
	while (ready) {
		struct waiter *w = ready;

		ready = w->next;
		reply_state(w->req, w->state, w->size);
		free(w);
	}
}

void fs_release_waiters(struct fs *fs)
{
	struct waiter *all;

	if (!fs)
		return;
	pthread_mutex_lock(&fs->wait_lock);
	all = fs->waiters;
	fs->waiters = NULL;
	fs->n_waiters = 0;
	pthread_mutex_unlock(&fs->wait_lock);
	while (all) {
		struct waiter *w = all;

		all = w->next;
		fuse_reply_err(w->req, EINTR);
		free(w);
	}
}
