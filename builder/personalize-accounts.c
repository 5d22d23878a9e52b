/* SPDX-License-Identifier: MIT */
/* The admin user (NODE-SPEC.md, "Node preparation"): its SSH keys in the
 * read-only root, and its lines added to the base's own account files
 * (passwd, group, shadow, gshadow); and the base's SSH moduli, kept at 3072
 * bits and more: the base files that a build rewrites, not replaces. */
#include "personalize.h"
#include "log.h"

void personalize_accounts(const struct config *c, struct plan *p)
{
	char *keys = NULL, *path;
	size_t klen = 0;
	FILE *kf;

	/* The admin user's keys, in the read-only root. */
	kf = open_memstream(&keys, &klen);
	for (size_t i = 0; i < c->admin.authorized_keys.n; i++)
		fprintf(kf, "%s\n", c->admin.authorized_keys.v[i]);
	fclose(kf);
	path = xasprintf("etc/ssh/authorized_keys/%s", c->admin.user.v);
	plan_add_text(p, path, 0644, "cluster config (admin.authorized-keys)", keys);
	free(path);
	free(keys);
	plan_add(p, PLAN_TRANSFORM, "etc/passwd", 0644, "farm-image (admin user)")->transform =
		TRANSFORM_PASSWD;
	plan_add(p, PLAN_TRANSFORM, "etc/group", 0644, "farm-image (admin user)")->transform =
		TRANSFORM_GROUP;
	{
		struct plan_file *f;
		f = plan_add(p, PLAN_TRANSFORM, "etc/shadow", 0640, "farm-image (admin user)");
		f->transform = TRANSFORM_SHADOW;
		f->gid = 42; /* shadow */
		f = plan_add(p, PLAN_TRANSFORM, "etc/gshadow", 0640, "farm-image (admin user)");
		f->transform = TRANSFORM_GSHADOW;
		f->gid = 42;
	}
	plan_add(p, PLAN_TRANSFORM, "etc/ssh/moduli", 0644, "farm-image (moduli >= 3072 bits)")
		->transform = TRANSFORM_MODULI;
}

/* Lines of an /etc/passwd-like file. */
static bool has_name(const char *text, const char *name)
{
	size_t n = strlen(name);

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (strncmp(l, name, n) == 0 && l[n] == ':')
			return true;
	return false;
}

/* The smallest id >= 1000 that no line of TEXT uses in field 3. */
static unsigned free_id(const char *text)
{
	unsigned id = 1000;

	for (;;) {
		bool used = false;
		for (const char *l = text; l && *l;
		     l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
			const char *p = strchr(l, ':');
			unsigned v;
			if (p && (p = strchr(p + 1, ':')) && sscanf(p + 1, "%u", &v) == 1 &&
			    v == id)
				used = true;
		}
		if (!used)
			return id;
		id++;
	}
}

/* Appends to the member list of group GROUP (when the base has it). */
static char *add_member(const char *text, const char *group, const char *user)
{
	char *out = NULL;
	size_t len = 0, n = strlen(group);
	FILE *f = open_memstream(&out, &len);

	for (const char *l = text; l && *l;) {
		const char *end = strchr(l, '\n');
		size_t ll = end ? (size_t)(end - l) : strlen(l);
		fwrite(l, 1, ll, f);
		if (strncmp(l, group, n) == 0 && l[n] == ':')
			fprintf(f, "%s%s", l[ll - 1] == ':' ? "" : ",", user);
		fputc('\n', f);
		l = end ? end + 1 : NULL;
	}
	fclose(f);
	return out;
}

int personalize_transform(enum plan_transform t, const char *path, const uint8_t *base, size_t len,
			  const struct vars *v, time_t epoch, uint8_t **out, size_t *out_len)
{
	const char *user = vars_get(v, "admin_user");
	_cleanup_free_ char *text = NULL;
	char *result = NULL;
	size_t rlen = 0;
	FILE *f;

	if (!base && t != TRANSFORM_MODULI)
		return log_error("The base rootfs has no /%s; it is not a Debian rootfs", path);
	text = xmalloc(len + 2);
	memcpy(text, base ? (const char *)base : "", len);
	if (len && text[len - 1] != '\n')
		text[len++] = '\n';
	text[len] = 0;
	if (strlen(text) != len)
		return log_error("The base's /%s holds a NUL byte", path);

	if (t == TRANSFORM_MODULI) {
		/* Keep Diffie-Hellman groups of at least 3072 bits (field 5 is
		 * the size minus one). No moduli at all: ship none. */
		f = open_memstream(&result, &rlen);
		for (const char *l = text; *l;) {
			const char *end = strchr(l, '\n');
			size_t ll = (size_t)(end - l);
			unsigned long bits = 0;
			if (l[0] == '#' ||
			    (sscanf(l, "%*s %*s %*s %*s %lu", &bits) == 1 && bits >= 3071))
				fprintf(f, "%.*s\n", (int)ll, l);
			l = end + 1;
		}
		fclose(f);
		*out = (uint8_t *)result;
		*out_len = rlen;
		return 0;
	}

	if (has_name(text, user))
		return log_error("The base rootfs already has a user or group '%s' in /%s; pick "
				 "another admin user in the cluster config",
				 user, path);
	f = open_memstream(&result, &rlen);
	switch (t) {
	case TRANSFORM_PASSWD: {
		unsigned id = free_id(text);
		fprintf(f, "%s%s:x:%u:%u:farm cluster admin:/home/%s:/bin/bash\n", text, user, id,
			id, user);
		break;
	}
	case TRANSFORM_GROUP: {
		/* The admin reads the journal; sudo comes from sudoers.d. */
		char *a = add_member(text, "adm", user),
		     *b = add_member(a, "systemd-journal", user);
		fprintf(f, "%s%s:x:%u:\n", b, user, free_id(text));
		free(a);
		free(b);
		break;
	}
	case TRANSFORM_SHADOW:
		/* "*": no password can ever match; keys only. */
		fprintf(f, "%s%s:*:%lld:0:99999:7:::\n", text, user, (long long)(epoch / 86400));
		break;
	case TRANSFORM_GSHADOW: {
		char *a = add_member(text, "adm", user),
		     *b = add_member(a, "systemd-journal", user);
		fprintf(f, "%s%s:!::\n", b, user);
		free(a);
		free(b);
		break;
	}
	default:
		abort();
	}
	fclose(f);
	*out = (uint8_t *)result;
	*out_len = rlen;
	return 0;
}
