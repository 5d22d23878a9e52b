/* SPDX-License-Identifier: MIT */
/* The k3s stand-in's commands (standin.h): server, agent, kubectl. */
#include "standin.h"
#include "fileio.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static void notify_ready(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (!path || strlen(path) >= sizeof(sa.sun_path))
		return;
	strcpy(sa.sun_path, path);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = 0; /* abstract namespace */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	sendto(fd, "READY=1", 7, 0, (struct sockaddr *)&sa,
	       (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path)));
	close(fd);
}

/* A "key: value" line of a small YAML file (quotes removed), or NULL. */
static char *config_value(const char *path, const char *key)
{
	char *text = NULL, *v = NULL;
	size_t kl = strlen(key);

	if (read_file(path, &text, NULL, 1 << 20) < 0)
		return NULL;
	for (char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		/* top-level keys, and for KEY " server" any indented server: */
		char *k = l;
		if (key[0] == ' ')
			while (*k == ' ')
				k++;
		if (!strncmp(k, key + strspn(key, " "), kl - strspn(key, " ")) &&
		    k[kl - strspn(key, " ")] == ':') {
			char *s = k + kl - strspn(key, " ") + 1;
			size_t n;
			while (*s == ' ')
				s++;
			n = strcspn(s, "\n");
			if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0]) {
				s++;
				n -= 2;
			}
			v = strndup(s, n);
			break;
		}
	}
	free(text);
	return v;
}

/* "https://HOST:PORT" into HOST and PORT. */
static int split_url(const char *url, char *host, size_t hl, char *port, size_t pl)
{
	const char *p = strstr(url, "://");

	p = p ? p + 3 : url;
	if (*p == '[') {
		const char *e = strchr(p, ']');
		if (!e)
			return -1;
		snprintf(host, hl, "%.*s", (int)(e - p - 1), p + 1);
		p = e + 1;
	} else {
		size_t n = strcspn(p, ":/");
		snprintf(host, hl, "%.*s", (int)n, p);
		p += n;
	}
	if (*p == ':')
		snprintf(port, pl, "%.*s", (int)strcspn(p + 1, "/"), p + 1);
	else
		snprintf(port, pl, "443");
	return 0;
}

static void write_kubeconfig(const char *path, const char *server)
{
	char *text, *copy = strdup(path), *slash = strrchr(copy, '/');

	if (slash) {
		*slash = 0;
		mkdir_p(copy, 0700);
	}
	if (asprintf(&text,
		     "# written by the k3s stand-in (farm tests)\n"
		     "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n"
		     "    server: %s\n  name: default\n"
		     "contexts:\n- context:\n    cluster: default\n    user: default\n  name: default\n"
		     "current-context: default\nusers:\n- name: default\n  user: {}\n",
		     server) < 0)
		abort();
	write_file_atomic(path, text, strlen(text), 0600);
	free(text);
	free(copy);
}

/* --- kubectl: the client ------------------------------------------------- */

static int cmd_kubectl(int argc, char **argv)
{
	const char *kubeconfig = NULL, *server = NULL;
	char *url = NULL, host[256], port[16];
	char *input = NULL;
	size_t in_len = 0, cap = 0;
	bool stdin_wanted = false;
	struct reply r;
	int e;

	for (int i = 1; i < argc; i++) {
		const char *w = argv[i];
		if (!strncmp(w, "--kubeconfig=", 13))
			kubeconfig = w + 13;
		else if (!strcmp(w, "--kubeconfig") && i + 1 < argc)
			kubeconfig = argv[++i];
		else if (!strncmp(w, "--server=", 9))
			server = w + 9;
		else if ((!strcmp(w, "--server") || !strcmp(w, "-s")) && i + 1 < argc)
			server = argv[++i];
		else if ((!strcmp(w, "-f") || !strcmp(w, "--filename")) && i + 1 < argc &&
			 !strcmp(argv[i + 1], "-"))
			stdin_wanted = true;
		else if (!strcmp(w, "--filename=-"))
			stdin_wanted = true;
	}
	if (!kubeconfig)
		kubeconfig = getenv("KUBECONFIG");
	if (!kubeconfig)
		kubeconfig = "/etc/rancher/k3s/k3s.yaml";
	if (access(kubeconfig, R_OK) < 0) {
		fprintf(stderr, "error: stat %s: no such file or directory\n", kubeconfig);
		return 1;
	}
	url = server ? strdup(server) : config_value(kubeconfig, " server");
	if (!url || split_url(url, host, sizeof(host), port, sizeof(port)) < 0) {
		fprintf(stderr,
			"error: invalid configuration: no configuration has been provided\n");
		return 1;
	}
	if (stdin_wanted) {
		ssize_t n;
		do {
			if (in_len + 65536 > cap) {
				cap = cap * 2 + 65536;
				input = realloc(input, cap);
			}
			n = read(STDIN_FILENO, input + in_len, cap - in_len);
			if (n > 0)
				in_len += (size_t)n;
		} while (n > 0 || (n < 0 && errno == EINTR));
	}
	{
		/* Who is asking: the kubeconfig's client certificate, sent
		 * along as two words the server takes off again. */
		char *cert = config_value(kubeconfig, " client-certificate"), user[256],
		     groups[512];
		char **av = calloc((size_t)argc + 3, sizeof(char *)), ua[300], ga[560];
		int ac = 0;
		av[ac++] = argv[0];
		if (cert && cert_identity(cert, user, sizeof(user), groups, sizeof(groups)) == 0) {
			snprintf(ua, sizeof(ua), "--standin-user=%s", user);
			snprintf(ga, sizeof(ga), "--standin-groups=%s", groups);
			av[ac++] = ua;
			av[ac++] = ga;
		}
		for (int i = 1; i < argc; i++)
			av[ac++] = argv[i];
		av[ac] = NULL;
		free(cert);
		e = wire_call(host, port, ac, av, input, in_len, &r);
		free(av);
	}
	free(input);
	free(url);
	if (e == -ECONNREFUSED) {
		fprintf(stderr,
			"The connection to the server %s:%s was refused - did you specify the right "
			"host or port?\n",
			host, port);
		return 1;
	}
	if (e == -ENOENT) {
		fprintf(stderr,
			"Unable to connect to the server: dial tcp: lookup %s: no such host\n",
			host);
		return 1;
	}
	if (e == -ETIMEDOUT) {
		fprintf(stderr, "Unable to connect to the server: dial tcp %s:%s: i/o timeout\n",
			host, port);
		return 1;
	}
	if (e < 0) {
		fprintf(stderr, "Unable to connect to the server: dial tcp %s:%s: connect: %s\n",
			host, port, strerror(-e));
		return 1;
	}
	fwrite(r.out, 1, r.out_len, stdout);
	fwrite(r.err, 1, r.err_len, stderr);
	fflush(stdout);
	free(r.out);
	free(r.err);
	return r.status;
}

/* --- server ---------------------------------------------------------------- */

static const char *api_host = "127.0.0.1";

/* STATE/requests.log: one line per request (the tick, the words after
 * kubectl's global flags), then one per object applied, for the tests. */
static void log_request(int argc, char **argv, bool down)
{
	char *line = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&line, &len);

	fprintf(f, "%llu%s", (unsigned long long)world_tick, down ? " (api down)" : "");
	for (int i = 1; i < argc; i++)
		if (strncmp(argv[i], "--kubeconfig", 12) && strcmp(argv[i], "--server") &&
		    strncmp(argv[i], "--server=", 9) && strncmp(argv[i], "--request-timeout", 17))
			fprintf(f, " %s", argv[i]);
	fclose(f);
	request_log("%s\n", line);
	free(line);
}

const char *standin_user = "system:admin", *standin_groups = "system:masters";

static void handle(int argc, char **argv, const char *input, size_t len, struct reply *r)
{
	struct out o = { 0 };
	bool down;
	static char user[256], groups[512];

	char **av = calloc((size_t)argc + 1, sizeof(char *));
	int ac = 0;

	/* the client's identity words (cmd_kubectl) come first */
	standin_user = "system:admin";
	standin_groups = "system:masters";
	av[ac++] = argv[0];
	for (int i = 1; i < argc; i++) {
		if (ac == 1 && !strncmp(argv[i], "--standin-user=", 15)) {
			snprintf(user, sizeof(user), "%s", argv[i] + 15);
			standin_user = user;
		} else if (ac == 1 && !strncmp(argv[i], "--standin-groups=", 17)) {
			snprintf(groups, sizeof(groups), "%s", argv[i] + 17);
			standin_groups = groups;
		} else
			av[ac++] = argv[i];
	}
	av[ac] = NULL;
	argc = ac;
	argv = av;

	o.out = open_memstream(&r->out, &r->out_len);
	o.err = open_memstream(&r->err, &r->err_len);
	down = world_tick_once();
	log_request(argc, argv, down);
	if (down)
		/* The answer kubectl gives when nothing listens. */
		fprintf(o.err,
			"The connection to the server %s was refused - did you specify the right "
			"host or port?\n",
			api_host),
			o.status = 1;
	else
		kubectl_main(argc, argv, input, len, &o);
	fclose(o.out);
	fclose(o.err);
	r->status = o.status;
	free(av);
}

static void server_ready(void) { notify_ready(); }

/* Common flags (k3s's own): --data-dir/-d, --config/-c, --https-listen-port,
 * --node-name, --lb-server-port (an agent's local API port, 6444). */
struct daemon_args {
	const char *data_dir, *config, *port, *node, *lb_port;
};

static void daemon_args(int argc, char **argv, struct daemon_args *d)
{
	for (int i = 2; i < argc; i++) {
		const char *w = argv[i];
		const char **slot = NULL;
		if (!strcmp(w, "--data-dir") || !strcmp(w, "-d"))
			slot = &d->data_dir;
		else if (!strcmp(w, "--config") || !strcmp(w, "-c"))
			slot = &d->config;
		else if (!strcmp(w, "--https-listen-port"))
			slot = &d->port;
		else if (!strcmp(w, "--node-name"))
			slot = &d->node;
		else if (!strcmp(w, "--lb-server-port"))
			slot = &d->lb_port;
		if (slot && i + 1 < argc)
			*slot = argv[++i];
	}
	if (!d->config)
		d->config = "/etc/rancher/k3s/config.yaml";
	if (!d->data_dir)
		d->data_dir = config_value(d->config, "data-dir");
	if (!d->data_dir)
		d->data_dir = "/var/lib/rancher/k3s";
	if (!d->port)
		d->port = config_value(d->config, "https-listen-port");
	if (!d->port)
		d->port = "6443";
	if (!d->lb_port)
		d->lb_port = config_value(d->config, "lb-server-port");
	if (!d->lb_port)
		d->lb_port = "6444";
	if (!d->node)
		d->node = config_value(d->config, "node-name");
	if (!d->node) {
		static char h[256];
		gethostname(h, sizeof(h));
		d->node = h;
	}
}

static char *node_ip(const char *config)
{
	char *ips = config_value(config, "node-ip");

	if (ips)
		ips[strcspn(ips, ",")] = 0;
	return ips;
}

static int cmd_server(int argc, char **argv)
{
	struct daemon_args d = { 0 };
	char *p, *kc, loop_port[16], *wk;
	static char host[64];

	daemon_args(argc, argv, &d);
	if (asprintf(&p, "%s/standin", d.data_dir) < 0)
		abort();
	state_dir = p;
	if (mkdir_p(state_dir, 0700) < 0) {
		fprintf(stderr, "k3s stand-in: cannot create %s: %s\n", state_dir, strerror(errno));
		return 1;
	}
	world_load();
	{
		/* the namespaces every cluster starts with */
		static const char *const ns[] = { "default", "kube-system", "kube-public",
						  "kube-node-lease" };
		const struct kind *k = kind_by_word("namespace");
		for (size_t i = 0; i < 4; i++) {
			json_object *o = store_get(k, NULL, ns[i]);
			if (!o) {
				o = json_object_new_object();
				jset_str(jmake(o, "metadata", NULL), "name", ns[i]);
				store_put(k, o);
			}
			json_object_put(o);
		}
	}
	world_register_node(d.node, node_ip(d.config));
	world_start_dns();
	/* k3s's API server listens on the port after its supervisor's, on
	 * the loopback, where the admin kubeconfig points (k3s
	 * pkg/daemons/control/deps/deps.go). */
	snprintf(loop_port, sizeof(loop_port), "%d", atoi(d.port) + 1);
	snprintf(host, sizeof(host), "127.0.0.1:%s", loop_port);
	api_host = host;
	if (asprintf(&kc, "%s/server/cred/admin.kubeconfig", d.data_dir) < 0)
		abort();
	{
		char *url;
		if (asprintf(&url, "https://127.0.0.1:%s", loop_port) < 0)
			abort();
		write_kubeconfig(kc, url);
		wk = config_value(d.config, "write-kubeconfig");
		if (wk) {
			free(url);
			if (asprintf(&url, "https://127.0.0.1:%s", d.port) < 0)
				abort();
			write_kubeconfig(wk, url);
		}
		free(url);
	}
	signal(SIGPIPE, SIG_IGN);
	if (wire_serve(d.port, loop_port, handle, server_ready) < 0) {
		fprintf(stderr, "k3s stand-in: cannot listen on port %s: %s\n", d.port,
			strerror(errno));
		return 1;
	}
	return 0;
}

/* --- agent: registers, then proxies its loopback API port to the server ---- */

static char server_host[256], server_port[16], lb_host[64];

static void proxy(int argc, char **argv, const char *input, size_t len, struct reply *r)
{
	int e = wire_call(server_host, server_port, argc, argv, input, len, r);

	if (e < 0) {
		r->status = 1;
		if (asprintf(&r->err,
			     "The connection to the server %s was refused - did you specify "
			     "the right host or port?\n",
			     lb_host) < 0)
			abort();
		r->err_len = strlen(r->err);
		r->out = strdup("");
		r->out_len = 0;
	}
}

static int cmd_agent(int argc, char **argv)
{
	struct daemon_args d = { 0 };
	char *url, *kc, *ip;
	char *reg[] = { "kubectl", "standin-register-node", NULL, NULL, NULL };

	daemon_args(argc, argv, &d);
	url = config_value(d.config, "server");
	if (!url || split_url(url, server_host, sizeof(server_host), server_port,
			      sizeof(server_port)) < 0) {
		fprintf(stderr, "k3s stand-in: no server: in %s\n", d.config);
		return 1;
	}
	ip = node_ip(d.config);
	reg[2] = (char *)d.node;
	reg[3] = ip ? ip : "";
	/* k3s agent tells systemd it is ready only once its server answered
	 * (pkg/agent/run.go); the stand-in does at once, so that a test node
	 * without a server (the x86 boot test's duck) has its unit active.
	 * Its credentials, what farm-node waits for, still come only from the
	 * server: retry until it answers. */
	notify_ready();
	for (unsigned attempt = 0;; attempt++) {
		struct reply r;
		int e = wire_call(server_host, server_port, 4, reg, NULL, 0, &r);
		bool ok = e == 0 && r.status == 0;
		free(r.out);
		free(r.err);
		if (ok)
			break;
		if (attempt % 15 == 0)
			fprintf(stderr, "k3s stand-in: waiting for the server at %s (%s)\n", url,
				e < 0 ? strerror(-e) : "refused");
		sleep(2);
	}
	if (asprintf(&kc, "%s/agent/kubelet.kubeconfig", d.data_dir) < 0)
		abort();
	snprintf(lb_host, sizeof(lb_host), "127.0.0.1:%s", d.lb_port);
	{
		char *lb;
		if (asprintf(&lb, "https://%s", lb_host) < 0)
			abort();
		write_kubeconfig(kc, lb);
		free(lb);
	}
	signal(SIGPIPE, SIG_IGN);
	if (wire_serve(NULL, d.lb_port, proxy, NULL) < 0) {
		fprintf(stderr, "k3s stand-in: cannot listen on 127.0.0.1:%s: %s\n", d.lb_port,
			strerror(errno));
		for (;;)
			pause();
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "server"))
		return cmd_server(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "agent"))
		return cmd_agent(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "kubectl"))
		return cmd_kubectl(argc - 1, argv + 1);
	printf("k3s stand-in (farm tests)\n");
	return 0;
}
