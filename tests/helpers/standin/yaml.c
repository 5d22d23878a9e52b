/* SPDX-License-Identifier: MIT */
/* YAML documents to JSON objects with libyaml, as kubectl's decoder sees
 * them: plain scalars null/true/false/integers/floats are typed, everything
 * else is a string. */
#include "standin.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

static json_object *scalar(yaml_node_t *n)
{
	const char *s = (const char *)n->data.scalar.value;
	char *end;

	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return json_object_new_string(s);
	if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	    !strcmp(s, "NULL"))
		return NULL;
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		return json_object_new_boolean(1);
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return json_object_new_boolean(0);
	{
		long long v = strtoll(s, &end, 10);
		if (*end == 0 && end != s && (s[0] != '0' || s[1] == 0 || s[0] == '-'))
			return json_object_new_int64(v);
	}
	{
		double d = strtod(s, &end);
		if (*end == 0 && end != s && strspn(s, "0123456789.-+eE") == strlen(s))
			return json_object_new_double(d);
	}
	return json_object_new_string(s);
}

static json_object *convert(yaml_document_t *doc, yaml_node_t *n, int depth)
{
	json_object *o;

	if (!n || depth > 64)
		return NULL;
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return scalar(n);
	case YAML_SEQUENCE_NODE:
		o = json_object_new_array();
		for (yaml_node_item_t *i = n->data.sequence.items.start;
		     i < n->data.sequence.items.top; i++)
			json_object_array_add(o, convert(doc, yaml_document_get_node(doc, *i),
							 depth + 1));
		return o;
	case YAML_MAPPING_NODE:
		o = json_object_new_object();
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(doc, p->key);
			if (!k || k->type != YAML_SCALAR_NODE)
				continue;
			json_object_object_add(o, (const char *)k->data.scalar.value,
					       convert(doc, yaml_document_get_node(doc, p->value),
						       depth + 1));
		}
		return o;
	default:
		return NULL;
	}
}

int yaml_to_json(const char *text, size_t len, json_object ***docs, char **err)
{
	yaml_parser_t parser;
	int n = 0;

	*docs = NULL;
	*err = NULL;
	if (!yaml_parser_initialize(&parser))
		return -1;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	for (;;) {
		yaml_document_t doc;
		yaml_node_t *root;
		if (!yaml_parser_load(&parser, &doc)) {
			if (asprintf(err, "error converting YAML to JSON: yaml: line %zu: %s",
				     parser.problem_mark.line + 1,
				     parser.problem ? parser.problem : "syntax error") < 0)
				*err = NULL;
			yaml_parser_delete(&parser);
			return -1;
		}
		root = yaml_document_get_root_node(&doc);
		if (!root) {
			yaml_document_delete(&doc);
			break;
		}
		if (root->type == YAML_MAPPING_NODE) {
			*docs = realloc(*docs, (size_t)(n + 1) * sizeof(**docs));
			(*docs)[n++] = convert(&doc, root, 0);
		}
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	return n;
}
