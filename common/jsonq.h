/* SPDX-License-Identifier: MIT */
/* Reading JSON with json-c (what kubectl prints, for farm-node; the k3s
 * stand-in's objects, for the tests): the value at a path of keys. Only
 * the programs that link json-c use this file (not farm-image). */
#pragma once

#include <json-c/json.h>

/* The value at KEY/KEY/... (NULL-terminated), or NULL. */
json_object *jget(json_object *o, ...);
/* The string at KEY/KEY/..., or NULL when absent or not a string. */
const char *jstr(json_object *o, ...);
