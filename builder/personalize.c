/* SPDX-License-Identifier: MIT */
#include "personalize.h"
#include "k3sconf.h"
#include "ext4.h"
#include "hash.h"
#include "log.h"
#include "nodeconf.h"
#include "nodevars.h"
#include "power.h"
#include "stream.h"

#include <ctype.h>
#include <sys/stat.h>

struct plan_file *plan_add_text(struct plan *p, const char *path, uint32_t mode,
				const char *origin, const char *text)
{
	return plan_add_data(p, path, mode, origin, text, strlen(text));
}

void plan_add_link(struct plan *p, const char *path, const char *target, const char *origin)
{
	plan_add(p, PLAN_SYMLINK, path, 0777, origin)->target = xstrdup(target);
}

void plan_add_source(struct plan *p, const char *path, uint32_t mode, const char *origin,
		     const char *host)
{
	plan_add(p, PLAN_FILE, path, mode, origin)->source = xstrdup(host);
}

/* farm-node's view of the node (nodeconf.h). */
static int nodeyaml_plan(struct plan *p, const struct config *c, const struct config_node *n)
{
	const struct config_node *server = config_server(c);
	struct nodeconf nc = { 0 };
	char uuid[37], dns[64], *text = NULL;
	int r;

#define SET(field, value) nc.field = (struct cstr){ .m.set = true, .v = xstrdup(value) }
	SET(cluster, c->cluster.name.v);
	SET(node, n->name.v);
	nc.role = (struct cenum){ .m.set = true, .i = n->role.i };
	SET(admin_user, c->admin.user.v);
	uuid_format(p->part[PART_DATA].uuid, uuid);
	SET(data_partuuid, uuid);
	/* Where agents reach the API: the supervisor port of k3s server
	 * (https-listen-port, 6443), by the name in its certificate
	 * (tls-san). */
	nc.api_server = (struct cstr){ .m.set = true,
				       .v = xasprintf("https://%s:6443", c->cluster.api_name.v) };
	/* The power cycle: who goes last, and where a startup checks that the
	 * cluster's DNS answers (CoreDNS's service address, the services
	 * range's tenth, as configs/stack/coredns.yaml). */
	if (server)
		SET(control_plane, server->name.v);
	SET(cluster_dns, ip_prefix_nth(&c->network.services.ipv4.v, 10, dns, sizeof(dns)));
	if (n->disk.m.set)
		SET(disk, n->disk.v);
	/* A Ceph size is whole MiB; 0: none. */
	nc.ceph_size = (struct cuint){ .m.set = true,
				       .v = n->storage.ceph.m.set ? n->storage.ceph.v : 0 };
#undef SET
	r = nodeconf_write(&nc, &text);
	nodeconf_free(&nc);
	if (r < 0)
		return r;
	plan_add_text(p, NODECONF_PATH, 0644, "farm-image (node.nodeyaml)", text);
	free(text);
	return 0;
}

int personalize_plan(const struct plan_input *in, const struct personal_inputs *pi,
		     struct plan *p)
{
	const struct config *c = in->config;
	const struct config_node *n = in->node;
	char mid[33], *keys = NULL, *path;
	size_t klen = 0;
	FILE *kf;
	int r;

	/* Identity: the same machine-id after a reimage. */
	node_machine_id(c->cluster.name.v, n->name.v, mid);
	path = xasprintf("%s\n", mid);
	plan_add_text(p, "etc/machine-id", 0444, "farm-image (machine-id)", path);
	free(path);

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

	/* farm-node and what it needs to know about the node. */
	if (pi->farm_node)
		plan_add_source(p, "usr/local/bin/farm-node", 0755, "farm-node", pi->farm_node);
	r = nodeyaml_plan(p, c, n);
	if (r < 0)
		return r;

	/* Mount points of the data subvolumes, and farm's own state. */
	plan_add(p, PLAN_DIR, "var/lib/rancher", 0755, "farm-image (mount point)");
	plan_add(p, PLAN_DIR, ".snapshots", 0700, "farm-image (mount point)");
	plan_add(p, PLAN_DIR, "var/lib/farm", 0700, "farm-image (state)");

	r = k3s_plan(in, pi, p);
	if (r < 0)
		return r;
	power_plan(p, c, n, pi->power_key, pi->power_crt, pi->server_ca);
	return 0;
}

int personalize_check_base(const struct config *c, struct ext4_writer *root, const char *base)
{
	_cleanup_free_ char *path = NULL;
	uint32_t mode;

	/* The power timer's zone: systemd resolves it in the node's own
	 * /usr/share/zoneinfo when it loads the timer (verify_timezone in
	 * src/basic/time-util.c), and a zone it cannot open makes OnCalendar=
	 * unparsable, so the timer never fires. UTC needs no file. */
	if (!c->power.enabled.v || !c->power.shutdown.m.set || !c->power.timezone.m.set ||
	    streq(c->power.timezone.v, "UTC"))
		return 0;
	path = xasprintf("usr/share/zoneinfo/%s", c->power.timezone.v);
	if (ext4_lookup(root, path, &mode) == 0 && (S_ISREG(mode) || S_ISLNK(mode)))
		return 0;
	return log_error("%s: the base has no time zone '%s' (/%s), which the power schedule's "
			 "timer needs: add tzdata to the base (tzdata-legacy for the old names "
			 "such as US/Eastern), or use a name of its zone1970.tab",
			 base, c->power.timezone.v, path);
}

static struct capture captures[] = {
	{ .path = "etc/passwd" },	  { .path = "etc/group" },
	{ .path = "etc/shadow" },	  { .path = "etc/gshadow" },
	{ .path = "etc/ssh/moduli" },	  { .path = "var/lib/dpkg/status", .keep = true },
};

struct capture *personalize_captures(size_t *n)
{
	*n = ELEMENTSOF(captures);
	return captures;
}

void personalize_captures_reset(struct capture *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].data);
		c[i].data = NULL;
		c[i].size = 0;
		c[i].found = false;
	}
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
			if (p && (p = strchr(p + 1, ':')) && sscanf(p + 1, "%u", &v) == 1 && v == id)
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

int personalize_transform(enum plan_transform t, const char *path, const uint8_t *base,
			  size_t len, const struct vars *v, time_t epoch, uint8_t **out,
			  size_t *out_len)
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
		char *a = add_member(text, "adm", user), *b = add_member(a, "systemd-journal", user);
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
		char *a = add_member(text, "adm", user), *b = add_member(a, "systemd-journal", user);
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
