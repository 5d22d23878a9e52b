/* SPDX-License-Identifier: MIT */
/* Helper threads: started with every signal blocked, so that SIGINT and
 * SIGTERM reach the main thread (whose handler sets the flag the build
 * checks), and a read or write in a helper is never interrupted. */
#pragma once

#include <pthread.h>

/* pthread_create with all signals blocked in the new thread. Returns 0 or
 * -errno. */
int thread_start(pthread_t *t, void *(*fn)(void *), void *arg);
