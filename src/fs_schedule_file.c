/*
 * Schedule files open (see fs_schedule.c): written into a buffer of their
 * open file description, read back, checked and stored at each flush
 * that follows writes, removed with rm.
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
#include "split.h"

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

/* The last of h: its charge goes back, and it is freed. */
static void sched_handle_done(struct fs *fs, struct sched_handle *h)
{
	pthread_mutex_lock(&fs->lock);
	held_drop(fs, h->uid, &h->charged, &h->data);
	pthread_mutex_unlock(&fs->lock);
	sched_handle_free(h);
}

/* Replies to an open or create with h, or frees it. */
/* 0, or the reply failed (the request was interrupted) and h is gone. */
static int sched_reply_open(fuse_req_t req, struct fs *fs, struct sched_handle *h,
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
		sched_handle_done(fs, h);
	}
	return r;
}

/* "<id>.sql", the name of a task id that new-id hands out. */
static bool id_name(const char *name)
{
	size_t n = strlen(name);

	if (n < 5 || name[0] < '1' || name[0] > '9' || strcmp(name + n - 4, ".sql") != 0)
		return false;
	for (size_t i = 1; i < n - 4; i++)
		if (name[i] < '0' || name[i] > '9')
			return false;
	return true;
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
	if (id_name(name)) {
		/* Its runs would hold the name of task ID, which new-id may
		 * have reserved for someone else (or will). */
		refuse(req, EINVAL, where, name,
		       "a schedule cannot be named like a task id (ID.sql): its runs would take "
		       "that id's name");
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
	pthread_mutex_lock(&fs->lock);
	if (h)
		sched_name_looked_up(fs, ino, 1);	/* before the kernel can forget it */
	sched_name_unpin(fs, ino);
	pthread_mutex_unlock(&fs->lock);
	if (!h) {
		fuse_reply_err(req, -err);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.ino = ino;
	sched_file_attr(fs, (size_t)pi, ino, h->uid, h->gid, 0, (struct timespec){ time(NULL), 0 },
			&e.attr);
	if (sched_reply_open(req, fs, h, fi, &e) != 0) {
		pthread_mutex_lock(&fs->lock);
		sched_name_looked_up(fs, ino, -1);
		pthread_mutex_unlock(&fs->lock);
	}
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
			/* Held in memory as long as it is open: charged as a
			 * file being written, or EMFILE for a reader. */
			pthread_mutex_lock(&fs->lock);
			r = held_resize(fs, h->uid, &h->charged, &h->data, (uint64_t)si.size);
			pthread_mutex_unlock(&fs->lock);
			if (r == 0 && si.size > 0)
				memcpy(h->data.data, si.query, (size_t)si.size);
			if ((r == -EDQUOT || r == -ENOSPC) && !write)
				r = -EMFILE;
			schedule_info_finish(&si);
		}
	}
	if (r < 0) {
		sched_writer_gone(fs, h);
		sched_handle_done(fs, h);
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

/* Sets h's length (zeros when it grows), charged against its writer's
 * pending bytes as a file being written in queue/ is: held_resize(). */
static int sched_resize(struct fs *fs, struct sched_handle *h, uint64_t size)
{
	int r;

	if (size > fs->cfg->max_task_bytes) {
		h->too_big = true;
		return -EFBIG;
	}
	pthread_mutex_lock(&fs->lock);
	r = held_resize(fs, h->uid, &h->charged, &h->data, size);
	pthread_mutex_unlock(&fs->lock);
	return r;
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
	if (r == -EDQUOT || r == -ENOSPC) {
		refuse(req, -r, sched_where(fs, h->pool, where, sizeof(where)), h->name,
		       "%s reached: schedules being written are held in memory as files in "
		       "queue/ are", r == -EDQUOT ? "max_pending_bytes_per_user" :
		       "max_pending_bytes");
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

/* The first tick of o strictly after now_ms: 0, or -EINVAL with why in
 * err (a bad cron= or tz=, or no tick to come). */
static int first_tick(const struct task_options *o, int64_t now_ms, int64_t *ret_ms,
		      char *err, size_t errlen)
{
	const char *tz = task_options_has(o, HEADER_TZ) ? o->tz : NULL;
	char why[200];
	struct cron c;
	int64_t next_s;
	int r;

	if (task_options_has(o, HEADER_EVERY)) {
		r = cron_every_next(o->every_ms, now_ms, ret_ms);
		if (r < 0) {
			snprintf(err, errlen, "every=: %s", strerror(-r));
			return -EINVAL;
		}
		return 0;
	}
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
	r = cron_next(&c, tz, now_ms / 1000, &next_s);
	if (r < 0) {
		snprintf(err, errlen, "cron=\"%s\": no next tick: %s", LOG_ESCAPE(o->cron),
			 strerror(-r));
		return -EINVAL;
	}
	*ret_ms = next_s * 1000;
	return 0;
}

/*
 * Checks the content of a schedule file and fills *d from it: 0, or
 * -EINVAL with why in err.  The strings of d point into o and text.
 */
static int sched_check(const struct fs *fs, const struct sched_handle *h,
		       struct task_options *o, struct buf *after, struct buf *text,
		       struct schedule_def *d, char *err, size_t errlen)
{
	char why[200];
	unsigned line = 0;
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
	/* Each run would fail so: the schedule is refused instead. */
	if (sql_cut_short_any(h->data.data ? h->data.data : "", h->data.len, &line)) {
		snprintf(err, errlen, "the file ends inside a statement at line %u; a \";\" ends it",
			 line);
		return -EINVAL;
	}
	memset(d, 0, sizeof(*d));
	/* Checked by this host's clock; sched_flush() sets the tick. */
	r = first_tick(o, wall_us() / 1000, &d->next_ms, err, errlen);
	if (r < 0)
		return r;
	if (task_options_has(o, HEADER_EVERY)) {
		d->every_ms = (int64_t)o->every_ms;
	} else {
		d->cron = o->cron;
		d->tz = task_options_has(o, HEADER_TZ) ? o->tz : NULL;
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
	int64_t now_ms;
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
	/* Under h->lock: a write of a duplicate descriptor waits.  The first
	 * tick is the first after now by the control database's clock, which
	 * fires it: this host's may be ahead (a tick missed) or behind (and
	 * fire_schedules() never fires a tick at or before this reading:
	 * schema_v15.sql.h). */
	fs_store_begin(req);
	r = sched_check(fs, h, &o, &after, &text, &d, err, sizeof(err));
	if (r == 0) {
		r = store_db_clock_ms(fs->store, &now_ms);
		if (r < 0)
			snprintf(err, sizeof(err), "cannot read the control database's clock: %s",
				 store_last_error());
		else
			r = first_tick(&o, now_ms, &d.next_ms, err, sizeof(err));
		if (r == 0)
			d.base_ms = now_ms;
	}
	if (r == 0) {
		r = store_put_schedule(fs->store, &d);
		if (r == -EACCES)
			snprintf(err, sizeof(err), "%s/%s is another user's schedule; only its "
				 "owner (or root) may replace it", where, h->name);
		else if (r == -EBUSY)
			snprintf(err, sizeof(err), "another user's task of that name is pending "
				 "in the pool, or running with retries left: its runs would be held "
				 "off by it");
		else if (r < 0)
			snprintf(err, sizeof(err), "cannot store the schedule: %s",
				 store_last_error());
	}
	fs_store_end();
	pthread_mutex_unlock(&h->lock);
	if (r < 0) {
		refuse(req, r == -ESTALE ? EIO : -r, where, h->name, "%s", err);
		goto out;
	}
	{
		char stamp[ISO_TIME_MAX];

		log_info("%s/%s: schedule stored by uid %u; its first tick is %s (by the "
			 "control database's clock)", where,
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
		sched_handle_done(fs, h);
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
