/* SPDX-License-Identifier: MIT */
#include "nodevars.h"
#include "hash.h"
#include "log.h"

#include <ctype.h>

static const char *fact_names[] = {
	"ssh_kex",	"ssh_ciphers",	   "ssh_macs", "ssh_host_key_algorithms",
	"ssh_rsa_size", "openssh_version",
};

static void addr(struct vars *v, const char *name, const struct ip_addr *a)
{
	char buf[64];

	vars_set(v, name, ip_addr_to_string(a, buf, sizeof(buf)));
}

static void prefix(struct vars *v, const char *name, const struct ip_prefix *p)
{
	char buf[80];

	vars_set(v, name, ip_prefix_to_string(p, buf, sizeof(buf)));
}

/* /etc/hosts lines for every node, both families, and the API name. */
static char *hosts_lines(const struct config *c)
{
	const struct config_node *server = config_server(c);
	char *buf = NULL, a[64], b[64];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	for (size_t i = 0; i < c->nodes.n; i++) {
		const struct config_node *n = config_node_at(c, i);
		fprintf(f, "%-39s %s.%s %s\n", ip_addr_to_string(&n->ipv4.v, a, sizeof(a)),
			n->name.v, c->cluster.domain.v, n->name.v);
		fprintf(f, "%-39s %s.%s %s\n", ip_addr_to_string(&n->ipv6.v, b, sizeof(b)),
			n->name.v, c->cluster.domain.v, n->name.v);
	}
	if (server) {
		fprintf(f, "%-39s %s\n", ip_addr_to_string(&server->ipv4.v, a, sizeof(a)),
			c->cluster.api_name.v);
		fprintf(f, "%-39s %s\n", ip_addr_to_string(&server->ipv6.v, b, sizeof(b)),
			c->cluster.api_name.v);
	}
	fclose(f);
	/* No trailing newline: the template has its own. */
	if (len && buf[len - 1] == '\n')
		buf[len - 1] = 0;
	return buf;
}

void node_machine_id(const char *cluster, const char *node, char out[33])
{
	uint8_t u[16];

	uuid_derive(cluster, node, "machine-id", u);
	/* systemd wants a v4-looking id in /etc/machine-id; any 128 bits that
	 * are not all zero work, and these are stable across reimages. */
	hex_encode(u, 16, out);
}

void node_vars(const struct config *c, const struct config_node *n, const struct board *b,
	       const struct plan *p, struct vars *v)
{
	const struct config_lan *lan = &c->network.lan;
	const struct config_node *server = config_server(c);
	char buf[64], uuid[37], *hosts;
	char dns[512] = "";

	vars_set(v, "cluster", c->cluster.name.v);
	vars_set(v, "domain", c->cluster.domain.v);
	vars_set(v, "api_name", c->cluster.api_name.v);
	vars_set(v, "node", n->name.v);
	vars_setf(v, "fqdn", "%s.%s", n->name.v, c->cluster.domain.v);
	vars_set(v, "role", n->role.v);
	vars_set(v, "board", b->name.v);
	vars_set(v, "arch", b->arch.v);
	vars_set(v, "k3s_version", c->k3s.version.v);
	vars_set(v, "admin_user", c->admin.user.v);

	addr(v, "ipv4", &n->ipv4.v);
	addr(v, "ipv6", &n->ipv6.v);
	vars_setf(v, "ipv4_cidr", "%s/%u", ip_addr_to_string(&n->ipv4.v, buf, sizeof(buf)),
		  lan->ipv4.v.len);
	vars_setf(v, "ipv6_cidr", "%s/%u", ip_addr_to_string(&n->ipv6.v, buf, sizeof(buf)),
		  lan->ipv6.v.len);
	addr(v, "ipv4_gateway", &lan->ipv4_gateway.v);
	addr(v, "ipv6_gateway", &lan->ipv6_gateway.v);
	prefix(v, "lan_ipv4", &lan->ipv4.v);
	prefix(v, "lan_ipv6", &lan->ipv6.v);
	for (size_t i = 0; i < lan->dns.n; i++)
		snprintf(dns + strlen(dns), sizeof(dns) - strlen(dns), "%s%s", i ? " " : "",
			 ip_addr_to_string(&lan->dns.v[i], buf, sizeof(buf)));
	vars_set(v, "dns", dns);
	/* The NIC that carries the LAN: by MAC when the node names one (a node
	 * with several ports), else every wired NIC. */
	if (n->interface.m.set && config_interface_is_mac(n->interface.v)) {
		char mac[18];
		for (size_t i = 0; i < sizeof(mac); i++)
			mac[i] = (char)tolower((unsigned char)n->interface.v[i]);
		vars_setf(v, "lan_match", "MACAddress=%s", mac);
	} else {
		vars_setf(v, "lan_match", "Name=%s",
			  n->interface.m.set ? n->interface.v : "en* eth*");
	}
	if (server) {
		addr(v, "server_ipv4", &server->ipv4.v);
		addr(v, "server_ipv6", &server->ipv6.v);
	}
	hosts = hosts_lines(c);
	vars_set_lines(v, "hosts", hosts);
	free(hosts);

	uuid_format(p->part[PART_BOOT].uuid, uuid);
	vars_set(v, "boot_partuuid", uuid);
	uuid_format(p->part[PART_ROOT].uuid, uuid);
	vars_set(v, "root_partuuid", uuid);
	uuid_format(p->part[PART_DATA].uuid, uuid);
	vars_set(v, "data_partuuid", uuid);
	{
		/* systemd's name for /dev/disk/by-partuuid/UUID: '-' escaped. */
		char unit[160] = "dev-disk-by\\x2dpartuuid-";
		for (const char *c2 = uuid; *c2; c2++)
			snprintf(unit + strlen(unit), sizeof(unit) - strlen(unit), "%s",
				 *c2 == '-' ? "\\x2d" : (char[]){ *c2, 0 });
		strcat(unit, ".device");
		vars_set(v, "data_device_unit", unit);
	}
	vars_set(v, "boot_mount", b->boot.mount.v);
	{
		char *lines = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&lines, &len);
		for (size_t i = 0; i < n_data_subvolumes; i++)
			fprintf(f,
				"%sPARTUUID=%s\t%s\tbtrfs\tsubvol=%s,%s,x-systemd.requires=farm-storage.service\t0\t0",
				i ? "\n" : "", uuid, data_subvolumes[i].mount,
				data_subvolumes[i].name, data_subvolumes[i].options);
		fclose(f);
		vars_set_lines(v, "data_mounts", lines);
		free(lines);
	}
	vars_setf(v, "pcie_gen", "%llu",
		  n->pcie_gen.m.set ? (unsigned long long)n->pcie_gen.v : 2ULL);
	/* A Pi 5's kernel: 4 KiB pages unless the node asks for 16 KiB (see
	 * board-pi5.c). */
	vars_set(v, "kernel_page_size", n->kernel.m.set ? n->kernel.v : "4k");

	if (c->power.shutdown.m.set)
		vars_setf(v, "shutdown_time", "%02u:%02u:00", (unsigned)(c->power.shutdown.v / 60),
			  (unsigned)(c->power.shutdown.v % 60));
	else
		vars_set(v, "shutdown_time", "");
	vars_set(v, "timezone", c->power.timezone.m.set ? c->power.timezone.v : "UTC");

	for (size_t i = 0; i < ELEMENTSOF(fact_names); i++)
		vars_set(v, fact_names[i], "");
}

int base_facts_from_dpkg(const char *status, size_t len, struct base_facts *f)
{
	const char *p = status, *end = status + len;

	*f = (struct base_facts){ 0 };
	/* Stanzas are separated by blank lines; find openssh-server's. */
	while (p < end) {
		const char *stanza_end = memmem(p, (size_t)(end - p), "\n\n", 2);
		size_t slen = stanza_end ? (size_t)(stanza_end - p) : (size_t)(end - p);
		if (slen > 24 && strncmp(p, "Package: openssh-server\n", 24) == 0) {
			const char *ver = memmem(p, slen, "\nVersion: ", 10);
			const char *st = memmem(p, slen, "\nStatus: install ok installed", 29);
			if (ver && st) {
				const char *vs = ver + 10,
					   *ve = memchr(vs, '\n', (size_t)(p + slen - vs));
				const char *colon;
				f->openssh_version = strndup(vs, ve ? (size_t)(ve - vs)
								    : (size_t)(p + slen - vs));
				/* "1:10.0p1-7" -> 10.0 */
				colon = strchr(f->openssh_version, ':');
				if (sscanf(colon ? colon + 1 : f->openssh_version, "%u.%u",
					   &f->ssh_major, &f->ssh_minor) != 2)
					return -EINVAL;
				return 0;
			}
		}
		p += slen + 2;
	}
	return -ENOENT;
}

void base_facts_free(struct base_facts *f)
{
	free(f->openssh_version);
	*f = (struct base_facts){ 0 };
}

int node_vars_add_facts(struct vars *v, const struct base_facts *f)
{
	unsigned ver = f->ssh_major * 100 + f->ssh_minor;

	if (ver < 805)
		return log_error("The base's OpenSSH %s is older than 8.5, which lacks the key "
				 "exchange SECURITY.md asks for (sntrup761x25519); use a newer base",
				 f->openssh_version);
	vars_set(v, "openssh_version", f->openssh_version);
	/* SECURITY.md's lists (ssh-audit's policy), each name checked against
	 * the OpenSSH release that introduced it: OpenSSH 9.9 added ML-KEM and
	 * the sntrup name without @openssh.com; 9.1 added RequiredRSASize. */
	vars_setf(v, "ssh_kex", "%s%s%s", ver >= 909 ? "mlkem768x25519-sha256," : "",
		  ver >= 909 ? "sntrup761x25519-sha512," : "",
		  "sntrup761x25519-sha512@openssh.com,curve25519-sha256,"
		  "curve25519-sha256@libssh.org,diffie-hellman-group16-sha512,"
		  "diffie-hellman-group18-sha512,diffie-hellman-group-exchange-sha256");
	vars_set(v, "ssh_ciphers",
		 "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,"
		 "aes256-ctr,aes192-ctr,aes128-ctr");
	vars_set(v, "ssh_macs",
		 "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,"
		 "umac-128-etm@openssh.com");
	vars_set(v, "ssh_host_key_algorithms",
		 "ssh-ed25519,ssh-ed25519-cert-v01@openssh.com,rsa-sha2-512,rsa-sha2-256");
	vars_set(v, "ssh_rsa_size",
		 ver >= 901 ? "RequiredRSASize 3072" : "# RequiredRSASize needs OpenSSH 9.1");
	return 0;
}
