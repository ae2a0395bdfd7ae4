/*
 * libFuzzer harness for the statement splitter (src/split.c).
 *
 * The input is a SQL file.  Besides not crashing (ASan, UBSan), the split
 * must have the properties the rest of pgqfs relies on:
 *  - statements come in order, within the input, non-empty and
 *    non-overlapping, and a meta-command can only be the last one;
 *  - a statement starts at a significant byte (not white space, not "--");
 *  - its line is the line of its last byte (of the backslash for a
 *    meta-command), or the file's last line for an unterminated last one;
 *  - sql_stmt_text() is the statement's bytes less some empty lines only;
 *  - splitting that text again gives exactly one statement covering all
 *    of it, with the same kind and the same text;
 *  - what lies between statements (and after the last) gives no
 *    statement when split alone, except before and after a meta-command.
 *  - a file that is not cut short (sql_cut_short()) ends with a ';'
 *    statement or a meta-command; one that is names a line of the file.
 * Every input is checked with standard_conforming_strings on and off.
 * A broken property aborts, which libFuzzer reports as a crash.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "split.h"
#include "fuzz.h"

/* standard_conforming_strings for the input being checked. */
static bool std_strings;

static size_t count_newlines(const char *s, size_t from, size_t to)
{
	size_t n = 0;

	for (; from < to; from++)
		n += s[from] == '\n';
	return n;
}

/* The lines the splitter reads (a final newline starts no new line). */
static size_t count_lines(const char *s, size_t len)
{
	size_t n = count_newlines(s, 0, len);

	return n + (len > 0 && s[len - 1] != '\n');
}

/* t is s less some '\n' bytes (the empty lines psql drops). */
static bool drops_only_newlines(const char *s, size_t slen, const char *t,
				size_t tlen)
{
	size_t i = 0, j = 0;

	while (i < slen) {
		if (j < tlen && s[i] == t[j]) {
			i++;
			j++;
		} else if (s[i] == '\n') {
			i++;
		} else {
			return false;
		}
	}
	return j == tlen;
}

static void check_resplit(const char *text, const struct sql_stmt *st)
{
	struct sql_stmt *again = NULL;
	struct buf t, t2;
	size_t n = 0;

	buf_init(&t);
	buf_init(&t2);
	CHECK(sql_stmt_text(&t, text, st) == 0, "sql_stmt_text failed");
	CHECK(t.len > 0 && t.len <= st->len, "text length %zu, statement %zu",
	      t.len, st->len);
	CHECK(drops_only_newlines(text + st->start, st->len, t.data, t.len),
	      "the text of the statement at %zu is not its bytes less newlines",
	      st->start);

	/*
	 * A statement starting with the bytes of a byte order mark would
	 * lose them as the start of a file: the property does not apply.
	 */
	if (t.len >= 3 && memcmp(t.data, "\xef\xbb\xbf", 3) == 0)
		goto out;
	/*
	 * As a file holds it: with a newline after its last line, which
	 * matters for an unterminated statement that ends in an empty line
	 * inside a quote.
	 */
	CHECK(buf_putc(&t, '\n') == 0, "out of memory");
	t.len--;
	CHECK(sql_split(t.data, t.len + 1, std_strings, &again, &n) == 0, "re-split failed");
	CHECK(n == 1, "re-splitting the statement at %zu gives %zu statements",
	      st->start, n);
	CHECK(again[0].meta == st->meta, "re-split changes the kind");
	/*
	 * A meta-command loses one final carriage return each time (the
	 * reported text is only shown, never run): no fixed point there.
	 */
	if (st->meta)
		goto out;
	CHECK(again[0].start == 0 && again[0].len == t.len,
	      "re-split of the statement at %zu covers [%zu, +%zu) of %zu bytes",
	      st->start, again[0].start, again[0].len, t.len);
	CHECK(sql_stmt_text(&t2, t.data, &again[0]) == 0, "sql_stmt_text failed");
	CHECK(t2.len == t.len && memcmp(t2.data, t.data, t.len) == 0,
	      "the text of the re-split statement at %zu differs", st->start);
out:
	free(again);
	buf_finish(&t);
	buf_finish(&t2);
}

/* What lies between statements holds none: split alone, it gives none. */
static void check_gap(const char *text, size_t from, size_t to)
{
	struct sql_stmt *st = NULL;
	size_t n = 0;

	CHECK(sql_split(text + from, to - from, std_strings, &st, &n) == 0, "split failed");
	CHECK(n == 0, "the gap [%zu, %zu) holds %zu statements, the first"
	      " [%zu, +%zu)", from, to, n, from + st[0].start, st[0].len);
	free(st);
}

static void check_file(const char *text, size_t size)
{
	struct sql_stmt *st = NULL;
	size_t n = 0, i, prev_end = 0, end, lines;
	unsigned prev_line = 0, cut_line = 0;
	bool cut;
	char c;

	CHECK(sql_split(text, size, std_strings, &st, &n) == 0, "sql_split failed");
	CHECK((n == 0) == (st == NULL), "%zu statements, array %p", n,
	      (void *)st);
	lines = count_lines(text, size);
	for (i = 0; i < n; i++) {
		CHECK(st[i].len > 0, "statement %zu is empty", i);
		CHECK(st[i].start >= prev_end && st[i].start < size &&
		      st[i].len <= size - st[i].start,
		      "statement %zu [%zu, +%zu) overlaps or leaves the %zu bytes"
		      " (previous ends at %zu)", i, st[i].start, st[i].len, size,
		      prev_end);
		end = st[i].start + st[i].len;
		c = text[st[i].start];
		CHECK(c != ' ' && c != '\t' && c != '\n' && c != '\r' &&
		      c != '\f' && !(c == '-' && st[i].len > 1 &&
				     text[st[i].start + 1] == '-'),
		      "statement %zu starts with insignificant byte 0x%02x", i,
		      (unsigned char)c);
		CHECK(st[i].line >= prev_line && st[i].line >= 1,
		      "statement %zu on line %u after line %u", i, st[i].line,
		      prev_line);
		if (st[i].meta) {
			CHECK(i == n - 1, "meta-command %zu of %zu is not last",
			      i, n);
			CHECK(c == '\\', "meta-command starts with 0x%02x",
			      (unsigned char)c);
			CHECK(st[i].line ==
			      1 + count_newlines(text, 0, st[i].start),
			      "meta-command on line %u", st[i].line);
			CHECK(memchr(text + st[i].start, '\n', st[i].len) ==
			      NULL, "meta-command spans lines");
		} else {
			/* Its last byte's line, or the last line of all. */
			CHECK(st[i].line == 1 + count_newlines(text, 0, end - 1) ||
			      (i == n - 1 && st[i].line == lines),
			      "statement %zu [%zu, +%zu) on line %u", i,
			      st[i].start, st[i].len, st[i].line);
			CHECK(text[end - 1] == ';' || i == n - 1,
			      "statement %zu of %zu does not end with ';'", i, n);
		}
		check_resplit(text, &st[i]);
		/* A meta-command discards the statement it interrupts. */
		if (!st[i].meta)
			check_gap(text, prev_end, st[i].start);
		prev_end = end;
		prev_line = st[i].line;
	}
	if (n == 0 || !st[n - 1].meta)
		check_gap(text, prev_end, size);
	cut = sql_cut_short(text, size, std_strings, &cut_line);
	if (cut)
		CHECK(cut_line >= 1 && cut_line <= lines, "cut short at line %u of %zu",
		      cut_line, lines);
	else
		CHECK(n == 0 || st[n - 1].meta ||
		      text[st[n - 1].start + st[n - 1].len - 1] == ';',
		      "not cut short, but the last statement has no ';'");
	free(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	std_strings = true;
	check_file((const char *)data, size);
	std_strings = false;
	check_file((const char *)data, size);
	return 0;
}
