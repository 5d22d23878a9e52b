/* SPDX-License-Identifier: MIT */
#include "status.h"
#include "json.h"
#include "log.h"
#include "powerinfo.h"
#include "stack.h"
#include "steps.h"

/* The state of one step or component, from its record and progress note. */
struct item {
	const char *state; /* done, running, failed, pending, damaged */
	time_t when;
	char text[640];
};

static void item_of(const char *state_dir, const char *kind, const char *name,
		    const char *progress_name, struct item *it)
{
	struct record rec;
	struct progress_note pn;
	int r = journal_read(state_dir, kind, name, &rec);

	*it = (struct item){ .state = "pending" };
	if (r < 0) {
		it->state = "damaged";
		snprintf(it->text, sizeof(it->text), "cannot read its record: %s", strerror(-r));
		return;
	}
	if (rec.state == RECORD_DONE) {
		it->state = "done";
		it->when = rec.when;
		snprintf(it->text, sizeof(it->text), "%s", rec.detail);
		return;
	}
	if (rec.state == RECORD_DAMAGED) {
		it->state = "damaged";
		snprintf(it->text, sizeof(it->text), "its record %s/%s/%s is damaged (%s)",
			 state_dir, kind, name, rec.why);
		return;
	}
	if (journal_read_progress(state_dir, progress_name, &pn) < 0 ||
	    pn.state == PROGRESS_DAMAGED) {
		it->state = "damaged";
		snprintf(it->text, sizeof(it->text), "its progress note %s/progress/%s is damaged",
			 state_dir, progress_name);
		return;
	}
	if (pn.state == PROGRESS_NONE)
		return;
	it->state = pn.state == PROGRESS_RUNNING ? "running" : "failed";
	it->when = pn.when;
	snprintf(it->text, sizeof(it->text), "%s", pn.text);
}

static void print_item(struct json *j, FILE *f, const char *key, const char *name, int depth,
		       const struct item *it)
{
	char when[32] = "";

	if (it->when) {
		struct tm tm;
		if (gmtime_r(&it->when, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	}
	if (j) {
		json_object_open(j);
		json_kv_string(j, key, name);
		json_kv_string(j, "state", it->state);
		json_kv_bool(j, "done", streq(it->state, "done"));
		if (it->when)
			json_kv_uint(j, "when", (uint64_t)it->when);
		if (it->text[0])
			json_kv_string(j, "detail", it->text);
		json_object_close(j);
		return;
	}
	/* A record may hold anything: what a terminal would act on is shown
	 * escaped. */
	fprintf(f, "  %*s%-*s %-8s %s%s", depth * 2, "", 18 - depth * 2, name, it->state, when,
		when[0] && it->text[0] ? "  " : "");
	log_put_escaped(f, it->text, strlen(it->text));
	fputc('\n', f);
}

int status_print(const struct farm_node *n, bool json, FILE *f)
{
	struct stack_plan plan = { 0 };
	struct json j;
	bool server = n->conf.role.i == ROLE_SERVER;
	_cleanup_free_ char *plan_path = node_path(n, STACK_PLAN);
	int plan_r = -ENOENT;
	struct power_info pi;

	power_info_gather(n, &pi);
	if (server && access(plan_path, F_OK) == 0)
		plan_r = stack_plan_load(n, &plan);

	if (json) {
		json_begin(&j, f);
		json_object_open(&j);
		json_kv_string(&j, "node", n->conf.node.v);
		json_kv_string(&j, "role", n->conf.role.v);
		json_kv_string(&j, "cluster", n->conf.cluster.v);
		json_key(&j, "steps");
		json_array_open(&j);
	} else
		fprintf(f, "node %s (%s, cluster %s)\n", n->conf.node.v, n->conf.role.v,
			n->conf.cluster.v);
	for (size_t i = 0; i < n_farm_steps; i++) {
		const struct step *s = &farm_steps[i];
		struct item it;
		if (!step_applies(s, n->conf.role.i))
			continue;
		item_of(n->state, "steps", s->name, s->name, &it);
		print_item(json ? &j : NULL, f, "step", s->name, 0, &it);
		if (streq(s->name, "stack") && !json && plan_r >= 0)
			for (size_t c = 0; c < plan.n; c++) {
				_cleanup_free_ char *pn =
					xasprintf("stack-%s", plan.items[c].name.v);
				item_of(n->state, "stack", plan.items[c].name.v, pn, &it);
				print_item(NULL, f, NULL, plan.items[c].name.v, 1, &it);
			}
		else if (streq(s->name, "stack") && !json && plan_r == -ENOENT)
			fprintf(f, "    (this image has no stack plan, /%s)\n", STACK_PLAN);
		else if (streq(s->name, "stack") && !json)
			fprintf(f, "    (the image's stack plan /%s cannot be read)\n", STACK_PLAN);
	}
	if (json) {
		json_array_close(&j);
		if (server) {
			json_key(&j, "stack");
			json_array_open(&j);
			for (size_t c = 0; plan_r >= 0 && c < plan.n; c++) {
				_cleanup_free_ char *pn =
					xasprintf("stack-%s", plan.items[c].name.v);
				struct item it;
				item_of(n->state, "stack", plan.items[c].name.v, pn, &it);
				print_item(&j, f, "component", plan.items[c].name.v, 0, &it);
			}
			json_array_close(&j);
		}
		power_status_print(&pi, &j, f);
		json_object_close(&j);
		json_end(&j);
	} else
		power_status_print(&pi, NULL, f);
	power_info_free(&pi);
	stack_plan_free(&plan);
	return 0;
}
