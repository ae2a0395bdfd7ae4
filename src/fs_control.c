/*
 * Task control from the filesystem (DESIGN.md, "Task control"): a task
 * directory's cancel and retry files, and pools/<pool>/ with each pool's
 * live settings.  A write here changes the store, never a file: the files
 * hold nothing (cancel, retry) or show the store's value (pools).
 */
#include "fs_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* The largest max_workers a write takes: a few zeros too many is a typo,
 * not a plan (each worker is a connection to the target). */
#define POOL_MAX_WORKERS_CAP 10000

const char *const pool_file_names[PF_COUNT] = {
	[PF_MAX_WORKERS] = "max_workers", [PF_PAUSED] = "paused",
};

/* ------------------------------------------------------------------ */
/* pools/                                                              */

bool pool_ctl_known(const struct fs *fs, fuse_ino_t ino)
{
	return is_pool_ctl_ino(ino) && pool_live(fs, pool_ctl_pool(ino));
}

/* The value a file of pools/<pool>/ reads, as of now. */
int pool_file_content(struct fs *fs, fuse_ino_t ino, struct buf *out)
{
	size_t p = pool_ctl_pool(ino);
	bool paused;
	int max, r;

	const struct config_pool *cp = pool_config(fs, p);

	if (!cp)
		return -ENOENT;		/* the pool left the configuration */
	r = store_get_pool(fs->store, pool_name(fs, p), &max, &paused);
	if (r < 0)
		return r;
	if (max < 0)
		max = cp->max_workers;	/* none written: the configuration's */
	if (pool_ctl_file(ino) == PF_PAUSED)
		return buf_printf(out, "%d\n", paused ? 1 : 0);
	return buf_printf(out, "%d\n", max);
}

/*
 * Attributes of pools/<pool>/ and its files, owned by the mount's owner,
 * who (with root) may change them.  A file's size is that of its value now
 * (a query); its mtime is now, as for the other generated files.
 */
int pool_ctl_attr(struct fs *fs, fuse_ino_t ino, struct stat *st)
{
	struct buf b;
	int r;

	if (!pool_ctl_known(fs, ino))
		return -ENOENT;
	if (pool_ctl_file(ino) == PF_DIR) {
		dir_attr(fs, ino, 0555, st);
		return 0;
	}
	buf_init(&b);
	r = pool_file_content(fs, ino, &b);
	if (r == 0) {
		memset(st, 0, sizeof(*st));
		st->st_ino = ino;
		st->st_mode = S_IFREG | 0644;
		st->st_nlink = 1;
		st->st_uid = fs->owner;
		st->st_gid = fs->owner_gid;
		st->st_size = (off_t)b.len;
		clock_gettime(CLOCK_REALTIME, &st->st_mtim);
		st->st_atim = st->st_ctim = st->st_mtim;
		st->st_blksize = 4096;
		st->st_blocks = (st->st_size + 511) / 512;
	}
	buf_finish(&b);
	return r;
}

/* Lookups in pools/ and in pools/<pool>/. */
void pools_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct fuse_entry_param e;
	int r = -ENOENT;

	memset(&e, 0, sizeof(e));
	if (parent == INO_POOLS) {
		for (size_t i = 0; i < pool_slots(fs); i++)
			if (pool_live(fs, i) && strcmp(name, pool_name(fs, i)) == 0) {
				e.ino = pool_ctl_ino(i, PF_DIR);
				dir_attr(fs, e.ino, 0555, &e.attr);
				e.attr_timeout = e.entry_timeout = TTL_STATIC;
				r = 0;
			}
	} else if (pool_ctl_known(fs, parent) && pool_ctl_file(parent) == PF_DIR) {
		for (int k = PF_MAX_WORKERS; k < PF_COUNT; k++)
			if (strcmp(name, pool_file_names[k]) == 0)
				e.ino = pool_ctl_ino(pool_ctl_pool(parent), (enum pool_file)k);
		if (e.ino) {
			fs_store_begin(req);
			r = pool_ctl_attr(fs, e.ino, &e.attr);
			fs_store_end();
			/* The value changes under the reader: no attribute cache. */
			e.entry_timeout = TTL_STATIC;
			e.attr_timeout = TTL_NONE;
		}
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_entry(req, &e);
}

/* "PFX\n" or "PFX": the text a writer's `echo` or `printf` gives. */
static bool parse_whole(const char *data, size_t size, long max, long *ret)
{
	long v = 0;

	if (size > 0 && data[size - 1] == '\n')
		size--;
	if (size == 0 || size > 9)
		return false;
	for (size_t i = 0; i < size; i++) {
		if (data[i] < '0' || data[i] > '9')
			return false;
		v = v * 10 + (data[i] - '0');
	}
	if (v > max)
		return false;
	*ret = v;
	return true;
}

static void pool_write(fuse_req_t req, fuse_ino_t ino, const char *data, size_t size,
		       off_t off)
{
	struct fs *fs = fs_of(req);
	size_t p = pool_ctl_pool(ino);
	enum pool_file k = pool_ctl_file(ino);
	uid_t uid = fuse_req_ctx(req)->uid;
	char where[320];
	long v = -1;
	int r;

	snprintf(where, sizeof(where), "pools/%s", pool_name(fs, p));
	/* The kernel checks the mode (0644, the owner's); a pool is the
	 * mount's, whoever the kernel lets through. */
	if (uid != 0 && uid != fs->owner) {
		refuse(req, EACCES, where, pool_file_names[k],
		       "only the mount's owner (uid %u) and root change a pool's settings",
		       (unsigned)fs->owner);
		return;
	}
	if (off != 0 ||
	    !parse_whole(data, size, k == PF_PAUSED ? 1 : POOL_MAX_WORKERS_CAP, &v) ||
	    (k == PF_MAX_WORKERS && v < 1)) {
		if (k == PF_PAUSED)
			refuse(req, EINVAL, where, pool_file_names[k],
			       "write 1 to pause the pool, 0 to resume it");
		else
			refuse(req, EINVAL, where, pool_file_names[k],
			       "write a whole number from 1 to %d", POOL_MAX_WORKERS_CAP);
		return;
	}
	fs_store_begin(req);
	r = store_set_pool(fs->store, pool_name(fs, p), k == PF_MAX_WORKERS ? (int)v : -1,
			   k == PF_PAUSED ? (int)v : -1, uid);
	fs_store_end();
	if (r < 0) {
		refuse(req, -r, where, pool_file_names[k], "cannot store the setting: %s",
		       store_last_error());
		return;
	}
	log_info("%s/%s set to %ld by uid %u", LOG_ESCAPE(where), pool_file_names[k], v,
		 (unsigned)uid);
	fuse_reply_write(req, size);
}

/* ------------------------------------------------------------------ */
/* tasks/<id>/cancel and retry                                         */

bool is_control_file(const struct fs *fs, fuse_ino_t ino)
{
	if (is_task_ino(ino))
		return ino_view(ino) != V_QUEUE &&
		       (ino_file(ino) == F_CANCEL || ino_file(ino) == F_RETRY);
	return pool_ctl_known(fs, ino) && pool_ctl_file(ino) != PF_DIR;
}

/*
 * Task id is pending again (a retry): drops what this mount remembers of
 * its finished state.  This daemon's caches first (a name known not
 * pending, a released entry), so that queue/<pool>/NAME is found at once;
 * then the kernel's: the attributes and pages of the task's files, kept
 * for a finished task (TTL_FINAL, keep_cache), go before the write
 * returns, so that a read after it sees the queued task; the entries
 * (failed/ID, a negative queue/<pool>/NAME, an error file) through the
 * notifier.  An inode invalidation takes no directory lock, and the
 * request being served holds only the written file's, which is not
 * among them: it is safe from this handler, unlike an entry's.
 */
static void forget_finished(struct fs *fs, int64_t id, const char *pool, const char *name)
{
	size_t pi = SIZE_MAX;
	struct fuse_session *se;
	char idname[24];

	snprintf(idname, sizeof(idname), "%lld", (long long)id);
	pthread_mutex_lock(&fs->lock);
	released_forget(fs, id);
	for (size_t i = 0; pool && i < pool_slots(fs); i++)
		if (strcmp(pool_name(fs, i), pool) == 0)
			pi = i;
	if (pi != SIZE_MAX && name) {
		neg_forget(fs, pi, name);
		released_prune(fs, pi, name);
		inval_entry_add(fs, INO_POOL_BASE + pi, name);
	}
	inval_entry_add(fs, INO_FAILED, idname);
	inval_entry_add(fs, INO_DONE, idname);
	inval_entry_add(fs, task_ino(id, V_TASKS, F_DIR), file_names[F_ERROR]);
	se = fs->inval_running ? fs->inval_se : NULL;
	pthread_mutex_unlock(&fs->lock);
	if (!se)
		return;
	for (enum view v = V_TASKS; v <= V_FAILED; v++)
		for (enum file f = F_DIR; f < F_CANCEL; f++)
			(void)fuse_lowlevel_notify_inval_inode(se, task_ino(id, v, f), 0, 0);
}

static void task_control_write(fuse_req_t req, fuse_ino_t ino, const char *data,
			       size_t size, off_t off)
{
	struct fs *fs = fs_of(req);
	int64_t id = ino_id(ino);
	bool cancel = ino_file(ino) == F_CANCEL;
	uid_t uid = fuse_req_ctx(req)->uid;
	struct task_info t;
	char where[48];
	int r, got = -1;

	snprintf(where, sizeof(where), "%s/%lld", view_names[ino_view(ino)], (long long)id);
	if (off != 0 || !(size == 1 || (size == 2 && data[1] == '\n')) || data[0] != '1') {
		refuse(req, EINVAL, where, file_names[ino_file(ino)],
		       "only 1 (with or without a newline) %s the task",
		       cancel ? "cancels" : "retries");
		return;
	}
	fs_store_begin(req);
	r = cancel ? store_cancel_task(fs->store, id, uid) : store_retry_task(fs->store, id, uid);
	/* The retried task's pool and name: its caches to forget. */
	if (r == 0 && !cancel)
		got = store_get_task(fs->store, id, &t);
	fs_store_end();
	if (r == -ENOENT) {
		refuse(req, ENOENT, where, file_names[ino_file(ino)], "no such task (any more)");
		return;
	}
	if (r < 0) {
		refuse(req, -r, where, file_names[ino_file(ino)], "%s", store_last_error());
		return;
	}
	if (cancel) {
		pthread_mutex_lock(&fs->lock);
		released_forget(fs, id);
		pthread_mutex_unlock(&fs->lock);
	} else {
		/* Without its name (a failed look-up), the name caches time out
		 * by themselves, within TTL_NEGATIVE. */
		forget_finished(fs, id, got == 0 ? t.pool : NULL, got == 0 ? t.name : NULL);
		if (got == 0)
			task_info_finish(&t);
	}
	log_info("task %lld: %s asked by uid %u", (long long)id, cancel ? "cancel" : "retry",
		 (unsigned)uid);
	fuse_reply_write(req, size);
}

void control_write(fuse_req_t req, fuse_ino_t ino, const char *data, size_t size, off_t off)
{
	struct fs *fs = fs_of(req);

	if (is_task_ino(ino) && is_control_file(fs, ino))
		task_control_write(req, ino, data, size, off);
	else if (is_control_file(fs, ino))
		pool_write(req, ino, data, size, off);
	else
		refuse(req, EROFS, "write of inode", NULL,
		       "only files in queue/<pool>/, a task's cancel and retry and pools/<pool>/* are writable");
}
