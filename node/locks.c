/* SPDX-License-Identifier: MIT */
/* The SSH locks (powercycle.h): an operator's lock holds off the
 * cluster's scheduled shutdown, on every node, until it is released or
 * expires.
 *
 * A lock is published on this node's own Node object (the only one a
 * worker may patch) and, when it belongs to a login session, recorded in
 * ROOT/run/farm/locks/NAME too: that record holds this node itself off
 * even when the API could not be told, and it says whose session the lock
 * is, so that a lock whose session has ended (a connection that dropped
 * without the shell's exit trap) is cleaned up rather than left to expire.
 * A session lock is named after what keeps it alive: "ssh-ID" lives while
 * logind's session ID does (ROOT/run/systemd/sessions/ID, sd-login's own
 * record), "pid-N" while process N runs; "manual" (klogin) only until it
 * expires. */
#include "powercycle.h"
#include "fileio.h"
#include "jsonq.h"
#include "log.h"

#include <dirent.h>
#include <sys/stat.h>

#define LOCK_NAME_MAX 40

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > LOCK_NAME_MAX || !strchr("abcdefghijklmnopqrstuvwxyz0123456789", s[0]))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n && s[n - 1] != '-';
}

/* Whether the session a lock named NAME belongs to is still there (a lock
 * that belongs to none is "alive" until it expires). */
static bool session_alive(const struct farm_node *n, const char *name)
{
	_cleanup_free_ char *path = NULL;
	struct stat st;

	if (startswith(name, "ssh-"))
		path = xasprintf("%s/run/systemd/sessions/%s", n->root, name + 4);
	else if (startswith(name, "pid-"))
		path = xasprintf("%s/proc/%s", n->root, name + 4);
	else
		return true;
	return stat(path, &st) == 0;
}

static char *record_path(const struct farm_node *n, const char *name)
{
	return xasprintf("%s/%s/%s", n->root, POWER_RUN_LOCKS, name);
}

static void remove_record(const struct farm_node *n, const char *name)
{
	_cleanup_free_ char *p = record_path(n, name);

	if (unlink(p) < 0 && errno != ENOENT)
		log_warning_errno(errno, "Cannot remove %s: %m", p);
}

/* The annotation's JSON path ("/" is "~1" in a JSON pointer). */
static char *annotation_pointer(const char *key)
{
	char *out = xmalloc(2 * strlen(key) + 32), *o = out;

	o += sprintf(o, "/metadata/annotations/");
	for (const char *k = key; *k; k++)
		if (*k == '/')
			o += sprintf(o, "~1");
		else if (*k == '~')
			o += sprintf(o, "~0");
		else
			*o++ = *k;
	*o = 0;
	return out;
}

/* Removes annotation KEY of node NODE if it still has VALUE (a JSON patch
 * that tests first, so that a lock renewed meanwhile stays). Best effort:
 * returns the class. */
static enum cl_class remove_if_unchanged(struct cluster *c, const char *node, const char *key,
					 const char *value)
{
	_cleanup_free_ char *path = annotation_pointer(key), *obj = xasprintf("node/%s", node);
	json_object *ops = json_object_new_array(), *t = json_object_new_object(),
		    *rm = json_object_new_object();
	struct kubectl k;
	enum cl_class cls;

	json_object_object_add(t, "op", json_object_new_string("test"));
	json_object_object_add(t, "path", json_object_new_string(path));
	json_object_object_add(t, "value", json_object_new_string(value));
	json_object_object_add(rm, "op", json_object_new_string("remove"));
	json_object_object_add(rm, "path", json_object_new_string(path));
	json_object_array_add(ops, t);
	json_object_array_add(ops, rm);
	cls = cluster_patch(c, obj, NULL, "json",
			    json_object_to_json_string_ext(ops, JSON_C_TO_STRING_PLAIN), &k);
	kubectl_free(&k);
	json_object_put(ops);
	return cls;
}

static void push(struct lock_info **v, size_t *n, const char *node, const char *name, time_t until,
		 const char *by, bool live)
{
	struct lock_info *l;

	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	l = &(*v)[(*n)++];
	*l = (struct lock_info){ .until = until, .live = live };
	snprintf(l->node, sizeof(l->node), "%s", node);
	snprintf(l->name, sizeof(l->name), "%s", name);
	snprintf(l->by, sizeof(l->by), "%s", by ? by : "");
}

/* This node's local records: NAME -> until. */
static void local_records(struct farm_node *n, struct lock_info **v, size_t *count,
			  const char *const *published, size_t n_published, time_t now)
{
	_cleanup_free_ char *dir = node_path(n, POWER_RUN_LOCKS);
	DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		_cleanup_free_ char *p = NULL, *text = NULL;
		long long until = 0;
		char by[128] = "";
		bool seen = false;
		if (!valid_name(de->d_name))
			continue;
		for (size_t i = 0; i < n_published; i++)
			seen |= streq(published[i], de->d_name);
		if (seen)
			continue;
		p = record_path(n, de->d_name);
		if (read_file(p, &text, NULL, 4096) < 0 ||
		    sscanf(text, "until %lld\nby %127[^\n]", &until, by) < 1)
			continue;
		if (until <= now || !session_alive(n, de->d_name)) {
			remove_record(n, de->d_name);
			continue;
		}
		push(v, count, n->conf.node.v, de->d_name, (time_t)until, by, true);
	}
	if (d)
		closedir(d);
}

int power_find_locks(struct farm_node *n, struct cluster *c, struct lock_info **locks,
		     size_t *count)
{
	struct power_node *nodes = NULL;
	size_t nn = 0, valid = 0, n_own = 0;
	char own[64][LOCK_NAME_MAX + 24];
	const char *own_p[64];
	time_t now = time(NULL);
	char said[512];
	enum cl_class cls = power_list_nodes(n, c, &nodes, &nn, said, sizeof(said));

	*locks = NULL;
	*count = 0;
	if (cls != CL_OK) {
		/* This node's own sessions hold it off whatever the API says. */
		local_records(n, locks, count, NULL, 0, now);
		if (*count)
			return (int)*count;
		if (cls == CL_UNREACHABLE)
			return log_warning_errno(EHOSTUNREACH, "Cannot look for SSH locks (%s): %s",
						 cl_class_name(cls), said);
		return log_error("Cannot look for SSH locks (%s): %s; a shutdown does not go on "
				 "without knowing",
				 cl_class_name(cls), said);
	}
	for (size_t i = 0; i < nn; i++) {
		json_object *ann = jget(nodes[i].obj, "metadata", "annotations", NULL);
		bool mine = streq(nodes[i].name, n->conf.node.v);
		if (!ann || !json_object_is_type(ann, json_type_object))
			continue;
		json_object_object_foreach(ann, key, val)
		{
			const char *name = key + strlen(POWER_ANN_SSH_LOCK);
			const char *text = json_object_get_string(val);
			json_object *j;
			time_t until = 0;
			bool live;
			if (!startswith(key, POWER_ANN_SSH_LOCK))
				continue;
			j = text ? json_tokener_parse(text) : NULL;
			/* A lock that cannot be read holds the shutdown off
			 * until someone removes it: fail closed. */
			if (!j || power_parse_time(jstr(j, "until", NULL), &until) < 0)
				until = now + 1;
			live = until > now && (!mine || session_alive(n, name));
			push(locks, count, nodes[i].name, name, until,
			     j ? jstr(j, "by", NULL) : NULL, live);
			if (mine && n_own < ELEMENTSOF(own)) {
				snprintf(own[n_own], sizeof(own[n_own]), "%s", name);
				own_p[n_own] = own[n_own];
				n_own++;
			}
			json_object_put(j);
			if (live)
				continue;
			/* Expired, or its session is gone: the node cleans up its
			 * own; the control plane anyone's. */
			if (mine || n->conf.role.i == ROLE_SERVER) {
				if (remove_if_unchanged(c, nodes[i].name, key, text) == CL_OK)
					log_info("Removed the %s SSH lock %s/%s",
						 until <= now ? "expired" : "dead", nodes[i].name,
						 name);
				if (mine)
					remove_record(n, name);
			}
		}
	}
	local_records(n, locks, count, own_p, n_own, now);
	for (size_t i = 0; i < *count; i++)
		valid += (*locks)[i].live;
	power_nodes_free(nodes, nn);
	return (int)valid;
}

/* "until T\nby USER\n" in ROOT/run/farm/locks/NAME. */
static int write_record(const struct farm_node *n, const char *name, time_t until, const char *by)
{
	_cleanup_free_ char *dir = node_path(n, POWER_RUN_LOCKS), *p = record_path(n, name);
	_cleanup_free_ char *text = xasprintf("until %lld\nby %s\n", (long long)until, by);
	int r = mkdir_p(dir, 0700);

	return r < 0 ? r : write_file_atomic(p, text, strlen(text), 0600);
}

int power_lock(struct farm_node *n, const char *session, unsigned duration, bool quiet_ok)
{
	const char *name = session && *session ? session : "manual";
	const char *user = getenv("SUDO_USER"), *client = getenv("SSH_CLIENT");
	_cleanup_free_ char *key = xasprintf(POWER_ANN_SSH_LOCK "%s", name);
	_cleanup_free_ char *obj = xasprintf("node/%s", n->conf.node.v);
	char until_s[32], from[64] = "", said[512];
	time_t until = time(NULL) + duration;
	struct cluster c;
	struct kubectl k;
	json_object *v;
	enum cl_class cls;
	int r;

	if (!valid_name(name))
		return log_error("'%s' is not a lock name (lower-case letters, digits and '-', at "
				 "most %d)",
				 name, LOCK_NAME_MAX),
		       2;
	if (!user)
		user = getenv("USER");
	if (client)
		snprintf(from, sizeof(from), "%.*s", (int)strcspn(client, " "), client);
	r = write_record(n, name, until, user ? user : "?");
	if (r < 0)
		log_warning_errno(r, "Cannot record the lock in /%s: %m", POWER_RUN_LOCKS);
	v = json_object_new_object();
	json_object_object_add(v, "until", json_object_new_string(power_time(until, until_s, 32)));
	json_object_object_add(v, "by", json_object_new_string(user ? user : "?"));
	if (from[0])
		json_object_object_add(v, "from", json_object_new_string(from));
	power_cluster(n, &c);
	c.request_timeout = 5; /* at login: never keep anyone waiting long */
	cls = cluster_annotate(&c, obj, NULL, key,
			       json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), &k);
	kubectl_said(&k, said, sizeof(said));
	kubectl_free(&k);
	json_object_put(v);
	if (cls != CL_OK) {
		cluster_free(&c);
		return log_error("Cannot publish the SSH lock %s/%s (%s): %s. This node stays up, "
				 "but the rest of the cluster may shut down as scheduled",
				 n->conf.node.v, name, cl_class_name(cls), said),
		       1;
	}
	{
		/* Too late for a shutdown already under way. */
		_cleanup_free_ char *cp = n->conf.control_plane.v
						  ? xasprintf("node/%s", n->conf.control_plane.v)
						  : NULL;
		json_object *node = NULL;
		struct shutdown_lock sl = { 0 };
		if (cp && cluster_get_json(&c, cp, NULL, &node, &k) == CL_OK)
			power_read_shutdown_lock(node, &sl);
		kubectl_free(&k);
		json_object_put(node);
		if (sl.present && streq(sl.phase, "scaling") && sl.until > time(NULL))
			log_warning("The cluster's shutdown is already under way (since %s): this "
				    "lock does not stop it",
				    power_time(sl.started, said, sizeof(said)));
	}
	cluster_free(&c);
	if (!quiet_ok || isatty(STDOUT_FILENO))
		printf("farm: the cluster's scheduled shutdown is held off until %s by lock %s/%s\n",
		       until_s, n->conf.node.v, name);
	return 0;
}

int power_unlock(struct farm_node *n, const char *session, bool manual)
{
	const char *names[2];
	size_t count = 0;
	struct cluster c;
	int ret = 0;

	if (session && *session)
		names[count++] = session;
	if (manual || !count)
		names[count++] = "manual";
	power_cluster(n, &c);
	c.request_timeout = 5;
	for (size_t i = 0; i < count; i++) {
		_cleanup_free_ char *key = xasprintf(POWER_ANN_SSH_LOCK "%s", names[i]);
		_cleanup_free_ char *obj = xasprintf("node/%s", n->conf.node.v);
		struct kubectl k;
		char said[512];
		enum cl_class cls;
		if (!valid_name(names[i])) {
			ret = 2;
			log_error("'%s' is not a lock name", names[i]);
			continue;
		}
		cls = cluster_annotate(&c, obj, NULL, key, NULL, &k);
		kubectl_said(&k, said, sizeof(said));
		kubectl_free(&k);
		if (cls != CL_OK) {
			/* Published locks stay (holding the shutdown off) until
			 * they are removed or expire: say so. */
			log_error("Cannot release the SSH lock %s/%s (%s): %s; it holds the cluster's "
				  "shutdown off until it expires",
				  n->conf.node.v, names[i], cl_class_name(cls), said);
			ret = 1;
			continue;
		}
		remove_record(n, names[i]);
	}
	cluster_free(&c);
	return ret;
}

/* status's view: every published lock, read only (status cleans nothing). */
void power_locks_gather(const struct farm_node *n, struct power_info *pi)
{
	struct cluster c;
	struct power_node *nodes = NULL;
	size_t nn = 0;
	time_t now = time(NULL);
	enum cl_class cls;

	power_cluster(n, &c);
	c.request_timeout = 5;
	cls = power_list_nodes(n, &c, &nodes, &nn, pi->locks_said, sizeof(pi->locks_said));
	pi->locks_known = cls == CL_OK;
	for (size_t i = 0; cls == CL_OK && i < nn; i++) {
		json_object *ann = jget(nodes[i].obj, "metadata", "annotations", NULL);
		if (!ann || !json_object_is_type(ann, json_type_object))
			continue;
		json_object_object_foreach(ann, key, val)
		{
			json_object *v;
			time_t until = 0;
			if (!startswith(key, POWER_ANN_SSH_LOCK))
				continue;
			v = json_tokener_parse(json_object_get_string(val));
			power_parse_time(jstr(v, "until", NULL), &until);
			push(&pi->locks, &pi->n_locks, nodes[i].name,
			     key + strlen(POWER_ANN_SSH_LOCK), until,
			     v ? jstr(v, "by", NULL) : NULL, until > now);
			json_object_put(v);
		}
	}
	power_nodes_free(nodes, nn);
	cluster_free(&c);
}
