/* SPDX-License-Identifier: MIT */
#include "cli.h"
#include "log.h"

#include <stdio.h>

int usage_error(const char *cmd, const char *what, const char *arg)
{
	const char *p = log_program_name();

	flockfile(stderr);
	fprintf(stderr, "%s%s%s: %s", p, cmd ? " " : "", cmd ? cmd : "", what);
	if (arg) {
		/* What the user typed, control characters made visible. */
		fputs(" '", stderr);
		log_put_escaped(stderr, arg, strlen(arg));
		fputc('\'', stderr);
	}
	fprintf(stderr, "\nTry '%s%s%s --help'.\n", p, cmd ? " " : "", cmd ? cmd : "");
	funlockfile(stderr);
	return 2;
}

int usage_option_error(const char *cmd, int o, char *const *argv, const struct option *opts)
{
	/* getopt_long leaves the offending word before optind; for a short
	 * option inside a group ("-xz") optopt names the letter. */
	const char *word = argv[optind - 1];
	char letter[3] = { '-', (char)optopt, 0 };
	bool is_long = startswith(word, "--");
	_cleanup_free_ char *name = NULL;

	if (is_long)
		name = strndup(word, strcspn(word, "="));
	if (o == ':')
		return usage_error(cmd, "missing argument of option", is_long ? name : letter);
	if (is_long && optopt && strchr(word, '='))
		return usage_error(cmd, "option takes no argument", name);
	if (is_long) {
		/* getopt_long takes unique abbreviations: say when it is one
		 * of several. */
		size_t matches = 0;
		for (const struct option *op = opts; op->name; op++)
			matches += startswith(op->name, name + 2);
		if (matches > 1)
			return usage_error(cmd, "ambiguous option", name);
		return usage_error(cmd, "unknown option", name);
	}
	return usage_error(cmd, "unknown option", optopt ? letter : word);
}

int cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
	       const struct option *longopts)
{
	char opts[128];
	int o;

	if (shortopts[0] == '+')
		snprintf(opts, sizeof(opts), "+:%s", shortopts + 1);
	else
		snprintf(opts, sizeof(opts), ":%s", shortopts);
	o = getopt_long(argc, argv, opts, longopts, NULL);
	if (o == '?' || o == ':') {
		usage_option_error(cmd, o, argv, longopts);
		return CLI_USAGE_ERROR;
	}
	return o;
}
