/* SPDX-License-Identifier: MIT */
/* The plan is pure: same inputs, same layout and ids; partitions aligned and
 * in order; later overlay layers replace earlier ones. */
#include "config.h"
#include "hash.h"
#include "overlay.h"
#include "plan.h"
#include "unit.h"

static struct board x86_profile(void)
{
	struct board b = { 0 };

	b.name.v = "x86";
	b.arch.v = "amd64";
	b.boot.type.v = "esp";
	b.boot.label.v = "ESP";
	b.boot.size.v = 512 * MiB;
	b.root.type.v = "linux-root-x86-64";
	b.data.size.v = 64 * MiB;
	return b;
}

int main(void)
{
	struct config c = { 0 };
	struct config_node n = { 0 };
	struct board b = x86_profile();
	struct overlay_entry ov[] = {
		{ .layer = "common", .rel = "etc/a", .host = "/h/common/a", .mode = 0644 },
		{ .layer = "common", .rel = "etc/b", .host = "/h/common/b", .mode = 0755 },
		{ .layer = "role/server", .rel = "etc/a", .host = "/h/server/a", .mode = 0644 },
		{ .layer = "common", .rel = "etc/link", .symlink = true, .target = "a" },
	};
	struct plan_input in = { .config = &c,
				 .node = &n,
				 .board = &b,
				 .overlays = ov,
				 .n_overlays = 4,
				 .out_dir = "out",
				 .epoch = 1700000000 };
	struct plan p, q;
	char u[37];

	c.cluster.name.v = "farm";
	n.name.v = "duck";

	CHECK("plan", plan_make(&in, &p) == 0);
	CHECK("boot at 1 MiB", p.part[PART_BOOT].start == MiB);
	CHECK("boot size", p.part[PART_BOOT].size == 512 * MiB);
	CHECK("root follows boot", p.part[PART_ROOT].start == 513 * MiB);
	CHECK("root from content", p.root_from_content && p.root_size == 16 * GiB);
	CHECK("default headroom", p.root_headroom == 256 * MiB);
	CHECK_STR("esp type", "C12A7328-F81F-11D2-BA4B-00A0C93EC93B", p.part[PART_BOOT].type_guid);
	CHECK_STR("root type", "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709", p.part[PART_ROOT].type_guid);
	CHECK_STR("data type", "0FC63DAF-8483-4772-8E79-3D69D8477DE4", p.part[PART_DATA].type_guid);
	CHECK_STR("output name", "out/duck.img.bmap", p.out[OUT_BMAP]);

	plan_place(&p, 700 * MiB + 5);
	CHECK("root rounded to MiB", p.part[PART_ROOT].size == 701 * MiB);
	CHECK("data follows root", p.part[PART_DATA].start == 513 * MiB + 701 * MiB);
	CHECK("disk has 1 MiB for the backup GPT",
	      p.disk_size == p.part[PART_DATA].start + 64 * MiB + MiB);
	for (int i = 0; i < PART_COUNT; i++)
		CHECK("aligned", p.part[i].start % MiB == 0 && p.part[i].size % MiB == 0);

	CHECK("three files after layering", p.n_files == 3);
	CHECK_STR("sorted", "etc/a", p.files[0].path);
	CHECK_STR("role layer wins", "/h/server/a", p.files[0].source);
	CHECK("mode kept", p.files[1].mode == 0755);
	CHECK("symlink", p.files[2].kind == PLAN_SYMLINK && streq(p.files[2].target, "a"));
	CHECK("find", plan_find_file(&p, "etc/b") == &p.files[1] && !plan_find_file(&p, "etc/c"));

	CHECK("plan again", plan_make(&in, &q) == 0);
	CHECK("same disk uuid", memcmp(p.disk_uuid, q.disk_uuid, 16) == 0);
	CHECK("same fs uuid", memcmp(p.root_fs_uuid, q.root_fs_uuid, 16) == 0);
	CHECK("ids differ by role", memcmp(p.part[0].uuid, p.part[1].uuid, 16) != 0 &&
					    memcmp(p.root_fs_uuid, p.root_hash_seed, 16) != 0);
	uuid_format(p.root_fs_uuid, u);
	CHECK("uuid version 8", u[14] == '8');
	CHECK("uuid variant", strchr("89ab", u[19]) != NULL);
	plan_free(&q);

	n.name.v = "cow";
	CHECK("plan other node", plan_make(&in, &q) == 0);
	CHECK("ids differ by node",
	      memcmp(p.disk_uuid, q.disk_uuid, 16) != 0 && p.boot_serial != q.boot_serial);
	plan_free(&q);

	n.root_size.m.set = true;
	n.root_size.v = 3 * GiB;
	CHECK("fixed root",
	      plan_make(&in, &q) == 0 && !q.root_from_content && q.part[PART_ROOT].size == 3 * GiB);
	plan_free(&q);
	n.root_size.m.set = false;

	{
		struct overlay_entry bad[] = {
			{ .layer = "common", .rel = "etc/x", .host = "/h/x", .mode = 0644 },
			{ .layer = "common", .rel = "etc/x/y", .host = "/h/y", .mode = 0644 },
		};
		in.overlays = bad;
		in.n_overlays = 2;
		CHECK("file in the way of a directory", plan_make(&in, &q) < 0);
		plan_free(&q);
	}
	plan_free(&p);
	return UNIT_EXIT();
}
