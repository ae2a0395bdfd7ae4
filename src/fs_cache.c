/*
 * The filesystem's name caches: the index of the files being written, the
 * negative lookup cache and the list of files just released, which spare
 * the store most lookups; and the notifier that lets the kernel forget
 * submitted files.
 *
 * Every lookup and create consults them, so each is a hash table: a mount
 * that has taken a hundred thousand files answers as fast as a fresh one.
 */
#include "fs_internal.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

#define INDEX_MIN 256

uint64_t name_hash(size_t pool, const char *name)
{
	uint64_t h = 1469598103934665603ULL ^ pool;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h;
}

static uint64_t int_hash(uint64_t v)
{
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdULL;
	v ^= v >> 33;
	return v;
}

static struct staged **ino_bucket(struct fs *fs, fuse_ino_t ino)
{
	return &fs->ino_index[int_hash(ino) & (fs->index_cap - 1)];
}

static struct staged **name_bucket(struct fs *fs, size_t pool, const char *name)
{
	return &fs->name_index[name_hash(pool, name) & (fs->index_cap - 1)];
}

int fs_cache_init(struct fs *fs)
{
	fs->ino_index = calloc(INDEX_MIN, sizeof(*fs->ino_index));
	fs->name_index = calloc(INDEX_MIN, sizeof(*fs->name_index));
	if (!fs->ino_index || !fs->name_index) {
		free(fs->ino_index);
		free(fs->name_index);
		fs->ino_index = fs->name_index = NULL;
		return -ENOMEM;
	}
	fs->index_cap = INDEX_MIN;
	pthread_cond_init(&fs->inval_cond, NULL);
	return 0;
}

/* Doubles the tables when they hold more entries than buckets.  A failed
 * allocation keeps the old ones: chains grow longer, nothing is lost. */
static void index_grow(struct fs *fs)
{
	size_t cap = fs->index_cap * 2;
	struct staged **ino = calloc(cap, sizeof(*ino)), **name = calloc(cap, sizeof(*name));
	struct staged **old_ino = fs->ino_index, **old_name = fs->name_index;
	size_t old_cap = fs->index_cap;

	if (!ino || !name) {
		free(ino);
		free(name);
		return;
	}
	fs->ino_index = ino;
	fs->name_index = name;
	fs->index_cap = cap;
	for (size_t i = 0; i < old_cap; i++) {
		for (struct staged *s = old_ino[i], *n; s; s = n) {
			struct staged **b = ino_bucket(fs, s->ino);

			n = s->by_ino;
			s->by_ino = *b;
			*b = s;
		}
		for (struct staged *s = old_name[i], *n; s; s = n) {
			struct staged **b = name_bucket(fs, s->pool, s->name);

			n = s->by_name;
			s->by_name = *b;
			*b = s;
		}
	}
	free(old_ino);
	free(old_name);
}

static void name_index_add(struct fs *fs, struct staged *s)
{
	struct staged **b = name_bucket(fs, s->pool, s->name);

	s->by_name = *b;
	*b = s;
}

static void name_index_remove(struct fs *fs, struct staged *s)
{
	for (struct staged **pp = name_bucket(fs, s->pool, s->name); *pp; pp = &(*pp)->by_name)
		if (*pp == s) {
			*pp = s->by_name;
			break;
		}
	s->by_name = NULL;
}

/* Numbers a new listed s and indexes it.  Under fs->lock. */
void staged_insert(struct fs *fs, struct staged *s)
{
	struct staged **b;

	if (fs->n_staged >= fs->index_cap)
		index_grow(fs);
	s->ino = INO_STAGED_BIT | ++fs->next_staged;
	s->prev = NULL;
	s->next = fs->staged;
	if (fs->staged)
		fs->staged->prev = s;
	fs->staged = s;
	b = ino_bucket(fs, s->ino);
	s->by_ino = *b;
	*b = s;
	if (s->listed)
		name_index_add(fs, s);
	fs->n_staged++;
}

struct staged *staged_by_ino(struct fs *fs, fuse_ino_t ino)
{
	for (struct staged *s = *ino_bucket(fs, ino); s; s = s->by_ino)
		if (s->ino == ino)
			return s;
	return NULL;
}

struct staged *staged_by_name(struct fs *fs, size_t pool, const char *name)
{
	for (struct staged *s = *name_bucket(fs, pool, name); s; s = s->by_name)
		if (s->listed && s->pool == pool && strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

/* s (listed or not) takes name (owned from now on) in pool.  Under fs->lock. */
void staged_rename(struct fs *fs, struct staged *s, size_t pool, char *name)
{
	if (s->listed)
		name_index_remove(fs, s);
	free(s->name);
	s->name = name;
	s->pool = pool;
	if (s->listed)
		name_index_add(fs, s);
}

/* s gets its name back (a submission that failed).  Under fs->lock. */
void staged_relist(struct fs *fs, struct staged *s)
{
	if (s->listed)
		return;
	s->listed = true;
	name_index_add(fs, s);
}

struct neg_entry *neg_slot(struct fs *fs, size_t pool, const char *name)
{
	return &fs->neg[name_hash(pool, name) % NEG_SLOTS];
}

void fresh_id_add(struct fs *fs, int64_t id, uid_t uid)
{
	struct fresh_id *f = &fs->fresh[(uint64_t)id % FRESH_SLOTS];

	pthread_mutex_lock(&fs->lock);
	f->id = id;
	f->uid = uid;
	pthread_mutex_unlock(&fs->lock);
}

bool fresh_id_take(struct fs *fs, int64_t id, uid_t uid)
{
	struct fresh_id *f = &fs->fresh[(uint64_t)id % FRESH_SLOTS];
	bool mine;

	pthread_mutex_lock(&fs->lock);
	mine = f->id == id && f->uid == uid;
	if (mine)
		f->id = 0;
	pthread_mutex_unlock(&fs->lock);
	return mine;
}

/* For how many more ms name is known not to be pending in the pool (0:
 * not known).  Under fs->lock. */
int64_t neg_left_ms(struct fs *fs, size_t pool, const char *name)
{
	const struct neg_entry *n = neg_slot(fs, pool, name);
	int64_t left = n->expires_ms - mono_ms();

	return left > 0 && n->pool == pool && strcmp(n->name, name) == 0 ? left : 0;
}

/*
 * Remembers that a store lookup found nothing, unless a local name may have
 * become pending meanwhile: gen is the slot's generation when the lookup
 * began (slot_gen), or fs->neg_gen (when the name was not known then).
 */
void neg_remember(struct fs *fs, size_t pool, const char *name, uint64_t gen,
		  bool slot_gen)
{
	struct neg_entry *n;

	if (strlen(name) >= sizeof(n->name))
		return;
	pthread_mutex_lock(&fs->lock);
	n = neg_slot(fs, pool, name);
	if (gen == (slot_gen ? n->gen : fs->neg_gen)) {
		n->pool = pool;
		strcpy(n->name, name);
		n->expires_ms = mono_ms() + (int64_t)(TTL_NEGATIVE * 1000);
	}
	pthread_mutex_unlock(&fs->lock);
}

/* A name may be pending in the store from now on.  Under fs->lock. */
void neg_forget(struct fs *fs, size_t pool, const char *name)
{
	struct neg_entry *n = neg_slot(fs, pool, name);

	if (n->pool == pool && strcmp(n->name, name) == 0)
		n->expires_ms = 0;
	n->gen++;
	fs->neg_gen++;
	absent_note(fs, pool, name);
}

/* s loses its name (to the store's pending task, or for good).  Under fs->lock. */
void staged_unlist(struct fs *fs, struct staged *s)
{
	if (s->listed)
		name_index_remove(fs, s);
	s->listed = false;
	neg_forget(fs, s->pool, s->name);
}

void released_free(struct released *r)
{
	free(r->name);
	free(r);
}

static struct released **released_name_bucket(struct fs *fs, size_t pool, const char *name)
{
	return &fs->released_name_index[name_hash(pool, name) & (RELEASED_BUCKETS - 1)];
}

static struct released **released_id_bucket(struct fs *fs, int64_t id)
{
	return &fs->released_id_index[int_hash((uint64_t)id) & (RELEASED_BUCKETS - 1)];
}

static void released_remove(struct fs *fs, struct released *r)
{
	struct released **pp;

	if (r->prev)
		r->prev->next = r->next;
	else
		fs->released = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		fs->released_oldest = r->prev;
	for (pp = released_name_bucket(fs, r->pool, r->name); *pp; pp = &(*pp)->by_name)
		if (*pp == r) {
			*pp = r->by_name;
			break;
		}
	for (pp = released_id_bucket(fs, r->id); *pp; pp = &(*pp)->by_id)
		if (*pp == r) {
			*pp = r->by_id;
			break;
		}
	released_free(r);
	fs->n_released--;
}

/* Whether r's row may have changed since it was released. */
static bool released_stale(struct fs *fs, const struct released *r, int64_t now)
{
	return r->expires_ms <= now ||
	       (fs->executor && executor_release_settled(fs->executor, r->seq));
}

static struct released *released_by_name(struct fs *fs, size_t pool, const char *name)
{
	for (struct released *r = *released_name_bucket(fs, pool, name); r; r = r->by_name)
		if (r->pool == pool && strcmp(r->name, name) == 0)
			return r;
	return NULL;
}

static struct released *released_by_id(struct fs *fs, int64_t id)
{
	for (struct released *r = *released_id_bucket(fs, id); r; r = r->by_id)
		if (r->id == id)
			return r;
	return NULL;
}

/*
 * Drops the entries whose rows may have changed, and the one named name
 * (NULL: none).  Under fs->lock.  Entries expire, and the executor settles
 * them, in about the order they came: dropping from the oldest end until
 * one is still good keeps this O(1) amortised.  One that stays good past
 * an older one is caught when it is looked up (released_get).
 */
void released_prune(struct fs *fs, size_t pool, const char *name)
{
	int64_t now = mono_ms();
	struct released *r;

	while (fs->released_oldest && released_stale(fs, fs->released_oldest, now))
		released_remove(fs, fs->released_oldest);
	if (name && (r = released_by_name(fs, pool, name)))
		released_remove(fs, r);
}

/* Remembers s's task as released, its release not yet numbered (seq
 * UINT64_MAX: never settled until released_number()).  Under fs->lock, in
 * the same critical section that takes s's name away, so that an `rm`
 * coming after finds it.  At most RELEASED_MAX are kept: the oldest goes
 * first, and lookups of its name ask the store. */
void released_add_locked(struct fs *fs, const struct staged *s)
{
	struct released *r, **b;

	released_prune(fs, s->pool, s->name);
	if (fs->n_released >= RELEASED_MAX)
		released_remove(fs, fs->released_oldest);
	r = calloc(1, sizeof(*r));
	if (r && !(r->name = strdup(s->name))) {
		free(r);
		r = NULL;
	}
	if (!r)
		return;		/* lookups ask the store instead */
	r->pool = s->pool;
	r->id = s->task_id;
	r->uid = s->uid;
	r->gid = s->gid;
	r->size = (int64_t)s->data.len;
	r->submitted_us = s->submitted_us;
	r->seq = UINT64_MAX;
	r->expires_ms = mono_ms() + RELEASED_MS;
	r->next = fs->released;
	if (r->next)
		r->next->prev = r;
	else
		fs->released_oldest = r;
	fs->released = r;
	b = released_name_bucket(fs, r->pool, r->name);
	r->by_name = *b;
	*b = r;
	b = released_id_bucket(fs, r->id);
	r->by_id = *b;
	*b = r;
	fs->n_released++;
}

/* Task id's row changed under this mount's feet (a cancel or retry by
 * id): its released entry, if any, says nothing true any more.  Under
 * fs->lock. */
void released_forget(struct fs *fs, int64_t id)
{
	struct released *r = released_by_id(fs, id);

	if (r)
		released_remove(fs, r);
}

/* Task id's release got number seq from the executor, or (seq 0) was not
 * taken by it: then its row changes now, and the store answers. */
void released_number(struct fs *fs, int64_t id, uint64_t seq)
{
	struct released *r;

	pthread_mutex_lock(&fs->lock);
	r = released_by_id(fs, id);
	if (r && seq)
		r->seq = seq;
	else if (r)
		released_remove(fs, r);
	pthread_mutex_unlock(&fs->lock);
}

static void released_info(const struct released *r, struct task_info *t)
{
	memset(t, 0, sizeof(*t));
	t->id = r->id;
	t->state = TASK_STAGED;
	t->uid = r->uid;
	t->gid = r->gid;
	t->query_size = r->size;
	t->submitted_us = t->changed_us = r->submitted_us;
	t->rows = -1;
}

/* The released entry named name in pool, or (name NULL) of task id, whose
 * row is still staged; NULL if none.  Under fs->lock. */
static const struct released *released_get(struct fs *fs, size_t pool, const char *name,
					    int64_t id)
{
	struct released *r;

	released_prune(fs, 0, NULL);
	r = name ? released_by_name(fs, pool, name) : released_by_id(fs, id);
	if (r && released_stale(fs, r, mono_ms())) {
		released_remove(fs, r);
		r = NULL;
	}
	return r;
}

/* Fills t (its own strings: task_info_finish() it) if task id is a released
 * one still staged. */
bool released_find_id(struct fs *fs, int64_t id, struct task_info *t)
{
	const struct released *r;
	bool found = false;

	pthread_mutex_lock(&fs->lock);
	r = released_get(fs, 0, NULL, id);
	if (r) {
		released_info(r, t);
		t->pool = strdup(pool_name(fs, r->pool));
		t->name = strdup(r->name);
		found = t->pool && t->name;
		if (!found)
			task_info_finish(t);
	}
	pthread_mutex_unlock(&fs->lock);
	return found;
}

/* Fills t (strings borrowed) if name is a released task still staged. */
bool released_find(struct fs *fs, size_t pool, const char *name, struct task_info *t)
{
	const struct released *r;

	pthread_mutex_lock(&fs->lock);
	r = released_get(fs, pool, name, 0);
	if (r)
		released_info(r, t);
	pthread_mutex_unlock(&fs->lock);
	if (!r)
		return false;
	t->pool = (char *)pool_name(fs, pool);
	t->name = (char *)name;
	return true;
}

/* Frees s once it has no name, no opener and no kernel reference. */
void staged_maybe_free(struct fs *fs, struct staged *s)
{
	if (s->listed || s->open_count > 0 || s->nlookup > 0 || s->pins > 0)
		return;
	if (s->prev)
		s->prev->next = s->next;
	else
		fs->staged = s->next;
	if (s->next)
		s->next->prev = s->prev;
	for (struct staged **pp = ino_bucket(fs, s->ino); *pp; pp = &(*pp)->by_ino)
		if (*pp == s) {
			*pp = s->by_ino;
			break;
		}
	fs->n_staged--;
	if (s->row_unknown)
		atomic_fetch_sub(&fs->n_row_unknown, 1);
	free(s->name);
	staged_drop_data(fs, s);
	free(s);
}

/* ------------------------------------------------------------------ */
/* the notifier                                                        */

/*
 * A submitted file keeps its struct staged until the kernel forgets its
 * inode, and the kernel keeps an unused dentry (and so the inode) until
 * memory runs short: a mount that took 100,000 files would hold them all.
 * Invalidating the entry makes the kernel drop it, and its FORGET frees
 * the struct.  libfuse forbids notifications from inside a request
 * handler (the kernel may wait on the very request for a lock the
 * notification needs: doc/README.notifications), so handlers queue the
 * names and this thread sends them.
 */
struct inval {
	struct inval *next;
	fuse_ino_t parent;
	size_t len;
	char name[];
};

/* Queued names past which more are dropped: the kernel then forgets
 * those files when memory runs short, as it would without the notifier. */
#define INVAL_MAX 65536

static void inval_free_all(struct inval *q)
{
	while (q) {
		struct inval *n = q->next;

		free(q);
		q = n;
	}
}

static void *inval_main(void *arg)
{
	struct fs *fs = arg;

	pthread_mutex_lock(&fs->lock);
	while (!fs->inval_quit) {
		struct inval *batch = fs->inval_head;

		if (!batch) {
			pthread_cond_wait(&fs->inval_cond, &fs->lock);
			continue;
		}
		fs->inval_head = fs->inval_tail = NULL;
		fs->n_inval = 0;
		/* -ENOENT (the kernel had dropped it already) is the usual
		 * answer when the writer looked the name up again. */
		for (struct inval *q = batch; q && !fs->inval_quit; q = q->next) {
			pthread_mutex_unlock(&fs->lock);
			(void)fuse_lowlevel_notify_inval_entry(fs->inval_se, q->parent, q->name,
							       q->len);
			pthread_mutex_lock(&fs->lock);
		}
		inval_free_all(batch);
	}
	fs->inval_exited = true;
	pthread_mutex_unlock(&fs->lock);
	return NULL;
}

/*
 * Starts the notifier, once the session runs (the daemon has forked).  If
 * it cannot start, submitted files are freed when the kernel forgets them
 * by itself.
 */
void inval_start(struct fs *fs)
{
	sigset_t all, old;

	pthread_mutex_lock(&fs->lock);
	/* The stopper may have closed the session before INIT came. */
	if (!fs->se || fs->inval_closed || fs->inval_running) {
		pthread_mutex_unlock(&fs->lock);
		return;
	}
	/* Its own copy, taken under the lock: fs->se changes under it. */
	fs->inval_se = fs->se;
	fs->inval_quit = false;
	fs->inval_exited = false;
	/* Signals go to the FUSE loop, which ends on them. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	fs->inval_running = pthread_create(&fs->inval_thread, NULL, inval_main, fs) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_mutex_unlock(&fs->lock);
}

/*
 * Stops the notifier before the session goes; drops what is queued.
 *
 * An invalidation waits for the directory's lock, which a create in that
 * directory holds until it is answered.  Once the FUSE loop has stopped,
 * nobody answers, and the notifier's write would also keep /dev/fuse open
 * past the unmount, so that the kernel never fails those requests either:
 * while the notifier is still sending, the requests that arrive are
 * answered here.
 */
void inval_stop(struct fs *fs)
{
	struct fuse_buf fbuf = { .mem = NULL };
	struct fuse_session *se;
	struct inval *q;
	bool exited;

	pthread_mutex_lock(&fs->lock);
	if (!fs->inval_running) {
		pthread_mutex_unlock(&fs->lock);
		return;
	}
	fs->inval_quit = true;
	pthread_cond_signal(&fs->inval_cond);
	exited = fs->inval_exited;
	se = fs->inval_se;
	pthread_mutex_unlock(&fs->lock);
	while (!exited) {
		if (se) {
			struct pollfd pfd = { .fd = fuse_session_fd(se), .events = POLLIN };

			if (poll(&pfd, 1, 20) == 1 && (pfd.revents & POLLIN) &&
			    fuse_session_receive_buf(se, &fbuf) > 0)
				fuse_session_process_buf(se, &fbuf);
		} else {
			struct timespec ts = { 0, 20 * 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
		pthread_mutex_lock(&fs->lock);
		exited = fs->inval_exited;
		pthread_mutex_unlock(&fs->lock);
	}
	free(fbuf.mem);
	pthread_join(fs->inval_thread, NULL);
	pthread_mutex_lock(&fs->lock);
	fs->inval_running = false;
	q = fs->inval_head;
	fs->inval_head = fs->inval_tail = NULL;
	fs->n_inval = 0;
	pthread_mutex_unlock(&fs->lock);
	inval_free_all(q);
}

/*
 * Queues name in directory parent for the notifier: the kernel drops its
 * entry (positive or negative) soon after.  Under fs->lock.
 */
void inval_entry_add(struct fs *fs, fuse_ino_t parent, const char *name)
{
	size_t len = strlen(name);
	struct inval *q;

	if (!fs->inval_running || fs->n_inval >= INVAL_MAX)
		return;
	q = malloc(sizeof(*q) + len + 1);
	if (!q)
		return;		/* the kernel's entry times out by itself */
	q->next = NULL;
	q->parent = parent;
	q->len = len;
	memcpy(q->name, name, len + 1);
	if (fs->inval_tail)
		fs->inval_tail->next = q;
	else
		fs->inval_head = q;
	fs->inval_tail = q;
	fs->n_inval++;
	pthread_cond_signal(&fs->inval_cond);
}

/*
 * s has been submitted (or refused for good) and has lost its name, which
 * the kernel knows as name in pool: asks the kernel to drop that entry,
 * so that its FORGET comes and s is freed.  Under fs->lock.
 */
void staged_let_go(struct fs *fs, const struct staged *s, size_t pool, const char *name)
{
	if (s->nlookup == 0)
		return;
	inval_entry_add(fs, INO_POOL_BASE + pool, name);
}

/* Frees everything the caches hold; the notifier is stopped first. */
void fs_cache_finish(struct fs *fs)
{
	inval_stop(fs);
	while (fs->staged) {
		struct staged *s = fs->staged;

		fs->staged = s->next;
		free(s->name);
		buf_finish(&s->data);
		free(s);
	}
	while (fs->released) {
		struct released *r = fs->released;

		fs->released = r->next;
		released_free(r);
	}
	free(fs->ino_index);
	free(fs->name_index);
	if (fs->index_cap)
		pthread_cond_destroy(&fs->inval_cond);
}
