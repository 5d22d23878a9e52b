/* SPDX-License-Identifier: MIT */
/* The load phase of a node's build: every input found and checked before
 * anything is planned or written. */
#include "base.h"
#include "build-internal.h"
#include "log.h"
#include "overlay.h"
#include "secrets.h"

#include <sys/utsname.h>
#include <unistd.h>

void node_artifacts_free(struct node_artifacts *na)
{
	artifacts_free(&na->lock);
	free(na->k3s);
	free(na->airgap);
	free(na->airgap_name);
	stack_charts_free(na->charts, na->n_charts);
	free(na->used);
}

/* What the manifest lists as baked in: k3s and its images for the board's
 * architecture, and on a server the chart each stack component embeds. */
static void list_used(const struct board *b, struct node_artifacts *na)
{
	const struct artifact *a;
	size_t cap = 0;

	if ((a = artifacts_find(&na->lock, "k3s", b->arch.v)))
		ARRAY_PUSH(na->used, na->n_used, cap, a);
	if ((a = artifacts_find(&na->lock, "k3s-airgap-images", b->arch.v)))
		ARRAY_PUSH(na->used, na->n_used, cap, a);
	for (size_t i = 0; i < na->n_charts; i++)
		if (na->charts[i].pin)
			ARRAY_PUSH(na->used, na->n_used, cap, na->charts[i].pin);
}

/* Finds and verifies every artifact the node needs; reports all that are
 * missing or wrong before failing. */
static int load_artifacts(const struct build_opts *o, const struct config *c,
			  const struct config_node *n, const struct board *b,
			  struct node_artifacts *na)
{
	const struct artifact *k3s;
	unsigned failed = 0;
	int r;

	r = artifacts_load(o->lock, &na->lock);
	if (r < 0)
		return r;
	k3s = artifacts_find(&na->lock, "k3s", b->arch.v);
	if (k3s && k3s->version && !streq(k3s->version, c->k3s.version.v))
		return log_error("%s asks for k3s %s, but %s pins %s: change one of them",
				 o->config_path, c->k3s.version.v, o->lock, k3s->version);
	failed += artifact_path(&na->lock, "k3s", b->arch.v, o->artifacts, &na->k3s) < 0;
	failed += artifact_path(&na->lock, "k3s-airgap-images", b->arch.v, o->artifacts,
				&na->airgap) < 0;
	{
		const struct artifact *a =
			artifacts_find(&na->lock, "k3s-airgap-images", b->arch.v);
		if (a)
			na->airgap_name = artifact_file_name(a);
	}
	if (n->role.i == ROLE_SERVER && o->stack) {
		/* The charts the stack's components embed. */
		failed += stack_check_pins(o->stack, &na->lock);
		failed += stack_load_charts(o->stack, &na->lock, o->artifacts, &na->charts,
					    &na->n_charts) < 0;
	}
	list_used(b, na);
	return failed ? -ENOENT : 0;
}

/* farm-node for the board's architecture: DIR/farm-node when it is this
 * machine's, else DIR/<qemu arch>/farm-node (built by the cross compiler). */
static int find_farm_node(const char *dir, const struct board *b, char **ret)
{
	struct utsname u;
	bool native;

	uname(&u);
	native = (streq(u.machine, "x86_64") && streq(b->arch.v, "amd64")) ||
		 (streq(u.machine, "aarch64") && streq(b->arch.v, "arm64"));
	*ret = native ? xasprintf("%s/farm-node", dir)
		      : xasprintf("%s/%s/farm-node", dir, b->ops->qemu_arch);
	if (access(*ret, X_OK) < 0)
		return log_error("farm-node for %s is not built (%s): run make%s", b->arch.v, *ret,
				 native ? ""
					: "; it needs the cross compiler and the arm64 -dev "
					  "packages that scripts/install-deps installs");
	return 0;
}

int build_load(struct build *bd)
{
	const struct build_opts *o = bd->o;
	const struct config *c = bd->c;
	const struct config_node *n = bd->n;
	const struct board *b = bd->b;
	const char *features[OVERLAY_MAX_FEATURES];
	size_t n_features = overlay_features(c, features, ELEMENTSOF(features));
	struct personal_inputs *pi = &bd->pi;
	unsigned missing = 0;
	int r;

	bd->base = o->base;
	if (!bd->base) {
		bd->base = bd->base_cached = base_cached_path(c->dir, b->name.v);
		if (!bd->base) {
			log_error("%s: no base rootfs for board %s: build it with 'farm-image "
				  "rootfs --board %s' (needs Debian's archive%s), or pass --base "
				  "with a rootfs archive%s",
				  bd->name, b->name.v, b->name.v,
				  b->ops->base_archives ? b->ops->base_archives : "",
				  b->ops->base_other ? b->ops->base_other : "");
			missing++;
		}
	} else if (access(bd->base, R_OK) < 0) {
		log_error_errno(errno, "Cannot read the base rootfs %s: %m", bd->base);
		missing++;
	}
	r = overlay_scan(o->overlays, b->name.v, n->role.v, features, n_features, &bd->overlays,
			 &bd->n_overlays);
	if (r >= 0)
		r = overlay_read_modes(o->overlays, &bd->modes, &bd->n_modes);
	missing += r < 0;
	missing += secrets_load(o->secrets, c, &bd->sec) < 0;
	missing += load_artifacts(o, c, n, b, &bd->na) < 0;
	missing += find_farm_node(o->farm_node, b, &bd->farm_node) < 0;
	if (missing)
		return -ENOENT;

	pi->token = secrets_token(bd->sec);
	pi->agent_token = secrets_agent_token(bd->sec);
	pi->node_password = secrets_node_password(bd->sec, bd->name);
	if (n->role.i == ROLE_SERVER) {
		pi->n_ca = secrets_ca_files(bd->sec, &pi->ca);
	} else {
		const struct secret_file *files, *f = NULL;
		for (size_t i = 0, n_files = secrets_ca_files(bd->sec, &files); i < n_files; i++)
			if (streq(files[i].name, "server-ca.crt"))
				f = &files[i];
		if (f && secrets_power_identity(bd->sec, bd->name, &bd->power_key,
						&bd->power_crt) == 0) {
			pi->power_key = &bd->power_key;
			pi->power_crt = &bd->power_crt;
			pi->server_ca = f;
		}
	}
	pi->farm_node = bd->farm_node;
	pi->k3s_binary = bd->na.k3s;
	pi->airgap_images = bd->na.airgap;
	pi->airgap_name = bd->na.airgap_name;
	return 0;
}
