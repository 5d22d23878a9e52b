/* SPDX-License-Identifier: MIT */
/* /etc/farm/node.yaml: farm-node's view of the node, filled from the
 * cluster config and written by nodeconf_write() (its one definition is
 * nodeconf.c's schema). */
#include "personalize.h"
#include "hash.h"
#include "nodeconf.h"

int personalize_node_yaml(struct plan *p, const struct config *c, const struct config_node *n)
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
	nc.ceph_size =
		(struct cuint){ .m.set = true, .v = n->storage.ceph.m.set ? n->storage.ceph.v : 0 };
#undef SET
	r = nodeconf_write(&nc, &text);
	nodeconf_free(&nc);
	if (r < 0)
		return r;
	plan_add_text(p, NODECONF_PATH, 0644, "farm-image (node.nodeyaml)", text);
	free(text);
	return 0;
}
