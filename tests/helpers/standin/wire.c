/* SPDX-License-Identifier: MIT */
/* The stand-in's own wire between `k3s kubectl` and `k3s server` (plain
 * TCP, no TLS: a test double on loopback or a test VM's LAN). A request is
 * "K3S-STANDIN/1\n", argc, then each argument and the standard input, each
 * as "LENGTH\n" and the bytes; the reply is the exit status, stdout and
 * stderr in the same form. */
#include "standin.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MAGIC	 "K3S-STANDIN/1\n"
#define MAX_PART (64u << 20)

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, void *p, size_t n)
{
	char *c = p;

	while (n) {
		ssize_t r = read(fd, c, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

static int read_num(int fd, size_t *v)
{
	char buf[32];
	size_t i = 0;

	while (i < sizeof(buf) - 1) {
		if (read_all(fd, &buf[i], 1) < 0)
			return -1;
		if (buf[i] == '\n')
			break;
		i++;
	}
	buf[i] = 0;
	*v = strtoull(buf, NULL, 10);
	return 0;
}

static int send_part(int fd, const void *p, size_t n)
{
	char head[32];
	int l = snprintf(head, sizeof(head), "%zu\n", n);

	return write_all(fd, head, (size_t)l) < 0 || write_all(fd, p, n) < 0 ? -1 : 0;
}

static int recv_part(int fd, char **p, size_t *n)
{
	if (read_num(fd, n) < 0 || *n > MAX_PART)
		return -1;
	*p = malloc(*n + 1);
	if (!*p || read_all(fd, *p, *n) < 0)
		return -1;
	(*p)[*n] = 0;
	return 0;
}

static int connect_timeout(const char *host, const char *port, int *fdp)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *a;
	int err = -EHOSTUNREACH;

	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -ENOENT;
	for (a = res; a; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		struct pollfd pf = { .fd = fd, .events = POLLOUT };
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
			err = -errno;
			close(fd);
			continue;
		}
		if (poll(&pf, 1, 5000) <= 0) {
			err = -ETIMEDOUT;
			close(fd);
			continue;
		}
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (soerr) {
			err = -soerr;
			close(fd);
			continue;
		}
		fcntl(fd, F_SETFL, 0);
		*fdp = fd;
		freeaddrinfo(res);
		return 0;
	}
	freeaddrinfo(res);
	return err;
}

int wire_call(const char *host, const char *port, int argc, char **argv, const char *input,
	      size_t input_len, struct reply *r)
{
	int fd = -1, e;
	size_t status;

	*r = (struct reply){ 0 };
	e = connect_timeout(host, port, &fd);
	if (e < 0)
		return e;
	if (write_all(fd, MAGIC, strlen(MAGIC)) < 0)
		goto broken;
	{
		char n[16];
		int l = snprintf(n, sizeof(n), "%d\n", argc);
		if (write_all(fd, n, (size_t)l) < 0)
			goto broken;
	}
	for (int i = 0; i < argc; i++)
		if (send_part(fd, argv[i], strlen(argv[i])) < 0)
			goto broken;
	if (send_part(fd, input ? input : "", input_len) < 0)
		goto broken;
	if (read_num(fd, &status) < 0 || recv_part(fd, &r->out, &r->out_len) < 0 ||
	    recv_part(fd, &r->err, &r->err_len) < 0)
		goto broken;
	r->status = (int)status;
	close(fd);
	return 0;
broken:
	close(fd);
	free(r->out);
	free(r->err);
	*r = (struct reply){ 0 };
	return -ECONNRESET;
}

static int listen_on(int family, const char *addr, const char *port)
{
	struct addrinfo hints = { .ai_family = family,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICHOST },
			*res;
	int fd, one = 1, zero = 0;

	if (getaddrinfo(addr, port, &hints, &res) != 0)
		return -1;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		freeaddrinfo(res);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 64) < 0) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

static void serve_one(int c, wire_handler h)
{
	char magic[sizeof(MAGIC) - 1];
	size_t argc, in_len;
	char **argv = NULL, *input = NULL;
	struct reply r = { 0 };
	struct timeval tv = { .tv_sec = 20 };
	bool ok = false;

	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (read_all(c, magic, sizeof(magic)) < 0 || memcmp(magic, MAGIC, sizeof(magic)) != 0 ||
	    read_num(c, &argc) < 0 || argc > 256)
		goto out;
	argv = calloc(argc + 1, sizeof(char *));
	for (size_t i = 0; i < argc; i++) {
		size_t n;
		if (recv_part(c, &argv[i], &n) < 0)
			goto out;
	}
	if (recv_part(c, &input, &in_len) < 0)
		goto out;
	ok = true;
	h((int)argc, argv, input, in_len, &r);
	{
		char n[16];
		int l = snprintf(n, sizeof(n), "%d\n", r.status);
		if (write_all(c, n, (size_t)l) == 0 && send_part(c, r.out, r.out_len) == 0)
			send_part(c, r.err, r.err_len);
	}
out:
	(void)ok;
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
	free(input);
	free(r.out);
	free(r.err);
	close(c);
}

int wire_serve(const char *port, const char *loopback_port, wire_handler h, void (*ready)(void))
{
	struct pollfd pf[2];
	nfds_t n = 0;

	if (port) {
		pf[n].fd = listen_on(AF_INET6, "::", port);
		if (pf[n].fd < 0)
			pf[n].fd = listen_on(AF_INET, "0.0.0.0", port);
		if (pf[n].fd < 0)
			return -1;
		pf[n++].events = POLLIN;
	}
	if (loopback_port) {
		pf[n].fd = listen_on(AF_INET, "127.0.0.1", loopback_port);
		if (pf[n].fd < 0)
			return -1;
		pf[n++].events = POLLIN;
	}
	if (ready)
		ready();
	for (;;) {
		if (poll(pf, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		for (nfds_t i = 0; i < n; i++)
			if (pf[i].revents & POLLIN) {
				int c = accept4(pf[i].fd, NULL, NULL, SOCK_CLOEXEC);
				if (c >= 0)
					serve_one(c, h);
			}
	}
}
