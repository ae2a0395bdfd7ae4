/*
 * The filesystem's operation table and its life: lookup, getattr, setattr
 * and forget, which dispatch on the kind of inode, and the list of open
 * files that fs_destroy empties.  The other operations live in fs_*.c
 * by concern; src/fs_internal.h is what they share.
 */
#include "fs_internal.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"

void open_add(struct fs *fs, struct open_obj *o)
{
	pthread_mutex_lock(&fs->open_lock);
	o->next = fs->open.next;
	o->prev = &fs->open;
	fs->open.next->prev = o;
	fs->open.next = o;
	pthread_mutex_unlock(&fs->open_lock);
}

void open_remove(struct fs *fs, struct open_obj *o)
{
	pthread_mutex_lock(&fs->open_lock);
	o->prev->next = o->next;
	o->next->prev = o->prev;
	pthread_mutex_unlock(&fs->open_lock);
}

static bool req_interrupted(void *req)
{
	return fuse_req_interrupted(req) != 0;
}

void fs_store_begin(fuse_req_t req)
{
	store_request_begin(fs_of(req)->store, req_interrupted, req, STORE_INTERRUPT_GRACE_MS);
}

void fs_store_end(void)
{
	store_request_end();
}

/* ------------------------------------------------------------------ */
/* lookup and getattr                                                  */

static void reply_task_entry(fuse_req_t req, const struct fs *fs, const struct task_info *t,
			     enum view v, enum file f)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.ino = task_ino(t->id, v, f);
	task_attr(fs, t, v, f, &e.attr);
	e.attr_timeout = e.entry_timeout = task_ttl(t, v);
	fuse_reply_entry(req, &e);
}

static void reply_dir_entry(fuse_req_t req, const struct fs *fs, fuse_ino_t ino, mode_t mode)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.ino = ino;
	dir_attr(fs, ino, mode, &e.attr);
	e.attr_timeout = e.entry_timeout = TTL_STATIC;
	fuse_reply_entry(req, &e);
}

static bool parse_id(const char *name, int64_t *ret)
{
	char *end;
	long long v;

	if (name[0] < '1' || name[0] > '9' || strlen(name) > 17)
		return false;
	v = strtoll(name, &end, 10);
	if (*end)
		return false;
	*ret = v;
	return true;
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct task_info t;
	int pi, r;

	if (strlen(name) > NAME_MAX) {
		/* What other filesystems answer; the kernel lets FUSE decide. */
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	if (sched_lookup(req, parent, name))
		return;		/* schedules/ */
	if (parent == INO_ROOT) {
		static const struct { const char *name; fuse_ino_t ino; } top[] = {
			{ "queue", INO_QUEUE }, { "running", INO_RUNNING }, { "done", INO_DONE },
			{ "failed", INO_FAILED }, { "tasks", INO_TASKS }, { "pools", INO_POOLS },
		};

		for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++)
			if (strcmp(name, top[i].name) == 0) {
				reply_dir_entry(req, fs, top[i].ino, 0555);
				return;
			}
		if (strcmp(name, "new-id") == 0 || strcmp(name, "stats") == 0 ||
		    strcmp(name, "metrics") == 0) {
			struct fuse_entry_param e;

			memset(&e, 0, sizeof(e));
			e.ino = name[0] == 'n' ? INO_NEW_ID : name[0] == 's' ? INO_STATS : INO_METRICS;
			special_attr(fs, e.ino, &e.attr);
			fuse_reply_entry(req, &e);
			return;
		}
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (parent == INO_QUEUE) {
		for (size_t i = 0; i < pool_slots(fs); i++)
			if (pool_live(fs, i) && strcmp(name, pool_name(fs, i)) == 0) {
				reply_dir_entry(req, fs, INO_POOL_BASE + i, 01777);
				return;
			}
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (parent == INO_POOLS || pool_ctl_known(fs, parent)) {
		pools_lookup(req, parent, name);
		return;
	}
	pi = pool_index(fs, parent);
	if (pi >= 0) {
		struct staged *s;
		struct fuse_entry_param e;
		bool dot_name, load;
		int64_t left_ms;
		uint64_t gen;

		memset(&e, 0, sizeof(e));
		pthread_mutex_lock(&fs->lock);
		s = staged_by_name(fs, (size_t)pi, name);
		if (s) {
			s->nlookup++;
			e.ino = s->ino;
			staged_attr(s, &e.attr);
		}
		pthread_mutex_unlock(&fs->lock);
		if (s) {
			fuse_reply_entry(req, &e);
			return;
		}
		if (name[0] == '.' || queue_name_errno(name, &dot_name)) {
			/* Not a name a task can have (create refuses it, and
			 * says why): nothing to ask the store. */
			fuse_reply_err(req, ENOENT);
			return;
		}
		if (released_find(fs, (size_t)pi, name, &t)) {
			reply_task_entry(req, fs, &t, V_QUEUE, F_QUERY);
			return;
		}
		pthread_mutex_lock(&fs->lock);
		left_ms = neg_left_ms(fs, (size_t)pi, name);
		if (!left_ms)
			left_ms = absent_left_ms(fs, (size_t)pi, name);
		gen = neg_slot(fs, (size_t)pi, name)->gen;
		load = !left_ms && absent_begin(fs, (size_t)pi);
		pthread_mutex_unlock(&fs->lock);
		fs_store_begin(req);
		if (load) {
			/* A burst of new names: one statement for the pool's. */
			absent_load(fs, (size_t)pi);
			pthread_mutex_lock(&fs->lock);
			left_ms = absent_left_ms(fs, (size_t)pi, name);
			pthread_mutex_unlock(&fs->lock);
		}
		r = left_ms ? -ENOENT :
			      store_get_pending(fs->store, pool_name(fs, (size_t)pi), name, &t);
		fs_store_end();
		if (r == -ENOENT) {
			if (!left_ms)
				neg_remember(fs, (size_t)pi, name, gen, true);
			/*
			 * A short negative entry: cp looks a new name up twice
			 * (stat, then open) before it creates it.  A create on
			 * this mount replaces the entry at once; a name queued
			 * by another daemon shows up within TTL_NEGATIVE, and a
			 * writer racing it gets EBUSY from close().  An absence
			 * known from before is cached only for what is left of
			 * its TTL_NEGATIVE.
			 */
			e.ino = 0;
			e.entry_timeout = left_ms ? (double)left_ms / 1000 : TTL_NEGATIVE;
			fuse_reply_entry(req, &e);
			return;
		}
		if (r < 0) {
			fuse_reply_err(req, -r);
			return;
		}
		reply_task_entry(req, fs, &t, V_QUEUE, F_QUERY);
		task_info_finish(&t);
		return;
	}
	if (view_of_dir(parent)) {
		enum view v = view_of_dir(parent);
		int64_t id;

		if (!parse_id(name, &id)) {
			fuse_reply_err(req, ENOENT);
			return;
		}
		fs_store_begin(req);
		r = store_get_task(fs->store, id, &t);
		fs_store_end();
		if (r < 0) {
			fuse_reply_err(req, -r);
			return;
		}
		if (view_shows(v, t.state))
			reply_task_entry(req, fs, &t, v, F_DIR);
		else
			fuse_reply_err(req, ENOENT);
		task_info_finish(&t);
		return;
	}
	if (is_task_ino(parent) && ino_file(parent) == F_DIR && ino_view(parent) != V_QUEUE) {
		enum file f = F_COUNT;

		for (int i = F_QUERY; i < F_COUNT; i++)
			if (strcmp(name, file_names[i]) == 0)
				f = (enum file)i;
		if (f == F_COUNT) {
			fuse_reply_err(req, ENOENT);
			return;
		}
		fs_store_begin(req);
		r = store_get_task(fs->store, ino_id(parent), &t);
		fs_store_end();
		if (r < 0) {
			fuse_reply_err(req, -r);
			return;
		}
		if (view_shows(ino_view(parent), t.state) && file_exists(&t, f))
			reply_task_entry(req, fs, &t, ino_view(parent), f);
		else
			fuse_reply_err(req, ENOENT);
		task_info_finish(&t);
		return;
	}
	fuse_reply_err(req, ENOENT);
}

static void fs_forget_one(struct fs *fs, fuse_ino_t ino, uint64_t n)
{
	struct staged *s;

	if (is_sched_file_ino(ino)) {
		pthread_mutex_lock(&fs->lock);
		sched_name_looked_up(fs, ino, -(int64_t)n);
		pthread_mutex_unlock(&fs->lock);
		return;
	}
	if (!(ino & INO_STAGED_BIT))
		return;		/* computed inodes hold nothing */
	pthread_mutex_lock(&fs->lock);
	s = staged_by_ino(fs, ino);
	if (s) {
		s->nlookup = s->nlookup > n ? s->nlookup - n : 0;
		staged_maybe_free(fs, s);
	}
	pthread_mutex_unlock(&fs->lock);
}

static void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fs_forget_one(fs_of(req), ino, nlookup);
	fuse_reply_none(req);
}

static void fs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		fs_forget_one(fs_of(req), forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

/* Attributes of any inode; -ENOENT when it is gone from its view. */
static int get_attr(struct fs *fs, fuse_ino_t ino, struct stat *st, double *ttl)
{
	struct task_info t;
	int pi, r;

	*ttl = TTL_STATIC;
	switch (ino) {
	case INO_ROOT: case INO_QUEUE: case INO_RUNNING: case INO_DONE:
	case INO_FAILED: case INO_TASKS: case INO_POOLS:
		dir_attr(fs, ino, 0555, st);
		return 0;
	case INO_NEW_ID: case INO_STATS: case INO_METRICS:
		special_attr(fs, ino, st);
		*ttl = TTL_NONE;
		return 0;
	default:
		break;
	}
	if (is_sched_ino(ino))
		return sched_getattr(fs, ino, st, ttl);
	pi = pool_index(fs, ino);
	if (pi >= 0) {
		dir_attr(fs, ino, 01777, st);
		return 0;
	}
	if (pool_ctl_known(fs, ino)) {
		if (pool_ctl_file(ino) != PF_DIR)
			*ttl = TTL_NONE;	/* its value changes under the reader */
		return pool_ctl_attr(fs, ino, st);
	}
	if (ino & INO_STAGED_BIT) {
		struct staged *s;

		*ttl = TTL_NONE;
		pthread_mutex_lock(&fs->lock);
		s = staged_by_ino(fs, ino);
		if (s)
			staged_attr(s, st);
		pthread_mutex_unlock(&fs->lock);
		return s ? 0 : -ENOENT;
	}
	if (!is_task_ino(ino))
		return -ENOENT;
	r = get_visible_task(fs, ino, &t);
	if (r < 0)
		return r;
	task_attr(fs, &t, ino_view(ino), ino_file(ino), st);
	*ttl = task_ttl(&t, ino_view(ino));
	task_info_finish(&t);
	return 0;
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	double ttl;
	int r;

	fs_store_begin(req);
	r = get_attr(fs_of(req), ino, &st, &ttl);
	fs_store_end();
	if (r == 0 && fi && fi->fh &&
	    (ino == INO_STATS || ino == INO_METRICS ||
	     (is_task_ino(ino) && ino_file(ino) == F_PROGRESS))) {
		/* fstat of an open stats file (wc -c trusts it): the size of
		 * what this open reads. */
		struct handle *h = (struct handle *)(uintptr_t)fi->fh;

		pthread_mutex_lock(&h->lock);
		st.st_size = (off_t)h->buf.len;
		pthread_mutex_unlock(&h->lock);
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, ttl);
}

static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct staged *s;
	struct stat st;
	int r = 0;

	if (is_sched_ino(ino)) {
		r = sched_setattr(req, ino, attr, to_set, fi, &st);
		if (r < 0)
			fuse_reply_err(req, -r);
		else
			fuse_reply_attr(req, &st, TTL_NONE);
		return;
	}
	if (!(ino & INO_STAGED_BIT)) {
		double ttl;

		/* Only a file being written can change; but let `touch` and
		 * `cp -p` of the fixed tree fail the way a read-only tree does. */
		bool pending = is_task_ino(ino) && ino_view(ino) == V_QUEUE;

		fs_store_begin(req);
		r = get_attr(fs, ino, &st, &ttl);
		fs_store_end();
		if (r < 0) {
			fuse_reply_err(req, -r);
		} else if (is_control_file(fs, ino) && (to_set & FUSE_SET_ATTR_SIZE) &&
			   attr->st_size == 0 &&
			   !(to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))) {
			/* The truncate of `echo 1 > cancel` (without atomic
			 * O_TRUNC): nothing to drop, the write says it all. */
			fuse_reply_attr(req, &st, ttl);
		} else if (pending && !(to_set & FUSE_SET_ATTR_SIZE)) {
			/* A pending entry, as a file just written: tools that
			 * set its mode, owner or times after closing it (as
			 * install does) succeed, to no effect, as they do on a
			 * file being written. */
			fuse_reply_attr(req, &st, ttl);
		} else {
			char where[96];

			ino_where("setattr of", ino, where, sizeof(where));
			refuse(req, pending ? EBUSY : EROFS, where, NULL, "it is read-only");
		}
		return;
	}
	pthread_mutex_lock(&fs->lock);
	s = staged_by_ino(fs, ino);
	if (!s) {
		r = -ENOENT;
	} else {
		if ((to_set & FUSE_SET_ATTR_SIZE) && s->releasing && !s->dot)
			r = -EBUSY;	/* its writer closed it: a task already */
		else if (to_set & FUSE_SET_ATTR_SIZE)
			r = staged_resize(fs, s, (uint64_t)attr->st_size);
		if (r == 0 && (to_set & FUSE_SET_ATTR_MTIME))
			s->mtime = attr->st_mtim;
		if (r == 0 && (to_set & FUSE_SET_ATTR_MTIME_NOW))
			clock_gettime(CLOCK_REALTIME, &s->mtime);
		/* Mode and owner changes (cp -p) are accepted and have no
		 * effect: the submitter owns the task. */
		if (r == 0)
			staged_attr(s, &st);
	}
	pthread_mutex_unlock(&fs->lock);
	if (r == -EFBIG)
		refuse(req, EFBIG, "truncate of a queued file", s ? s->name : NULL,
		       "larger than max_task_bytes (%llu)",
		       (unsigned long long)fs->cfg->max_task_bytes);
	else if (r == -EBUSY)
		refuse(req, EBUSY, "truncate of a queued file", NULL,
		       "its writer closed it: it is a task already");
	else if (r == -EDQUOT || r == -ENOSPC)
		refuse(req, -r, "truncate of a queued file", NULL,
		       "past %s; nothing of it will run",
		       r == -EDQUOT ? "max_pending_bytes_per_user" : "max_pending_bytes");
	else if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, TTL_NONE);
}

/* ------------------------------------------------------------------ */

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	/* Look-ups and listings in one directory may run at once: every
	 * handler takes what it shares under fs->lock (fs_io.c tells the
	 * kernel). */
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	fs_io_want_parallel_dirops((conn->want & FUSE_CAP_PARALLEL_DIROPS) != 0);
	/* Writes reach the daemon as they happen: no write-back caching. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	inval_start(userdata);
}

/* The session ends (unmount, or fuse_session_destroy): the notifier must
 * not write to it any more. */
static void fs_op_destroy(void *userdata)
{
	/* Before a restart could queue them. */
	staged_forget_sweep(userdata);
	inval_stop(userdata);
}

static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs st;

	memset(&st, 0, sizeof(st));
	st.f_bsize = 4096;
	st.f_frsize = 4096;
	st.f_namemax = 255;
	fuse_reply_statfs(req, &st);
}

const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_init,
	.destroy = fs_op_destroy,
	.lookup = fs_lookup,
	.forget = fs_forget,
	.forget_multi = fs_forget_multi,
	.getattr = fs_getattr,
	.setattr = fs_setattr,
	.mknod = fs_mknod,
	.mkdir = fs_mkdir,
	.unlink = fs_unlink,
	.rmdir = fs_rmdir,
	.symlink = fs_symlink,
	.rename = fs_rename,
	.link = fs_link,
	.open = fs_open,
	.read = fs_read,
	.write = fs_write,
	.flush = fs_flush,
	.release = fs_release,
	.fsync = fs_fsync,
	.opendir = fs_opendir,
	.readdir = fs_readdir,
	.readdirplus = fs_readdirplus,
	.releasedir = fs_releasedir,
	.statfs = fs_statfs,
	.create = fs_op_create,
};

int fs_create(const struct config *cfg, struct store *store, struct fs **ret)
{
	struct fs *fs;

	if (cfg->n_pools > MAX_POOLS)
		return -E2BIG;
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	if (fs_cache_init(fs) < 0) {
		free(fs);
		return -ENOMEM;
	}
	fs->cfg = cfg;
	fs->store = store;
	fs->owner = getuid();
	fs->owner_gid = getgid();
	clock_gettime(CLOCK_REALTIME, &fs->start);
	pthread_mutex_init(&fs->lock, NULL);
	pthread_mutex_init(&fs->wait_lock, NULL);
	pthread_mutex_init(&fs->open_lock, NULL);
	pthread_mutex_init(&fs->progress_lock, NULL);
	fs->open.next = fs->open.prev = &fs->open;
	for (size_t i = 0; i < cfg->n_pools; i++)
		if (pool_slot_add(fs, cfg->pools[i].name) < 0) {
			fs_destroy(fs);
			return -ENOMEM;
		}
	*ret = fs;
	return 0;
}

void fs_set_executor(struct fs *fs, struct executor *e)
{
	fs->executor = e;
}

void fs_set_session(struct fs *fs, struct fuse_session *se)
{
	/*
	 * Closed first, under the lock: a stop that comes before the
	 * kernel's INIT (which starts the notifier) must find the notifier
	 * stopped for good, not started afterwards on a session going away.
	 */
	pthread_mutex_lock(&fs->lock);
	fs->inval_closed = !se;
	pthread_mutex_unlock(&fs->lock);
	if (!se)
		inval_stop(fs);
	pthread_mutex_lock(&fs->lock);
	fs->se = se;
	pthread_mutex_unlock(&fs->lock);
}

void fs_destroy(struct fs *fs)
{
	if (!fs)
		return;
	fs_release_waiters(fs);
	wait_destroy(fs);
	fs_cache_finish(fs);
	absent_free(fs);
	while (fs->open.next != &fs->open) {
		struct open_obj *o = fs->open.next;

		fs->open.next = o->next;
		o->free(o);
	}
	free(fs->pending_users);
	free(fs->listing_users);
	for (size_t i = 0; i < pool_slots(fs); i++)
		free(fs->slots[i].name);
	sched_names_free(fs);
	progress_finish(fs);
	pthread_mutex_destroy(&fs->lock);
	pthread_mutex_destroy(&fs->wait_lock);
	pthread_mutex_destroy(&fs->open_lock);
	free(fs);
}
