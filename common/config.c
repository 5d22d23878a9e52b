/* SPDX-License-Identifier: MIT */
#include "config-internal.h"
#include "k8sname.h"
#include "log.h"

#include <ctype.h>
#include <regex.h>
#include <sys/stat.h>
#include <libgen.h>
#include <strings.h>

#define F CONF_FIELD

static const struct field lan_fields[] = {
	F("ipv4", FT_PREFIX4, struct config_lan, ipv4, .required = true),
	F("ipv4-gateway", FT_IPV4, struct config_lan, ipv4_gateway, .required = true),
	F("ipv6", FT_PREFIX6, struct config_lan, ipv6, .required = true),
	F("ipv6-gateway", FT_IPV6, struct config_lan, ipv6_gateway, .required = true),
	F("dns", FT_ADDRLIST, struct config_lan, dns, .required = true),
	{ 0 },
};
static const struct schema lan_schema = { .what = "network.lan", .fields = lan_fields };

static const struct field pods_fields[] = {
	F("ipv4", FT_PREFIX4, struct config_family_pair, ipv4, .required = true),
	F("ipv6", FT_PREFIX6, struct config_family_pair, ipv6, .required = true),
	F("ipv6-node-mask", FT_UINT, struct config_family_pair, ipv6_node_mask, .min = 64,
	  .max = 124),
	{ 0 },
};
static const struct schema pods_schema = { .what = "network.pods", .fields = pods_fields };

static const struct field services_fields[] = {
	F("ipv4", FT_PREFIX4, struct config_family_pair, ipv4, .required = true),
	F("ipv6", FT_PREFIX6, struct config_family_pair, ipv6, .required = true),
	{ 0 },
};
static const struct schema services_schema = { .what = "network.services",
					       .fields = services_fields };

static const struct field lb_fields[] = {
	F("ipv4", FT_RANGE4, struct config_lb, ipv4),
	F("ipv6", FT_RANGE6, struct config_lb, ipv6),
	{ 0 },
};
static const struct schema lb_schema = { .what = "network.loadbalancer", .fields = lb_fields };

static const struct field network_fields[] = {
	F("lan", FT_MAP, struct config_network, lan, .sub = &lan_schema, .required = true),
	F("pods", FT_MAP, struct config_network, pods, .sub = &pods_schema, .required = true),
	F("services", FT_MAP, struct config_network, services, .sub = &services_schema,
	  .required = true),
	F("loadbalancer", FT_MAP, struct config_network, loadbalancer, .sub = &lb_schema),
	{ 0 },
};
static const struct schema network_schema = { .what = "network", .fields = network_fields };

static const struct field cluster_fields[] = {
	F("name", FT_STRING, struct config_cluster, name, .required = true),
	F("domain", FT_STRING, struct config_cluster, domain, .required = true),
	F("api-name", FT_STRING, struct config_cluster, api_name),
	{ 0 },
};
static const struct schema cluster_schema = { .what = "cluster", .fields = cluster_fields };

static const struct field k3s_fields[] = {
	F("version", FT_STRING, struct config_k3s, version, .required = true),
	{ 0 },
};
static const struct schema k3s_schema = { .what = "k3s", .fields = k3s_fields };

static const struct field admin_fields[] = {
	F("user", FT_STRING, struct config_admin, user, .required = true),
	F("authorized-keys", FT_STRLIST, struct config_admin, authorized_keys, .required = true),
	{ 0 },
};
static const struct schema admin_schema = { .what = "admin", .fields = admin_fields };

static const struct field power_fields[] = {
	F("enabled", FT_BOOL, struct config_power, enabled),
	F("shutdown", FT_TIME, struct config_power, shutdown),
	F("timezone", FT_STRING, struct config_power, timezone),
	{ 0 },
};
static const struct schema power_schema = { .what = "power", .fields = power_fields };

static const struct field storage_fields[] = {
	F("ceph", FT_SIZE, struct config_storage, ceph),
	{ 0 },
};
static const struct schema storage_schema = { .what = "storage", .fields = storage_fields };

static const struct field gitops_fields[] = {
	F("repository", FT_STRING, struct config_gitops, repository, .required = true),
	F("path", FT_STRING, struct config_gitops, path),
	F("revision", FT_STRING, struct config_gitops, revision),
	{ 0 },
};
static const struct schema gitops_schema = { .what = "gitops", .fields = gitops_fields };

static const char *const kernels[] = { "4k", "16k", NULL };

static const struct field node_fields[] = {
	F("name", FT_STRING, struct config_node, name, .required = true),
	F("board", FT_STRING, struct config_node, board, .required = true),
	F("role", FT_ENUM, struct config_node, role, .values = role_names, .required = true),
	F("ipv4", FT_IPV4, struct config_node, ipv4, .required = true),
	F("ipv6", FT_IPV6, struct config_node, ipv6, .required = true),
	F("disk", FT_STRING, struct config_node, disk),
	F("interface", FT_STRING, struct config_node, interface),
	F("pcie-gen", FT_UINT, struct config_node, pcie_gen, .min = 2, .max = 3),
	F("kernel", FT_ENUM, struct config_node, kernel, .values = kernels),
	/* 16 TiB: ext4's limit with 4 KiB blocks and 32-bit block numbers,
	 * far past any root; the image is written at this size. */
	F("root-size", FT_SIZE, struct config_node, root_size, .min = MiB, .max = 16 * 1024 * GiB),
	F("labels", FT_STRMAP, struct config_node, labels),
	F("taints", FT_STRLIST, struct config_node, taints),
	F("storage", FT_MAP, struct config_node, storage, .sub = &storage_schema),
	{ 0 },
};
static const struct schema node_schema = { .what = "node",
					   .name_key = "name",
					   .size = sizeof(struct config_node),
					   .fields = node_fields };

static const struct field top_fields[] = {
	F("cluster", FT_MAP, struct config, cluster, .sub = &cluster_schema, .required = true),
	F("k3s", FT_MAP, struct config, k3s, .sub = &k3s_schema, .required = true),
	F("network", FT_MAP, struct config, network, .sub = &network_schema, .required = true),
	F("admin", FT_MAP, struct config, admin, .sub = &admin_schema, .required = true),
	F("power", FT_MAP, struct config, power, .sub = &power_schema),
	F("stack", FT_STRLIST, struct config, stack),
	F("gitops", FT_MAP, struct config, gitops, .sub = &gitops_schema),
	F("nodes", FT_LIST, struct config, nodes, .sub = &node_schema, .required = true),
	{ 0 },
};
static const struct schema top_schema = { .what = "config", .fields = top_fields };

static bool valid_domain(const char *s)
{
	_cleanup_free_ char *copy = xstrdup(s);
	char *save = NULL;

	if (strlen(s) > 253 || !*s || s[strlen(s) - 1] == '.' || strstr(s, ".."))
		return false;
	for (char *l = strtok_r(copy, ".", &save); l; l = strtok_r(NULL, ".", &save))
		if (!config_valid_dns_label(l))
			return false;
	return true;
}

static bool valid_user(const char *s)
{
	if (!*s || strlen(s) > 32 || !(islower((unsigned char)*s) || *s == '_'))
		return false;
	for (const char *p = s; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_' ||
		      *p == '-'))
			return false;
	return true;
}

static bool valid_ssh_key(const char *s)
{
	static const char *const types[] = {
		"ssh-ed25519",
		"ssh-rsa",
		"ecdsa-sha2-nistp256",
		"ecdsa-sha2-nistp384",
		"ecdsa-sha2-nistp521",
		"sk-ssh-ed25519@openssh.com",
		"sk-ecdsa-sha2-nistp256@openssh.com",
	};
	const char *sp = strchr(s, ' '), *b;

	if (!sp || strchr(s, '\n'))
		return false;
	for (size_t i = 0; i < ELEMENTSOF(types); i++) {
		if ((size_t)(sp - s) != strlen(types[i]) || strncmp(s, types[i], strlen(types[i])))
			continue;
		size_t n;
		b = sp + 1;
		n = strspn(b, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=");
		/* The key, then nothing or " comment". */
		return n >= 16 && (b[n] == 0 || b[n] == ' ');
	}
	return false;
}

/* A time zone name as systemd takes one (src/basic/time-util.c,
 * verify_timezone): letters, digits, '-', '_', '+' and '/' between
 * non-empty components. Nothing else can reach the timer unit. */
static bool valid_timezone_name(const char *s)
{
	if (!*s || *s == '/' || s[strlen(s) - 1] == '/' || strstr(s, "//") || strlen(s) > 255)
		return false;
	for (const char *p = s; *p; p++)
		if (!isascii((unsigned char)*p) ||
		    !(isalnum((unsigned char)*p) || strchr("-_+/", *p)))
			return false;
	return true;
}

/* Whether DIR/NAME is a TZif file, as systemd checks a zone at boot. */
static bool zone_file(const char *dir, const char *name)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	struct stat st;
	char magic[4];

	return f && fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) &&
	       fread(magic, 1, 4, f) == 4 && memcmp(magic, "TZif", 4) == 0;
}

/* The power schedule's time zone. Authoritative is the node's tzdata (the
 * base's /usr/share/zoneinfo: systemd resolves the timer's zone there, and
 * the build checks it). Here, without a base, the building machine's
 * tzdata stands in ($TZDIR, as glibc reads it, else /usr/share/zoneinfo):
 * a name it lacks is an error, since a typo is far likelier than a zone
 * newer than its tzdata; a machine without tzdata only gets a warning. UTC
 * is always valid (systemd accepts it without tzdata). */
static void check_timezone(struct config *c)
{
	const struct cstr *tz = &c->power.timezone;
	const char *dir = getenv("TZDIR");
	_cleanup_free_ char *tab = NULL, *zi = NULL;

	if (!tz->m.set)
		return;
	if (!valid_timezone_name(tz->v)) {
		config_error(c, tz->m.pos,
			     "power: timezone '%s' is not a time zone name (such as Europe/Berlin "
			     "or UTC: letters, digits, '-', '_', '+' and '/')",
			     tz->v);
		return;
	}
	if (streq(tz->v, "UTC"))
		return;
	if (!dir || !*dir)
		dir = "/usr/share/zoneinfo";
	if (zone_file(dir, tz->v))
		return;
	tab = xasprintf("%s/zone1970.tab", dir);
	zi = xasprintf("%s/tzdata.zi", dir);
	if (access(tab, F_OK) < 0 && access(zi, F_OK) < 0)
		conf_warning(&c->file, tz->m.pos,
			     "power: cannot check timezone '%s' here, this machine has no tzdata "
			     "(%s); the build checks it in the base",
			     tz->v, dir);
	else
		config_error(c, tz->m.pos,
			     "power: timezone '%s' is not a tzdata time zone (there is no %s/%s; "
			     "the names are in %s)",
			     tz->v, dir, tz->v, tab);
}

/* k3s releases: vMAJOR.MINOR.PATCH[-rcN]+k3sN (the version names the
 * artifacts to fetch and goes into the manifest). */
static bool valid_k3s_version(const char *s)
{
	regex_t re;
	bool ok;

	if (regcomp(&re, "^v[0-9]+\\.[0-9]+\\.[0-9]+(-rc[0-9]+)?\\+k3s[0-9]+$",
		    REG_EXTENDED | REG_NOSUB) != 0)
		abort();
	ok = regexec(&re, s, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

/* farm's k3s runs with flannel-backend: none (and disable-network-policy,
 * disable-kube-proxy), NODE-SPEC.md: without a CNI no pod gets a network
 * and every node stays NotReady. k3s runs without flannel: the stack must bring a CNI. Whether one of
 * its components is one is the stack's definitions' to say
 * (stack_resolve(), a definition's `cni: true`); here, only a stack that
 * is missing or empty. */
static void check_cni(struct config *c)
{
	if (c->stack.n > 0)
		return;
	if (c->file.errors && !c->stack.m.set)
		return; /* a config this broken gains nothing from the hint */
	config_error(c, c->stack.m.set ? c->stack.m.pos : c->m.pos, "%s: " CONFIG_NO_CNI,
		     c->stack.m.set ? "stack" : "no 'stack'");
}

static void check_rest(struct config *c)
{
	check_timezone(c);
	if (c->k3s.version.m.set && !valid_k3s_version(c->k3s.version.v))
		config_error(c, c->k3s.version.m.pos,
			     "k3s: version '%s' is not a k3s release such as v1.33.5+k3s1",
			     c->k3s.version.v);
	if (c->cluster.name.m.set && !config_valid_dns_label(c->cluster.name.v))
		config_error(c, c->cluster.name.m.pos,
			     "cluster: name '%s' must be a DNS label (a-z, 0-9, '-', at most 63)",
			     c->cluster.name.v);
	if (c->cluster.domain.m.set && !valid_domain(c->cluster.domain.v))
		config_error(c, c->cluster.domain.m.pos, "cluster: domain '%s' is not a DNS name",
			     c->cluster.domain.v);
	if (c->cluster.api_name.m.set && !valid_domain(c->cluster.api_name.v))
		config_error(c, c->cluster.api_name.m.pos,
			     "cluster: api-name '%s' is not a DNS name", c->cluster.api_name.v);
	if (!c->cluster.api_name.m.set && c->cluster.domain.m.set &&
	    valid_domain(c->cluster.domain.v) && strlen(c->cluster.domain.v) > 253 - 4)
		config_error(c, c->cluster.domain.m.pos,
			     "cluster: domain '%s' is too long for the default api-name k3s.%s "
			     "(at most 253 characters); set api-name",
			     c->cluster.domain.v, c->cluster.domain.v);
	if (c->admin.user.m.set && (!valid_user(c->admin.user.v) || streq(c->admin.user.v, "root")))
		config_error(c, c->admin.user.m.pos,
			     "admin: user '%s' must be a login name other than root (a-z, 0-9, "
			     "'_', '-')",
			     c->admin.user.v);
	if (c->admin.authorized_keys.m.set && c->admin.authorized_keys.n == 0 && !c->file.errors)
		config_error(c, c->admin.authorized_keys.m.pos,
			     "admin: authorized-keys is empty; nobody could log in");
	for (size_t i = 0; i < c->admin.authorized_keys.n; i++)
		if (!valid_ssh_key(c->admin.authorized_keys.v[i]))
			config_error(c, c->admin.authorized_keys.vpos[i],
				     "admin: authorized-keys entry %zu is not an OpenSSH public key "
				     "line (TYPE BASE64 [COMMENT])",
				     i + 1);
	/* The stack's components are checked against their definitions
	 * (common/stack.c, configs/stack/). */
	if (c->gitops.repository.m.set) {
		const char *u = c->gitops.repository.v;
		if (!(startswith(u, "https://") || startswith(u, "ssh://") ||
		      startswith(u, "git@")) ||
		    strcspn(u, " \t\r\n\"'\\") != strlen(u))
			config_error(c, c->gitops.repository.m.pos,
				     "gitops: repository '%s' is not an https://, ssh:// or git@ URL",
				     u);
	}
	{
		const struct cstr *fields[] = { &c->gitops.path, &c->gitops.revision };
		for (size_t i = 0; i < ELEMENTSOF(fields); i++)
			if (fields[i]->m.set &&
			    (!*fields[i]->v ||
			     strcspn(fields[i]->v, " \t\r\n\"'\\") != strlen(fields[i]->v)))
				config_error(c, fields[i]->m.pos,
					     "gitops: '%s' may not be empty or hold spaces, quotes or "
					     "backslashes",
					     fields[i]->v);
	}
	check_cni(c);
}

int config_load(const char *path, struct config *c)
{
	_cleanup_free_ char *copy = xstrdup(path);
	int r;

	*c = (struct config){ 0 };
	c->dir = xstrdup(dirname(copy));
	r = conf_file_open(path, &c->file);
	if (r < 0)
		return r;
	conf_load(&c->file, &top_schema, c);
	config_check_network(c);
	config_check_nodes(c);
	check_rest(c);
	if (c->file.errors)
		return -EINVAL;

	if (!c->cluster.api_name.m.set) {
		c->cluster.api_name.v = xasprintf("k3s.%s", c->cluster.domain.v);
		c->cluster.api_name.m.set = true;
	}
	if (!c->network.pods.ipv6_node_mask.m.set)
		c->network.pods.ipv6_node_mask.v = DEFAULT_IPV6_NODE_MASK;
	if (!c->power.enabled.m.set)
		c->power.enabled.v = c->power.shutdown.m.set;
	return 0;
}

void config_free(struct config *c)
{
	conf_free(&top_schema, c);
	conf_file_close(&c->file);
	free(c->dir);
	*c = (struct config){ 0 };
}

struct config_node *config_find_node(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->nodes.n; i++)
		if (streq(config_node_at(c, i)->name.v, name))
			return config_node_at(c, i);
	return NULL;
}

const struct config_node *config_server(const struct config *c)
{
	for (size_t i = 0; i < c->nodes.n; i++)
		if (config_node_at(c, i)->role.i == ROLE_SERVER)
			return config_node_at(c, i);
	return NULL;
}
