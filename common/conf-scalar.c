/* SPDX-License-Identifier: MIT */
/* One scalar value of each field type (conf.h), parsed into its typed value,
 * with the message a value that does not parse gets. */
#include "conf-internal.h"

#include <ctype.h>

/* No size in any config is near this; sums of a few never wrap. */
#define MAX_SIZE (1024 * 1024 * GiB * 1024)

static int parse_time(const char *s, uint64_t *ret)
{
	unsigned h, m;
	int n = 0;

	if (strlen(s) != 5 || sscanf(s, "%2u:%2u%n", &h, &m, &n) != 2 || n != 5 || h > 23 ||
	    m > 59 || s[2] != ':')
		return -EINVAL;
	*ret = h * 60 + m;
	return 0;
}

/* "90s", "15m", "1h30m": at least one NUMBER UNIT pair, units h, m, s in
 * that order, at most 30 days. */
int conf_parse_duration(const char *s, uint64_t *ret)
{
	static const char units[] = "hms";
	static const uint64_t mult[] = { 3600, 60, 1 };
	uint64_t total = 0;
	int last = -1;

	if (!*s)
		return -EINVAL;
	while (*s) {
		char *end;
		const char *u;
		unsigned long long v;
		if (*s < '0' || *s > '9')
			return -EINVAL;
		errno = 0;
		v = strtoull(s, &end, 10);
		if (errno || !*end || !(u = strchr(units, *end)) || u - units <= last ||
		    v > 30 * 86400)
			return -EINVAL;
		last = (int)(u - units);
		total += v * mult[last];
		s = end + 1;
	}
	if (total > 30 * 86400)
		return -ERANGE;
	*ret = total;
	return 0;
}

static int parse_range(int family, const char *s, struct crange *r)
{
	const char *dash = strchr(s, '-');
	char first[64];

	if (!dash || (size_t)(dash - s) >= sizeof(first))
		return -EINVAL;
	memcpy(first, s, (size_t)(dash - s));
	first[dash - s] = 0;
	if (ip_addr_parse(family, first, &r->first) < 0 ||
	    ip_addr_parse(family, dash + 1, &r->last) < 0)
		return -EINVAL;
	if (ip_addr_compare(&r->first, &r->last) > 0)
		return -ERANGE;
	return 0;
}

static bool load_string(struct walk *w, const struct field *f, const char *s, struct pos pos,
			void *p)
{
	((struct cstr *)p)->v = xstrdup(s);
	return true;
}

static bool load_enum(struct walk *w, const struct field *f, const char *s, struct pos pos, void *p)
{
	bool ok = false;
	char list[256] = "";

	for (const char *const *e = f->values; *e; e++) {
		if (!ok && streq(*e, s))
			((struct cenum *)p)->i = (unsigned)(e - f->values);
		ok |= streq(*e, s);
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			 e == f->values ? "" : ", ", *e);
	}
	if (!ok) {
		werr(w, pos, "%s '%s' is not one of: %s", f->key, s, list);
		return false;
	}
	((struct cenum *)p)->v = xstrdup(s);
	return true;
}

static bool load_uint(struct walk *w, const struct field *f, const char *s, struct pos pos, void *p)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(s, &end, 10);
	if (!*s || *end || errno || *s == '-' || *s == '+' || x < f->min || x > f->max) {
		werr(w, pos, "%s '%s' is not a whole number from %llu to %llu", f->key, s,
		     (unsigned long long)f->min, (unsigned long long)f->max);
		return false;
	}
	((struct cuint *)p)->v = x;
	return true;
}

static bool load_bool(struct walk *w, const struct field *f, const char *s, struct pos pos, void *p)
{
	if (streq(s, "true"))
		((struct cbool *)p)->v = true;
	else if (streq(s, "false"))
		((struct cbool *)p)->v = false;
	else {
		werr(w, pos, "%s '%s' is not true or false", f->key, s);
		return false;
	}
	return true;
}

static bool load_size(struct walk *w, const struct field *f, const char *s, struct pos pos, void *p)
{
	uint64_t size, max = f->max ? f->max : MAX_SIZE;
	char a[32];
	int r = parse_size(s, &size);

	if (r == 0 && isdigit((unsigned char)s[strlen(s) - 1])) {
		/* "ceph: 200" meant neither 200 bytes nor 200 GiB. */
		werr(w, pos, "%s '%s' has no unit (examples: 512MiB, 4GiB; B for bytes)", f->key,
		     s);
		return false;
	}
	if (r == -ERANGE || (r == 0 && size > max)) {
		werr(w, pos, "%s '%s' is larger than %s", f->key, s,
		     format_size(max, a, sizeof(a)));
		return false;
	}
	if (r < 0) {
		werr(w, pos, "%s '%s' is not a size (examples: 512MiB, 4GiB)", f->key, s);
		return false;
	}
	if (size < f->min) {
		werr(w, pos, "%s '%s' is smaller than %s", f->key, s,
		     format_size(f->min, a, sizeof(a)));
		return false;
	}
	((struct cuint *)p)->v = size;
	return true;
}

static bool load_time(struct walk *w, const struct field *f, const char *s, struct pos pos, void *p)
{
	if (parse_time(s, &((struct cuint *)p)->v) < 0) {
		werr(w, pos, "%s '%s' is not a time of day (HH:MM, 24-hour)", f->key, s);
		return false;
	}
	return true;
}

static bool load_duration(struct walk *w, const struct field *f, const char *s, struct pos pos,
			  void *p)
{
	uint64_t *v = &((struct cuint *)p)->v;

	if (conf_parse_duration(s, v) < 0 || *v < f->min || (f->max && *v > f->max)) {
		werr(w, pos, "%s '%s' is not a duration (examples: 90s, 15m, 1h30m)", f->key, s);
		return false;
	}
	return true;
}

static int family_of(const struct field *f)
{
	return f->type == FT_IPV4 || f->type == FT_PREFIX4 || f->type == FT_RANGE4 ? AF_INET
										   : AF_INET6;
}

static const char *family_name(int fam) { return fam == AF_INET ? "IPv4" : "IPv6"; }

static bool load_addr(struct walk *w, const struct field *f, const char *s, struct pos pos, void *p)
{
	int fam = family_of(f);

	if (ip_addr_parse(fam, s, &((struct caddr *)p)->v) < 0) {
		werr(w, pos, "%s '%s' is not an %s address", f->key, s, family_name(fam));
		return false;
	}
	return true;
}

static bool load_prefix(struct walk *w, const struct field *f, const char *s, struct pos pos,
			void *p)
{
	int fam = family_of(f), r = ip_prefix_parse(fam, s, &((struct cprefix *)p)->v);

	if (r == -EADDRNOTAVAIL) {
		werr(w, pos, "%s '%s' has host bits set after the prefix length", f->key, s);
		return false;
	}
	if (r < 0) {
		werr(w, pos, "%s '%s' is not an %s CIDR (address/length)", f->key, s,
		     family_name(fam));
		return false;
	}
	return true;
}

static bool load_range(struct walk *w, const struct field *f, const char *s, struct pos pos,
		       void *p)
{
	int fam = family_of(f), r = parse_range(fam, s, p);

	if (r == -ERANGE) {
		werr(w, pos, "%s '%s' ends before it starts", f->key, s);
		return false;
	}
	if (r < 0) {
		werr(w, pos, "%s '%s' is not an %s range (FIRST-LAST)", f->key, s,
		     family_name(fam));
		return false;
	}
	return true;
}

typedef bool scalar_loader(struct walk *w, const struct field *f, const char *s, struct pos pos,
			   void *p);

static scalar_loader *const loaders[] = {
	[FT_STRING] = load_string,     [FT_ENUM] = load_enum,	   [FT_UINT] = load_uint,
	[FT_BOOL] = load_bool,	       [FT_SIZE] = load_size,	   [FT_TIME] = load_time,
	[FT_DURATION] = load_duration, [FT_IPV4] = load_addr,	   [FT_IPV6] = load_addr,
	[FT_PREFIX4] = load_prefix,    [FT_PREFIX6] = load_prefix, [FT_RANGE4] = load_range,
	[FT_RANGE6] = load_range,
};

bool conf_load_scalar(struct walk *w, const struct field *f, const char *s, struct pos pos, void *p)
{
	if ((size_t)f->type >= ELEMENTSOF(loaders) || !loaders[f->type])
		abort(); /* not a scalar type */
	return loaders[f->type](w, f, s, pos, p);
}
