/* SPDX-License-Identifier: MIT */
/* power-rbac CONFIG: prints the power cycle's RBAC manifest farm-image
 * bakes into the server of CONFIG (builder/power.h), for the unit tests
 * that check every request a worker's farm-node made against it. */
#include "config.h"
#include "log.h"
#include "power.h"

#include <stdlib.h>

int main(int argc, char **argv)
{
	struct config c;
	char *yaml;
	int r;

	log_init("power-rbac");
	if (argc != 2) {
		fprintf(stderr, "usage: power-rbac CONFIG\n");
		return 2;
	}
	r = config_load(argv[1], &c);
	if (r < 0) {
		config_free(&c);
		return 1;
	}
	yaml = power_rbac_yaml(&c);
	fputs(yaml, stdout);
	free(yaml);
	config_free(&c);
	return 0;
}
