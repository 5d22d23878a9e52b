/* SPDX-License-Identifier: MIT */
/* A minimal unit-test harness: each check prints "ok NAME" or
 * "not ok NAME: why" (the format tests/run counts). */
#pragma once

#include <stdio.h>
#include <string.h>

static int unit_failures;

#define CHECK(name, cond)                                                                          \
	do {                                                                                       \
		if (cond)                                                                          \
			printf("ok %s\n", (name));                                                 \
		else {                                                                             \
			printf("not ok %s: %s:%d: %s\n", (name), __FILE__, __LINE__, #cond);       \
			unit_failures++;                                                           \
		}                                                                                  \
	} while (0)

#define CHECK_STR(name, expected, actual)                                                          \
	do {                                                                                       \
		const char *_e = (expected), *_a = (actual);                                       \
		if (_e && _a && strcmp(_e, _a) == 0)                                               \
			printf("ok %s\n", (name));                                                 \
		else {                                                                             \
			printf("not ok %s: expected [%s], got [%s]\n", (name), _e ? _e : "(null)", \
			       _a ? _a : "(null)");                                                \
			unit_failures++;                                                           \
		}                                                                                  \
	} while (0)

#define UNIT_EXIT() (unit_failures ? 1 : 0)
