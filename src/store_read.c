/* The filesystem's reads: tasks, listings, output streams, stats. */
#include "store.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

void task_info_finish(struct task_info *t)
{
	free(t->pool);
	free(t->name);
	free(t->target);
	free(t->daemon);
	free(t->error);
	free(t->options);
	free(t->waits_for);
	memset(t, 0, sizeof(*t));
}

#define US(col) "(extract(epoch FROM " col ") * 1000000)::int8"

/* The columns parse_task() reads, in its order. */
#define TASK_COLUMNS \
	"id, pool, name, state, uid, gid, " \
	US("submitted_at") ", " US("started_at") ", " US("finished_at") ", " \
	US("changed_at") ", " US("result_at") ", " US("log_at") ", " \
	"octet_length(query)::int8, " \
	"CASE WHEN is_group THEN (SELECT 9 + coalesce(sum(length(m.id::text) + 2 + " \
	"  length(CASE m.state WHEN 'staged' THEN 'queued' ELSE m.state END)), 0)::int8" \
	"  FROM task m WHERE m.group_id = task.id) ELSE result_size END, " \
	"log_size, error, rows, attempt, " \
	"backend_pid, target, daemon, options, " \
	"CASE WHEN state = 'queued' AND deps > 0 THEN" \
	" (SELECT string_agg(a::text, ',' ORDER BY a) FROM unnest(after) AS a" \
	"   WHERE NOT EXISTS (SELECT 1 FROM task x WHERE x.id = a AND x.state = 'done')) END, " \
	US("run_at") ", stmt, n_stmts, rows_now, json_size, " US("json_at") ", group_id, is_group::int4, n_members"

static int parse_task(const PGresult *res, int row, struct task_info *t)
{
	int c = 0;
	char *state;
	int st;

	memset(t, 0, sizeof(*t));
	t->id = res_int(res, row, c++, 0);
	t->pool = res_strdup(res, row, c++);
	t->name = res_strdup(res, row, c++);
	state = res_strdup(res, row, c++);
	st = state ? task_state_parse(state) : -1;
	free(state);
	t->state = st < 0 ? TASK_FAILED : (enum task_state)st;
	t->uid = (uint32_t)res_int(res, row, c++, 0);
	t->gid = (uint32_t)res_int(res, row, c++, 0);
	t->submitted_us = res_int(res, row, c++, 0);
	t->started_us = res_int(res, row, c++, 0);
	t->finished_us = res_int(res, row, c++, 0);
	t->changed_us = res_int(res, row, c++, 0);
	t->result_us = res_int(res, row, c++, 0);
	t->log_us = res_int(res, row, c++, 0);
	t->query_size = res_int(res, row, c++, 0);
	t->result_size = res_int(res, row, c++, 0);
	t->log_size = res_int(res, row, c++, 0);
	if (!PQgetisnull(res, row, c)) {
		t->error_len = (size_t)PQgetlength(res, row, c);
		t->error = malloc(t->error_len + 1);
		if (t->error) {
			memcpy(t->error, PQgetvalue(res, row, c), t->error_len);
			t->error[t->error_len] = '\0';
		}
	}
	c++;
	t->rows = res_int(res, row, c++, -1);
	t->attempt = res_int(res, row, c++, 0);
	t->backend_pid = res_int(res, row, c++, 0);
	t->target = res_strdup(res, row, c++);
	t->daemon = res_strdup(res, row, c++);
	t->options = res_strdup(res, row, c++);
	t->waits_for = res_strdup(res, row, c++);
	t->run_at_us = res_int(res, row, c++, 0);
	t->stmt = res_int(res, row, c++, 0);
	t->n_stmts = res_int(res, row, c++, 0);
	t->rows_now = res_int(res, row, c++, 0);
	t->json_size = res_int(res, row, c++, 0);
	t->json_us = res_int(res, row, c++, 0);
	t->group_id = res_int(res, row, c++, 0);
	t->is_group = res_int(res, row, c++, 0) != 0;
	t->n_members = res_int(res, row, c++, 0);
	if (!t->pool || !t->name || (t->error_len && !t->error)) {
		task_info_finish(t);
		return -ENOMEM;
	}
	return 0;
}

static int get_one_task(struct store *s, const char *sql, int n,
			const char *const *values, struct task_info *ret)
{
	PGresult *res;
	int r = run(s, sql, n, NULL, values, NULL, NULL, true, &res);

	if (r < 0)
		return r;
	if (PQntuples(res) == 0)
		r = -ENOENT;
	else
		r = parse_task(res, 0, ret);
	PQclear(res);
	return r;
}

int store_get_task(struct store *s, int64_t id, struct task_info *ret)
{
	char ids[24];
	const char *pv[1] = { ids };

	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	return get_one_task(s, "SELECT " TASK_COLUMNS " FROM task WHERE id = $1",
			    1, pv, ret);
}

int store_get_states(struct store *s, const int64_t *ids, size_t n, int *ret_states)
{
	static const Oid types[1] = { OID_INT8_ARRAY };
	static const int fmts[1] = { 1 };
	const char *pv[1];
	int lens[1];
	struct arr a;
	PGresult *res = NULL;
	int r = 0;

	if (n > INT32_MAX)
		return -E2BIG;
	arr_init(&a, OID_INT8);
	for (size_t i = 0; i < n && r == 0; i++)
		r = arr_add_i64(&a, ids[i]);
	if (r == 0 && !(pv[0] = arr_finish(&a, &lens[0])))
		r = -ENOMEM;
	/* One row per id, in their order; a NULL state: no such task. */
	if (r == 0)
		r = run(s, "SELECT t.state FROM unnest($1::int8[]) WITH ORDINALITY AS u(id, ord)"
			   " LEFT JOIN task t ON t.id = u.id ORDER BY u.ord",
			1, types, pv, lens, fmts, true, &res);
	arr_finish_free(&a);
	if (r < 0)
		return r;
	if ((size_t)PQntuples(res) != n) {
		set_error("control database", "a row per task id was expected");
		PQclear(res);
		return -EIO;
	}
	for (size_t i = 0; i < n; i++) {
		int st;

		if (PQgetisnull(res, (int)i, 0)) {
			ret_states[i] = -ENOENT;
			continue;
		}
		st = task_state_parse(PQgetvalue(res, (int)i, 0));
		ret_states[i] = st < 0 ? TASK_FAILED : st;
	}
	PQclear(res);
	return 0;
}

int store_get_pending(struct store *s, const char *pool, const char *name,
		      struct task_info *ret)
{
	const char *pv[2] = { pool, name };

	return get_one_task(s, "SELECT " TASK_COLUMNS " FROM task"
			       " WHERE pool = $1 AND name = $2 AND state IN ('staged', 'queued')"
			       " AND group_id IS NULL",
			    2, pv, ret);
}

/* Rows (id, state, uid, gid, mtime, size, pool, name-or-NULL) to cb. */
static int each_entry(PGresult *res, store_entry_fn *cb, void *arg, int64_t *ret_last)
{
	for (int row = 0; row < PQntuples(res); row++) {
		struct task_entry e;
		int state = task_state_parse(PQgetvalue(res, row, 1));
		int r;

		e.id = res_int(res, row, 0, 0);
		e.state = state < 0 ? TASK_FAILED : (enum task_state)state;
		e.uid = (uint32_t)res_int(res, row, 2, 0);
		e.gid = (uint32_t)res_int(res, row, 3, 0);
		e.mtime_us = res_int(res, row, 4, 0);
		e.size = res_int(res, row, 5, 0);
		e.pool = PQgetvalue(res, row, 6);
		e.name = PQgetisnull(res, row, 7) ? NULL : PQgetvalue(res, row, 7);
		*ret_last = e.id;
		r = cb(arg, &e);
		if (r)
			return r;
	}
	return 0;
}

/* Rows of a listing page. */
#define LIST_PAGE 5000

int store_list_tasks(struct store *s, unsigned state_mask, store_entry_fn *cb, void *arg)
{
	char after[24], limit[16];
	struct buf states;
	const char *pv[3];
	int64_t last = 0;
	int r;

	buf_init(&states);
	r = buf_putc(&states, '{');
	for (int i = TASK_STAGED; r == 0 && i <= TASK_CANCELLED; i++)
		if (state_mask & (1u << i))
			r = buf_printf(&states, "%s%s", states.len > 1 ? "," : "",
				       task_state_name((enum task_state)i));
	if (r == 0)
		r = buf_putc(&states, '}');
	pv[0] = buf_cstr(&states);
	if (r < 0 || !pv[0]) {
		buf_finish(&states);
		return -ENOMEM;
	}
	snprintf(limit, sizeof(limit), "%d", LIST_PAGE);
	pv[1] = after;
	pv[2] = limit;
	for (;;) {
		PGresult *res;
		int n;

		snprintf(after, sizeof(after), "%lld", (long long)last);
		r = run(s, "SELECT id, state, uid, gid, " US("changed_at") ", 0::int8, pool, NULL::text"
			   " FROM task WHERE state = ANY ($1::text[]) AND id > $2::int8"
			   " ORDER BY id LIMIT $3::int",
			3, NULL, pv, NULL, NULL, true, &res);
		if (r < 0)
			break;
		n = PQntuples(res);
		r = each_entry(res, cb, arg, &last);
		PQclear(res);
		if (r || n < LIST_PAGE)
			break;
	}
	buf_finish(&states);
	return r;
}

int store_list_pending(struct store *s, const char *pool, store_entry_fn *cb, void *arg)
{
	const char *pv[1] = { pool };
	PGresult *res;
	int64_t last;
	int r;

	r = run(s, "SELECT id, state, uid, gid, " US("changed_at") ","
		   " octet_length(query)::int8, pool, name"
		   " FROM task WHERE pool = $1 AND state IN ('staged', 'queued')"
		   " AND group_id IS NULL ORDER BY id",
		1, NULL, pv, NULL, NULL, true, &res);
	if (r < 0)
		return r;
	r = each_entry(res, cb, arg, &last);
	PQclear(res);
	return r;
}

int store_pending_names(struct store *s, const char *pool, size_t max,
			store_name_fn *cb, void *arg)
{
	char lim[24];
	const char *pv[2] = { pool, lim };
	PGresult *res;
	int n;
	int r;

	snprintf(lim, sizeof(lim), "%zu", max + 1);
	r = run(s, "SELECT pending_names($1, $2::int8)", 2, NULL, pv, NULL, NULL, false, &res);
	if (r < 0)
		return r;
	n = PQntuples(res);
	if ((size_t)n > max) {
		PQclear(res);
		return -E2BIG;
	}
	for (int row = 0; row < n && r == 0; row++)
		r = cb(arg, PQgetvalue(res, row, 0));
	PQclear(res);
	return r < 0 ? r : n;
}

static uint64_t out_len(const struct buf *out, size_t start)
{
	return (uint64_t)(out->len - start);
}

int store_group_result(struct store *s, int64_t id, struct buf *out)
{
	char ids[24];
	const char *pv[1] = { ids };
	PGresult *res;
	int r;

	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	r = run(s, "SELECT m.id, CASE m.state WHEN 'staged' THEN 'queued' ELSE m.state END"
		   " FROM task m WHERE m.group_id = $1 ORDER BY m.id",
		1, NULL, pv, NULL, NULL, false, &res);
	if (r < 0)
		return r;
	r = buf_puts(out, "id,state\n");
	for (int i = 0; i < PQntuples(res) && r == 0; i++)
		r = buf_printf(out, "%s,%s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
	PQclear(res);
	return r;
}

int store_read_stream(struct store *s, int64_t id, enum task_stream stream,
		      uint64_t off, size_t size, struct buf *out)
{
	char a[24], b[8], c[24], d[24];
	const char *pv[4] = { a, b, c, d };
	uint64_t end = off + size;
	size_t start = out->len;
	PGresult *res;
	int r;

	snprintf(a, sizeof(a), "%lld", (long long)id);
	snprintf(b, sizeof(b), "%d", (int)stream);
	/* A chunk overlapping [off, end) starts after off - CHUNK_MAX. */
	snprintf(c, sizeof(c), "%lld", (long long)off - CHUNK_MAX);
	snprintf(d, sizeof(d), "%llu", (unsigned long long)end);
	r = run(s, "SELECT off, data FROM chunk WHERE task = $1 AND stream = $2"
		   " AND off > $3 AND off < $4 ORDER BY off",
		4, NULL, pv, NULL, NULL, true, &res);
	if (r < 0)
		return r;
	for (int i = 0; i < PQntuples(res) && r == 0; i++) {
		uint64_t coff = (uint64_t)res_int(res, i, 0, 0);
		uint64_t clen = (uint64_t)PQgetlength(res, i, 1);
		uint64_t pos = off + out_len(out, start);
		uint64_t to;

		if (coff > pos)
			break;		/* a gap: return what is contiguous */
		if (coff + clen <= pos)
			continue;
		to = end < coff + clen ? end : coff + clen;
		r = buf_append(out, PQgetvalue(res, i, 1) + (pos - coff), (size_t)(to - pos));
	}
	PQclear(res);
	return r;
}

int store_read_query(struct store *s, int64_t id, uint64_t off, size_t size,
		     struct buf *out)
{
	char a[24], b[24], c[24];
	const char *pv[3] = { a, b, c };
	PGresult *res;
	int r;

	snprintf(a, sizeof(a), "%lld", (long long)id);
	snprintf(b, sizeof(b), "%llu", (unsigned long long)off + 1);
	snprintf(c, sizeof(c), "%zu", size);
	r = run(s, "SELECT substr(query, $2::int, $3::int) FROM task WHERE id = $1",
		3, NULL, pv, NULL, NULL, true, &res);
	if (r < 0)
		return r;
	if (PQntuples(res) == 0)
		r = -ENOENT;
	else
		r = buf_append(out, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
	PQclear(res);
	return r;
}

void store_counts_finish(struct store_counts *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->pools[i].pool);
	free(c->pools);
	c->pools = NULL;
	c->n = 0;
}

int store_count_tasks(struct store *s, struct store_counts *ret)
{
	struct store_counts c = { 0 };
	PGresult *res;
	int r;

	/* Staged tasks count as queued: their writers' cp has returned. */
	r = run(s, "SELECT pool, state, n FROM stats() ORDER BY pool",
		0, NULL, NULL, NULL, NULL, false, &res);
	if (r < 0)
		return r;
	c.pools = calloc((size_t)PQntuples(res) + 1, sizeof(*c.pools));
	if (!c.pools) {
		PQclear(res);
		return -ENOMEM;
	}
	for (int i = 0; i < PQntuples(res); i++) {
		const char *pool = PQgetvalue(res, i, 0);
		int st = task_state_parse(PQgetvalue(res, i, 1));

		if (c.n == 0 || strcmp(c.pools[c.n - 1].pool, pool) != 0) {
			c.pools[c.n].pool = strdup(pool);
			if (!c.pools[c.n].pool) {
				store_counts_finish(&c);
				PQclear(res);
				return -ENOMEM;
			}
			c.n++;
		}
		if (st == TASK_STAGED)
			st = TASK_QUEUED;
		if (st >= 0)
			c.pools[c.n - 1].n[st] += strtoll(PQgetvalue(res, i, 2), NULL, 10);
	}
	PQclear(res);
	*ret = c;
	return 0;
}
