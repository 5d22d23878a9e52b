/* SPDX-License-Identifier: MIT */
/* A stand-in for the k3s binary in boot tests (k3s itself cannot be
 * downloaded here): as "k3s server" or "k3s agent" it tells systemd it is
 * ready (sd_notify's protocol, from its own pid, as Type=notify wants) and
 * stays up; as anything else it says what it is. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <stdlib.h>

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

int main(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "server") || !strcmp(argv[1], "agent"))) {
		notify_ready();
		for (;;)
			pause();
	}
	printf("k3s stand-in (farm tests)\n");
	return 0;
}
