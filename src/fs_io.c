/*
 * The session's reads and writes of /dev/fuse, with one correction to
 * libfuse 3.14's INIT answer: it never tells the kernel that lookups may
 * run in parallel (FUSE_PARALLEL_DIROPS), though its default asks for it
 * (fixed in libfuse 3.17.1, commit c990534 "Pass FUSE_PARALLEL_DIROPS to
 * kernel").  Without the flag the kernel takes a directory's mutex for each
 * LOOKUP and READDIR in it, uninterruptibly: in queue/<pool>, where every
 * new name costs a look-up, writers wait one behind the other, and a cp
 * stuck behind another's look-up on a stopped control database ignores
 * Ctrl-C until that one gives up.  Everything else passes through as
 * libfuse would do it (read(2), writev(2)).
 */
#include "fs_internal.h"

#include <errno.h>
#include <linux/fuse.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* The INIT request's unique id, once read and until answered (0: none). */
static _Atomic uint64_t init_unique;
/* Whether the kernel offered parallel look-ups in it. */
static atomic_bool init_offers_parallel;
/* Whether fs_init() asked for them (libfuse's default). */
static atomic_bool want_parallel;

void fs_io_want_parallel_dirops(bool want)
{
	atomic_store(&want_parallel, want);
}

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n = read(fd, buf, len);

	(void)userdata;
	if (n >= (ssize_t)(sizeof(struct fuse_in_header) + offsetof(struct fuse_init_in, flags) +
			   sizeof(uint32_t))) {
		struct fuse_in_header in;

		memcpy(&in, buf, sizeof(in));
		if (in.opcode == FUSE_INIT) {
			struct fuse_init_in init;

			memset(&init, 0, sizeof(init));
			memcpy(&init, (const char *)buf + sizeof(in),
			       (size_t)n - sizeof(in) < sizeof(init) ? (size_t)n - sizeof(in) :
								       sizeof(init));
			atomic_store(&init_offers_parallel, (init.flags & FUSE_PARALLEL_DIROPS) != 0);
			atomic_store(&init_unique, in.unique);
		}
	}
	return n;
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	uint64_t unique = atomic_load(&init_unique);
	struct fuse_out_header out;
	struct fuse_init_out init;
	struct iovec patched[2];

	(void)userdata;
	if (!unique || count != 2 || iov[0].iov_len != sizeof(out) ||
	    iov[1].iov_len < offsetof(struct fuse_init_out, flags) + sizeof(uint32_t) ||
	    iov[1].iov_len > sizeof(init))
		return writev(fd, iov, count);
	memcpy(&out, iov[0].iov_base, sizeof(out));
	if (out.unique != unique)
		return writev(fd, iov, count);
	atomic_store(&init_unique, 0);
	if (out.error != 0 || !atomic_load(&init_offers_parallel) || !atomic_load(&want_parallel))
		return writev(fd, iov, count);
	memcpy(&init, iov[1].iov_base, iov[1].iov_len);
	init.flags |= FUSE_PARALLEL_DIROPS;
	patched[0] = iov[0];
	patched[1].iov_base = &init;
	patched[1].iov_len = iov[1].iov_len;
	return writev(fd, patched, 2);
}

int fs_io_install(struct fuse_session *se)
{
	static const struct fuse_custom_io io = { .read = io_read, .writev = io_writev };

	/* The mount's descriptor, kept: libfuse closes it at the end. */
	return fuse_session_custom_io(se, &io, fuse_session_fd(se));
}
