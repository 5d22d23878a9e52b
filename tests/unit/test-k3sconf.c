/* SPDX-License-Identifier: MIT */
/* The k3s config writer quotes every value: whatever a label or taint holds
 * (quotes, newlines, '#', ': '), it stays one scalar and adds no key.
 * The config loader is bypassed on purpose (its checks are another layer):
 * the values are put into the loaded model directly. Also: which manifest
 * names k3s's deploy controller deletes. */
#include "config.h"
#include "k3s.h"
#include "k3sconf.h"
#include "unit.h"

#include <yaml.h>

/* The top-level keys of TEXT, space-separated, and the items of the
 * sequence at KEY ('|'-separated). Returns false when TEXT is not one YAML
 * mapping. */
static bool read_back(const char *text, const char *key, char **keys, char **items)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	size_t kl = 0, il = 0;
	FILE *kf = open_memstream(keys, &kl), *itf = open_memstream(items, &il);
	bool ok;

	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
	ok = yaml_parser_load(&parser, &doc);
	root = ok ? yaml_document_get_root_node(&doc) : NULL;
	ok = root && root->type == YAML_MAPPING_NODE;
	for (yaml_node_pair_t *p = ok ? root->data.mapping.pairs.start : NULL;
	     ok && p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&doc, p->key);
		yaml_node_t *v = yaml_document_get_node(&doc, p->value);
		fprintf(kf, "%s ", (char *)k->data.scalar.value);
		if (strcmp((char *)k->data.scalar.value, key) || v->type != YAML_SEQUENCE_NODE)
			continue;
		for (yaml_node_item_t *i = v->data.sequence.items.start;
		     i < v->data.sequence.items.top; i++)
			fprintf(itf, "%s|",
				(char *)yaml_document_get_node(&doc, *i)->data.scalar.value);
	}
	if (root)
		yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	fclose(kf);
	fclose(itf);
	return ok;
}

int main(void)
{
	static const char *const hostile[] = {
		"a\"\nnode-ip: 6.6.6.6\n#",
		"x\\\" \nserver: \"https://evil:6443\"",
		"- item\n- \"two\"",
		"'single' # comment: value",
		"\x1b[31m\t\r\n\u00e9\u2028end",
		"{flow: map}, [seq]",
	};
	struct config c;
	struct config_node *duck;
	char *good = NULL, *keys_good = NULL, *items = NULL, *text = NULL;
	char *saved_value, *saved_taint;

	if (config_load("configs/cluster.yaml", &c) < 0) {
		printf("not ok load configs/cluster.yaml\n");
		return 1;
	}
	duck = config_find_node(&c, "duck");
	CHECK("duck has a label and a taint", duck && duck->labels.n == 1 && duck->taints.n == 1);
	if (!duck || duck->labels.n != 1 || duck->taints.n != 1)
		return 1;
	CHECK("duck's config is written", k3s_config_yaml(&c, duck, &good) == 0);
	CHECK("and reads back", read_back(good, "node-label", &keys_good, &items));
	free(items);

	saved_value = duck->labels.values[0];
	saved_taint = duck->taints.v[0];
	for (size_t i = 0; i < ELEMENTSOF(hostile); i++) {
		char *keys = NULL, name[64], *want;

		duck->labels.values[0] = (char *)hostile[i];
		duck->taints.v[0] = (char *)hostile[i];
		snprintf(name, sizeof(name), "hostile value %zu", i);
		if (k3s_config_yaml(&c, duck, &text) < 0) {
			printf("not ok %s: not written\n", name);
			unit_failures++;
			continue;
		}
		if (!read_back(text, "node-label", &keys, &items)) {
			printf("not ok %s: not one YAML mapping:\n%s\n", name, text);
			unit_failures++;
		} else {
			want = xasprintf("%s=%s|", duck->labels.keys[0], hostile[i]);
			snprintf(name, sizeof(name), "hostile value %zu: the same keys", i);
			CHECK_STR(name, keys_good, keys);
			snprintf(name, sizeof(name), "hostile value %zu: the label, whole", i);
			CHECK_STR(name, want, items);
			free(want);
			free(items);
			read_back(text, "node-taint", &keys, &items);
			want = xasprintf("%s|", hostile[i]);
			snprintf(name, sizeof(name), "hostile value %zu: the taint, whole", i);
			CHECK_STR(name, want, items);
			free(want);
			free(items);
		}
		free(keys);
		free(text);
	}
	/* Not UTF-8: refused with a message, not written half. */
	duck->labels.values[0] = "\xff\xfe";
	text = NULL;
	CHECK("invalid UTF-8 is refused", k3s_config_yaml(&c, duck, &text) == -EINVAL && !text);
	duck->labels.values[0] = saved_value;
	duck->taints.v[0] = saved_taint;
	free(good);
	free(keys_good);
	config_free(&c);

	CHECK("k3s deletes coredns.yaml", k3s_manifest_deleted("coredns.yaml"));
	CHECK("k3s deletes traefik.YML", k3s_manifest_deleted("traefik.YML"));
	CHECK("k3s deletes servicelb.json", k3s_manifest_deleted("servicelb.json"));
	CHECK("k3s deletes ccm.yaml (cloud controller and servicelb off)",
	      k3s_manifest_deleted("ccm.yaml"));
	CHECK("k3s deletes under coredns/", k3s_manifest_deleted("coredns/farm.yaml"));
	CHECK("k3s deletes x/traefik.yaml (the base name, at any depth)",
	      k3s_manifest_deleted("x/traefik.yaml"));
	/* The directory check joins the leading components ("x", then
	 * "x/traefik"): a deeper directory of that name is no match. */
	CHECK("k3s keeps x/traefik/a.yaml", !k3s_manifest_deleted("x/traefik/a.yaml"));
	CHECK("k3s keeps farm-coredns.yaml", !k3s_manifest_deleted("farm-coredns.yaml"));
	CHECK("k3s keeps coredns.yaml.skip (not a manifest)",
	      !k3s_manifest_deleted("coredns.yaml.skip"));
	CHECK("k3s keeps coredns (no extension)", !k3s_manifest_deleted("coredns"));
	CHECK("k3s keeps corednsx.yaml", !k3s_manifest_deleted("corednsx.yaml"));
	CHECK("k3s keeps stack/cilium.yaml", !k3s_manifest_deleted("stack/cilium.yaml"));
	return UNIT_EXIT();
}
