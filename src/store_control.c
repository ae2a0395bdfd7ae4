/* Task control from the filesystem: cancel and retry by id, pools' live
 * settings (DESIGN.md, "Task control"). */
#include "store_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs "SELECT fn($1::int8, $2::int4)" for a task id and a uid; returns
 * its int answer in *ret. */
static int run_id_uid(struct store *s, const char *sql, int64_t id, uint32_t uid, int *ret)
{
	char a[24], b[16];
	const char *pv[2] = { a, b };
	PGresult *res;
	int r;

	snprintf(a, sizeof(a), "%lld", (long long)id);
	snprintf(b, sizeof(b), "%d", (int32_t)uid);	/* int4, as stored */
	r = run(s, sql, 2, NULL, pv, NULL, NULL, false, &res);
	if (r < 0)
		return r;
	*ret = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

int store_cancel_task(struct store *s, int64_t id, uint32_t by_uid)
{
	int st, r;

	r = run_id_uid(s, "SELECT cancel_task($1::int8, $2::int4)", id, by_uid, &st);
	if (r < 0)
		return r;
	switch (st) {
	case 0:
		return 0;
	case 1:
		set_error("cancel", "the task has finished already");
		return -EINVAL;
	case 2:
		return -ENOENT;
	case 3:
		set_error("cancel", "the task is another user's");
		return -EACCES;
	default:
		return -EIO;
	}
}

int store_retry_task(struct store *s, int64_t id, uint32_t by_uid)
{
	int st, r;

	r = run_id_uid(s, "SELECT retry_task($1::int8, $2::int4)", id, by_uid, &st);
	if (r < 0)
		return r;
	switch (st) {
	case 0:
		return 0;
	case 1:
		set_error("retry", "only a failed or cancelled task can be retried");
		return -EINVAL;
	case 2:
		return -ENOENT;
	case 3:
		set_error("retry", "the task is another user's");
		return -EACCES;
	case 4:
		set_error("retry", "a task of the same name is pending in its pool");
		return -EBUSY;
	case 5:
		set_error("retry", "its name is another user's schedule in its pool (schedules/): "
			  "only the schedule's owner may queue that name there");
		return -EPERM;
	case 6:
		set_error("retry", "its name is an id another user reserved (new-id): only "
			  "that user may queue that name");
		return -EACCES;
	default:
		return -EIO;
	}
}

int store_get_pool(struct store *s, const char *pool, int *ret_max, bool *ret_paused)
{
	const char *pv[1] = { pool };
	PGresult *res;
	int r;

	r = run(s, "SELECT max_workers, paused FROM pool_setting WHERE pool = $1",
		1, NULL, pv, NULL, NULL, false, &res);
	if (r < 0)
		return r;
	*ret_max = -1;
	*ret_paused = false;
	if (PQntuples(res) == 1) {
		if (!PQgetisnull(res, 0, 0))
			*ret_max = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
		*ret_paused = PQgetvalue(res, 0, 1)[0] == 't';
	}
	PQclear(res);
	return 0;
}

int store_set_pool(struct store *s, const char *pool, int max_workers, int paused,
		   uint32_t by_uid)
{
	char m[16], u[16];
	const char *pv[4] = { pool, max_workers >= 0 ? m : NULL,
			      paused < 0 ? NULL : paused ? "t" : "f", u };
	PGresult *res;
	int r;

	snprintf(m, sizeof(m), "%d", max_workers);
	snprintf(u, sizeof(u), "%d", (int32_t)by_uid);
	r = run(s, "SELECT set_pool($1, $2::int4, $3::boolean, $4::int4)",
		4, NULL, pv, NULL, NULL, false, &res);
	if (r == 0)
		PQclear(res);
	return r;
}
