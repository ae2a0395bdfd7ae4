/* Schedules (DESIGN.md, "Schedules"): the filesystem's reads and writes of
 * schedules/<pool>/NAME.sql, and the executor's firing statement. */
#include "store_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void schedule_info_finish(struct schedule_info *si)
{
	if (!si)
		return;
	free(si->pool);
	free(si->name);
	free(si->query);
	memset(si, 0, sizeof(*si));
}

int store_put_schedule(struct store *s, const struct schedule_def *d)
{
	enum { P_POOL, P_NAME, P_UID, P_GID, P_QUERY, P_PRIO, P_AFTER, P_NB_US, P_NB_MS,
	       P_OPTIONS, P_EVERY, P_CRON, P_TZ, P_NEXT, P_BASE, P_N };
	char uid[16], gid[16], prio[16], nb_us[24], nb_ms[24], every[24], next[24], base[24];
	const char *pv[P_N] = {
		[P_POOL] = d->pool, [P_NAME] = d->name, [P_UID] = uid, [P_GID] = gid,
		[P_QUERY] = d->data ? d->data : "", [P_PRIO] = prio, [P_AFTER] = d->after,
		[P_NB_US] = d->nb_us >= 0 ? nb_us : NULL, [P_NB_MS] = d->nb_ms >= 0 ? nb_ms : NULL,
		[P_OPTIONS] = d->options, [P_EVERY] = d->every_ms > 0 ? every : NULL,
		[P_CRON] = d->cron, [P_TZ] = d->tz, [P_NEXT] = next, [P_BASE] = base,
	};
	int lens[P_N] = { [P_QUERY] = (int)d->len };
	int fmts[P_N] = { [P_QUERY] = 1 };
	PGresult *res;
	int r, st;

	snprintf(uid, sizeof(uid), "%d", (int32_t)d->uid);	/* int4, as stored */
	snprintf(gid, sizeof(gid), "%d", (int32_t)d->gid);
	snprintf(prio, sizeof(prio), "%d", d->priority);
	snprintf(nb_us, sizeof(nb_us), "%lld", (long long)d->nb_us);
	snprintf(nb_ms, sizeof(nb_ms), "%lld", (long long)d->nb_ms);
	snprintf(every, sizeof(every), "%lld", (long long)d->every_ms);
	snprintf(next, sizeof(next), "%lld", (long long)d->next_ms);
	snprintf(base, sizeof(base), "%lld", (long long)d->base_ms);
	r = run(s, "SELECT put_schedule($1, $2, $3::int4, $4::int4, $5::bytea, $6::int4, $7,"
		   " $8::int8, $9::int8, $10, $11::int8, $12, $13, $14::int8, $15::int8)",
		P_N, NULL, pv, lens, fmts, false, &res);
	if (r < 0)
		return r;
	st = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	if (st == 3) {
		set_error("schedule", "the schedule is another user's");
		return -EACCES;
	}
	if (st == 4) {
		set_error("schedule", "another user's task of that name is pending in the pool, "
			  "or running with retries left (it would hold the schedule's runs off)");
		return -EBUSY;
	}
	return st == 0 ? 0 : -EIO;
}

int store_drop_schedule(struct store *s, const char *pool, const char *name, uint32_t uid)
{
	char u[16];
	const char *pv[3] = { pool, name, u };
	PGresult *res;
	int r, st;

	snprintf(u, sizeof(u), "%d", (int32_t)uid);
	r = run(s, "SELECT drop_schedule($1, $2, $3::int4)", 3, NULL, pv, NULL, NULL, false,
		&res);
	if (r < 0)
		return r;
	st = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	switch (st) {
	case 0:
		return 0;
	case 2:
		return -ENOENT;
	case 3:
		set_error("schedule", "the schedule is another user's");
		return -EACCES;
	default:
		return -EIO;
	}
}

int store_db_clock_ms(struct store *s, int64_t *ret_ms)
{
	PGresult *res;
	int r;

	r = run(s, "SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::int8", 0, NULL,
		NULL, NULL, NULL, false, &res);
	if (r < 0)
		return r;
	*ret_ms = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

#define SCHEDULE_COLUMNS \
	"pool, name, uid, gid, octet_length(query)::int8," \
	" (extract(epoch FROM changed_at) * 1000000)::int8"

/* Columns of SCHEDULE_COLUMNS (binary) into *si, strings copied. */
static int schedule_from_row(const PGresult *res, int row, struct schedule_info *si)
{
	memset(si, 0, sizeof(*si));
	si->pool = res_strdup(res, row, 0);
	si->name = res_strdup(res, row, 1);
	si->uid = (uint32_t)res_int(res, row, 2, 0);
	si->gid = (uint32_t)res_int(res, row, 3, 0);
	si->size = res_int(res, row, 4, 0);
	si->changed_us = res_int(res, row, 5, 0);
	if (!si->pool || !si->name) {
		schedule_info_finish(si);
		return -ENOMEM;
	}
	return 0;
}

int store_get_schedule(struct store *s, const char *pool, const char *name, bool with_query,
		       struct schedule_info *ret)
{
	const char *pv[3] = { pool, name, with_query ? "t" : "f" };
	PGresult *res;
	int r;

	r = run(s, "SELECT " SCHEDULE_COLUMNS ", CASE WHEN $3::boolean THEN query END"
		   " FROM schedule WHERE pool = $1 AND name = $2",
		3, NULL, pv, NULL, NULL, true, &res);
	if (r < 0)
		return r;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return -ENOENT;
	}
	r = schedule_from_row(res, 0, ret);
	if (r == 0 && with_query) {
		size_t n = (size_t)PQgetlength(res, 0, 6);

		ret->query = malloc(n ? n : 1);
		if (!ret->query) {
			schedule_info_finish(ret);
			r = -ENOMEM;
		} else {
			memcpy(ret->query, PQgetvalue(res, 0, 6), n);
			ret->size = (int64_t)n;
		}
	}
	PQclear(res);
	return r;
}

int store_list_schedules(struct store *s, const char *pool, store_schedule_fn *cb, void *arg)
{
	const char *pv[1] = { pool };
	PGresult *res;
	int r = 0;

	r = run(s, "SELECT " SCHEDULE_COLUMNS " FROM schedule WHERE pool = $1 ORDER BY name",
		1, NULL, pv, NULL, NULL, true, &res);
	if (r < 0)
		return r;
	for (int row = 0; row < PQntuples(res) && r == 0; row++) {
		struct schedule_info si;

		r = schedule_from_row(res, row, &si);
		if (r == 0)
			r = cb(arg, &si);
		schedule_info_finish(&si);
	}
	PQclear(res);
	return r;
}

/* ---- executor side ---- */

int store_send_fire_schedules(PGconn *conn, int64_t instance, const char *const *pools,
			      size_t n_pools, const struct schedule_tick *ticks, size_t n,
			      int limit, int64_t grace_ms)
{
	static const Oid types[8] = { OID_INT8, OID_TEXT_ARRAY, OID_TEXT_ARRAY, OID_TEXT_ARRAY,
				      OID_INT8_ARRAY, OID_INT8_ARRAY, OID_INT4, OID_INT8 };
	static const int fmts[8] = { 1, 1, 1, 1, 1, 1, 1, 1 };
	struct arr a[5];
	char inst[8], lim[4], grace[8];
	const char *pv[8];
	int lens[8];
	int r = 0;

	arr_init(&a[0], OID_TEXT);
	arr_init(&a[1], OID_TEXT);
	arr_init(&a[2], OID_TEXT);
	arr_init(&a[3], OID_INT8);
	arr_init(&a[4], OID_INT8);
	for (size_t i = 0; i < n_pools && r == 0; i++)
		r = arr_add_str(&a[0], pools[i]);
	for (size_t i = 0; i < n && r == 0; i++) {
		r = arr_add_str(&a[1], ticks[i].pool);
		if (r == 0)
			r = arr_add_str(&a[2], ticks[i].name);
		if (r == 0)
			r = arr_add_i64(&a[3], ticks[i].at_ms);
		if (r == 0)
			r = arr_add_i64(&a[4], ticks[i].next_ms);
	}
	put_be64(inst, instance);
	lim[0] = (char)((uint32_t)limit >> 24);
	lim[1] = (char)((uint32_t)limit >> 16);
	lim[2] = (char)((uint32_t)limit >> 8);
	lim[3] = (char)(uint32_t)limit;
	pv[0] = inst;
	lens[0] = 8;
	pv[6] = lim;
	lens[6] = 4;
	put_be64(grace, grace_ms);
	pv[7] = grace;
	lens[7] = 8;
	for (int i = 0; i < 5 && r == 0; i++) {
		pv[1 + i] = arr_finish(&a[i], &lens[1 + i]);
		if (!pv[1 + i])
			r = -ENOMEM;
	}
	if (r == 0 && !PQsendQueryParams(conn,
			"SELECT kind, pool, name, next_ms, every_ms, cron, tz, fired, now_ms"
			" FROM fire_schedules($1, $2, $3, $4, $5, $6, $7, $8)",
			8, types, pv, lens, fmts, 0))
		r = -EIO;
	for (int i = 0; i < 5; i++)
		arr_finish_free(&a[i]);
	return r;
}

static int64_t text_int(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static const char *text_or_null(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

void store_parse_schedule_row(const PGresult *res, int row, struct schedule_row *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->kind = (int)text_int(res, row, 0);
	ret->pool = text_or_null(res, row, 1);
	ret->name = text_or_null(res, row, 2);
	ret->next_ms = text_int(res, row, 3);
	ret->every_ms = text_int(res, row, 4);
	ret->cron = text_or_null(res, row, 5);
	ret->tz = text_or_null(res, row, 6);
	ret->fired = text_int(res, row, 7);
	ret->now_ms = text_int(res, row, 8);
}
