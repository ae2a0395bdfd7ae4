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
 * is the index of its (pool, name) in a table of the names this daemon has
 * seen, never reused while it runs (the names are few).
 */
#include "fs_internal.h"

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

/*
 * schedules/<pool>/: anyone may write a schedule; sticky, as queue/<pool>/
 * and /tmp are, so that the kernel (default_permissions) refuses another
 * user's rm with EPERM before the store would with EACCES.  A replace by
 * another user is refused by the file's mode (EACCES), and by the store
 * (put_schedule) for a writer whose kernel has not seen the file yet.
 */
#define SCHED_DIR_MODE 01777

/* A (pool, name) this daemon has given an inode. */
struct sched_name {
	size_t pool;
	char *name;
	int writers;		/* open for writing here */
	uint32_t uid, gid;	/* of the last writer here */
	int64_t size;		/* what the last writer here has written */
	struct timespec mtime;
};

/* An open schedule file. */
struct sched_handle {
	struct open_obj obj;	/* first: the list links */
	pthread_mutex_t lock;
	size_t pool;
	char *name;
	fuse_ino_t ino;
	uint32_t uid, gid;	/* who opened it */
	bool write;		/* opened for writing */
	bool written;		/* bytes written since the last store */
	bool too_big;		/* a write went past max_task_bytes */
	struct buf data;
};

static const char *sched_where(const struct fs *fs, size_t pool, char *buf, size_t cap)
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
static int sched_pool_of(const struct fs *fs, fuse_ino_t ino)
{
	fuse_ino_t k = ino & ~INO_SCHED_BIT;

	if (!is_sched_ino(ino) || k == 0 || (k & INO_SCHED_FILE) || !pool_live(fs, k - 1))
		return -1;
	return (int)(k - 1);
}

/* The table index of a schedule file's inode, or -1 (fs->lock held). */
static long sched_file_of(const struct fs *fs, fuse_ino_t ino)
{
	fuse_ino_t k = ino & ~INO_SCHED_BIT;

	if (!is_sched_ino(ino) || !(k & INO_SCHED_FILE))
		return -1;
	k &= ~INO_SCHED_FILE;
	return k < fs->n_sched_names ? (long)k : -1;
}

/* The inode of (pool, name), or 0 if it has none (fs->lock held). */
static fuse_ino_t sched_name_find(const struct fs *fs, size_t pool, const char *name)
{
	for (size_t i = 0; i < fs->n_sched_names; i++)
		if (fs->sched_names[i].pool == pool && strcmp(fs->sched_names[i].name, name) == 0)
			return INO_SCHED_BIT | INO_SCHED_FILE | i;
	return 0;
}

/*
 * The inode of (pool, name), given one if it has none (fs->lock held):
 * 0 when out of memory.  Only names that are schedules, or being written,
 * get one: a lookup of any name must not grow the table.
 */
static fuse_ino_t sched_name_ino(struct fs *fs, size_t pool, const char *name)
{
	struct sched_name *n;
	fuse_ino_t ino = sched_name_find(fs, pool, name);

	if (ino)
		return ino;
	if (fs->n_sched_names == fs->cap_sched_names) {
		size_t cap = fs->cap_sched_names ? fs->cap_sched_names * 2 : 16;
		struct sched_name *p = realloc(fs->sched_names, cap * sizeof(*p));

		if (!p)
			return 0;
		fs->sched_names = p;
		fs->cap_sched_names = cap;
	}
	n = &fs->sched_names[fs->n_sched_names];
	memset(n, 0, sizeof(*n));
	n->pool = pool;
	n->name = strdup(name);
	if (!n->name)
		return 0;
	return INO_SCHED_BIT | INO_SCHED_FILE | fs->n_sched_names++;
}

void sched_names_free(struct fs *fs)
{
	for (size_t i = 0; i < fs->n_sched_names; i++)
		free(fs->sched_names[i].name);
	free(fs->sched_names);
	fs->sched_names = NULL;
	fs->n_sched_names = fs->cap_sched_names = 0;
}

static void sched_file_attr(const struct fs *fs, size_t pool, fuse_ino_t ino, uint32_t uid,
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
	ino = sched_name_find(fs, (size_t)pi, name);
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
	fuse_reply_entry(req, &e);
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

	pthread_mutex_lock(&f->fs->lock);
	ino = sched_name_ino(f->fs, f->pool, si->name);
	pthread_mutex_unlock(&f->fs->lock);
	if (!ino)
		return -ENOMEM;
	sched_file_attr(f->fs, f->pool, ino, si->uid, si->gid, si->size,
			us_to_ts(si->changed_us), &st);
	return dir_add(f->d, f->cap, si->name, ino, &st, TTL_NONE);
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

/* ------------------------------------------------------------------ */
/* open, read, write                                                   */

static void sched_handle_free(struct sched_handle *h)
{
	if (!h)
		return;
	buf_finish(&h->data);
	free(h->name);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

static void sched_obj_free(struct open_obj *o)
{
	sched_handle_free((struct sched_handle *)o);
}

/* A new handle of schedule file ino (writers counted); NULL and *ret_err. */
static struct sched_handle *sched_handle_new(struct fs *fs, fuse_ino_t ino,
					     const struct fuse_ctx *ctx, bool write, int *ret_err)
{
	struct sched_handle *h = calloc(1, sizeof(*h));
	long i;

	if (!h) {
		*ret_err = -ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&h->lock, NULL);
	buf_init(&h->data);
	h->ino = ino;
	h->uid = ctx->uid;
	h->gid = ctx->gid;
	h->write = write;
	pthread_mutex_lock(&fs->lock);
	i = sched_file_of(fs, ino);
	/* A pool a reload removed has no schedules here any more. */
	if (i >= 0 && pool_live(fs, fs->sched_names[i].pool)) {
		struct sched_name *n = &fs->sched_names[i];

		h->pool = n->pool;
		h->name = strdup(n->name);
		if (h->name && write) {
			n->writers++;
			n->uid = ctx->uid;
			n->gid = ctx->gid;
			n->size = 0;
			clock_gettime(CLOCK_REALTIME, &n->mtime);
		}
	} else {
		i = -1;
	}
	pthread_mutex_unlock(&fs->lock);
	if (!h->name) {
		*ret_err = i < 0 ? -ENOENT : -ENOMEM;
		pthread_mutex_destroy(&h->lock);
		free(h);
		return NULL;
	}
	return h;
}

/* The writer of h goes: its name no longer shows what it wrote. */
static void sched_writer_gone(struct fs *fs, struct sched_handle *h)
{
	long i;

	if (!h->write)
		return;
	pthread_mutex_lock(&fs->lock);
	i = sched_file_of(fs, h->ino);
	if (i >= 0 && fs->sched_names[i].writers > 0)
		fs->sched_names[i].writers--;
	pthread_mutex_unlock(&fs->lock);
}

/* Sizes the name's local attributes to what a writer holds. */
static void sched_note_size(struct fs *fs, const struct sched_handle *h, size_t len)
{
	long i;

	pthread_mutex_lock(&fs->lock);
	i = sched_file_of(fs, h->ino);
	if (i >= 0) {
		fs->sched_names[i].size = (int64_t)len;
		clock_gettime(CLOCK_REALTIME, &fs->sched_names[i].mtime);
	}
	pthread_mutex_unlock(&fs->lock);
}

/* Replies to an open or create with h, or frees it. */
static void sched_reply_open(fuse_req_t req, struct fs *fs, struct sched_handle *h,
			     struct fuse_file_info *fi, const struct fuse_entry_param *e)
{
	int r;

	fi->fh = (uintptr_t)h;
	fi->direct_io = 1;	/* another mount may change it: no page cache */
	h->obj.free = sched_obj_free;
	open_add(fs, &h->obj);
	r = e ? fuse_reply_create(req, e, fi) : fuse_reply_open(req, fi);
	if (r != 0) {
		open_remove(fs, &h->obj);
		sched_writer_gone(fs, h);
		sched_handle_free(h);
	}
}

void sched_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		  struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	int pi = sched_pool_of(fs, parent);
	struct fuse_entry_param e;
	struct sched_handle *h;
	char where[128];
	fuse_ino_t ino;
	bool dot;
	int err = 0;

	if (pi < 0) {
		refuse(req, EACCES, "create", name,
		       "schedules are written in schedules/<pool>/");
		return;
	}
	sched_where(fs, (size_t)pi, where, sizeof(where));
	err = queue_name_errno(name, &dot);
	if (err || dot) {
		refuse(req, err ? err : EINVAL, where, name,
		       "a schedule is NAME.sql (no control characters, UTF-8, no leading dot)");
		return;
	}
	pthread_mutex_lock(&fs->lock);
	ino = sched_name_ino(fs, (size_t)pi, name);
	pthread_mutex_unlock(&fs->lock);
	if (!ino) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	h = sched_handle_new(fs, ino, fuse_req_ctx(req), true, &err);
	if (!h) {
		fuse_reply_err(req, -err);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.ino = ino;
	sched_file_attr(fs, (size_t)pi, ino, h->uid, h->gid, 0, (struct timespec){ time(NULL), 0 },
			&e.attr);
	sched_reply_open(req, fs, h, fi, &e);
}

void sched_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	bool write = (fi->flags & O_ACCMODE) != O_RDONLY;
	struct sched_handle *h;
	struct schedule_info si;
	int r = 0;

	if (ino == INO_SCHED_BIT || sched_pool_of(fs, ino) >= 0) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if ((fi->flags & O_TRUNC) && !write) {
		refuse(req, EACCES, "open of a schedule", NULL, "O_TRUNC needs write access");
		return;
	}
	h = sched_handle_new(fs, ino, fuse_req_ctx(req), write, &r);
	if (!h) {
		fuse_reply_err(req, -r);
		return;
	}
	if (!(fi->flags & O_TRUNC)) {
		/* Read back, or the start of an append. */
		fs_store_begin(req);
		r = store_get_schedule(fs->store, pool_name(fs, h->pool), h->name, true, &si);
		fs_store_end();
		if (r == -ENOENT && write)
			r = 0;	/* being created on this mount: nothing stored yet */
		else if (r == 0) {
			r = buf_append(&h->data, si.query, (size_t)si.size);
			schedule_info_finish(&si);
		}
	}
	if (r < 0) {
		sched_writer_gone(fs, h);
		sched_handle_free(h);
		fuse_reply_err(req, -r);
		return;
	}
	if (write)
		sched_note_size(fs, h, h->data.len);	/* not shared yet */
	sched_reply_open(req, fs, h, fi, NULL);
}

void sched_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct sched_handle *h = (struct sched_handle *)(uintptr_t)fi->fh;
	struct buf out;

	buf_init(&out);
	pthread_mutex_lock(&h->lock);
	if ((uint64_t)off < h->data.len) {
		size_t n = h->data.len - (size_t)off;

		if (buf_append(&out, h->data.data + off, n < size ? n : size) < 0) {
			pthread_mutex_unlock(&h->lock);
			buf_finish(&out);
			fuse_reply_err(req, ENOMEM);
			return;
		}
	}
	pthread_mutex_unlock(&h->lock);
	fuse_reply_buf(req, out.data, out.len);
	buf_finish(&out);
}

/* Sets h's length (zeros when it grows): 0 or -EFBIG, -ENOMEM. */
static int sched_resize(struct fs *fs, struct sched_handle *h, uint64_t size)
{
	if (size > fs->cfg->max_task_bytes) {
		h->too_big = true;
		return -EFBIG;
	}
	if (size > h->data.len) {
		size_t more = (size_t)size - h->data.len;

		if (buf_reserve(&h->data, more) < 0)
			return -ENOMEM;
		memset(h->data.data + h->data.len, 0, more);
	}
	h->data.len = (size_t)size;
	return 0;
}

void sched_write(fuse_req_t req, const char *data, size_t size, off_t off,
		 struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct sched_handle *h = (struct sched_handle *)(uintptr_t)fi->fh;
	char where[128];
	size_t len;
	int r = 0;

	if (!h || !h->write) {
		fuse_reply_err(req, EBADF);
		return;
	}
	pthread_mutex_lock(&h->lock);
	if ((uint64_t)off + size > h->data.len)
		r = sched_resize(fs, h, (uint64_t)off + size);
	if (r == 0) {
		memcpy(h->data.data + off, data, size);
		h->written = true;
	}
	len = h->data.len;
	pthread_mutex_unlock(&h->lock);
	if (r == -EFBIG) {
		refuse(req, EFBIG, sched_where(fs, h->pool, where, sizeof(where)), h->name,
		       "the file would exceed max_task_bytes (%llu bytes); it will not be stored",
		       (unsigned long long)fs->cfg->max_task_bytes);
		return;
	}
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	sched_note_size(fs, h, len);
	fuse_reply_write(req, size);
}

int sched_setattr(fuse_req_t req, fuse_ino_t ino, const struct stat *attr, int to_set,
		  struct fuse_file_info *fi, struct stat *ret)
{
	struct fs *fs = fs_of(req);
	struct sched_handle *h = fi ? (struct sched_handle *)(uintptr_t)fi->fh : NULL;
	double ttl;
	int r;

	if (ino == INO_SCHED_BIT || sched_pool_of(fs, ino) >= 0)
		return -EROFS;
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (h && h->write) {
			size_t len;

			pthread_mutex_lock(&h->lock);
			r = sched_resize(fs, h, (uint64_t)attr->st_size);
			if (r == 0)
				h->written = true;
			len = h->data.len;
			pthread_mutex_unlock(&h->lock);
			if (r < 0)
				return r;
			sched_note_size(fs, h, len);
		} else if (attr->st_size != 0) {
			/* A truncate by name: a schedule changes by being written. */
			return -EPERM;
		}
	}
	/* Mode, owner and times (cp -p, touch): accepted, to no effect. */
	fs_store_begin(req);
	r = sched_getattr(fs, ino, ret, &ttl);
	fs_store_end();
	if (r == 0 && h && h->write && (to_set & FUSE_SET_ATTR_SIZE))
		ret->st_size = (off_t)attr->st_size;
	return r;
}

/* ------------------------------------------------------------------ */
/* storing                                                             */

/*
 * Checks the content of a schedule file and fills *d from it: 0, or
 * -EINVAL with why in err.  The strings of d point into o and text.
 */
static int sched_check(const struct fs *fs, const struct sched_handle *h,
		       struct task_options *o, struct buf *after, struct buf *text,
		       struct schedule_def *d, char *err, size_t errlen)
{
	struct timespec now;
	int64_t now_ms;
	char why[200];
	int r;

	if (header_parse(h->data.data ? h->data.data : "", h->data.len, true, o, why,
			 sizeof(why)) < 0) {
		snprintf(err, errlen, "bad \"-- pgqfs:\" header: %s", why);
		return -EINVAL;
	}
	if (!task_options_has(o, HEADER_EVERY) && !task_options_has(o, HEADER_CRON)) {
		snprintf(err, errlen, "a schedule needs every=DURATION or cron=\"MIN HOUR DOM MON "
			 "DOW\" on a \"-- pgqfs:\" header line");
		return -EINVAL;
	}
	if (o->group != HEADER_GROUP_NONE) {
		/* A group is split into its members when it is submitted;
		 * a schedule's run is one task. */
		snprintf(err, errlen, "group= cannot be used in a schedule");
		return -EINVAL;
	}
	if (task_options_has(o, HEADER_TZ) && !task_options_has(o, HEADER_CRON)) {
		snprintf(err, errlen, "tz= is the time zone of cron=; every= ticks in UTC");
		return -EINVAL;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	memset(d, 0, sizeof(*d));
	if (task_options_has(o, HEADER_EVERY)) {
		d->every_ms = (int64_t)o->every_ms;
		r = cron_every_next(o->every_ms, now_ms, &d->next_ms);
		if (r < 0) {
			snprintf(err, errlen, "every=: %s", strerror(-r));
			return -EINVAL;
		}
	} else {
		struct cron c;
		const char *tz = task_options_has(o, HEADER_TZ) ? o->tz : NULL;
		int64_t next_s;

		if (cron_parse(o->cron, &c, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "cron=\"%s\": %s", LOG_ESCAPE(o->cron), why);
			return -EINVAL;
		}
		r = tz ? cron_tz_check(tz) : 0;
		if (r < 0) {
			snprintf(err, errlen, "tz=%s: %s", LOG_ESCAPE(tz),
				 r == -ENOENT ? "no such time zone in the tz database" :
				 r == -EINVAL ? "not a time zone name" : strerror(-r));
			return -EINVAL;
		}
		r = cron_next(&c, tz, now.tv_sec, &next_s);
		if (r < 0) {
			snprintf(err, errlen, "cron=\"%s\": no next tick: %s", LOG_ESCAPE(o->cron),
				 strerror(-r));
			return -EINVAL;
		}
		d->cron = o->cron;
		d->tz = tz;
		d->next_ms = next_s * 1000;
	}
	for (size_t i = 0; i < o->n_after; i++)
		if (buf_printf(after, "%s%lld", i ? "," : "", (long long)o->after[i]) < 0)
			return -ENOMEM;
	/* Its runs' info: the options, and the schedule they come from. */
	if (header_format(o, text) < 0 ||
	    buf_printf(text, "schedule=%s/%s\n", pool_name(fs, h->pool), h->name) < 0)
		return -ENOMEM;
	d->pool = pool_name(fs, h->pool);
	d->name = h->name;
	d->uid = h->uid;
	d->gid = h->gid;
	d->data = h->data.data;
	d->len = h->data.len;
	d->priority = o->priority;
	d->after = o->n_after ? buf_cstr(after) : NULL;
	d->nb_us = task_options_has(o, HEADER_NOT_BEFORE) && !o->not_before_relative ?
		   o->not_before_ms * 1000 : -1;
	d->nb_ms = task_options_has(o, HEADER_NOT_BEFORE) && o->not_before_relative ?
		   o->not_before_ms : -1;
	d->options = buf_cstr(text);
	return 0;
}

void sched_flush(fuse_req_t req, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct sched_handle *h = (struct sched_handle *)(uintptr_t)fi->fh;
	struct task_options o;
	struct schedule_def d;
	struct buf after, text;
	char where[128], err[400];
	int r;

	if (!h || !h->write) {
		fuse_reply_err(req, 0);
		return;
	}
	buf_init(&after);
	buf_init(&text);
	sched_where(fs, h->pool, where, sizeof(where));
	pthread_mutex_lock(&h->lock);
	if (!h->written) {
		/* Nothing written since it was stored (or opened): a close of
		 * a duplicate descriptor, or a file left empty. */
		pthread_mutex_unlock(&h->lock);
		fuse_reply_err(req, 0);
		goto out;
	}
	if (h->too_big) {
		h->written = false;
		pthread_mutex_unlock(&h->lock);
		refuse(req, EFBIG, where, h->name,
		       "a write went past max_task_bytes; the schedule is not stored");
		goto out;
	}
	h->written = false;
	r = sched_check(fs, h, &o, &after, &text, &d, err, sizeof(err));
	if (r == 0) {
		/* Under h->lock: a write of a duplicate descriptor waits. */
		fs_store_begin(req);
		r = store_put_schedule(fs->store, &d);
		fs_store_end();
		if (r == -EACCES)
			snprintf(err, sizeof(err), "%s/%s is another user's schedule; only its "
				 "owner (or root) may replace it", where, h->name);
		else if (r < 0)
			snprintf(err, sizeof(err), "cannot store the schedule: %s",
				 store_last_error());
	}
	pthread_mutex_unlock(&h->lock);
	if (r < 0) {
		refuse(req, r == -ESTALE ? EIO : -r, where, h->name, "%s", err);
		goto out;
	}
	{
		char stamp[ISO_TIME_MAX];

		log_info("%s/%s: schedule stored by uid %u; its first tick is %s", where,
			 LOG_ESCAPE(h->name), (unsigned)h->uid, iso_time(d.next_ms * 1000, 3, stamp));
	}
	fuse_reply_err(req, 0);
out:
	buf_finish(&after);
	buf_finish(&text);
}

void sched_release(fuse_req_t req, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct sched_handle *h = (struct sched_handle *)(uintptr_t)fi->fh;

	if (h) {
		open_remove(fs, &h->obj);
		sched_writer_gone(fs, h);
		sched_handle_free(h);
	}
	fuse_reply_err(req, 0);
}

void sched_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	int pi = sched_pool_of(fs, parent);
	uint32_t uid = fuse_req_ctx(req)->uid;
	char where[128];
	int r;

	if (pi < 0) {
		refuse(req, EROFS, "unlink", name, "schedules/ holds the pools' directories");
		return;
	}
	sched_where(fs, (size_t)pi, where, sizeof(where));
	fs_store_begin(req);
	r = store_drop_schedule(fs->store, pool_name(fs, (size_t)pi), name, uid);
	fs_store_end();
	if (r == -ENOENT) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (r == -EACCES) {
		refuse(req, EACCES, where, name,
		       "another user's schedule; only its owner (or root) may end it");
		return;
	}
	if (r < 0) {
		refuse(req, r == -ESTALE ? EIO : -r, where, name, "cannot remove the schedule: %s",
		       store_last_error());
		return;
	}
	log_info("%s/%s: schedule ended by uid %u (runs submitted already go on)", where,
		 LOG_ESCAPE(name), (unsigned)uid);
	fuse_reply_err(req, 0);
}
