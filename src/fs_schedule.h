/*
 * What the two rooms of schedules/ share (fs_schedule.c: names, inodes,
 * lookups and listings; fs_schedule_file.c: open files, writes and
 * storing).
 */
#ifndef PGQFS_FS_SCHEDULE_H
#define PGQFS_FS_SCHEDULE_H

#include "fs_internal.h"

/*
 * schedules/<pool>/: anyone may write a schedule; sticky, as queue/<pool>/
 * and /tmp are, so that the kernel (default_permissions) refuses another
 * user's rm with EPERM before the store would with EACCES.  A replace by
 * another user is refused by the file's mode (EACCES), and by the store
 * (put_schedule) for a writer whose kernel has not seen the file yet.
 */
#define SCHED_DIR_MODE 01777

/*
 * A (pool, name) this daemon has given an inode: its index in
 * fs->sched_names.  A slot is held while the kernel knows the inode
 * (nlookup, counted as for staged files), while it is open for writing
 * here, or pinned: by an open listing of it, or by a request between its
 * look-up and its reply; a slot
 * held by nothing is taken by the next new name (the kernel has forgotten
 * its inode), so names created and removed do not grow the table.
 */
struct sched_name {
	size_t pool;
	char *name;		/* NULL: a free slot */
	uint64_t nlookup;	/* the kernel's references */
	int pins;
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
	uint64_t charged;	/* of data, against uid's pending bytes */
};

/* "schedules/POOL", for messages (into buf). */
const char *sched_where(const struct fs *fs, size_t pool, char *buf, size_t cap);
/* The pool of schedules/<pool>/'s inode, or -1. */
int sched_pool_of(const struct fs *fs, fuse_ino_t ino);
/* The index in fs->sched_names of a schedule file's inode, or -1 (under
 * fs->lock). */
long sched_file_of(const struct fs *fs, fuse_ino_t ino);
/* The inode of (pool, name), given one if it has none yet, and pinned
 * (under fs->lock); 0 when memory ran out.  sched_name_unpin() lets it
 * go, sched_name_looked_up() first when the kernel is told of it
 * (fs_internal.h). */
fuse_ino_t sched_name_ino(struct fs *fs, size_t pool, const char *name);

/* A schedule file's attributes. */
void sched_file_attr(const struct fs *fs, size_t pool, fuse_ino_t ino, uint32_t uid,
		     uint32_t gid, int64_t size, struct timespec mtime, struct stat *st);

#endif
