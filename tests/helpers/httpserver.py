#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A small HTTP server for the fetch tests (python3 standard library only).

Serves the regular files directly inside DIR on 127.0.0.1, on a free port
that it prints as the first line of stdout. GET and HEAD, with single
byte-range requests ("Range: bytes=START-" or "bytes=START-END", answered
206 with Content-Range, or 416). Misbehaviour, per file name:

  --truncate NAME=N    the first response for NAME announces the full length
                       but the connection closes after N body bytes
  --ignore-range NAME  answer 200 with the whole file even to a Range request
  --missing NAME       answer 404 although the file exists
  --slow NAME=BPS      send NAME at about BPS bytes per second
  --redirect NAME=URL  answer 302 with Location URL for NAME

A path /r/NAME answers 302 with Location /NAME (to test redirects).
Every request is appended to --log FILE as one line:
  METHOD PATH range=HEADER|- status=CODE
The server listens on loopback only and exits by itself after --timeout
seconds (default 120), and at once on SIGTERM, SIGINT or SIGHUP.
"""

import argparse
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def name_value(text, what):
    name, sep, value = text.partition("=")
    if not sep or not name or not value.isdigit():
        raise argparse.ArgumentTypeError(f"{what} wants NAME=NUMBER, not {text!r}")
    return name, int(value)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", required=True)
    p.add_argument("--log", default=None)
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--truncate", action="append", default=[],
                   type=lambda s: name_value(s, "--truncate"))
    p.add_argument("--ignore-range", action="append", default=[])
    p.add_argument("--missing", action="append", default=[])
    p.add_argument("--slow", action="append", default=[],
                   type=lambda s: name_value(s, "--slow"))
    p.add_argument("--redirect", action="append", default=[],
                   type=lambda s: tuple(s.split("=", 1)) if "=" in s[1:] else
                   p.error(f"--redirect wants NAME=URL, not {s!r}"))
    return p.parse_args()


ARGS = parse_args()
TRUNCATE = dict(ARGS.truncate)
SLOW = dict(ARGS.slow)
REDIRECT = dict(ARGS.redirect)
LOCK = threading.Lock()
TRUNCATED = set()


def log(line):
    if not ARGS.log:
        return
    with LOCK, open(ARGS.log, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def parse_range(header, size):
    """(start, end) inclusive, None for no usable range, "bad" for 416."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, sep, last = header[6:].strip().partition("-")
    if not sep or not first.isdigit() or (last and not last.isdigit()):
        return None
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size or end < start:
        return "bad"
    return start, min(end, size - 1)


class Handler(BaseHTTPRequestHandler):
    server_version = "farm-test"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: the log file says enough
        pass

    def done(self, code):
        log(f"{self.command} {self.path} range={self.headers.get('Range') or '-'} status={code}")

    def plain(self, code, text, extra=None):
        body = text.encode()
        self.send_response(code)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.done(code)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path.startswith("/r/"):
            return self.plain(302, "moved\n", {"Location": "/" + path[3:]})
        name = path[1:]
        if name in REDIRECT:
            return self.plain(302, "moved\n", {"Location": REDIRECT[name]})
        file = os.path.join(ARGS.dir, name)
        if (not name or "/" in name or name in (".", "..") or name in ARGS.missing
                or not os.path.isfile(file)):
            return self.plain(404, "not found\n")
        size = os.path.getsize(file)
        rng = None if name in ARGS.ignore_range else parse_range(self.headers.get("Range"), size)
        if rng == "bad":
            return self.plain(416, "range not satisfiable\n", {"Content-Range": f"bytes */{size}"})
        start, end = rng if rng else (0, size - 1)
        length = end - start + 1 if size else 0
        code = 206 if rng else 200
        self.send_response(code)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "none" if name in ARGS.ignore_range else "bytes")
        self.send_header("Content-Length", str(length))
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        self.done(code)
        if self.command == "HEAD":
            return
        limit = length
        with LOCK:
            if name in TRUNCATE and name not in TRUNCATED:
                TRUNCATED.add(name)
                limit = min(length, TRUNCATE[name])
        bps = SLOW.get(name)
        with open(file, "rb") as f:
            f.seek(start)
            sent = 0
            while sent < limit:
                chunk = f.read(min(4096 if bps else 65536, limit - sent))
                if not chunk:
                    break
                try:
                    self.wfile.write(chunk)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    return
                sent += len(chunk)
                if bps:
                    time.sleep(len(chunk) / bps)
        if limit < length:
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True

    def stop(*_):
        os._exit(0)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, stop)
    timer = threading.Timer(ARGS.timeout, stop)
    timer.daemon = True
    timer.start()
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
