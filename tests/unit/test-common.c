/* SPDX-License-Identifier: MIT */
#include "hash.h"
#include "json.h"
#include "pathmap.h"
#include "unit.h"
#include "util.h"

int main(void)
{
	struct pathmap *m = pathmap_new();
	uint64_t v = 0;
	char buf[64], *text = NULL;
	size_t len = 0;
	uint8_t d[SHA256_LEN];
	char hex[SHA256_HEX_LEN];

	for (int i = 0; i < 5000; i++) {
		snprintf(buf, sizeof(buf), "usr/share/doc/pkg%d", i);
		pathmap_put(m, buf, (uint64_t)i);
	}
	pathmap_put(m, "usr/share/doc/pkg7", 77);
	CHECK("pathmap size", pathmap_size(m) == 5000);
	CHECK("pathmap get", pathmap_get(m, "usr/share/doc/pkg4999", &v) && v == 4999);
	CHECK("pathmap replace", pathmap_get(m, "usr/share/doc/pkg7", &v) && v == 77);
	CHECK("pathmap miss", !pathmap_get(m, "usr/share/doc/pkg5000", NULL));
	pathmap_free(m);

	sha256_buf("abc", 3, d);
	hex_encode(d, SHA256_LEN, hex);
	CHECK_STR("sha256 abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		  hex);

	{
		FILE *f = open_memstream(&text, &len);
		struct json j;
		json_begin(&j, f);
		json_object_open(&j);
		json_kv_string(&j, "a", "q\"\\\n\x01");
		json_key(&j, "list");
		json_array_open(&j);
		json_uint(&j, 1);
		json_bool(&j, false);
		json_array_close(&j);
		json_key(&j, "empty");
		json_object_open(&j);
		json_object_close(&j);
		json_object_close(&j);
		json_end(&j);
		fclose(f);
		CHECK_STR("json",
			  "{\n  \"a\": \"q\\\"\\\\\\n\\u0001\",\n  \"list\": [\n    1,\n    false\n  ],\n  \"empty\": {}\n}\n",
			  text);
		free(text);
	}
	{
		/* Not UTF-8 (a stray byte, a cut sequence, an overlong '/', a
		 * surrogate), control characters, UTF-8 kept as it is. */
		FILE *f = open_memstream(&text, &len);
		struct json j;
		json_begin(&j, f);
		json_string(&j, "b\xff"
				"ase \xc3 \xc0\xaf \xed\xa0\x80 \x1b[2J\x7f \xc3\xa9\xe2\x80\xae");
		json_end(&j);
		fclose(f);
		CHECK_STR("json: invalid UTF-8 replaced, controls escaped",
			  "\"b\\ufffdase \\ufffd \\ufffd\\ufffd \\ufffd\\ufffd\\ufffd \\u001b[2J\x7f "
			  "\xc3\xa9\xe2\x80\xae\"\n",
			  text);
		free(text);
	}
	{
		uint8_t u1[16], u2[16];
		uuid_derive("farm", "cow", "disk", u1);
		uuid_derive("farm", "cowd", "isk", u2);
		CHECK("derivation separates fields", memcmp(u1, u2, 16) != 0);
	}
	return UNIT_EXIT();
}
