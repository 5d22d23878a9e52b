/* SPDX-License-Identifier: MIT */
#include "cluster.h"
#include "log.h"
#include "util.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

/* What kubectl may print that farm-node keeps (a list of every pod of a
 * namespace as JSON stays far below this). */
#define MAX_OUTPUT (32 * MiB)

const char *cl_class_name(enum cl_class c)
{
	static const char *const names[] = {
		[CL_OK] = "ok",
		[CL_NOT_FOUND] = "not found",
		[CL_UNREACHABLE] = "the API did not answer",
		[CL_REFUSED] = "refused by the API",
		[CL_TIMEOUT] = "timed out",
		[CL_FAILED] = "kubectl failed",
	};
	return c <= CL_FAILED ? names[c] : "?";
}

void cluster_init(struct cluster *c, const char *root, const char *kubeconfig, const char *server)
{
	*c = (struct cluster){
		.k3s = xasprintf("%s/usr/local/bin/k3s", root),
		.kubeconfig = xasprintf("%s/%s", root, kubeconfig),
		.server = server ? xstrdup(server) : NULL,
		.request_timeout = 30,
	};
}

void cluster_free(struct cluster *c)
{
	free(c->k3s);
	free(c->kubeconfig);
	free(c->server);
	*c = (struct cluster){ 0 };
}

void kubectl_free(struct kubectl *r)
{
	free(r->out);
	free(r->err);
	*r = (struct kubectl){ 0 };
}

/* Whether a line of stderr starts with "Error from server (REASON)". */
static bool server_reason(const char *line, const char *reason)
{
	size_t n = strlen(reason);

	return startswith(line, "Error from server (") && strncmp(line + 19, reason, n) == 0 &&
	       line[19 + n] == ')';
}

enum cl_class kubectl_classify(int status, const char *err)
{
	static const char *const unavailable[] = { "ServiceUnavailable", "Timeout",
						   "TooManyRequests", "InternalError" };
	enum cl_class worst = CL_FAILED;
	bool any = false;

	if (status == 0)
		return CL_OK;
	if (status < 0)
		return CL_FAILED;
	/* kubectl prints one error per object it could not handle; the
	 * first recognized one decides (an unreachable API makes every line
	 * say so). */
	for (const char *l = err; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		enum cl_class c = CL_FAILED;
		if (startswith(l, "The connection to the server ") &&
		    strstr(l, " was refused - did you specify the right host or port?"))
			c = CL_UNREACHABLE;
		else if (startswith(l, "Unable to connect to the server: "))
			c = CL_UNREACHABLE;
		else if (server_reason(l, "NotFound"))
			c = CL_NOT_FOUND;
		else if (startswith(l, "the server doesn't have a resource type ") ||
			 startswith(l, "error: the server doesn't have a resource type ") ||
			 (strstr(l, "no matches for kind ") &&
			  strstr(l, "resource mapping not found")))
			c = CL_NOT_FOUND;
		else if (startswith(l, "error: timed out waiting for the condition"))
			c = CL_TIMEOUT;
		else if (startswith(l, "error: You must be logged in to the server") ||
			 startswith(l, "The request is invalid") ||
			 (startswith(l, "The ") && strstr(l, " is invalid")))
			c = CL_REFUSED;
		else if (startswith(l, "Error from server (")) {
			c = CL_REFUSED;
			for (size_t i = 0; i < ELEMENTSOF(unavailable); i++)
				if (server_reason(l, unavailable[i]))
					c = CL_UNREACHABLE;
		}
		if (c != CL_FAILED && !any) {
			worst = c;
			any = true;
		}
	}
	return worst;
}

const char *kubectl_said(const struct kubectl *r, char *buf, size_t len)
{
	const char *text = r->err && *r->err ? r->err : r->out ? r->out : "";
	const char *best = NULL;
	size_t best_n = 0;

	if (r->status < 0) {
		snprintf(buf, len, "kubectl did not run: %s", strerror(-r->status));
		return buf;
	}
	for (const char *l = text; *l;) {
		size_t n = strcspn(l, "\n");
		if (n) {
			best = l;
			best_n = n;
		}
		l += n + (l[n] == '\n');
	}
	if (!best) {
		snprintf(buf, len, "kubectl exited with status %d and said nothing", r->status);
		return buf;
	}
	snprintf(buf, len, "%.*s", (int)MIN(best_n, len - 1), best);
	return buf;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct sink {
	char *buf;
	size_t len, cap;
};

static void sink_add(struct sink *s, const char *data, size_t n)
{
	if (s->len + n > MAX_OUTPUT)
		n = MAX_OUTPUT - s->len;
	if (s->len + n + 1 > s->cap) {
		s->cap = MAX(s->cap * 2, s->len + n + 1);
		s->buf = xrealloc(s->buf, s->cap);
	}
	memcpy(s->buf + s->len, data, n);
	s->len += n;
	s->buf[s->len] = 0;
}

/* Runs ARGV, feeding INPUT, collecting both outputs, for at most LIMIT
 * seconds. Returns the exit status, 128+N, or -errno. */
static int run_captured(char *const argv[], const char *input, double limit, struct sink *out,
			struct sink *err, bool *killed)
{
	int in_p[2] = { -1, -1 }, out_p[2] = { -1, -1 }, err_p[2] = { -1, -1 };
	size_t in_len = input ? strlen(input) : 0, in_off = 0;
	posix_spawn_file_actions_t fa;
	double deadline = now() + limit;
	pid_t pid;
	int r, status;

	*killed = false;
	if (pipe2(in_p, O_CLOEXEC) < 0 || pipe2(out_p, O_CLOEXEC) < 0 ||
	    pipe2(err_p, O_CLOEXEC) < 0) {
		r = -errno;
		goto fail;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in_p[0], STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, out_p[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, err_p[1], STDERR_FILENO);
	r = -posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r < 0)
		goto fail;
	close(in_p[0]);
	close(out_p[1]);
	close(err_p[1]);
	in_p[0] = out_p[1] = err_p[1] = -1;
	if (in_len == 0) {
		close(in_p[1]);
		in_p[1] = -1;
	} else
		fcntl(in_p[1], F_SETFL, O_NONBLOCK);

	while (out_p[0] >= 0 || err_p[0] >= 0) {
		struct pollfd pf[3];
		nfds_t n = 0;
		double left = deadline - now();
		char buf[65536];

		if (left <= 0) {
			kill(pid, SIGKILL);
			*killed = true;
			break;
		}
		if (out_p[0] >= 0)
			pf[n++] = (struct pollfd){ .fd = out_p[0], .events = POLLIN };
		if (err_p[0] >= 0)
			pf[n++] = (struct pollfd){ .fd = err_p[0], .events = POLLIN };
		if (in_p[1] >= 0)
			pf[n++] = (struct pollfd){ .fd = in_p[1], .events = POLLOUT };
		if (poll(pf, n, (int)(left * 1000) + 1) < 0) {
			if (errno == EINTR)
				continue;
			kill(pid, SIGKILL);
			break;
		}
		for (nfds_t i = 0; i < n; i++) {
			if (!pf[i].revents)
				continue;
			if (pf[i].fd == in_p[1]) {
				ssize_t w = write(in_p[1], input + in_off, in_len - in_off);
				if (w > 0)
					in_off += (size_t)w;
				if ((w < 0 && errno != EAGAIN && errno != EINTR) ||
				    in_off == in_len) {
					close(in_p[1]);
					in_p[1] = -1;
				}
				continue;
			}
			{
				int *fd = pf[i].fd == out_p[0] ? &out_p[0] : &err_p[0];
				ssize_t got = read(*fd, buf, sizeof(buf));
				if (got > 0)
					sink_add(fd == &out_p[0] ? out : err, buf, (size_t)got);
				else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
					close(*fd);
					*fd = -1;
				}
			}
		}
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			r = -errno;
			goto fail;
		}
	r = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
fail:
	for (int *fd = &in_p[0]; fd <= &in_p[1]; fd++)
		if (*fd >= 0)
			close(*fd);
	for (int *fd = &out_p[0]; fd <= &out_p[1]; fd++)
		if (*fd >= 0)
			close(*fd);
	for (int *fd = &err_p[0]; fd <= &err_p[1]; fd++)
		if (*fd >= 0)
			close(*fd);
	return r;
}

enum cl_class cluster_kubectl(const struct cluster *c, const char *const *args, const char *input,
			      unsigned kubectl_timeout, struct kubectl *res)
{
	_cleanup_free_ char *kc = xasprintf("--kubeconfig=%s", c->kubeconfig);
	_cleanup_free_ char *srv = c->server ? xasprintf("--server=%s", c->server) : NULL;
	_cleanup_free_ char *rt = xasprintf("--request-timeout=%us", c->request_timeout);
	const char *argv[64];
	size_t n = 0;
	struct sink out = { 0 }, err = { 0 };
	bool killed;

	*res = (struct kubectl){ 0 };
	argv[n++] = c->k3s;
	argv[n++] = "kubectl";
	argv[n++] = kc;
	if (srv)
		argv[n++] = srv;
	/* A wait (wait, rollout status, drain) has its own --timeout and
	 * watches longer than one request may last. */
	if (!kubectl_timeout)
		argv[n++] = rt;
	for (const char *const *a = args; *a && n < ELEMENTSOF(argv) - 1; a++)
		argv[n++] = *a;
	argv[n] = NULL;
	sink_add(&out, "", 0);
	sink_add(&err, "", 0);
	res->status = run_captured((char *const *)argv, input,
				   kubectl_timeout ? kubectl_timeout : c->request_timeout + 30,
				   &out, &err, &killed);
	res->out = out.buf;
	res->err = err.buf;
	if (killed) {
		_cleanup_free_ char *e = xasprintf("%sUnable to connect to the server: kubectl did "
						   "not finish within %u s\n",
						   res->err, kubectl_timeout);
		free(res->err);
		res->err = TAKE_PTR(e);
		res->cls = CL_UNREACHABLE;
	} else
		res->cls = kubectl_classify(res->status, res->err);
	log_debug("kubectl %s%s%s: %s (%d)", args[0], args[1] ? " " : "", args[1] ? args[1] : "",
		  cl_class_name(res->cls), res->status);
	return res->cls;
}

/* ARGS with "-n NS" appended when NS is set. */
#define NS_ARGS(ns) (ns) ? "-n" : NULL, (ns)

enum cl_class cluster_get_json(const struct cluster *c, const char *obj, const char *ns,
			       json_object **json, struct kubectl *r)
{
	const char *args[] = { "get", obj, "-o", "json", NS_ARGS(ns), NULL };

	*json = NULL;
	if (cluster_kubectl(c, args, NULL, 0, r) != CL_OK)
		return r->cls;
	*json = json_tokener_parse(r->out);
	if (!*json)
		r->cls = CL_FAILED;
	return r->cls;
}

enum cl_class cluster_list_json(const struct cluster *c, const char *kind, const char *ns,
				const char *selector, json_object **json, struct kubectl *r)
{
	const char *args[] = { "get", kind, "-o", "json", "-l", selector, NS_ARGS(ns), NULL };

	*json = NULL;
	if (cluster_kubectl(c, args, NULL, 0, r) != CL_OK)
		return r->cls;
	*json = json_tokener_parse(r->out);
	if (!*json || !json_object_object_get_ex(*json, "items", NULL)) {
		json_object_put(*json);
		*json = NULL;
		r->cls = CL_FAILED;
	}
	return r->cls;
}

enum cl_class cluster_jsonpath(const struct cluster *c, const char *obj, const char *ns,
			       const char *path, struct kubectl *r)
{
	_cleanup_free_ char *o = xasprintf("jsonpath=%s", path);
	const char *args[] = { "get", obj, "-o", o, NS_ARGS(ns), NULL };

	return cluster_kubectl(c, args, NULL, 0, r);
}

enum cl_class cluster_get_raw(const struct cluster *c, const char *path, struct kubectl *r)
{
	const char *args[] = { "get", "--raw", path, NULL };

	return cluster_kubectl(c, args, NULL, 0, r);
}

enum cl_class cluster_apply(const struct cluster *c, const char *manifest, struct kubectl *r)
{
	/* Server-side: a HelmChart carries its chart (chartContent, up to
	 * hundreds of KiB), and client-side apply would copy the whole
	 * object into its last-applied annotation, past the 256 KiB that
	 * the API allows for all annotations of an object. */
	const char *args[] = { "apply",
			       "--server-side",
			       "--field-manager=farm-node",
			       "--force-conflicts",
			       "-f",
			       "-",
			       NULL };

	return cluster_kubectl(c, args, manifest, 0, r);
}

enum cl_class cluster_wait_condition(const struct cluster *c, const char *obj, const char *ns,
				     const char *cond, unsigned timeout, struct kubectl *r)
{
	_cleanup_free_ char *f = xasprintf("--for=condition=%s", cond);
	_cleanup_free_ char *t = xasprintf("--timeout=%us", timeout);
	const char *args[] = { "wait", f, obj, t, NS_ARGS(ns), NULL };

	return cluster_kubectl(c, args, NULL, timeout + 30, r);
}

enum cl_class cluster_rollout_status(const struct cluster *c, const char *obj, const char *ns,
				     unsigned timeout, struct kubectl *r)
{
	_cleanup_free_ char *t = xasprintf("--timeout=%us", timeout);
	const char *args[] = { "rollout", "status", obj, t, NS_ARGS(ns), NULL };

	return cluster_kubectl(c, args, NULL, timeout + 30, r);
}

enum cl_class cluster_patch(const struct cluster *c, const char *obj, const char *ns,
			    const char *type, const char *patch, struct kubectl *r)
{
	_cleanup_free_ char *t = xasprintf("--type=%s", type);
	const char *args[] = { "patch", obj, t, "-p", patch, NS_ARGS(ns), NULL };

	return cluster_kubectl(c, args, NULL, 0, r);
}

enum cl_class cluster_scale(const struct cluster *c, const char *obj, const char *ns,
			    unsigned replicas, struct kubectl *r)
{
	_cleanup_free_ char *n = xasprintf("--replicas=%u", replicas);
	const char *args[] = { "scale", obj, n, NS_ARGS(ns), NULL };

	return cluster_kubectl(c, args, NULL, 0, r);
}

enum cl_class cluster_annotate(const struct cluster *c, const char *obj, const char *ns,
			       const char *key, const char *value, struct kubectl *r)
{
	_cleanup_free_ char *kv = value ? xasprintf("%s=%s", key, value) : xasprintf("%s-", key);
	const char *args[] = { "annotate", "--overwrite", obj, kv, NS_ARGS(ns), NULL };

	return cluster_kubectl(c, args, NULL, 0, r);
}

enum cl_class cluster_cordon(const struct cluster *c, const char *node, bool cordon,
			     struct kubectl *r)
{
	const char *args[] = { cordon ? "cordon" : "uncordon", node, NULL };

	return cluster_kubectl(c, args, NULL, 0, r);
}

enum cl_class cluster_drain(const struct cluster *c, const char *node, unsigned timeout,
			    struct kubectl *r)
{
	_cleanup_free_ char *t = xasprintf("--timeout=%us", timeout);
	const char *args[] = { "drain", node, "--ignore-daemonsets", "--delete-emptydir-data",
			       t,	NULL };

	return cluster_kubectl(c, args, NULL, timeout + 30, r);
}

enum cl_class cluster_taint(const struct cluster *c, const char *node, const char *taint,
			    struct kubectl *r)
{
	const char *args[] = { "taint", "nodes", node, taint, "--overwrite", NULL };

	return cluster_kubectl(c, args, NULL, 0, r);
}
