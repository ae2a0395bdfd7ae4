/*
 * The filesystem's directory listings: a snapshot taken at opendir, paged
 * through by readdir and readdirplus.
 */
#include "fs_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* A directory entry of a snapshot, compact: 100,000 of them are listed. */
struct dir_entry {
	char *name;		/* NULL: the decimal id of the task of ino */
	fuse_ino_t ino;
	int64_t size;
	struct timespec mtime;
	uint32_t uid, gid;
	uint32_t mode;
	uint32_t nlink;
	float ttl;
};

struct dir_handle {
	struct open_obj obj;	/* first: the list links */
	struct dir_entry *entries;
	size_t n;
	uid_t uid;		/* who opened it */
	uint64_t charged;	/* bytes counted against uid's listings */
};

/* Adds an entry; `name` NULL names it by its task's id. */
int dir_add(struct dir_handle *d, size_t *cap, const char *name, fuse_ino_t ino,
		   const struct stat *st, double ttl)
{
	struct dir_entry *de;

	if (d->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct dir_entry *ne = realloc(d->entries, nc * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		d->entries = ne;
		*cap = nc;
	}
	de = &d->entries[d->n];
	de->name = NULL;
	if (name && !(de->name = strdup(name)))
		return -ENOMEM;
	de->ino = ino;
	de->size = st->st_size;
	de->mtime = st->st_mtim;
	de->uid = st->st_uid;
	de->gid = st->st_gid;
	de->mode = st->st_mode;
	de->nlink = (uint32_t)st->st_nlink;
	de->ttl = (float)ttl;
	d->n++;
	return 0;
}

static void dir_entry_param(const struct dir_entry *de, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = de->ino;
	e->attr.st_ino = de->ino;
	e->attr.st_size = de->size;
	e->attr.st_mtim = e->attr.st_ctim = e->attr.st_atim = de->mtime;
	e->attr.st_uid = de->uid;
	e->attr.st_gid = de->gid;
	e->attr.st_mode = de->mode;
	e->attr.st_nlink = de->nlink;
	e->attr.st_blksize = 4096;
	e->attr.st_blocks = (de->size + 511) / 512;
	e->attr_timeout = e->entry_timeout = de->ttl;
}

static void dir_handle_free(struct dir_handle *d)
{
	if (!d)
		return;
	d->obj.prev = d->obj.next = NULL;
	for (size_t i = 0; i < d->n; i++)
		free(d->entries[i].name);
	free(d->entries);
	free(d);
}

/* Attributes of a listed task directory or pending file, from its row. */
static void entry_dir_attr(const struct fs *fs, const struct task_entry *te, enum view v,
			   struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = task_ino(te->id, v, v == V_QUEUE ? F_QUERY : F_DIR);
	st->st_uid = te->uid;
	st->st_gid = te->gid;
	st->st_nlink = v == V_QUEUE ? 1 : 2;
	st->st_mode = task_mode(fs, te->pool, v != V_QUEUE, v == V_QUEUE);
	st->st_size = v == V_QUEUE ? te->size : 0;
	st->st_mtim = st->st_ctim = st->st_atim = us_to_ts(te->mtime_us);
}

/* What the listing callbacks add to. */
struct dir_fill {
	struct fs *fs;
	struct dir_handle *d;
	size_t *cap;
	enum view view;
	size_t pool;
};

static int fill_pending(void *arg, const struct task_entry *te)
{
	struct dir_fill *f = arg;
	struct stat st;
	struct staged *s;
	bool local;

	/* By name (hashed), not a walk of every staged file per row. */
	pthread_mutex_lock(&f->fs->lock);
	s = staged_by_name(f->fs, f->pool, te->name);
	local = s && s->listed && s->task_id == te->id;
	pthread_mutex_unlock(&f->fs->lock);
	if (local)
		return 0;	/* listed from memory, with its live size */
	entry_dir_attr(f->fs, te, V_QUEUE, &st);
	return dir_add(f->d, f->cap, te->name, st.st_ino, &st, TTL_NONE);
}

static int fill_tasks(void *arg, const struct task_entry *te)
{
	struct dir_fill *f = arg;
	struct stat st;
	double ttl = f->view == V_RUNNING || !task_state_final(te->state) ? TTL_NONE :
		     te->state == TASK_DONE ? TTL_FINAL : TTL_RETRYABLE;

	entry_dir_attr(f->fs, te, f->view, &st);
	return dir_add(f->d, f->cap, NULL, st.st_ino, &st, ttl);
}

/* Snapshots a directory at opendir: readdir pages through the snapshot. */
static int dir_snapshot(struct fs *fs, fuse_ino_t ino, struct dir_handle *d)
{
	struct stat st;
	size_t cap = 0;
	int r = 0, pi;

	dir_attr(fs, ino, 0555, &st);
	r = dir_add(d, &cap, ".", ino, &st, TTL_STATIC);
	if (r == 0)
		r = dir_add(d, &cap, "..", INO_ROOT, &st, TTL_STATIC);
	if (r < 0)
		return r;
	if (ino == INO_ROOT || is_sched_ino(ino)) {
		r = sched_snapshot(fs, ino, d, &cap);	/* schedules/ */
		if (r < 0 || ino != INO_ROOT)
			return r;
	}
	if (ino == INO_ROOT) {
		static const struct { const char *name; fuse_ino_t ino; } top[] = {
			{ "queue", INO_QUEUE }, { "running", INO_RUNNING }, { "done", INO_DONE },
			{ "failed", INO_FAILED }, { "tasks", INO_TASKS },
			{ "new-id", INO_NEW_ID }, { "stats", INO_STATS }, { "pools", INO_POOLS },
			{ "metrics", INO_METRICS },
		};

		for (size_t i = 0; i < sizeof(top) / sizeof(top[0]) && r == 0; i++) {
			if (top[i].ino == INO_NEW_ID || top[i].ino == INO_STATS ||
			    top[i].ino == INO_METRICS)
				special_attr(fs, top[i].ino, &st);
			else
				dir_attr(fs, top[i].ino, 0555, &st);
			r = dir_add(d, &cap, top[i].name, top[i].ino, &st,
				    st.st_mode & S_IFDIR ? TTL_STATIC : TTL_NONE);
		}
		return r;
	}
	if (ino == INO_QUEUE) {
		for (size_t i = 0; i < pool_slots(fs) && r == 0; i++) {
			if (!pool_live(fs, i))
				continue;
			dir_attr(fs, INO_POOL_BASE + i, 01777, &st);
			r = dir_add(d, &cap, pool_name(fs, i), INO_POOL_BASE + i, &st, TTL_STATIC);
		}
		return r;
	}
	if (ino == INO_POOLS) {
		for (size_t i = 0; i < pool_slots(fs) && r == 0; i++) {
			if (!pool_live(fs, i))
				continue;
			dir_attr(fs, pool_ctl_ino(i, PF_DIR), 0555, &st);
			r = dir_add(d, &cap, pool_name(fs, i), st.st_ino, &st, TTL_STATIC);
		}
		return r;
	}
	if (pool_ctl_known(fs, ino) && pool_ctl_file(ino) == PF_DIR) {
		for (int k = PF_MAX_WORKERS; k < PF_COUNT && r == 0; k++) {
			r = pool_ctl_attr(fs, pool_ctl_ino(pool_ctl_pool(ino), (enum pool_file)k), &st);
			if (r == 0)
				r = dir_add(d, &cap, pool_file_names[k], st.st_ino, &st, TTL_NONE);
		}
		return r;
	}
	pi = pool_index(fs, ino);
	if (pi >= 0) {
		struct dir_fill f = { fs, d, &cap, V_QUEUE, (size_t)pi };

		r = store_list_pending(fs->store, pool_name(fs, (size_t)pi), fill_pending, &f);
		if (r < 0)
			return r;
		pthread_mutex_lock(&fs->lock);
		for (struct staged *s = fs->staged; s && r == 0; s = s->next)
			if (s->listed && s->pool == (size_t)pi) {
				staged_attr(s, &st);
				r = dir_add(d, &cap, s->name, s->ino, &st, TTL_NONE);
			}
		pthread_mutex_unlock(&fs->lock);
		return r;
	}
	if (view_of_dir(ino)) {
		static const unsigned masks[] = {
			[V_TASKS] = ~0u,
			[V_RUNNING] = 1u << TASK_RUNNING,
			[V_DONE] = 1u << TASK_DONE,
			[V_FAILED] = (1u << TASK_FAILED) | (1u << TASK_CANCELLED),
		};
		struct dir_fill f = { fs, d, &cap, view_of_dir(ino), 0 };

		return store_list_tasks(fs->store, masks[f.view], fill_tasks, &f);
	}
	if (is_task_ino(ino) && ino_file(ino) == F_DIR) {
		struct task_info t;

		r = store_get_task(fs->store, ino_id(ino), &t);
		if (r < 0)
			return r;
		if (!view_shows(ino_view(ino), t.state)) {
			task_info_finish(&t);
			return -ENOENT;
		}
		for (int f = F_QUERY; f < F_COUNT && r == 0; f++) {
			if (!file_exists(&t, (enum file)f))
				continue;
			task_attr(fs, &t, ino_view(ino), (enum file)f, &st);
			r = dir_add(d, &cap, file_names[f], st.st_ino, &st, task_ttl(&t, ino_view(ino)));
		}
		task_info_finish(&t);
		return r;
	}
	return -ENOTDIR;
}

static void dir_obj_free(struct open_obj *o)
{
	dir_handle_free((struct dir_handle *)o);
}

/* Frees d, and lets go of the schedule names it listed (pinned by
 * sched_snapshot(), so that each keeps its inode while listed). */
static void dir_handle_done(struct fs *fs, struct dir_handle *d)
{
	pthread_mutex_lock(&fs->lock);
	for (size_t i = 0; i < d->n; i++)
		if (is_sched_file_ino(d->entries[i].ino))
			sched_name_unpin(fs, d->entries[i].ino);
	pthread_mutex_unlock(&fs->lock);
	dir_handle_free(d);
}

/*
 * A listing's snapshot (tasks/, done/ with 100,000 tasks: 6 MB or more)
 * is held for as long as the directory is open: each uid's open listings
 * together may hold max_pending_bytes_per_user, so that nobody who can
 * reach the mount (allow_other) runs the daemon out of memory by keeping
 * directories open.  0, or -EMFILE past the cap, or -ENOMEM.
 */
static int listing_charge(struct fs *fs, struct dir_handle *d)
{
	struct pending_use *u = NULL;
	uint64_t bytes = sizeof(*d) + d->n * sizeof(*d->entries);
	int r = 0;

	for (size_t i = 0; i < d->n; i++)
		if (d->entries[i].name)
			bytes += strlen(d->entries[i].name) + 1;
	pthread_mutex_lock(&fs->lock);
	for (size_t i = 0; i < fs->n_listing_users && !u; i++)
		if (fs->listing_users[i].uid == d->uid)
			u = &fs->listing_users[i];
	if ((u ? u->bytes : 0) + bytes > fs->cfg->max_pending_bytes_per_user) {
		r = -EMFILE;
	} else if (!u) {
		struct pending_use *a = realloc(fs->listing_users,
						(fs->n_listing_users + 1) * sizeof(*a));

		if (a) {
			fs->listing_users = a;
			u = &a[fs->n_listing_users++];
			u->uid = d->uid;
			u->bytes = 0;
		} else {
			r = -ENOMEM;
		}
	}
	if (r == 0) {
		u->bytes += bytes;
		d->charged = bytes;
	}
	pthread_mutex_unlock(&fs->lock);
	return r;
}

static void listing_uncharge(struct fs *fs, struct dir_handle *d)
{
	pthread_mutex_lock(&fs->lock);
	for (size_t i = 0; i < fs->n_listing_users && d->charged; i++) {
		struct pending_use *u = &fs->listing_users[i];

		if (u->uid != d->uid)
			continue;
		u->bytes -= d->charged;
		d->charged = 0;
		if (u->bytes == 0)
			*u = fs->listing_users[--fs->n_listing_users];
	}
	pthread_mutex_unlock(&fs->lock);
}

void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dir_handle *d = calloc(1, sizeof(*d));
	int r;

	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	d->uid = fuse_req_ctx(req)->uid;
	fs_store_begin(req);
	r = dir_snapshot(fs_of(req), ino, d);
	fs_store_end();
	if (r == 0 && (r = listing_charge(fs_of(req), d)) == -EMFILE)
		log_warn("uid %u: a listing refused (EMFILE): its open listings would hold more "
			 "than max_pending_bytes_per_user (%llu bytes)", (unsigned)d->uid,
			 (unsigned long long)fs_of(req)->cfg->max_pending_bytes_per_user);
	if (r < 0) {
		dir_handle_done(fs_of(req), d);
		fuse_reply_err(req, -r);
		return;
	}
	fi->fh = (uintptr_t)d;
	fi->cache_readdir = 0;
	d->obj.free = dir_obj_free;
	open_add(fs_of(req), &d->obj);
	if (fuse_reply_open(req, fi) != 0) {
		open_remove(fs_of(req), &d->obj);
		listing_uncharge(fs_of(req), d);
		dir_handle_done(fs_of(req), d);
	}
}

static void readdir_common(fuse_req_t req, size_t size, off_t off,
			   struct fuse_file_info *fi, bool plus)
{
	struct fs *fs = fs_of(req);
	struct dir_handle *d = (struct dir_handle *)(uintptr_t)fi->fh;
	char *buf = malloc(size);
	size_t used = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (size_t i = (size_t)off; i < d->n; i++) {
		struct dir_entry *de = &d->entries[i];
		struct fuse_entry_param e;
		char idname[24];
		const char *name = de->name;
		size_t n;

		if (!name) {
			snprintf(idname, sizeof(idname), "%lld", (long long)ino_id(de->ino));
			name = idname;
		}
		dir_entry_param(de, &e);
		if (plus)
			n = fuse_add_direntry_plus(req, buf + used, size - used, name, &e,
						   (off_t)i + 1);
		else
			n = fuse_add_direntry(req, buf + used, size - used, name, &e.attr,
					      (off_t)i + 1);
		if (n > size - used)
			break;
		if (plus && is_sched_file_ino(de->ino)) {
			/* Its slot is the listing's until releasedir. */
			pthread_mutex_lock(&fs->lock);
			sched_name_looked_up(fs, de->ino, 1);
			pthread_mutex_unlock(&fs->lock);
		} else if (plus && de->ino & INO_STAGED_BIT) {
			/* readdirplus counts as a lookup of each entry. */
			struct staged *s;

			pthread_mutex_lock(&fs->lock);
			s = staged_by_ino(fs, de->ino);
			if (s)
				s->nlookup++;
			pthread_mutex_unlock(&fs->lock);
		}
		used += n;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi)
{
	readdir_common(req, size, off, fi, false);
}

void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	readdir_common(req, size, off, fi, true);
}

void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dir_handle *d = (struct dir_handle *)(uintptr_t)fi->fh;

	open_remove(fs_of(req), &d->obj);
	listing_uncharge(fs_of(req), d);
	dir_handle_done(fs_of(req), d);
	fuse_reply_err(req, 0);
}
