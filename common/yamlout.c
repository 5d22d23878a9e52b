/* SPDX-License-Identifier: MIT */
#include "yamlout.h"
#include "util.h"

#include <inttypes.h>
#include <yaml.h>

struct yaml_out {
	yaml_emitter_t e;
	FILE *f;
	char *buf;
	size_t len;
	char *err; /* the first failure */
};

static int write_handler(void *data, unsigned char *buffer, size_t size)
{
	return fwrite(buffer, 1, size, data) == size;
}

static void fail(struct yaml_out *y, const char *key, const char *what)
{
	if (!y->err)
		y->err = key ? xasprintf("the value of '%s' is %s", key, what) : xstrdup(what);
}

/* Emits EV, which it takes; false once anything failed. */
static bool emit(struct yaml_out *y, yaml_event_t *ev, bool made, const char *key)
{
	if (y->err) {
		if (made)
			yaml_event_delete(ev);
		return false;
	}
	if (!made) {
		fail(y, key, "not valid UTF-8");
		return false;
	}
	if (!yaml_emitter_emit(&y->e, ev)) {
		fail(y, key, y->e.problem ? y->e.problem : "not writable as YAML");
		return false;
	}
	return true;
}

static bool scalar(struct yaml_out *y, const char *key, const char *s, yaml_scalar_style_t style)
{
	yaml_event_t ev;
	bool made = yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s),
						 style == YAML_PLAIN_SCALAR_STYLE, 1, style);

	return emit(y, &ev, made, key);
}

struct yaml_out *yaml_out_new(void)
{
	struct yaml_out *y = xcalloc(1, sizeof(*y));
	yaml_event_t ev;

	y->f = open_memstream(&y->buf, &y->len);
	if (!y->f || !yaml_emitter_initialize(&y->e))
		abort();
	yaml_emitter_set_output(&y->e, write_handler, y->f);
	yaml_emitter_set_unicode(&y->e, 1);
	yaml_emitter_set_width(&y->e, -1); /* never fold a long scalar */
	yaml_emitter_set_indent(&y->e, 2);
	emit(y, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING), NULL);
	emit(y, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1), NULL);
	emit(y, &ev,
	     yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE),
	     NULL);
	return y;
}

void yaml_out_str(struct yaml_out *y, const char *key, const char *value)
{
	if (scalar(y, key, key, YAML_PLAIN_SCALAR_STYLE))
		scalar(y, key, value, YAML_DOUBLE_QUOTED_SCALAR_STYLE);
}

void yaml_out_plain(struct yaml_out *y, const char *key, const char *value)
{
	if (scalar(y, key, key, YAML_PLAIN_SCALAR_STYLE))
		scalar(y, key, value, YAML_PLAIN_SCALAR_STYLE);
}

void yaml_out_bool(struct yaml_out *y, const char *key, bool value)
{
	yaml_out_plain(y, key, value ? "true" : "false");
}

void yaml_out_uint(struct yaml_out *y, const char *key, uint64_t value)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, value);
	yaml_out_plain(y, key, buf);
}

void yaml_out_list(struct yaml_out *y, const char *key, const char *const *values, size_t n)
{
	yaml_event_t ev;

	if (!n || !scalar(y, key, key, YAML_PLAIN_SCALAR_STYLE))
		return;
	emit(y, &ev,
	     yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE),
	     key);
	for (size_t i = 0; i < n; i++)
		scalar(y, key, values[i], YAML_DOUBLE_QUOTED_SCALAR_STYLE);
	emit(y, &ev, yaml_sequence_end_event_initialize(&ev), key);
}

void yaml_out_map_begin(struct yaml_out *y, const char *key)
{
	yaml_event_t ev;

	if (scalar(y, key, key, YAML_PLAIN_SCALAR_STYLE))
		emit(y, &ev,
		     yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
							 YAML_BLOCK_MAPPING_STYLE),
		     key);
}

void yaml_out_map_end(struct yaml_out *y)
{
	yaml_event_t ev;

	emit(y, &ev, yaml_mapping_end_event_initialize(&ev), NULL);
}

int yaml_out_finish(struct yaml_out *y, char **text, char **why)
{
	yaml_event_t ev;
	int r = 0;

	emit(y, &ev, yaml_mapping_end_event_initialize(&ev), NULL);
	emit(y, &ev, yaml_document_end_event_initialize(&ev, 1), NULL);
	emit(y, &ev, yaml_stream_end_event_initialize(&ev), NULL);
	if (!y->err && !yaml_emitter_flush(&y->e))
		fail(y, NULL, "cannot flush the YAML emitter");
	yaml_emitter_delete(&y->e);
	fclose(y->f);
	*text = NULL;
	if (why)
		*why = NULL;
	if (y->err) {
		r = -EINVAL;
		if (why)
			*why = TAKE_PTR(y->err);
		free(y->buf);
	} else
		*text = TAKE_PTR(y->buf);
	free(y->err);
	free(y);
	return r;
}
