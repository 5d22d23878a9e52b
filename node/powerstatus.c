/* SPDX-License-Identifier: MIT */
/* The power cycle in `farm-node status` (powerinfo.h). */
#include "json.h"
#include "log.h"
#include "powerinfo.h"
#include "util.h"

static const char *when(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (!t || !gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, len, "-");
	return buf;
}

static void put_text(FILE *f, const char *s) { log_put_escaped(f, s, strlen(s)); }

void power_status_print(const struct power_info *pi, struct json *j, FILE *f)
{
	char w[32];

	if (j) {
		json_key(j, "power");
		json_object_open(j);
		json_key(j, "shutdown");
		if (!pi->have_shutdown)
			json_null(j);
		else {
			json_object_open(j);
			json_kv_uint(j, "id", (uint64_t)pi->id);
			json_kv_string(j, "state", pi->state);
			json_kv_uint(j, "when", (uint64_t)pi->when);
			json_kv_string(j, "detail", pi->note);
			json_object_close(j);
		}
		json_key(j, "startup");
		json_object_open(j);
		json_kv_string(j, "state", pi->startup);
		json_kv_bool(j, "done", pi->startup_this_boot);
		if (pi->startup_when)
			json_kv_uint(j, "when", (uint64_t)pi->startup_when);
		if (pi->startup_detail[0])
			json_kv_string(j, "detail", pi->startup_detail);
		json_object_close(j);
		json_key(j, "locks");
		if (!pi->locks_known)
			json_null(j);
		else {
			json_array_open(j);
			for (size_t i = 0; i < pi->n_locks; i++) {
				json_object_open(j);
				json_kv_string(j, "node", pi->locks[i].node);
				json_kv_string(j, "name", pi->locks[i].name);
				json_kv_uint(j, "until", (uint64_t)pi->locks[i].until);
				json_kv_string(j, "by", pi->locks[i].by);
				json_kv_bool(j, "valid", pi->locks[i].live);
				json_object_close(j);
			}
			json_array_close(j);
		}
		json_object_close(j);
		return;
	}
	fprintf(f, "power cycle\n");
	if (pi->have_shutdown) {
		fprintf(f, "  shutdown           %-8s %s  ", pi->state,
			when(pi->when, w, sizeof(w)));
		put_text(f, pi->note);
		fprintf(f, " (shutdown %lld)\n", pi->id);
	} else
		fprintf(f, "  shutdown           none yet\n");
	fprintf(f, "  startup            %-8s %s", pi->startup,
		pi->startup_when ? when(pi->startup_when, w, sizeof(w)) : "");
	if (pi->startup_detail[0]) {
		fprintf(f, "  %s",
			pi->startup_recorded && !pi->startup_this_boot &&
					!streq(pi->startup, "running") &&
					!streq(pi->startup, "failed")
				? "(an earlier boot) "
				: "");
		put_text(f, pi->startup_detail);
	}
	fputc('\n', f);
	if (!pi->locks_known) {
		fprintf(f, "  locks              unknown  ");
		put_text(f, pi->locks_said);
		fputc('\n', f);
	} else if (!pi->n_locks)
		fprintf(f, "  locks              none\n");
	for (size_t i = 0; pi->locks_known && i < pi->n_locks; i++) {
		fprintf(f, "  lock               %-8s %s  ",
			pi->locks[i].live ? "holds" : "expired",
			when(pi->locks[i].until, w, sizeof(w)));
		put_text(f, pi->locks[i].node);
		fputc('/', f);
		put_text(f, pi->locks[i].name);
		if (pi->locks[i].by[0]) {
			fputs(" by ", f);
			put_text(f, pi->locks[i].by);
		}
		fputc('\n', f);
	}
}
