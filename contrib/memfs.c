/*
 * memfs: a minimal multithreaded in-memory FUSE filesystem, the ceiling that
 * contrib/bench.sh measures pgqfs's per-file submission against (DESIGN.md,
 * "Performance targets": "a minimal in-memory FUSE filesystem that stores and
 * runs nothing").  Never installed, never used by the tests.
 *
 *   memfs [-f] [-s] [-o OPTIONS] MOUNTPOINT
 *
 * One flat directory (the root) of regular files kept in a hash table under
 * one mutex: create, write, read, truncate, stat, list and unlink are enough
 * for writers that create files (cp, shell redirections, Python's open()).
 * It uses libfuse's high-level API with the worker-thread limits pgqfs sets
 * on its own loop (64 threads, 16 idle), so that the two are compared on the
 * same kernel path with the same parallelism.
 */
#define FUSE_USE_VERSION 314
#define FUSE_MAX_THREADS 64
#include <fuse.h>
#include <fuse_lowlevel.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define N_BUCKETS (1u << 16)	/* chains stay short up to ~100,000 files */
#define NAME_MAX_LEN 255

struct node {
	struct node *next;	/* bucket chain */
	char *name;
	char *data;
	size_t size, cap;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	struct timespec mtime, ctime;
};

static struct {
	pthread_mutex_t lock;
	struct node *bucket[N_BUCKETS];
	size_t n_files;
	struct timespec root_mtime;
	uid_t uid;
	gid_t gid;
} fs = { .lock = PTHREAD_MUTEX_INITIALIZER };

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h & (N_BUCKETS - 1);
}

/* The file name of PATH when it names an entry of the root, else NULL. */
static const char *leaf(const char *path)
{
	if (path[0] != '/' || path[1] == '\0' || strchr(path + 1, '/'))
		return NULL;
	return path + 1;
}

/* Under fs.lock. */
static struct node *find(const char *name, struct node ***link)
{
	struct node **p = &fs.bucket[hash(name)];

	for (; *p; p = &(*p)->next)
		if (strcmp((*p)->name, name) == 0)
			break;
	if (link)
		*link = p;
	return *p;
}

static void now(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

static void fill_stat(const struct node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFREG | (n->mode & 07777);
	st->st_nlink = 1;
	st->st_uid = n->uid;
	st->st_gid = n->gid;
	st->st_size = (off_t)n->size;
	st->st_blocks = (blkcnt_t)((n->size + 511) / 512);
	st->st_mtim = n->mtime;
	st->st_ctim = n->ctime;
	st->st_atim = n->mtime;
}

static int mem_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	const char *name;
	struct node *n;
	int r = 0;

	if (strcmp(path, "/") == 0) {
		memset(st, 0, sizeof(*st));
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		st->st_uid = fs.uid;
		st->st_gid = fs.gid;
		pthread_mutex_lock(&fs.lock);
		st->st_mtim = st->st_ctim = st->st_atim = fs.root_mtime;
		pthread_mutex_unlock(&fs.lock);
		return 0;
	}
	if (!(name = leaf(path)))
		return -ENOENT;
	pthread_mutex_lock(&fs.lock);
	n = find(name, NULL);
	if (n)
		fill_stat(n, st);
	else
		r = -ENOENT;
	pthread_mutex_unlock(&fs.lock);
	return r;
}

static int mem_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
		       struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	if (strcmp(path, "/") != 0)
		return -ENOTDIR;
	/* One pass, offsets 0: the listing fits the caller's buffer or libfuse
	 * grows it (the high-level API keeps the whole listing). */
	filler(buf, ".", NULL, 0, 0);
	filler(buf, "..", NULL, 0, 0);
	pthread_mutex_lock(&fs.lock);
	for (size_t b = 0; b < N_BUCKETS; b++)
		for (struct node *n = fs.bucket[b]; n; n = n->next)
			filler(buf, n->name, NULL, 0, 0);
	pthread_mutex_unlock(&fs.lock);
	return 0;
}

static int mem_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	const char *name = leaf(path);
	struct fuse_context *ctx = fuse_get_context();
	struct node *n, **link;
	int r = 0;

	if (!name)
		return -ENOENT;
	if (strlen(name) > NAME_MAX_LEN)
		return -ENAMETOOLONG;
	pthread_mutex_lock(&fs.lock);
	n = find(name, &link);
	if (n) {
		/* O_CREAT on an existing file opens it (O_EXCL is the kernel's). */
		if (fi->flags & O_TRUNC) {
			n->size = 0;
			now(&n->mtime);
			n->ctime = n->mtime;
		}
		goto out;
	}
	n = calloc(1, sizeof(*n));
	if (!n || !(n->name = strdup(name))) {
		free(n);
		r = -ENOMEM;
		goto out;
	}
	n->mode = mode;
	n->uid = ctx->uid;
	n->gid = ctx->gid;
	now(&n->mtime);
	n->ctime = n->mtime;
	fs.root_mtime = n->mtime;
	*link = n;
	fs.n_files++;
out:
	pthread_mutex_unlock(&fs.lock);
	return r;
}

static int mem_open(const char *path, struct fuse_file_info *fi)
{
	const char *name = leaf(path);
	struct node *n;
	int r = 0;

	if (!name)
		return -ENOENT;
	pthread_mutex_lock(&fs.lock);
	n = find(name, NULL);
	if (!n)
		r = -ENOENT;
	else if (fi->flags & O_TRUNC) {
		n->size = 0;
		now(&n->mtime);
		n->ctime = n->mtime;
	}
	pthread_mutex_unlock(&fs.lock);
	return r;
}

static int mem_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	const char *name = leaf(path);
	struct node *n;
	int r = 0;

	if (!name)
		return -ENOENT;
	pthread_mutex_lock(&fs.lock);
	n = find(name, NULL);
	if (!n)
		r = -ENOENT;
	else if ((size_t)off < n->size) {
		if (size > n->size - (size_t)off)
			size = n->size - (size_t)off;
		memcpy(buf, n->data + off, size);
		r = (int)size;
	}
	pthread_mutex_unlock(&fs.lock);
	return r;
}

/* Under fs.lock: makes room for SIZE bytes, zero-filling any gap. */
static int resize(struct node *n, size_t size)
{
	if (size > n->cap) {
		size_t cap = n->cap ? n->cap : 64;
		char *p;

		while (cap < size)
			cap *= 2;
		p = realloc(n->data, cap);
		if (!p)
			return -ENOMEM;
		n->data = p;
		n->cap = cap;
	}
	if (size > n->size)
		memset(n->data + n->size, 0, size - n->size);
	n->size = size;
	return 0;
}

static int mem_write(const char *path, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	const char *name = leaf(path);
	struct node *n;
	int r;

	if (!name)
		return -ENOENT;
	if (off < 0 || size > INT32_MAX)
		return -EINVAL;
	pthread_mutex_lock(&fs.lock);
	n = find(name, NULL);
	if (!n) {
		r = -ENOENT;
		goto out;
	}
	if ((size_t)off + size > n->size && (r = resize(n, (size_t)off + size)) < 0)
		goto out;
	memcpy(n->data + off, buf, size);
	now(&n->mtime);
	n->ctime = n->mtime;
	r = (int)size;
out:
	pthread_mutex_unlock(&fs.lock);
	return r;
}

static int mem_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	const char *name = leaf(path);
	struct node *n;
	int r = 0;

	if (!name)
		return -ENOENT;
	if (size < 0)
		return -EINVAL;
	pthread_mutex_lock(&fs.lock);
	n = find(name, NULL);
	if (!n)
		r = -ENOENT;
	else if ((size_t)size > n->size)
		r = resize(n, (size_t)size);
	else
		n->size = (size_t)size;
	if (n && r == 0) {
		now(&n->mtime);
		n->ctime = n->mtime;
	}
	pthread_mutex_unlock(&fs.lock);
	return r;
}

static int mem_unlink(const char *path)
{
	const char *name = leaf(path);
	struct node *n, **link;
	int r = 0;

	if (!name)
		return -ENOENT;
	pthread_mutex_lock(&fs.lock);
	n = find(name, &link);
	if (!n)
		r = -ENOENT;
	else {
		*link = n->next;
		fs.n_files--;
		now(&fs.root_mtime);
	}
	pthread_mutex_unlock(&fs.lock);
	if (n) {
		free(n->name);
		free(n->data);
		free(n);
	}
	return r;
}

/* Accepted and kept: cp -p and editors set them. */
static int mem_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	const char *name = leaf(path);
	struct node *n;
	int r = 0;

	if (!name)
		return strcmp(path, "/") == 0 ? 0 : -ENOENT;
	pthread_mutex_lock(&fs.lock);
	n = find(name, NULL);
	if (n)
		n->mode = mode;
	else
		r = -ENOENT;
	pthread_mutex_unlock(&fs.lock);
	return r;
}

static int mem_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	const char *name = leaf(path);
	struct node *n;
	int r = 0;

	if (!name)
		return strcmp(path, "/") == 0 ? 0 : -ENOENT;
	pthread_mutex_lock(&fs.lock);
	n = find(name, NULL);
	if (!n)
		r = -ENOENT;
	else if (tv[1].tv_nsec == UTIME_NOW)
		now(&n->mtime);
	else if (tv[1].tv_nsec != UTIME_OMIT)
		n->mtime = tv[1];
	pthread_mutex_unlock(&fs.lock);
	return r;
}

/* Nothing to make durable: the data is in memory already. */
static int mem_flush(const char *path, struct fuse_file_info *fi)
{
	return 0;
}

static int mem_release(const char *path, struct fuse_file_info *fi)
{
	return 0;
}

static int mem_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	return 0;
}

static void *mem_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	/* Paths are all this filesystem knows: no inode numbers of its own. */
	cfg->use_ino = 0;
	cfg->nullpath_ok = 0;
	return NULL;
}

static const struct fuse_operations ops = {
	.init = mem_init,
	.getattr = mem_getattr,
	.readdir = mem_readdir,
	.create = mem_create,
	.open = mem_open,
	.read = mem_read,
	.write = mem_write,
	.truncate = mem_truncate,
	.unlink = mem_unlink,
	.chmod = mem_chmod,
	.utimens = mem_utimens,
	.flush = mem_flush,
	.release = mem_release,
	.fsync = mem_fsync,
};

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts;
	struct fuse_loop_config *loop = NULL;
	struct fuse *f = NULL;
	int r = 1;

	if (fuse_parse_cmdline(&args, &opts) != 0)
		goto out_args;
	if (opts.show_help || opts.show_version || !opts.mountpoint) {
		printf("usage: %s [-f] [-s] [-o OPTIONS] MOUNTPOINT\n", argv[0]);
		if (opts.show_help)
			fuse_lib_help(&args);
		r = opts.mountpoint || opts.show_help || opts.show_version ? 0 : 1;
		goto out_opts;
	}
	fs.uid = getuid();
	fs.gid = getgid();
	now(&fs.root_mtime);
	f = fuse_new(&args, &ops, sizeof(ops), NULL);
	if (!f)
		goto out_opts;
	if (fuse_mount(f, opts.mountpoint) != 0)
		goto out_new;
	if (fuse_daemonize(opts.foreground) != 0 ||
	    fuse_set_signal_handlers(fuse_get_session(f)) != 0)
		goto out_mount;
	if (opts.singlethread) {
		r = fuse_loop(f) != 0;
	} else {
		loop = fuse_loop_cfg_create();
		if (!loop)
			goto out_signals;
		fuse_loop_cfg_set_clone_fd(loop, (unsigned int)opts.clone_fd);
		fuse_loop_cfg_set_max_threads(loop, FUSE_MAX_THREADS);
		fuse_loop_cfg_set_idle_threads(loop, opts.max_idle_threads == UINT_MAX ?
					       16 : opts.max_idle_threads);
		r = fuse_loop_mt(f, loop) != 0;
		fuse_loop_cfg_destroy(loop);
	}
out_signals:
	fuse_remove_signal_handlers(fuse_get_session(f));
out_mount:
	fuse_unmount(f);
out_new:
	fuse_destroy(f);
out_opts:
	free(opts.mountpoint);
out_args:
	fuse_opt_free_args(&args);
	return r;
}
