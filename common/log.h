/* SPDX-License-Identifier: MIT */
/* Logging: one message per failure, reported where the context is known.
 * On a terminal or a pipe, messages go to stderr as "PROGRAM: message";
 * a message is always one line, with control characters made visible.
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
/* The name given to log_init(), for messages that are not log lines. */
const char *log_program_name(void);
void log_set_max_level(enum log_level level);
enum log_level log_get_max_level(void);

/* Writes the LEN bytes of S to F with everything a terminal would act on
 * made visible: C0 and C1 controls and DEL as \n, \r, \t or \xNN, the
 * Unicode controls that reorder or break lines as \uNNNN, bytes that are
 * not UTF-8 as \xNN. Returns the number of columns written (one per
 * character shown), for carets under a column. */
size_t log_put_escaped(FILE *f, const char *s, size_t len);
/* The same for the one character at S: its rendering into OUT, the bytes
 * it took in *CONSUMED; returns the columns it shows as. */
size_t log_escape_char(const char *s, size_t len, char out[16], size_t *consumed);
/* Whether S would be written by log_put_escaped() unchanged. */
bool log_is_printable(const char *s);
/* Writes a command's result (a line of "wrote ...", "created ...") to F,
 * made visible as messages are: the paths and names in it come from the
 * command line, the config, a disk's partition table. A newline that ends
 * the text is kept. */
void log_print(FILE *f, const char *fmt, ...) _printf_(2, 3);

/* Prints the message as one line, escaped as log_put_escaped() does; "%m"
 * expands to strerror(-err). Returns -abs(err) (or -EIO when err is 0), so
 * that callers can write
 * "return log_error_errno(r, "Failed to open %s: %m", path);". */
int log_full_errno(enum log_level level, int err, const char *fmt, ...) _printf_(3, 4);

#define log_error_errno(err, ...)   log_full_errno(LOG_LEVEL_ERR, (err), __VA_ARGS__)
#define log_warning_errno(err, ...) log_full_errno(LOG_LEVEL_WARNING, (err), __VA_ARGS__)
#define log_error(...)		    log_full_errno(LOG_LEVEL_ERR, EINVAL, __VA_ARGS__)
#define log_warning(...)	    ((void)log_full_errno(LOG_LEVEL_WARNING, 0, __VA_ARGS__))
#define log_notice(...)		    ((void)log_full_errno(LOG_LEVEL_NOTICE, 0, __VA_ARGS__))
#define log_info(...)		    ((void)log_full_errno(LOG_LEVEL_INFO, 0, __VA_ARGS__))
#define log_debug(...)		    ((void)log_full_errno(LOG_LEVEL_DEBUG, 0, __VA_ARGS__))
