/* SPDX-License-Identifier: MIT */
/* libcurl, loaded when `fetch` needs it (dlopen) instead of at every start
 * of farm-image: it brings about 25 of the 51 libraries farm-image would
 * otherwise load, and a start with cold caches took 0.08 s with them. The
 * curl_* functions fetch.c calls are defined in curl-dl.c and call into the
 * loaded library; curl.h's declarations and type checks stay as they are. */
#pragma once

/* Loads libcurl.so.4 once. Returns 0, or -1 after printing one message. */
int curl_load(void);
