/* SPDX-License-Identifier: MIT */
#include "pathmap.h"
#include "util.h"

struct slot {
	char *key;
	uint64_t hash, value;
};

struct pathmap {
	struct slot *slots;
	size_t cap, n; /* cap is a power of two */
};

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

struct pathmap *pathmap_new(void)
{
	struct pathmap *m = xcalloc(1, sizeof(*m));

	m->cap = 1024;
	m->slots = xcalloc(m->cap, sizeof(struct slot));
	return m;
}

void pathmap_free(struct pathmap *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].key);
	free(m->slots);
	free(m);
}

static struct slot *find(const struct pathmap *m, const char *key, uint64_t h)
{
	for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		struct slot *s = &m->slots[i];
		if (!s->key || (s->hash == h && streq(s->key, key)))
			return s;
	}
}

static void grow(struct pathmap *m)
{
	struct slot *old = m->slots;
	size_t oldcap = m->cap;

	m->cap *= 2;
	m->slots = xcalloc(m->cap, sizeof(struct slot));
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].key)
			*find(m, old[i].key, old[i].hash) = old[i];
	free(old);
}

void pathmap_put(struct pathmap *m, const char *key, uint64_t value)
{
	uint64_t h = fnv1a(key);
	struct slot *s;

	if ((m->n + 1) * 4 > m->cap * 3)
		grow(m);
	s = find(m, key, h);
	if (!s->key) {
		s->key = xstrdup(key);
		s->hash = h;
		m->n++;
	}
	s->value = value;
}

bool pathmap_get(const struct pathmap *m, const char *key, uint64_t *value)
{
	struct slot *s = find(m, key, fnv1a(key));

	if (!s->key)
		return false;
	if (value)
		*value = s->value;
	return true;
}

size_t pathmap_size(const struct pathmap *m) { return m->n; }

void pathmap_each(const struct pathmap *m, void (*fn)(const char *key, uint64_t value, void *ud),
		  void *ud)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key)
			fn(m->slots[i].key, m->slots[i].value, ud);
}
