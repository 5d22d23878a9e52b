/* SPDX-License-Identifier: MIT */
#include "fileio.h"
#include "fetch.h"
#include "artifacts.h"
#include "curl-dl.h"
#include "interrupt.h"
#include "log.h"
#include "progress.h"
#include "usage.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>

struct fetch {
	const struct artifacts *lock;
	const char *cache, *from;
	uint64_t downloaded_bytes;
	unsigned present, downloaded, imported, failed;
};

/* One HTTP transfer into an open .part file. */
struct transfer {
	const struct artifact *art;
	CURL *curl;
	int fd;
	uint64_t offset;  /* bytes in the .part before the body */
	uint64_t written; /* body bytes written */
	int64_t range_start;
	bool started;
	int error; /* our reason to abort the transfer */
	struct sha256_ctx *sha;
	struct progress prog;
};

/* Makes FINAL appear atomically and durably. */
static int commit_part(int fd, const char *part, const char *final, const char *cache)
{
	_cleanup_close_ int dfd = -1;

	if (fchmod(fd, 0644) < 0 || fsync(fd) < 0 || rename(part, final) < 0)
		return -errno;
	dfd = open(cache, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		(void)fsync(dfd);
	return 0;
}

static int open_part(const char *part, int flags, const char *desc)
{
	int fd = open(part, flags | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

	if (fd < 0)
		return log_error_errno(errno, "%s: cannot open %s: %m", desc, part);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int r = -errno;

		close(fd);
		if (r == -EWOULDBLOCK)
			return log_error("%s: another farm-image fetch is writing %s", desc, part);
		return log_error_errno(r, "%s: cannot lock %s: %m", desc, part);
	}
	return fd;
}

static void unlink_part(const char *part) { (void)unlink(part); }

static void finish_sha(struct sha256_ctx *sha, char hex[SHA256_HEX_LEN])
{
	uint8_t digest[SHA256_LEN];

	sha256_final(sha, digest);
	hex_encode(digest, SHA256_LEN, hex);
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct transfer *t = userdata;
	size_t len = size * nmemb;
	char line[256];
	unsigned long long start;

	snprintf(line, sizeof(line), "%.*s", (int)MIN(len, sizeof(line) - 1), data);
	if (strncasecmp(line, "HTTP/", 5) == 0)
		t->range_start = -1; /* a new response (after a redirect) */
	else if (strncasecmp(line, "Content-Range:", 14) == 0 &&
		 sscanf(line + 14, " bytes %llu-", &start) == 1)
		t->range_start = (int64_t)start;
	return len;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct transfer *t = userdata;
	size_t len = size * nmemb;
	int r;

	if (!t->started && t->offset > 0) {
		long code = 0;

		/* A resumed download must continue exactly where the .part
		 * ends; anything else (a 200 with the whole file, another
		 * range) starts over with a fresh request. */
		curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &code);
		if (code != 206 || t->range_start != (int64_t)t->offset) {
			t->error = -EPROTO;
			return 0;
		}
	}
	t->started = true;
	if (t->art->size && t->offset + t->written + len > t->art->size) {
		t->error = -EFBIG;
		return 0;
	}
	r = write_full(t->fd, data, len);
	if (r < 0) {
		t->error = r;
		return 0;
	}
	sha256_update(t->sha, data, len);
	t->written += len;
	return len;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct transfer *t = userdata;
	uint64_t done = t->offset + t->written, total = t->art->size;

	if (!total && dltotal > 0)
		total = t->offset + (uint64_t)dltotal;

	if (interrupted)
		return 1;
	progress_update(&t->prog, done, total, 0, done);
	return 0;
}

/* Reads the first LEN bytes of FD into SHA. */
static int hash_prefix(int fd, uint64_t len, struct sha256_ctx *sha)
{
	uint8_t buf[1 << 16];

	for (uint64_t off = 0; off < len;) {
		size_t want = (size_t)MIN((uint64_t)sizeof(buf), len - off);
		ssize_t n = pread(fd, buf, want, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		sha256_update(sha, buf, (size_t)n);
		off += (uint64_t)n;
	}
	return 0;
}

static void setup_curl(CURL *c, struct transfer *t, char *errbuf)
{
	curl_easy_setopt(c, CURLOPT_URL, t->art->url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "farm-image");
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, t);
	if (t->offset > 0)
		curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)t->offset);
}

/* Checks the finished .part against the lock and renames it into place. */
static int finish(struct fetch *f, struct transfer *t, const char *desc, const char *part,
		  const char *final, const char *from)
{
	char actual[SHA256_HEX_LEN];
	uint64_t got = t->offset + t->written;
	int r;

	finish_sha(TAKE_PTR(t->sha), actual);
	if (t->art->size && got != t->art->size) {
		unlink_part(part);
		return log_error("%s: %s gave %" PRIu64 " bytes, but the lock pins %" PRIu64
				 " bytes; nothing was kept",
				 desc, from, got, t->art->size);
	}
	if (!streq(actual, t->art->sha256)) {
		unlink_part(part);
		log_error("%s: the sha256 of %s differs from the lock: expected %s, got %s; "
			  "nothing was kept",
			  desc, from, t->art->sha256, actual);
		return -EBADMSG;
	}
	r = commit_part(t->fd, part, final, f->cache);
	if (r < 0)
		return log_error_errno(r, "%s: cannot move %s into place: %m", desc, part);
	return 0;
}

/* One attempt; 1 asks for another one from byte 0. */
static int download_once(struct fetch *f, const struct artifact *art, const char *desc,
			 const char *part, const char *final)
{
	_cleanup_close_ int fd = -1;
	char errbuf[CURL_ERROR_SIZE] = "", kept[32];
	struct transfer t = { .art = art, .range_start = -1 };
	struct stat st;
	CURLcode res;
	long code = 0;
	int r;

	fd = open_part(part, O_RDWR, desc);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return log_error_errno(errno, "%s: cannot stat %s: %m", desc, part);
	t.fd = fd;
	t.offset = (uint64_t)st.st_size;
	if (art->size && t.offset > art->size) {
		if (ftruncate(fd, 0) < 0)
			return log_error_errno(errno, "%s: cannot truncate %s: %m", desc, part);
		t.offset = 0;
	}
	t.sha = sha256_new();
	r = hash_prefix(fd, t.offset, t.sha);
	if (r < 0 || lseek(fd, (off_t)t.offset, SEEK_SET) < 0) {
		sha256_free(t.sha);
		return log_error_errno(r < 0 ? r : errno, "%s: cannot read %s: %m", desc, part);
	}
	if (art->size && t.offset == art->size)
		return finish(f, &t, desc, part, final, part); /* complete, not renamed */

	t.curl = curl_easy_init();
	if (!t.curl) {
		sha256_free(t.sha);
		return log_error("%s: cannot initialize libcurl", desc);
	}
	setup_curl(t.curl, &t, errbuf);
	progress_init(&t.prog, desc);
	res = curl_easy_perform(t.curl);
	progress_done(&t.prog);
	curl_easy_getinfo(t.curl, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(t.curl);
	f->downloaded_bytes += t.written;
	if (res == CURLE_OK)
		return finish(f, &t, desc, part, final, art->url);
	sha256_free(TAKE_PTR(t.sha));
	format_size(t.offset + t.written, kept, sizeof(kept));
	if (res == CURLE_ABORTED_BY_CALLBACK && interrupted) {
		if (t.offset + t.written == 0) {
			unlink_part(part);
			return log_error_errno(EINTR, "%s: interrupted before any data came", desc);
		}
		return log_error_errno(EINTR,
				       "%s: interrupted; %s kept in %s, the next 'farm-image "
				       "fetch' resumes there",
				       desc, kept, part);
	}
	/* The server cannot continue this .part: it ignored the Range request
	 * (curl refuses a 200 to a resume), sent another range, or found
	 * nothing left to send. */
	if (res == CURLE_RANGE_ERROR || t.error == -EPROTO ||
	    (res == CURLE_HTTP_RETURNED_ERROR && code == 416 && t.offset)) {
		unlink_part(part);
		return 1;
	}
	if (t.error == -EFBIG) {
		unlink_part(part);
		return log_error("%s: %s sends more than the %" PRIu64 " bytes the lock pins; "
				 "nothing was kept",
				 desc, art->url, art->size);
	}
	if (t.error < 0)
		return log_error_errno(t.error, "%s: cannot write %s: %m", desc, part);
	if (t.offset + t.written == 0)
		unlink_part(part);
	if (res == CURLE_HTTP_RETURNED_ERROR)
		return log_error("%s: %s answered HTTP %ld", desc, art->url, code);
	if (t.offset + t.written == 0)
		return log_error("%s: downloading %s failed: %s", desc, art->url,
				 *errbuf ? errbuf : curl_easy_strerror(res));
	return log_error("%s: downloading %s failed: %s; the %s received are kept and the next "
			 "'farm-image fetch' resumes",
			 desc, art->url, *errbuf ? errbuf : curl_easy_strerror(res), kept);
}

static int download(struct fetch *f, const struct artifact *art, const char *desc, const char *part,
		    const char *final)
{
	int r = download_once(f, art, desc, part, final);

	if (r == 1) {
		log_info("%s: %s cannot continue the partial download; starting over", desc,
			 art->url);
		r = download_once(f, art, desc, part, final);
	}
	return r == 1 ? log_error("%s: %s does not serve the range it was asked for", desc,
				  art->url)
		      : r;
}

/* Copies DIR/FILE into the cache, verifying it on the way. */
static int import(struct fetch *f, const struct artifact *art, const char *desc, const char *part,
		  const char *final)
{
	_cleanup_free_ char *file = artifact_file_name(art), *src = NULL;
	_cleanup_close_ int sfd = -1, fd = -1;
	struct transfer t = { .art = art };
	uint8_t buf[1 << 16];
	struct stat st;
	int r;

	src = xasprintf("%s/%s", f->from, file);
	sfd = open_regular(AT_FDCWD, src, 0, false);
	if (sfd == -ENOENT)
		return log_error("%s: %s holds no %s", desc, f->from, file);
	if (sfd == -EINVAL)
		return log_error("%s: %s is not a regular file", desc, src);
	if (sfd < 0)
		return log_error_errno(sfd, "%s: cannot read %s: %m", desc, src);
	if (fstat(sfd, &st) < 0)
		return log_error_errno(errno, "%s: cannot read %s: %m", desc, src);
	if (art->size && (uint64_t)st.st_size != art->size)
		return log_error("%s: %s has %" PRIu64 " bytes, but the lock pins %" PRIu64
				 " bytes; nothing was kept",
				 desc, src, (uint64_t)st.st_size, art->size);
	fd = open_part(part, O_WRONLY, desc);
	if (fd < 0)
		return fd;
	if (ftruncate(fd, 0) < 0)
		return log_error_errno(errno, "%s: cannot truncate %s: %m", desc, part);
	t.fd = fd;
	t.sha = sha256_new();
	for (;;) {
		ssize_t n = read(sfd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR && !interrupted)
			continue;
		if (n == 0)
			break;
		r = n < 0 ? -errno : write_full(fd, buf, (size_t)n);
		if (r == 0 && interrupted)
			r = -EINTR;
		if (r < 0) {
			sha256_free(t.sha);
			unlink_part(part);
			return log_error_errno(r, "%s: copying %s failed: %m", desc, src);
		}
		sha256_update(t.sha, buf, (size_t)n);
		t.written += (uint64_t)n;
	}
	return finish(f, &t, desc, part, final, src);
}

/* 1 when FINAL holds the artifact; a damaged copy is removed (0). */
static int cached(const struct artifact *art, const char *desc, const char *final)
{
	char actual[SHA256_HEX_LEN];
	uint64_t size = 0;
	int r = artifact_verify_file(art, desc, final, O_NOFOLLOW, actual, &size);

	if (r != -EBADMSG && r != -EFBIG && r != -EINVAL)
		return r;
	log_warning("%s: the cached %s is damaged (%" PRIu64 " bytes, sha256 %s); replacing it",
		    desc, final, size, *actual ? actual : "?");
	if (unlink(final) < 0)
		return log_error_errno(errno, "%s: cannot remove %s: %m", desc, final);
	return 0;
}

static int fetch_one(struct fetch *f, const struct artifact *art)
{
	_cleanup_free_ char *desc = artifact_describe(art);
	_cleanup_free_ char *final = xasprintf("%s/%s", f->cache, art->sha256);
	_cleanup_free_ char *part = xasprintf("%s.part", final);
	int r;

	r = cached(art, desc, final);
	if (r < 0)
		return r;
	if (r > 0) {
		f->present++;
		return 0;
	}
	if (f->from) {
		r = import(f, art, desc, part, final);
		if (r == 0)
			f->imported++;
	} else {
		r = download(f, art, desc, part, final);
		if (r == 0)
			f->downloaded++;
	}
	if (r == 0)
		log_print(stdout, "%s %s\n", f->from ? "imported" : "downloaded", desc);
	return r;
}

static bool wanted(const struct artifact *art, char **archs, size_t n_archs)
{
	if (!art->arch || n_archs == 0)
		return true;
	for (size_t i = 0; i < n_archs; i++)
		if (streq(archs[i], art->arch))
			return true;
	return false;
}

/* --check: report, through artifact_path_in(), what a build would miss. */
static int check_all(struct fetch *f, char **archs, size_t n_archs)
{
	unsigned missing = 0, ok = 0;

	for (size_t i = 0; i < f->lock->n; i++) {
		const struct artifact *art = &f->lock->v[i];
		_cleanup_free_ char *path = NULL, *desc = artifact_describe(art);
		if (!wanted(art, archs, n_archs))
			continue;
		if (artifact_path_in(f->lock, art, f->from, f->cache, &path) < 0) {
			missing++;
			continue;
		}
		log_print(stdout, "verified %s: %s\n", desc, path);
		ok++;
	}
	printf("%u verified, %u missing or damaged\n", ok, missing);
	return missing ? 1 : 0;
}

static int run(struct fetch *f, char **archs, size_t n_archs, bool check)
{
	unsigned selected = 0;
	char size[32];
	int r = 0;

	for (size_t i = 0; i < n_archs; i++) {
		bool known = false;
		for (size_t j = 0; j < f->lock->n; j++)
			known |= streq_ptr(f->lock->v[j].arch, archs[i]);
		if (!known)
			return usage_error("fetch",
					   "the lock file has no artifact for the architecture",
					   archs[i]);
	}
	if (check)
		return check_all(f, archs, n_archs);
	r = mkdir_p(f->cache, 0755);
	if (r < 0) {
		log_error_errno(r, "Cannot create the cache %s: %m", f->cache);
		return 1;
	}
	for (size_t i = 0; i < f->lock->n && !interrupted; i++) {
		if (!wanted(&f->lock->v[i], archs, n_archs))
			continue;
		selected++;
		r = fetch_one(f, &f->lock->v[i]);
		if (r < 0)
			f->failed++;
	}
	if (interrupted) {
		if (r != -EINTR) /* else the download said where it stopped */
			log_error("Interrupted; run 'farm-image fetch' again to go on");
		return 1;
	}
	log_print(stdout,
		  "%u artifacts: %u downloaded (%s), %u imported, %u already in %s, %u failed\n",
		  selected, f->downloaded, format_size(f->downloaded_bytes, size, sizeof(size)),
		  f->imported, f->present, f->cache, f->failed);
	return f->failed ? 1 : 0;
}

int cmd_fetch(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "lock", required_argument, NULL, 'l' },
		{ "cache", required_argument, NULL, 'c' },
		{ "arch", required_argument, NULL, 'a' },
		{ "from", required_argument, NULL, 'f' },
		{ "check", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *lock_path = FETCH_DEFAULT_LOCK;
	_cleanup_free_ char *cache_default = NULL;
	_cleanup_free_ char **archs = NULL;
	size_t n_archs = 0, cap = 0;
	struct interrupt_saved old;
	struct artifacts lock;
	struct fetch f = { 0 };
	bool check = false;
	int o, r;

	optind = 1;
	while ((o = getopt_long(argc, argv, ":l:c:a:f:nh", opts, NULL)) != -1) {
		switch (o) {
		case 'l':
			lock_path = optarg;
			break;
		case 'c':
			f.cache = optarg;
			break;
		case 'a':
			ARRAY_PUSH(archs, n_archs, cap, optarg);
			break;
		case 'f':
			f.from = optarg;
			break;
		case 'n':
			check = true;
			break;
		case 'h':
			printf("Usage: farm-image " FETCH_USAGE "\n\n" FETCH_SUMMARY "\n");
			return 0;
		default:
			return usage_option_error("fetch", o, argv, opts);
		}
	}
	if (optind < argc)
		return usage_error("fetch", "unexpected argument", argv[optind]);
	if (!f.cache) {
		f.cache = cache_default = artifacts_cache_dir();
		if (!f.cache) {
			log_error("No cache directory: set HOME or XDG_CACHE_HOME, "
				  "or pass --cache DIR");
			return 1;
		}
	}
	if (artifacts_load(lock_path, &lock) < 0) {
		artifacts_free(&lock);
		return 1;
	}
	f.lock = &lock;

	interrupt_catch(&old);
	if (curl_load() < 0)
		r = 1;
	else if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("Cannot initialize libcurl");
		r = 1;
	} else {
		r = run(&f, archs, n_archs, check);
		curl_global_cleanup();
	}
	interrupt_restore(&old);
	artifacts_free(&lock);
	return r;
}
