/* Writing from the filesystem: staging and submitting files (with the
 * group commit of writers that close together), releasing, unstaging,
 * cancelling, and reserving ids. */
#include "store_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "header.h"
#include "split.h"

/*
 * Storing a file is a commit that waits for the disk, once per file a
 * writer closes.  Writers that close at the same time share one commit:
 * the first to find no batch in flight leads, and stores every request
 * queued by then in one statement; the others wait for its answer.  A lone
 * writer never waits for anyone.
 */
#define STAGE_BATCH_MAX 64
#define STAGE_BATCH_BYTES (1024 * 1024)	/* a larger file goes alone */

struct stage_req {
	struct stage_req *next;
	const struct submission *sub;
	bool queue;
	int64_t id;		/* in: the staged task to update, or 0; out: its id */
	int64_t submitted_us;
	int result;
	bool unknown;		/* failed, but may have committed */
	bool taken;		/* in the batch being stored: its outcome comes */
	bool done;
	/* Its writer's own wake-up: when its batch is stored, or when it
	 * heads the line and nobody leads.  One condition for all woke every
	 * waiting writer at each commit, to find most of them not done. */
	pthread_cond_t cond;
};

/* What the last store_stage() of this thread left unknown. */
static _Thread_local bool stage_unknown;

bool store_stage_outcome_unknown(void)
{
	return stage_unknown;
}

/* The most statements a group file may hold. */
#define GROUP_MAX_MEMBERS 100000

/* Where the header ends: the first line that is neither blank nor a "--"
 * comment (header_parse()'s rule). */
static size_t header_end(const char *text, size_t len)
{
	size_t pos = 0;

	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) + 1 : len;
		size_t p = pos;

		while (p < end && (text[p] == ' ' || text[p] == '\t' || text[p] == '\r'))
			p++;
		if (p < end && text[p] != '\n' && !(p + 1 < end && text[p] == '-' && text[p + 1] == '-'))
			break;
		pos = end;
	}
	return pos;
}

/*
 * A group=statements file (DESIGN.md, Groups): its statements, as psql
 * would split them (standard_conforming_strings on, the default), become
 * members, each with the file's header before it so that it takes the
 * group's options.  *why is set (and nothing added) when the file cannot
 * be a group.
 */
static int add_members(struct arr *elem, struct arr *query, int ord, const char *text,
		       size_t len, bool *ret_group, char *why, size_t whylen)
{
	struct sql_stmt *st = NULL;
	size_t n = 0, hend = header_end(text, len);
	unsigned line = 0;
	struct buf q;
	int r;

	*ret_group = false;
	if (sql_cut_short(text, len, true, &line)) {
		snprintf(why, whylen, "not run: the file ends inside a statement at line %u; "
			 "a \";\" ends it", line);
		return 0;
	}
	r = sql_split(text, len, true, &st, &n);
	if (r < 0)
		return r;
	if (n > GROUP_MAX_MEMBERS) {
		snprintf(why, whylen, "not run: group=statements: %zu statements, more than %d",
			 n, GROUP_MAX_MEMBERS);
		free(st);
		return 0;
	}
	buf_init(&q);
	for (size_t i = 0; i < n && r == 0; i++) {
		buf_reset(&q);
		if (st[i].start >= hend)
			r = buf_append(&q, text, hend);
		if (r == 0)
			r = buf_append(&q, text + st[i].start, st[i].len);
		if (r == 0)
			r = buf_putc(&q, '\n');
		if (r == 0)
			r = arr_add_i32(elem, ord);
		if (r == 0)
			r = arr_add(query, q.data, (int32_t)q.len);
	}
	buf_finish(&q);
	free(st);
	*ret_group = r == 0 && n > 0;
	return r;
}

/* The header's options of one submission, as stage_many() takes them
 * (a[0] is S_PRIORITY's array, and so on in stage_many()'s order). */
static int add_options(struct arr *a, const struct submission *sub, int ord)
{
	struct task_options o;
	char err[256], why[160] = "";
	struct buf text;
	bool group = false;
	int r = 0;

	buf_init(&text);
	if (header_parse(sub->data ? sub->data : "", sub->len, false, &o, err, sizeof(err)) < 0) {
		task_options_init(&o);
		r = arr_add_i32(&a[0], 0);
		if (r == 0)
			r = arr_add(&a[1], NULL, -1);
		if (r == 0)
			r = arr_add(&a[2], NULL, -1);
		if (r == 0)
			r = arr_add(&a[3], NULL, -1);
		if (r == 0)
			r = arr_add(&a[4], NULL, -1);
		if (r == 0)
			r = buf_printf(&text, "not run: bad \"-- pgqfs:\" header: %s", err);
		if (r == 0)
			r = arr_add_str(&a[5], buf_cstr(&text));
		if (r == 0)
			r = arr_add_bool(&a[6], false);
		goto out;
	}
	if (o.group == HEADER_GROUP_STATEMENTS) {
		r = add_members(&a[7], &a[8], ord, sub->data ? sub->data : "", sub->len, &group,
				why, sizeof(why));
	} else {
		unsigned line = 0;

		/* A file cut short fails at once, as a bad header does, in a
		 * paused or busy pool too, not when a slot would run it
		 * (DESIGN.md, Submitting). */
		if (sub->len && sql_cut_short_any(sub->data, sub->len, &line))
			snprintf(why, sizeof(why), "not run: the file ends inside a statement at "
				 "line %u; a \";\" ends it", line);
	}
	if (r == 0)
		r = arr_add_i32(&a[0], o.priority);
	for (size_t i = 0; i < o.n_after && r == 0; i++)
		r = buf_printf(&text, "%s%lld", i ? "," : "", (long long)o.after[i]);
	if (r == 0)
		r = o.n_after ? arr_add_str(&a[1], buf_cstr(&text)) : arr_add(&a[1], NULL, -1);
	if (r == 0)
		r = task_options_has(&o, HEADER_NOT_BEFORE) && !o.not_before_relative
			? arr_add_i64(&a[2], o.not_before_ms * 1000) : arr_add(&a[2], NULL, -1);
	if (r == 0)
		r = task_options_has(&o, HEADER_NOT_BEFORE) && o.not_before_relative
			? arr_add_i64(&a[3], o.not_before_ms) : arr_add(&a[3], NULL, -1);
	buf_reset(&text);
	if (r == 0)
		r = header_format(&o, &text);
	if (r == 0)
		r = arr_add_str(&a[4], buf_cstr(&text));
	if (r == 0)
		r = why[0] ? arr_add_str(&a[5], why) : arr_add(&a[5], NULL, -1);
	if (r == 0)
		r = arr_add_bool(&a[6], group);
out:
	buf_finish(&text);
	return r;
}

/* stage_many()'s parameters, in its order. */
enum {
	S_ID, S_POOL, S_NAME, S_UID, S_GID, S_QUERY, S_QUEUE, S_INSTANCE,
	S_PRIORITY, S_AFTER, S_NB_US, S_NB_MS, S_OPTIONS, S_INVALID,
	S_GROUP, S_M_ELEM, S_M_QUERY, S_MAX, S_WANT, S_LOCAL,
	S_COUNT
};

static int stage_batch_send(struct store *s, struct stage_req *head, PGresult **res)
{
	static const Oid types[S_COUNT] = {
		[S_ID] = OID_INT8_ARRAY, [S_POOL] = OID_TEXT_ARRAY, [S_NAME] = OID_TEXT_ARRAY,
		[S_UID] = OID_INT4_ARRAY, [S_GID] = OID_INT4_ARRAY, [S_QUERY] = OID_BYTEA_ARRAY,
		[S_QUEUE] = OID_BOOL_ARRAY, [S_INSTANCE] = OID_INT8,
		[S_PRIORITY] = OID_INT4_ARRAY, [S_AFTER] = OID_TEXT_ARRAY,
		[S_NB_US] = OID_INT8_ARRAY, [S_NB_MS] = OID_INT8_ARRAY,
		[S_OPTIONS] = OID_TEXT_ARRAY, [S_INVALID] = OID_TEXT_ARRAY,
		[S_GROUP] = OID_BOOL_ARRAY, [S_M_ELEM] = OID_INT4_ARRAY,
		[S_M_QUERY] = OID_BYTEA_ARRAY, [S_MAX] = OID_INT4_ARRAY,
		[S_WANT] = OID_INT4_ARRAY, [S_LOCAL] = OID_INT4_ARRAY,
	};
	static const int fmts[S_COUNT] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
	static const Oid elems[S_COUNT] = {
		[S_ID] = OID_INT8, [S_POOL] = OID_TEXT, [S_NAME] = OID_TEXT,
		[S_UID] = OID_INT4, [S_GID] = OID_INT4, [S_QUERY] = OID_BYTEA,
		[S_QUEUE] = OID_BOOL, [S_PRIORITY] = OID_INT4, [S_AFTER] = OID_TEXT,
		[S_NB_US] = OID_INT8, [S_NB_MS] = OID_INT8, [S_OPTIONS] = OID_TEXT,
		[S_INVALID] = OID_TEXT, [S_GROUP] = OID_BOOL, [S_M_ELEM] = OID_INT4,
		[S_M_QUERY] = OID_BYTEA, [S_MAX] = OID_INT4, [S_WANT] = OID_INT4,
		[S_LOCAL] = OID_INT4,
	};
	struct arr a[S_COUNT];
	const char *pv[S_COUNT];
	int lens[S_COUNT];
	char inst[8];
	int r = 0, ord = 0;
	/* Claims go with a lone writer's staging only (schema_v13.sql.h): in
	 * a batch of writers closing together, each claim would lengthen
	 * the wait of them all for the commit (-10% of the files per second
	 * with 8 writers here), and their releases are claimed together. */
	bool claims = head && !head->next;

	for (int i = 0; i < S_COUNT; i++)
		arr_init(&a[i], elems[i]);
	for (struct stage_req *q = head; q && r == 0; q = q->next) {
		ord++;
		const struct submission *sub = q->sub;

		if (sub->len > INT32_MAX - 64) {
			r = -EFBIG;
			break;
		}
		r = arr_add_i64(&a[S_ID], q->id);
		if (r == 0)
			r = arr_add_str(&a[S_POOL], sub->pool);
		if (r == 0)
			r = arr_add_str(&a[S_NAME], sub->name);
		if (r == 0)
			r = arr_add_i32(&a[S_UID], (int32_t)sub->uid);
		if (r == 0)
			r = arr_add_i32(&a[S_GID], (int32_t)sub->gid);
		/* The SQL's bytes, exactly as written. */
		if (r == 0)
			r = arr_add(&a[S_QUERY], sub->data ? sub->data : "", (int32_t)sub->len);
		if (r == 0)
			r = arr_add_bool(&a[S_QUEUE], q->queue);
		if (r == 0)
			r = add_options(&a[S_PRIORITY], sub, ord);
		if (r == 0)
			r = arr_add_i32(&a[S_MAX], sub->claim ? sub->claim->max : 0);
		if (r == 0)
			r = arr_add_i32(&a[S_WANT], claims && sub->claim ? sub->claim->want : 0);
		if (r == 0)
			r = arr_add_i32(&a[S_LOCAL], sub->claim ? sub->claim->local : 0);
	}
	for (int i = 0; i < S_COUNT && r == 0; i++) {
		if (i == S_INSTANCE)
			continue;
		pv[i] = arr_finish(&a[i], &lens[i]);
		if (!pv[i])
			r = -ENOMEM;
	}
	if (r == 0) {
		int64_t instance;

		pthread_mutex_lock(&s->lock);
		instance = s->instance;
		pthread_mutex_unlock(&s->lock);
		put_be64(inst, instance);
		/* A claim is this instance's: given back, it is as this one. */
		for (struct stage_req *q = head; q; q = q->next)
			if (q->sub->claim)
				q->sub->claim->instance = instance;
		pv[S_INSTANCE] = inst;
		lens[S_INSTANCE] = 8;
		r = run(s, "SELECT ord, id, status, claimed, submitted_us, log_size, attempt, uid,"
			   " priority, pool_max, pool_paused, pool_next_us FROM"
			   " stage_claim($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,"
			   " $15, $16, $17, $18, $19, $20)",
			S_COUNT, types, pv, lens, fmts, true, res);
	}
	for (int i = 0; i < S_COUNT; i++)
		arr_finish_free(&a[i]);
	return r;
}

/* A claim with the staging (schema_v13.sql.h), as stage_claim() answered. */
static void stage_claimed(const PGresult *res, int row, struct stage_claim *c)
{
	c->claimed = !PQgetisnull(res, row, 3) && PQgetlength(res, row, 3) == 1 &&
		     PQgetvalue(res, row, 3)[0] == 1;
	if (!c->claimed)
		return;
	c->submitted_us = res_int(res, row, 4, 0);
	c->log_size = res_int(res, row, 5, 0);
	c->attempt = (int)res_int(res, row, 6, 1);
	c->uid = (uint32_t)res_int(res, row, 7, 0);
	c->priority = (int)res_int(res, row, 8, 0);
	c->pool_max = (int)res_int(res, row, 9, 0);
	c->pool_paused = !PQgetisnull(res, row, 10) && PQgetlength(res, row, 10) == 1 &&
			 PQgetvalue(res, row, 10)[0] == 1;
	c->pool_next_us = res_int(res, row, 11, 0);
}

/* Stores the requests of one batch and fills in their answers. */
static void stage_batch_run(struct store *s, struct stage_req *head)
{
	PGresult *res = NULL;
	size_t n = 0;
	int r;

	for (struct stage_req *q = head; q; q = q->next)
		n++;
	r = stage_batch_send(s, head, &res);
	if (r < 0 && n > 1 && !run_conn_lost) {
		/* One bad request failed the statement, which rolled back:
		 * store each on its own, so that the others' writers do not
		 * pay for it.  (A lost connection may have committed: then
		 * every writer gets the error.) */
		for (struct stage_req *q = head; q; ) {
			struct stage_req *next = q->next;

			q->next = NULL;
			stage_batch_run(s, q);
			q->next = next;
			q = next;
		}
		return;
	}
	for (struct stage_req *q = head; q; q = q->next) {
		q->result = r < 0 ? r : -EIO;
		q->unknown = r < 0 && run_conn_lost;
	}
	if (r == 0) {
		/* The commit is acknowledged: the submission's time (DESIGN.md),
		 * stored with its release; the row's INSERT came before. */
		int64_t committed_us = wall_us();

		for (int row = 0; row < PQntuples(res); row++) {
			int64_t ord = res_int(res, row, 0, 0);
			struct stage_req *q = head;

			for (int64_t i = 1; q && i < ord; i++)
				q = q->next;
			if (!q)
				continue;
			q->id = res_int(res, row, 1, 0);
			q->submitted_us = committed_us;
			if (q->sub->claim)
				stage_claimed(res, row, q->sub->claim);
			switch (res_int(res, row, 2, -1)) {
			case 0: q->result = 0; break;
			case 1: q->result = -EBUSY; break;
			case 2: q->result = -ESTALE; break;
			case 3: q->result = -EACCES; break;
			case 4: q->result = -EEXIST; break;
			case 5: q->result = -EPERM; break;
			default: q->result = -EIO; break;
			}
		}
		if ((size_t)PQntuples(res) != n)
			set_error("control database", "stage_many answered for fewer files than asked");
		PQclear(res);
	}
}

/* Wakes the writer heading the line, if any: nobody leads now. */
static void stage_wake_head(struct store *s)
{
	if (s->stage_queue)
		pthread_cond_signal(&s->stage_queue->cond);
}

static int stage_request(struct store *s, const struct submission *sub, bool queue,
			 int64_t *inout_id, int64_t *ret_submitted_us)
{
	struct stage_req req = { .sub = sub, .queue = queue, .id = *inout_id };
	struct stage_req **tail;
	struct store_span span;

	/* The batch is stored outside the request; the wait for it is not. */
	store_span_take(s, &span);
	pthread_cond_init(&req.cond, &s->stage_condattr);
	pthread_mutex_lock(&s->stage_lock);
	for (tail = &s->stage_queue; *tail; tail = &(*tail)->next)
		;
	*tail = &req;
	while (!req.done) {
		struct stage_req *batch, *q;
		size_t n = 0, bytes;

		if (req.taken) {
			/* Stored or not, only the statement can say. */
			pthread_cond_wait(&req.cond, &s->stage_lock);
			continue;
		}
		if (s->stage_leading) {
			/* In line behind other writers' batches: give up at the
			 * request's deadline, or its interrupt (Ctrl-C).  The
			 * leader wakes the head of the line when it is done. */
			int r = store_span_wait(s, &span, &req.cond, &s->stage_lock);

			if (r < 0 && !req.taken && !req.done) {
				for (tail = &s->stage_queue; *tail != &req; tail = &(*tail)->next)
					;
				*tail = req.next;
				pthread_mutex_unlock(&s->stage_lock);
				pthread_cond_destroy(&req.cond);
				store_span_put(&span);
				stage_unknown = false;	/* never sent */
				return r;
			}
			continue;
		}
		/* Lead: take the waiting requests (ours among them), up to
		 * STAGE_BATCH_MAX of them or STAGE_BATCH_BYTES of SQL. */
		s->stage_leading = true;
		batch = s->stage_queue;
		bytes = batch->sub->len;
		for (q = batch; q->next && ++n < STAGE_BATCH_MAX; q = q->next) {
			bytes += q->next->sub->len;
			if (bytes > STAGE_BATCH_BYTES)
				break;
		}
		s->stage_queue = q->next;
		q->next = NULL;
		for (q = batch; q; q = q->next)
			q->taken = true;
		pthread_mutex_unlock(&s->stage_lock);
		stage_batch_run(s, batch);
		pthread_mutex_lock(&s->stage_lock);
		/* Each writer of the batch wakes once, under the lock: its
		 * request (and condition) lives on its stack until then. */
		for (q = batch; q; ) {
			struct stage_req *next = q->next;

			q->next = NULL;
			q->done = true;
			if (q != &req)
				pthread_cond_signal(&q->cond);
			q = next;
		}
		s->stage_leading = false;
		stage_wake_head(s);
	}
	pthread_mutex_unlock(&s->stage_lock);
	pthread_cond_destroy(&req.cond);
	store_span_put(&span);
	stage_unknown = req.result < 0 && req.unknown;
	*inout_id = req.id;
	if (ret_submitted_us)
		*ret_submitted_us = req.submitted_us;
	return req.result;
}

int store_stage(struct store *s, const struct submission *sub, int64_t *inout_id,
		int64_t *ret_submitted_us)
{
	return stage_request(s, sub, false, inout_id, ret_submitted_us);
}

int store_submit(struct store *s, const struct submission *sub, int64_t *ret_id)
{
	/* Stored and queued in one commit, which waits for the disk. */
	*ret_id = 0;
	return stage_request(s, sub, true, ret_id, NULL);
}

/* Runs a statement whose one parameter is a task id. */
static int run_id(struct store *s, const char *sql, int64_t id, PGresult **ret)
{
	char a[24];
	const char *pv[1] = { a };

	snprintf(a, sizeof(a), "%lld", (long long)id);
	return run(s, sql, 1, NULL, pv, NULL, NULL, false, ret);
}

int store_release(struct store *s, int64_t id)
{
	PGresult *res;
	int r;

	r = run_id(s, "SELECT release($1::int8, false)", id, &res);
	if (r < 0)
		return r;
	r = PQgetisnull(res, 0, 0) ? -ENOENT : 0;
	PQclear(res);
	return r;
}

/* A staged row of this daemon's file, or one claimed with its staging and
 * not started (schema_v13.sql.h): taken back only by the daemon whose
 * file it is, which starts it only at the file's release. */
#define HELD_OR_STAGED \
	"(t.state = 'staged' OR (t.state = 'running' AND t.started_at IS NULL AND NOT t.is_group))"

/*
 * The rows d deleted are gone for good: `wait` readers parked on them, on
 * any daemon's mount, hear it on the done channel, look the ids up and
 * answer ENOENT, as for a task that retention removed (the state in the
 * payload is only a hint: a reader looks the task up).  notify_done()
 * cuts the list into payloads the server takes.
 */
#define NOTIFY_GONE \
	"(SELECT notify_done(array_agg(d.id ORDER BY d.id), 'cancelled') FROM d" \
	" HAVING count(*) > 0)"

int store_unstage(struct store *s, int64_t id)
{
	PGresult *res;
	int r;

	/* A reserved id whose file was emptied or removed before it was
	 * released was never submitted: its owner may use it again.  A row
	 * claimed with its staging (HELD_ROW) was not released either. */
	r = run_id(s, "WITH d AS (DELETE FROM task t WHERE (t.id = $1 OR t.group_id = $1)"
		      "   AND " HELD_OR_STAGED " RETURNING t.id, t.pool, t.state),"
		      " c AS (DELETE FROM chunk USING d WHERE chunk.task = d.id),"
		      " r AS (UPDATE reservation r SET used = false FROM d WHERE r.id = d.id)"
		      /* A held row's slot is free: other daemons may claim. */
		      " SELECT (SELECT count(*) FROM (SELECT pg_notify(current_schema() || '_queue',"
		      "     d.pool) FROM d WHERE d.state = 'running') q), " NOTIFY_GONE,
		   id, &res);
	if (r < 0)
		return r;
	PQclear(res);
	return 0;
}

int store_unhold(struct store *s, int64_t instance, int64_t id, bool started)
{
	char tid[24], inst[24];
	const char *pv[3] = { inst, tid, started ? "true" : "false" };
	PGresult *res;
	int r;

	snprintf(tid, sizeof(tid), "%lld", (long long)id);
	snprintf(inst, sizeof(inst), "%lld", (long long)(instance ? instance : store_instance(s)));
	r = run(s, "SELECT give_back($1::int8, $2::int8, $3::bool)", 3, NULL, pv, NULL, NULL, false,
		&res);
	if (r < 0)
		return r;
	PQclear(res);
	return 0;
}

int64_t store_instance(struct store *s)
{
	int64_t v;

	pthread_mutex_lock(&s->lock);
	v = s->instance;
	pthread_mutex_unlock(&s->lock);
	return v;
}

int store_unstage_name(struct store *s, const char *pool, const char *name, int64_t instance,
		       const int64_t *keep, size_t n_keep, bool *ret_found)
{
	char then[24], now[24], kept[16 * 21 + 3];
	const char *pv[5] = { pool, name, then, now, kept };
	size_t at = 0;
	PGresult *res;
	int r;

	snprintf(then, sizeof(then), "%lld", (long long)instance);
	snprintf(now, sizeof(now), "%lld", (long long)store_instance(s));
	kept[at++] = '{';
	for (size_t i = 0; i < n_keep && i < 16; i++)
		at += (size_t)snprintf(kept + at, sizeof(kept) - at, "%s%lld", i ? "," : "",
				       (long long)keep[i]);
	snprintf(kept + at, sizeof(kept) - at, "}");
	/* Not the rows of tasks this daemon holds or runs: a task of the
	 * name released and started, its start not yet on record, has a
	 * row that looks held. */
	r = run(s, "WITH p AS (SELECT t.id FROM task t WHERE t.pool = $1 AND t.name = $2"
		   "   AND " HELD_OR_STAGED " AND t.group_id IS NULL"
		   "   AND t.instance IN ($3::int8, $4::int8) AND NOT t.id = ANY ($5::int8[])),"
		   " d AS (DELETE FROM task t USING p WHERE (t.id = p.id OR t.group_id = p.id)"
		   "   AND " HELD_OR_STAGED " RETURNING t.id),"
		   " c AS (DELETE FROM chunk USING d WHERE chunk.task = d.id),"
		   " r AS (UPDATE reservation r SET used = false FROM d WHERE r.id = d.id)"
		   " SELECT count(*), " NOTIFY_GONE " FROM d",
		5, NULL, pv, NULL, NULL, false, &res);
	if (r < 0)
		return r;
	*ret_found = strcmp(PQgetvalue(res, 0, 0), "0") != 0;
	PQclear(res);
	return 0;
}

int store_cancel(struct store *s, const char *pool, const char *name,
		 uint32_t by_uid, int64_t *ret_id)
{
	char u[16];
	const char *pv[3] = { pool, name, u };
	PGresult *res;
	int r;

	snprintf(u, sizeof(u), "%d", (int32_t)by_uid);	/* int4, as stored */
	r = run(s, "SELECT cancel($1, $2, $3::int4)", 3, NULL, pv, NULL, NULL, false, &res);
	if (r < 0)
		return r;
	if (PQgetisnull(res, 0, 0)) {
		r = -ENOENT;
	} else if (strcmp(PQgetvalue(res, 0, 0), "-1") == 0) {
		set_error("cancel", "the pending task of that name is another user's");
		r = -EPERM;
	} else if (ret_id) {
		*ret_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	}
	PQclear(res);
	return r;
}

int store_get_reservation(struct store *s, int64_t id, uint32_t *ret_uid, bool *ret_used,
			  bool *ret_pending)
{
	PGresult *res;
	int r;

	r = run_id(s, "SELECT r.uid, r.used, EXISTS (SELECT 1 FROM task t WHERE t.id = r.id"
		      "   AND t.state IN ('staged', 'queued'))"
		      " FROM reservation r WHERE r.id = $1",
		   id, &res);
	if (r < 0)
		return r;
	if (PQntuples(res) == 0) {
		r = -ENOENT;
	} else {
		*ret_uid = (uint32_t)strtol(PQgetvalue(res, 0, 0), NULL, 10);
		*ret_used = PQgetvalue(res, 0, 1)[0] == 't';
		*ret_pending = PQgetvalue(res, 0, 2)[0] == 't';
	}
	PQclear(res);
	return r;
}

int store_new_id(struct store *s, uint32_t uid, int64_t *ret_id, bool *ret_name_pending)
{
	static const Oid types[3] = { OID_INT4, OID_INT4, OID_TEXT_ARRAY };
	static const int fmts[3] = { 0, 0, 1 };
	struct arr pools;
	char u[16], m[16];
	const char *pv[3] = { u, m, NULL };
	int lens[3] = { 0, 0, 0 };
	PGresult *res;
	int r = 0;

	snprintf(u, sizeof(u), "%d", (int32_t)uid);	/* int4, as stored */
	snprintf(m, sizeof(m), "%d", s->cfg->max_reserved_ids_per_user);
	arr_init(&pools, OID_TEXT);
	for (size_t i = 0; i < s->cfg->n_pools && r == 0; i++)
		r = arr_add_str(&pools, s->cfg->pools[i].name);
	if (r == 0 && !(pv[2] = arr_finish(&pools, &lens[2])))
		r = -ENOMEM;
	/* Whether a file named ID.sql is pending already (submitted without a
	 * reservation): if not, the daemon need not ask before it is created. */
	if (r == 0)
		r = run(s, "SELECT id, pending FROM reserve_id($1, $2, $3)",
			3, types, pv, lens, fmts, false, &res);
	arr_finish_free(&pools);
	if (r < 0)
		return r;
	if (PQntuples(res) == 0) {
		char why[128];

		snprintf(why, sizeof(why),
			 "uid %u holds max_reserved_ids_per_user (%d) unused reservations", uid,
			 s->cfg->max_reserved_ids_per_user);
		set_error("new-id", why);
		PQclear(res);
		return -EDQUOT;
	}
	*ret_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	*ret_name_pending = PQgetvalue(res, 0, 1)[0] != 'f';
	PQclear(res);
	return 0;
}
