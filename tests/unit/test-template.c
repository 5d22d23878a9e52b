/* SPDX-License-Identifier: MIT */
/* Templates write each value as its file's format wants it (builder/
 * template.c): '%' doubled in systemd units, a value that would add a line
 * or carry a control character refused, with its position. */
#include "template.h"
#include "unit.h"
#include "util.h"

static char *render(const char *name, const char *text, const struct vars *v)
{
	char *out = NULL;

	return template_render(name, text, v, &out) == 0 ? out : NULL;
}

int main(void)
{
	struct vars v = { 0 };
	char *s;

	vars_set(&v, "pct", "50%n");
	vars_set(&v, "nl", "a\nOnCalendar=minutely");
	vars_set(&v, "esc", "a\x1b[2J");
	vars_set_lines(&v, "hosts", "10.0.0.1\tcow\n10.0.0.2\tsheep");

	s = render("x.service.in", "Description={{pct}}\n", &v);
	CHECK_STR("unit: % doubled", "Description=50%%n\n", s);
	free(s);
	s = render("x.timer.in", "X={{ pct }}\n", &v);
	CHECK_STR("timer: % doubled", "X=50%%n\n", s);
	free(s);
	s = render("hosts.in", "{{pct}} {{hosts}}\n", &v);
	CHECK_STR("other files: as is, lines where allowed",
		  "50%n 10.0.0.1\tcow\n10.0.0.2\tsheep\n", s);
	free(s);
	CHECK("a line break in a one-line value is refused", !render("hosts.in", "{{nl}}\n", &v));
	CHECK("a control character is refused", !render("x.conf.in", "{{esc}}\n", &v));
	CHECK("lines in a unit are refused", !render("x.service.in", "{{hosts}}\n", &v));
	CHECK("the check finds it before rendering",
	      template_check("x.service.in", "A=1\nB={{nl}}\n", &v) == 1);
	CHECK("an unknown variable", template_check("x.in", "{{nope}}", &v) == 1);
	s = template_unit_value("Europe/Berlin%");
	CHECK_STR("unit value", "Europe/Berlin%%", s);
	free(s);
	CHECK("unit value with a line break", !template_unit_value("UTC\n[Service]"));
	vars_free(&v);
	return UNIT_EXIT();
}
