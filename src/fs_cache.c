/*
 * The filesystem's name caches: the index of the files being written, the
 * negative lookup cache and the list of files just released, which spare
 * the store most lookups.
 */
#include "fs_internal.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"

struct staged *staged_by_ino(struct fs *fs, fuse_ino_t ino)
{
	for (struct staged *s = fs->staged; s; s = s->next)
		if (s->ino == ino)
			return s;
	return NULL;
}

struct staged *staged_by_name(struct fs *fs, size_t pool, const char *name)
{
	for (struct staged *s = fs->staged; s; s = s->next)
		if (s->listed && s->pool == pool && strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

struct neg_entry *neg_slot(struct fs *fs, size_t pool, const char *name)
{
	uint64_t h = 1469598103934665603ULL ^ pool;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return &fs->neg[h % NEG_SLOTS];
}

/* Whether name is known not to be pending in the pool.  Under fs->lock. */
bool neg_known(struct fs *fs, size_t pool, const char *name)
{
	const struct neg_entry *n = neg_slot(fs, pool, name);

	return n->expires_ms > mono_ms() && n->pool == pool && strcmp(n->name, name) == 0;
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
}

/* s loses its name (to the store's pending task, or for good).  Under fs->lock. */
void staged_unlist(struct fs *fs, struct staged *s)
{
	s->listed = false;
	neg_forget(fs, s->pool, s->name);
}

void released_free(struct released *r)
{
	free(r->name);
	free(r);
}

/* Drops the entries whose rows may have changed, and the one named name
 * (NULL: none).  Under fs->lock. */
void released_prune(struct fs *fs, size_t pool, const char *name)
{
	int64_t now = mono_ms();

	for (struct released **pp = &fs->released; *pp; ) {
		struct released *r = *pp;

		if (r->expires_ms <= now ||
		    (fs->executor && executor_release_settled(fs->executor, r->seq)) ||
		    (name && r->pool == pool && strcmp(r->name, name) == 0)) {
			*pp = r->next;
			released_free(r);
			fs->n_released--;
		} else {
			pp = &r->next;
		}
	}
}

/* Remembers s's task as released, its release not yet numbered (seq
 * UINT64_MAX: never settled until released_number()).  Under fs->lock, in
 * the same critical section that takes s's name away, so that an `rm`
 * coming after finds it. */
void released_add_locked(struct fs *fs, const struct staged *s)
{
	struct released *r;

	released_prune(fs, s->pool, s->name);
	r = fs->n_released < RELEASED_MAX ? calloc(1, sizeof(*r)) : NULL;
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
	fs->released = r;
	fs->n_released++;
}

/* Task id's release got number seq from the executor, or (seq 0) was not
 * taken by it: then its row changes now, and the store answers. */
void released_number(struct fs *fs, int64_t id, uint64_t seq)
{
	pthread_mutex_lock(&fs->lock);
	for (struct released **pp = &fs->released; *pp; pp = &(*pp)->next) {
		struct released *r = *pp;

		if (r->id != id)
			continue;
		if (seq) {
			r->seq = seq;
		} else {
			*pp = r->next;
			released_free(r);
			fs->n_released--;
		}
		break;
	}
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
	released_prune(fs, 0, NULL);
	for (const struct released *r = fs->released; r; r = r->next)
		if (name ? r->pool == pool && strcmp(r->name, name) == 0 : r->id == id)
			return r;
	return NULL;
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
	struct staged **pp;

	if (s->listed || s->open_count > 0 || s->nlookup > 0 || s->pins > 0)
		return;
	for (pp = &fs->staged; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	free(s->name);
	staged_drop_data(fs, s);
	free(s);
}
