/* SPDX-License-Identifier: MIT */
#include "jsonq.h"

#include <stdarg.h>

static json_object *walk(json_object *o, va_list ap)
{
	const char *k;

	while (o && (k = va_arg(ap, const char *)))
		if (!json_object_object_get_ex(o, k, &o))
			o = NULL;
	return o;
}

json_object *jget(json_object *o, ...)
{
	va_list ap;

	va_start(ap, o);
	o = walk(o, ap);
	va_end(ap);
	return o;
}

const char *jstr(json_object *o, ...)
{
	va_list ap;

	va_start(ap, o);
	o = walk(o, ap);
	va_end(ap);
	return o && json_object_is_type(o, json_type_string) ? json_object_get_string(o) : NULL;
}
