/*
 * Work the event loop must not do itself, each on a thread of its own (a
 * "job"): host name resolution (getaddrinfo) and user names (getpwuid_r:
 * NSS may ask LDAP) before a connection opens, and cancel requests
 * (PQcancel connects and waits, ignoring connect_timeout).  The loop
 * starts them, reaps them (target.c, jobs_reap) and, at exit, abandons
 * the ones stuck on a hung server.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "executor_internal.h"
#include "log.h"

void job_free(struct job *j)
{
	if (!j)
		return;
	if (j->cancel)
		PQfreeCancel(j->cancel);
	for (size_t i = 0; i < j->n_names; i++) {
		free(j->names ? j->names[i] : NULL);
		free(j->addrs ? j->addrs[i] : NULL);
	}
	free(j->names);
	free(j->addrs);
	free(j->gai);
	free(j->user);
	free(j->self_user);
	free(j);
}

static void job_end(struct job *j)
{
	struct executor *e = j->e;
	int running = JOB_RUNNING;

	/* Once JOB_DONE is seen, j and e stay until this thread is joined.
	 * The executor takes a resolution's answer; any end frees a slot
	 * that a connection may wait for (conn_resolve_start()). */
	if (atomic_compare_exchange_strong(&j->state, &running, JOB_DONE)) {
		executor_wake(e);
		return;
	}
	job_free(j);
}

static void *cancel_main(void *arg)
{
	struct job *j = arg;
	char err[256];

	if (!PQcancel(j->cancel, err, sizeof(err)))
		log_warn("cannot cancel task %lld on target %s: %s", j->task_id, j->target, err);
	job_end(j);
	return NULL;
}

/* uid's user name in *ret (the caller frees it): 0, -ENOENT when uid has
 * none, or getpwuid_r's error (an NSS source such as LDAP may be down). */
static int user_name(uid_t uid, char **ret)
{
	struct passwd pw, *found = NULL;
	size_t size = 1024;
	char *buf = NULL;
	int r = -ENOMEM;

	*ret = NULL;
	for (;;) {
		char *nb = realloc(buf, size);

		if (!nb) {
			r = -ENOMEM;
			break;
		}
		buf = nb;
		r = -getpwuid_r(uid, &pw, buf, size, &found);
		if (r != -ERANGE || size >= 1024 * 1024)
			break;
		size *= 2;
	}
	if (r == 0 && (!found || !found->pw_name || !found->pw_name[0]))
		r = -ENOENT;
	if (r == 0) {
		*ret = strdup(found->pw_name);
		if (!*ret)
			r = -ENOMEM;
	}
	free(buf);
	return r;
}

static void *resolve_main(void *arg)
{
	struct job *j = arg;

	if (j->lookup_user)
		j->user_err = user_name((uid_t)j->uid, &j->user);
	if (j->lookup_self)
		(void)user_name(geteuid(), &j->self_user);	/* else libpq's default */
	for (size_t i = 0; i < j->n_names; i++) {
		struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
		struct addrinfo *res = NULL;
		struct buf b;
		int n = 0;

		j->gai[i] = getaddrinfo(j->names[i], NULL, &hints, &res);
		if (j->gai[i] != 0)
			continue;
		buf_init(&b);
		for (struct addrinfo *a = res; a && n < ADDRS_PER_NAME; a = a->ai_next) {
			char host[NI_MAXHOST];

			if (getnameinfo(a->ai_addr, a->ai_addrlen, host, sizeof(host), NULL, 0,
					NI_NUMERICHOST) != 0)
				continue;
			if (buf_printf(&b, "%s%s", n ? "," : "", host) < 0)
				break;
			n++;
		}
		freeaddrinfo(res);
		if (n == 0 || !buf_cstr(&b)) {
			buf_finish(&b);
			j->gai[i] = n == 0 ? EAI_NONAME : EAI_MEMORY;
			continue;
		}
		j->addrs[i] = buf_steal(&b, NULL);
	}
	job_end(j);
	return NULL;
}

static size_t jobs_running(const struct executor *e)
{
	size_t n = 0;

	for (const struct job *j = e->jobs; j; j = j->next)
		if (atomic_load(&j->state) == JOB_RUNNING)
			n++;
	return n;
}

/* Starts j's thread and puts j on e->jobs; on failure frees j. */
int job_start(struct executor *e, struct job *j)
{
	int r;

	j->e = e;
	atomic_init(&j->state, JOB_RUNNING);
	if (jobs_running(e) >= JOBS_MAX) {
		job_free(j);
		return -EAGAIN;
	}
	r = pthread_create(&j->thread, NULL, j->kind == JOB_CANCEL ? cancel_main : resolve_main, j);
	if (r != 0) {
		job_free(j);
		return -r;
	}
	j->next = e->jobs;
	e->jobs = j;
	return 0;
}

void jobs_finish(struct executor *e)
{
	while (e->jobs) {
		struct job *j = e->jobs;
		int running = JOB_RUNNING;

		e->jobs = j->next;
		if (j->conn)
			j->conn->job = NULL;
		if (j->ctl)
			e->ctl_job = NULL;
		/* A thread stuck on a hung server must not hold up the exit: it
		 * frees its job when (if ever) it returns. */
		if (atomic_compare_exchange_strong(&j->state, &running, JOB_ABANDONED)) {
			pthread_detach(j->thread);
			continue;
		}
		pthread_join(j->thread, NULL);
		job_free(j);
	}
}
