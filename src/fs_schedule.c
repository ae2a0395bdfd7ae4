/*
 * schedules/<pool>/NAME.sql (DESIGN.md, "Schedules"): files whose
 * "-- pgqfs:" header has every= or cron=, stored in the control database
 * (so listed and read back on every mount) and fired by the executors
 * (src/schedule.c).  A schedule is not a task: it belongs to its writer,
 * who replaces it by writing it again and ends it with rm.
 *
 * A file is written into a buffer of its open file description and
 * stored at each flush (close()) that follows writes: checked first, so a
 * file that is not a schedule is refused there with EINVAL and a log line
 * saying why, and nothing is stored.  Two writers of one name each store
 * their own copy; the last flush wins.
 *
 * Inodes: schedules/ and schedules/<pool>/ are computed; a schedule file's
 * is the index of its (pool, name) in a table of names, a slot held while
 * the kernel knows the inode, a writer has it open, or a listing or a
 * request pins it, and taken by a new name once idle (struct sched_name).
 */
#include "fs_schedule.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "cron.h"
#include "header.h"
#include "log.h"




const char *sched_where(const struct fs *fs, size_t pool, char *buf, size_t cap)
{
	snprintf(buf, cap, "schedules/%s", pool_name(fs, pool));
	return buf;
}

/* ------------------------------------------------------------------ */
/* inodes                                                              */

static inline fuse_ino_t sched_pool_ino(size_t pool)
{
	return INO_SCHED_BIT | (fuse_ino_t)(pool + 1);
}

/* The pool of schedules/<pool>/, or -1. */
int sched_pool_of(const struct fs *fs, fuse_ino_t ino)
{
	fuse_ino_t k = ino & ~INO_SCHED_BIT;

	if (!is_sched_ino(ino) || k == 0 || (k & INO_SCHED_FILE) || !pool_live(fs, k - 1))
		return -1;
	return (int)(k - 1);
}

/* The table index of a schedule file's inode, or -1 (fs->lock held). */
long sched_file_of(const struct fs *fs, fuse_ino_t ino)
{
	fuse_ino_t k = ino & ~INO_SCHED_BIT;

	if (!is_sched_ino(ino) || !(k & INO_SCHED_FILE))
		return -1;
	k &= ~INO_SCHED_FILE;
	return k < fs->n_sched_names && fs->sched_names[k].name ? (long)k : -1;
}

/* The inode of (pool, name), pinned, or 0 if it has none (fs->lock
 * held). */
static fuse_ino_t sched_name_find_pin(struct fs *fs, size_t pool, const char *name)
{
	for (size_t i = 0; i < fs->n_sched_names; i++) {
		struct sched_name *n = &fs->sched_names[i];

		if (n->name && n->pool == pool && strcmp(n->name, name) == 0) {
			n->pins++;
			return INO_SCHED_BIT | INO_SCHED_FILE | i;
		}
	}
	return 0;
}

/* Whether slot n is held by nothing (see struct sched_name). */
static bool sched_slot_idle(const struct sched_name *n)
{
	return !n->name || (n->nlookup == 0 && n->pins == 0 && n->writers == 0);
}

/*
 * The inode of (pool, name), given one if it has none, pinned (fs->lock
 * held): 0 when out of memory.  A new name takes the first idle slot, or
 * a new one: the table holds as many names as are in use at once.
 */
fuse_ino_t sched_name_ino(struct fs *fs, size_t pool, const char *name)
{
	fuse_ino_t ino = sched_name_find_pin(fs, pool, name);
	size_t idle = 0;
	struct sched_name *n;
	char *copy;

	if (ino)
		return ino;
	while (idle < fs->n_sched_names && !sched_slot_idle(&fs->sched_names[idle]))
		idle++;
	if (!(copy = strdup(name)))
		return 0;
	if (idle == fs->n_sched_names) {
		if (fs->n_sched_names == fs->cap_sched_names) {
			size_t cap = fs->cap_sched_names ? fs->cap_sched_names * 2 : 16;
			struct sched_name *p = realloc(fs->sched_names, cap * sizeof(*p));

			if (!p) {
				free(copy);
				return 0;
			}
			fs->sched_names = p;
			fs->cap_sched_names = cap;
		}
		fs->sched_names[fs->n_sched_names++].name = NULL;
	}
	n = &fs->sched_names[idle];
	free(n->name);
	memset(n, 0, sizeof(*n));
	n->pool = pool;
	n->name = copy;
	n->pins = 1;
	return INO_SCHED_BIT | INO_SCHED_FILE | idle;
}

void sched_name_unpin(struct fs *fs, fuse_ino_t ino)
{
	long i = sched_file_of(fs, ino);

	if (i >= 0 && fs->sched_names[i].pins > 0)
		fs->sched_names[i].pins--;
}

/* The kernel was told of ino n more times (n < 0: forgot it -n times). */
void sched_name_looked_up(struct fs *fs, fuse_ino_t ino, int64_t n)
{
	long i = sched_file_of(fs, ino);
	struct sched_name *sn;

	if (i < 0)
		return;
	sn = &fs->sched_names[i];
	if (n >= 0)
		sn->nlookup += (uint64_t)n;
	else
		sn->nlookup = sn->nlookup > (uint64_t)-n ? sn->nlookup - (uint64_t)-n : 0;
}

void sched_names_free(struct fs *fs)
{
	for (size_t i = 0; i < fs->n_sched_names; i++)
		free(fs->sched_names[i].name);
	free(fs->sched_names);
	fs->sched_names = NULL;
	fs->n_sched_names = fs->cap_sched_names = 0;
}

void sched_file_attr(const struct fs *fs, size_t pool, fuse_ino_t ino, uint32_t uid,
			    uint32_t gid, int64_t size, struct timespec mtime, struct stat *st)
{
	const struct config_pool *p = pool_config(fs, pool);

	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	/* Its owner's to replace; readable by others as the pool's task
	 * files are (public). */
	st->st_mode = S_IFREG | 0600 | (p && p->public ? 0044 : 0);
	st->st_nlink = 1;
	st->st_uid = uid;
	st->st_gid = gid;
	st->st_size = size;
	st->st_blksize = 4096;
	st->st_blocks = (size + 511) / 512;
	st->st_atim = st->st_mtim = st->st_ctim = mtime;
}

/*
 * Attributes of schedule file `ino`: from the store, or from this mount's
 * writer of a name not stored yet.  -ENOENT when neither.
 */
static int sched_file_attr_of(struct fs *fs, fuse_ino_t ino, struct stat *st)
{
	struct schedule_info si;
	char *name = NULL;
	size_t pool = 0;
	bool local = false;
	long i;
	int r;

	pthread_mutex_lock(&fs->lock);
	i = sched_file_of(fs, ino);
	if (i >= 0) {
		struct sched_name *n = &fs->sched_names[i];

		pool = n->pool;
		name = strdup(n->name);
		if (n->writers > 0) {
			local = true;
			sched_file_attr(fs, n->pool, ino, n->uid, n->gid, n->size, n->mtime, st);
		}
	}
	pthread_mutex_unlock(&fs->lock);
	if (i < 0)
		return -ENOENT;
	if (!name)
		return -ENOMEM;
	r = pool_live(fs, pool) ?
	    store_get_schedule(fs->store, pool_name(fs, pool), name, false, &si) : -ENOENT;
	free(name);
	if (r == 0) {
		if (!local)
			sched_file_attr(fs, pool, ino, si.uid, si.gid, si.size, us_to_ts(si.changed_us), st);
		schedule_info_finish(&si);
		return 0;
	}
	return r == -ENOENT && local ? 0 : r;
}

int sched_getattr(struct fs *fs, fuse_ino_t ino, struct stat *st, double *ttl)
{
	*ttl = TTL_NONE;
	if (ino == INO_SCHED_BIT) {
		dir_attr(fs, ino, 0555, st);
		*ttl = TTL_STATIC;
		return 0;
	}
	if (sched_pool_of(fs, ino) >= 0) {
		dir_attr(fs, ino, SCHED_DIR_MODE, st);
		*ttl = TTL_STATIC;
		return 0;
	}
	return sched_file_attr_of(fs, ino, st);
}

/* ------------------------------------------------------------------ */
/* lookup and listing                                                  */

static void reply_dir(fuse_req_t req, struct fs *fs, fuse_ino_t ino, mode_t mode)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.ino = ino;
	dir_attr(fs, ino, mode, &e.attr);
	e.attr_timeout = e.entry_timeout = TTL_STATIC;
	fuse_reply_entry(req, &e);
}

bool sched_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct fuse_entry_param e;
	fuse_ino_t ino;
	int pi, r;

	if (parent == INO_ROOT) {
		if (strcmp(name, "schedules") != 0)
			return false;
		reply_dir(req, fs, INO_SCHED_BIT, 0555);
		return true;
	}
	if (!is_sched_ino(parent))
		return false;
	if (parent == INO_SCHED_BIT) {
		for (size_t i = 0; i < pool_slots(fs); i++)
			if (pool_live(fs, i) && strcmp(name, pool_name(fs, i)) == 0) {
				reply_dir(req, fs, sched_pool_ino(i), SCHED_DIR_MODE);
				return true;
			}
		fuse_reply_err(req, ENOENT);
		return true;
	}
	pi = sched_pool_of(fs, parent);
	if (pi < 0) {
		/* A file, or a pool a reload removed. */
		fuse_reply_err(req, ENOENT);
		return true;
	}
	memset(&e, 0, sizeof(e));
	pthread_mutex_lock(&fs->lock);
	ino = sched_name_find_pin(fs, (size_t)pi, name);
	pthread_mutex_unlock(&fs->lock);
	fs_store_begin(req);
	if (ino) {
		r = sched_file_attr_of(fs, ino, &e.attr);
	} else {
		struct schedule_info si;

		r = store_get_schedule(fs->store, pool_name(fs, (size_t)pi), name, false, &si);
		if (r == 0) {
			pthread_mutex_lock(&fs->lock);
			ino = sched_name_ino(fs, (size_t)pi, name);
			pthread_mutex_unlock(&fs->lock);
			sched_file_attr(fs, (size_t)pi, ino, si.uid, si.gid, si.size,
					us_to_ts(si.changed_us), &e.attr);
			schedule_info_finish(&si);
			if (!ino)
				r = -ENOMEM;
		}
	}
	fs_store_end();
	/* Counted before the kernel can forget it; let go either way. */
	pthread_mutex_lock(&fs->lock);
	if (r == 0)
		sched_name_looked_up(fs, ino, 1);
	if (ino)
		sched_name_unpin(fs, ino);
	pthread_mutex_unlock(&fs->lock);
	if (r == -ENOENT) {
		/* No negative caching: a schedule written on another mount
		 * shows here at once. */
		e.ino = 0;
		fuse_reply_entry(req, &e);
		return true;
	}
	if (r < 0) {
		fuse_reply_err(req, -r);
		return true;
	}
	e.ino = ino;
	e.attr_timeout = e.entry_timeout = TTL_NONE;
	if (fuse_reply_entry(req, &e) != 0) {
		pthread_mutex_lock(&fs->lock);
		sched_name_looked_up(fs, ino, -1);
		pthread_mutex_unlock(&fs->lock);
	}
	return true;
}

struct sched_fill {
	struct fs *fs;
	struct dir_handle *d;
	size_t *cap;
	size_t pool;
};

static int fill_schedule(void *arg, const struct schedule_info *si)
{
	struct sched_fill *f = arg;
	struct stat st;
	fuse_ino_t ino;
	int r;

	/* Pinned while listed: the listing's entries keep their inodes
	 * (fs_dir.c lets go at releasedir). */
	pthread_mutex_lock(&f->fs->lock);
	ino = sched_name_ino(f->fs, f->pool, si->name);
	pthread_mutex_unlock(&f->fs->lock);
	if (!ino)
		return -ENOMEM;
	sched_file_attr(f->fs, f->pool, ino, si->uid, si->gid, si->size,
			us_to_ts(si->changed_us), &st);
	r = dir_add(f->d, f->cap, si->name, ino, &st, TTL_NONE);
	if (r < 0) {
		pthread_mutex_lock(&f->fs->lock);
		sched_name_unpin(f->fs, ino);
		pthread_mutex_unlock(&f->fs->lock);
	}
	return r;
}

int sched_snapshot(struct fs *fs, fuse_ino_t ino, struct dir_handle *d, size_t *cap)
{
	struct stat st;
	int r = 0, pi;

	if (ino == INO_ROOT) {
		dir_attr(fs, INO_SCHED_BIT, 0555, &st);
		return dir_add(d, cap, "schedules", INO_SCHED_BIT, &st, TTL_STATIC);
	}
	if (ino == INO_SCHED_BIT) {
		for (size_t i = 0; i < pool_slots(fs) && r == 0; i++) {
			if (!pool_live(fs, i))
				continue;
			dir_attr(fs, sched_pool_ino(i), SCHED_DIR_MODE, &st);
			r = dir_add(d, cap, pool_name(fs, i), sched_pool_ino(i), &st, TTL_STATIC);
		}
		return r;
	}
	pi = sched_pool_of(fs, ino);
	if (pi >= 0) {
		struct sched_fill f = { fs, d, cap, (size_t)pi };

		return store_list_schedules(fs->store, pool_name(fs, (size_t)pi), fill_schedule, &f);
	}
	return -ENOTDIR;
}
