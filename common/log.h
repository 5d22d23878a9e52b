/* SPDX-License-Identifier: MIT */
/* Logging: one message per failure, reported where the context is known.
 * On a terminal or a pipe, messages go to stderr as "PROGRAM: message";
 * under systemd (JOURNAL_STREAM set), they carry a "<N>" priority prefix
 * that journald understands. */
#pragma once

#include "util.h"

enum log_level {
	LOG_LEVEL_ERR = 3,
	LOG_LEVEL_WARNING = 4,
	LOG_LEVEL_NOTICE = 5,
	LOG_LEVEL_INFO = 6,
	LOG_LEVEL_DEBUG = 7,
};

void log_init(const char *program);
void log_set_max_level(enum log_level level);
enum log_level log_get_max_level(void);

/* Prints the message; "%m" expands to strerror(-err). Returns -abs(err)
 * (or -EIO when err is 0), so that callers can write
 * "return log_error_errno(r, "Failed to open %s: %m", path);". */
int log_full_errno(enum log_level level, int err, const char *fmt, ...) _printf_(3, 4);

#define log_error_errno(err, ...) log_full_errno(LOG_LEVEL_ERR, (err), __VA_ARGS__)
#define log_warning_errno(err, ...) log_full_errno(LOG_LEVEL_WARNING, (err), __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_LEVEL_ERR, EINVAL, __VA_ARGS__)
#define log_warning(...) ((void)log_full_errno(LOG_LEVEL_WARNING, 0, __VA_ARGS__))
#define log_notice(...) ((void)log_full_errno(LOG_LEVEL_NOTICE, 0, __VA_ARGS__))
#define log_info(...) ((void)log_full_errno(LOG_LEVEL_INFO, 0, __VA_ARGS__))
#define log_debug(...) ((void)log_full_errno(LOG_LEVEL_DEBUG, 0, __VA_ARGS__))
