/* SPDX-License-Identifier: MIT */
#include "steps.h"
#include "fileio.h"
#include "util.h"

int step_record(const char *state_dir, const char *step, const char *detail)
{
	_cleanup_free_ char *dir = xasprintf("%s/steps", state_dir);
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, step);
	_cleanup_free_ char *text = NULL;
	int r = mkdir_p(dir, 0700);

	if (r < 0)
		return r;
	text = xasprintf("done %lld\n%s\n", (long long)time(NULL), detail);
	return write_file_atomic(path, text, strlen(text), 0600);
}

int step_read(const char *state_dir, const char *step, struct step_record *rec)
{
	_cleanup_free_ char *path = xasprintf("%s/steps/%s", state_dir, step), *text = NULL;
	long long when;
	char *nl;
	int r;

	*rec = (struct step_record){ 0 };
	r = read_file(path, &text, NULL, 64 * 1024);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (sscanf(text, "done %lld", &when) != 1)
		return -EBADMSG;
	rec->done = true;
	rec->when = (time_t)when;
	nl = strchr(text, '\n');
	if (nl) {
		snprintf(rec->detail, sizeof(rec->detail), "%s", nl + 1);
		rec->detail[strcspn(rec->detail, "\n")] = 0;
	}
	return 0;
}
