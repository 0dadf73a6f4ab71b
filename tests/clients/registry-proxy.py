#!/usr/bin/env python3
"""A fault-injecting reverse proxy for berth's registry client tests.

    python3 registry-proxy.py LISTEN_PORT UPSTREAM_PORT MODE

Listens on 127.0.0.1:LISTEN_PORT and forwards every request (GET, HEAD,
PUT, POST, PATCH, DELETE; headers and bodies, chunked request bodies
de-chunked) to a plain-HTTP registry on 127.0.0.1:UPSTREAM_PORT, with the
Location header rewritten from the upstream's port to the proxy's. The Host
header goes upstream unchanged, so the registry's own URLs already name the
proxy. MODE changes blob GETs (GET /v2/NAME/blobs/sha256:HEX) only:

  pass               forward unchanged
  corrupt            a 200 blob body has its middle byte flipped (same length)
  truncate           a 200 blob body: the full Content-Length, half the body,
                     then the connection is closed
  status:CODE        answer CODE (429 with Retry-After: 0) the first 2 times
                     per path, then pass
  status-always:CODE answer CODE every time
  bearer             Docker Hub's token auth in front of the registry: every
                     /v2/ request without "Authorization: Bearer <token>"
                     gets 401 and a Bearer challenge whose realm is this
                     proxy's /token; /token hands a token for Basic
                     alice:s3cret (401 otherwise) and logs the scope asked
                     ("token scope=..."); the token is not forwarded
  slow               a blob body (200 or 206) in 64 KiB pieces 20 ms apart
                     (about 3 MB/s), "sending PATH" printed as it starts: a
                     test kills the proxy mid-blob and starts it again

Ranged (206) answers are passed unchanged in every mode. Prints
"listening PORT" once bound. Standard library only; bodies are held in
memory (test blobs are small).
"""

import base64
import http.client
import http.server
import re
import socket
import sys
import time
import urllib.parse
import threading

BLOB_RE = re.compile(r"^/v2/.+/blobs/sha256:[0-9a-f]{64}$")
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-connection", "transfer-encoding",
    "te", "trailer", "upgrade", "proxy-authenticate", "proxy-authorization",
}
STATUS_TIMES = 2
TOKEN = "berth-test-token"


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    listen_port = upstream_port = 0
    mode, code = "pass", 0
    seen = {}
    seen_lock = threading.Lock()

    def log_message(self, fmt, *args):
        sys.stderr.write("proxy: %s\n" % (fmt % args))

    def do_GET(self):
        if self.mode == "bearer" and not self.bearer_ok():
            return
        self.forward()

    def reply(self, code, body, headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def bearer_ok(self):
        """Token auth: True to forward; else the answer is sent."""
        if self.path.startswith("/token"):
            query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
            print("token scope=%s" % ",".join(query.get("scope", [])), flush=True)
            good = "Basic " + base64.b64encode(b"alice:s3cret").decode()
            if self.headers.get("Authorization") != good:
                self.reply(401, b'{"details":"bad credentials"}')
            else:
                self.reply(200, b'{"token":"%s"}' % TOKEN.encode())
            return False
        if self.headers.get("Authorization") == "Bearer " + TOKEN:
            del self.headers["Authorization"]
            return True
        m = re.match(r"^/v2/(.+)/(manifests|blobs|tags)/", self.path)
        scope = ',scope="repository:%s:pull"' % m.group(1) if m else ""
        challenge = 'Bearer realm="http://127.0.0.1:%d/token",service="berth-test"%s' % (
            self.listen_port, scope)
        self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                   [("WWW-Authenticate", challenge)])
        return False

    do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = do_GET

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else None

    def rewrite_location(self, value):
        return re.sub(r"(//[^/:]+):%d(?=/|$)" % self.upstream_port,
                      r"\1:%d" % self.listen_port, value)

    def fault(self):
        """The canned answer of a status mode, or False to forward."""
        if not self.mode.startswith("status"):
            return False
        if self.mode == "status":
            with self.seen_lock:
                n = self.seen.get(self.path, 0)
                self.seen[self.path] = n + 1
            if n >= STATUS_TIMES:
                return False
        body = b'{"errors":[{"code":"TOOMANYREQUESTS","message":"injected"}]}'
        self.send_response(self.code)
        if self.code == 429:
            self.send_header("Retry-After", "0")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return True

    def forward(self):
        body = self.read_body()
        blob_get = self.command == "GET" and BLOB_RE.match(self.path.split("?")[0])
        if blob_get and self.fault():
            return
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=120)
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for k, v in self.headers.items():
                if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                    conn.putheader(k, v)
            if body is not None or self.command in ("PUT", "POST", "PATCH"):
                conn.putheader("Content-Length", str(len(body or b"")))
            conn.endheaders(body)
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
        except OSError as e:
            self.send_error(502, "upstream: %s" % e)
            return
        mangle = blob_get and resp.status == 200 and data and self.mode in ("corrupt", "truncate")
        if mangle and self.mode == "corrupt":
            data = bytearray(data)
            data[len(data) // 2] ^= 0xFF
            data = bytes(data)
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            lk = k.lower()
            if lk in HOP_BY_HOP or lk in ("date", "server") or (
                    lk == "content-length" and self.command != "HEAD"):
                continue
            self.send_header(k, self.rewrite_location(v) if lk == "location" else v)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if mangle and self.mode == "truncate":
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if blob_get and self.mode == "slow":
            print("sending %s" % self.path, flush=True)
            for off in range(0, len(data), 65536):
                self.wfile.write(data[off:off + 65536])
                self.wfile.flush()
                time.sleep(0.02)
            return
        self.wfile.write(data)


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: registry-proxy.py LISTEN_PORT UPSTREAM_PORT MODE")
    Proxy.listen_port, Proxy.upstream_port = int(sys.argv[1]), int(sys.argv[2])
    mode = sys.argv[3]
    if mode.startswith(("status:", "status-always:")):
        Proxy.mode, code = mode.split(":", 1)
        Proxy.code = int(code)
    elif mode in ("pass", "corrupt", "truncate", "slow", "bearer"):
        Proxy.mode = mode
    else:
        sys.exit("registry-proxy.py: unknown mode %s" % mode)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", Proxy.listen_port), Proxy)
    server.daemon_threads = True
    print("listening %d" % Proxy.listen_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
