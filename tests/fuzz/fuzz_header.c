/*
 * libFuzzer harness for the "-- pgqfs:" header parser (src/header.c).
 *
 * The input is a task file.  Besides not crashing (ASan, UBSan), the
 * parse must have the properties the rest of pgqfs relies on:
 *  - it returns 0 or -EINVAL;
 *  - 0: every option is within its bounds, and header_format() of it,
 *    each line re-parsed as a "-- pgqfs:" line, gives the same options
 *    (every key header_format() writes set, the values equal);
 *  - -EINVAL: the message is "line N: ..." with N a line of the file, and
 *    holds printable ASCII only (the file's bytes come out escaped).
 * Every input is parsed as a task and as a schedule.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "header.h"
#include "fuzz.h"

/* The lines psql counts (a final newline starts no new line). */
static unsigned long count_lines(const char *s, size_t len)
{
	unsigned long n = 0;
	size_t i;

	for (i = 0; i < len; i++)
		n += s[i] == '\n';
	return n + (len == 0 || s[len - 1] != '\n');
}

static void check_bounds(const struct task_options *o, bool schedule)
{
	size_t i, j;

	CHECK(o->priority >= HEADER_PRIORITY_MIN &&
	      o->priority <= HEADER_PRIORITY_MAX, "priority %d", o->priority);
	CHECK(o->retries >= 0 && o->retries <= HEADER_RETRIES_MAX,
	      "retries %d", o->retries);
	CHECK(o->retry_delay_ms <= HEADER_RETRY_DELAY_MAX_MS, "retry_delay");
	CHECK(!task_options_has(o, HEADER_TIMEOUT) ||
	      (o->timeout_ms >= 1 && o->timeout_ms <= HEADER_DURATION_MAX_MS),
	      "timeout %llu", (unsigned long long)o->timeout_ms);
	CHECK(o->n_after <= HEADER_MAX_AFTER, "%zu ids", o->n_after);
	CHECK(task_options_has(o, HEADER_AFTER) == (o->n_after > 0),
	      "after set with %zu ids", o->n_after);
	for (i = 0; i < o->n_after; i++) {
		CHECK(o->after[i] > 0, "id %lld", (long long)o->after[i]);
		for (j = 0; j < i; j++)
			CHECK(o->after[i] != o->after[j], "repeated id");
	}
	if (task_options_has(o, HEADER_NOT_BEFORE))
		CHECK(o->not_before_ms >= 0 &&
		      (!o->not_before_relative ||
		       o->not_before_ms <= (int64_t)HEADER_DURATION_MAX_MS) &&
		      (o->not_before_relative || o->not_before_ms % 1000 == 0),
		      "not_before %lld", (long long)o->not_before_ms);
	CHECK(schedule || !(o->set & (1u << HEADER_EVERY | 1u << HEADER_CRON |
				      1u << HEADER_TZ)),
	      "a schedule key outside a schedule");
	CHECK(!(task_options_has(o, HEADER_EVERY) &&
		task_options_has(o, HEADER_CRON)), "every and cron");
	CHECK(!task_options_has(o, HEADER_EVERY) ||
	      (o->every_ms >= HEADER_EVERY_MIN_MS &&
	       o->every_ms <= HEADER_DURATION_MAX_MS), "every");
	CHECK(task_options_has(o, HEADER_GROUP) ==
	      (o->group == HEADER_GROUP_STATEMENTS), "group");
	CHECK(memchr(o->cron, '\0', sizeof(o->cron)) &&
	      memchr(o->tz, '\0', sizeof(o->tz)), "unterminated strings");
}

/* What header_format() shows is the same (set bits may only grow). */
static void check_same(const struct task_options *a,
		       const struct task_options *b)
{
	CHECK((a->set & ~b->set) == 0, "set bits %x lost to %x", a->set,
	      b->set);
	CHECK(a->priority == b->priority && a->timeout_ms == b->timeout_ms &&
	      a->retries == b->retries && a->retry_delay_ms == b->retry_delay_ms &&
	      a->n_after == b->n_after &&
	      memcmp(a->after, b->after, a->n_after * sizeof(a->after[0])) == 0 &&
	      a->not_before_relative == b->not_before_relative &&
	      a->not_before_ms == b->not_before_ms &&
	      a->single_transaction == b->single_transaction &&
	      a->group == b->group && a->every_ms == b->every_ms &&
	      strcmp(a->cron, b->cron) == 0 && strcmp(a->tz, b->tz) == 0,
	      "re-parsed options differ");
}

static void check_round_trip(const struct task_options *o, bool schedule)
{
	struct task_options again;
	struct buf f, h;
	char err[256];
	size_t i;
	int r;

	buf_init(&f);
	buf_init(&h);
	CHECK(header_format(o, &f) == 0, "header_format failed");
	for (i = 0; i < f.len; i++) {
		if (i == 0 || f.data[i - 1] == '\n')
			CHECK(buf_puts(&h, "-- pgqfs: ") == 0, "out of memory");
		CHECK(buf_putc(&h, f.data[i]) == 0, "out of memory");
	}
	CHECK(f.len > 0 && f.data[f.len - 1] == '\n', "format not in lines");
	r = header_parse(h.data, h.len, schedule, &again, err, sizeof(err));
	CHECK(r == 0, "re-parse of\n%.*s: %s", (int)h.len, h.data, err);
	check_same(o, &again);
	buf_finish(&f);
	buf_finish(&h);
}

static void check_file(const char *text, size_t size, bool schedule)
{
	struct task_options o;
	char err[256];
	unsigned long line, lines;
	char *end;
	size_t i;
	int r;

	r = header_parse(text, size, schedule, &o, err, sizeof(err));
	if (r == 0) {
		check_bounds(&o, schedule);
		check_round_trip(&o, schedule);
		return;
	}
	CHECK(r == -EINVAL, "returned %d", r);
	CHECK(strncmp(err, "line ", 5) == 0, "message '%s'", err);
	line = strtoul(err + 5, &end, 10);
	lines = count_lines(text, size);
	CHECK(end[0] == ':' && end[1] == ' ' && line >= 1 && line <= lines,
	      "message '%s' for %lu lines", err, lines);
	for (i = 0; err[i]; i++)
		CHECK(err[i] >= 0x20 && err[i] < 0x7f, "byte 0x%02x in '%s'",
		      (unsigned char)err[i], err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_file((const char *)data, size, false);
	check_file((const char *)data, size, true);
	return 0;
}
