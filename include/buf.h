/* Growable byte buffer. */
#ifndef PGQFS_BUF_H
#define PGQFS_BUF_H

#include <stddef.h>

/*
 * A byte buffer that grows on demand.  Zero-initialise it (or call
 * buf_init()); buf_finish() frees its storage.  data is not NUL-terminated
 * unless buf_cstr() is called.  The append functions return 0 or -ENOMEM;
 * on failure the buffer is unchanged.  They are not warn_unused_result:
 * GCC ignores a (void) cast of such a call, and code that has checked
 * buf_reserve() legitimately ignores the appends that follow.
 */
struct buf {
	char *data;
	size_t len;
	size_t cap;
};

void buf_init(struct buf *b);
void buf_finish(struct buf *b);
void buf_reset(struct buf *b);

int buf_reserve(struct buf *b, size_t extra);
/* Makes the storage exactly cap bytes (at least len + 1): 0 or -ENOMEM. */
int buf_set_cap(struct buf *b, size_t cap);
int buf_append(struct buf *b, const void *data, size_t len);
int buf_putc(struct buf *b, char c);
int buf_puts(struct buf *b, const char *s);
__attribute__((format(printf, 2, 3)))
int buf_printf(struct buf *b, const char *fmt, ...);

/* Terminates the content with a NUL (not counted in len) and returns data. */
const char *buf_cstr(struct buf *b);

/* Hands the storage to the caller, who frees it; the buffer is left empty. */
char *buf_steal(struct buf *b, size_t *ret_len);

#endif
