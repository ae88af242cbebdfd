#!/usr/bin/env python3
"""fixture.py - hostile scrape targets for tests/e2e/hostile.sh (Python
standard library only; loopback only; bounded lifetime).

    python3 fixture.py --certs DIR --lifetime 150

prints one JSON line with its ports and facts the test checks, e.g.
{"http": 40001, "tls_ip": 40002, "tls_name": 40003, "silent": 40004,
 "refused": 40005, "big_bytes": 104857625, "big_bad_line": 4194305}
then serves until the lifetime ends (or SIGTERM).

Plain HTTP paths (port "http"):
    /healthy        a small good body; its request count is the schedule check
    /counts         JSON {path: requests} (the test's view of what flint fetched),
                    and the longest/shortest time between two /healthy requests
    /malformed      two good lines, then line 3 does not parse
    /utf8-label     a label value holding the bytes ff fe (invalid UTF-8)
    /utf8-name      a quoted metric name holding the byte ff
    /utf8-bare-name an unquoted metric name holding the byte ff
    /utf8-help      a HELP text holding the byte ff
    /big            ~100 MB, Content-Length set; the last line is malformed
    /big-stream     the same bytes in 1 MB chunks, no Content-Length
    /many           1,000,000 distinct series (~24 MB), pre-built
    /hang-headers   status line and headers (Content-Length: 1000), then
                    nothing for --hang seconds
    /500            HTTP 500
    /basic          200 only with basic auth hostile:s3cret, else 401
    /bearer         200 only with "Authorization: Bearer tok-good", else 401
Port "silent" accepts connections and never reads or writes (closes them
after --hang s). Port "refused" was bound once and closed: nothing listens.
Ports "tls_ip" and "tls_name" serve the same paths over TLS with the
certificates in --certs: server-ip.{crt,key} (SAN IP:127.0.0.1) and
server-name.{crt,key} (SAN DNS:hostile.test only), both signed by ca-a.
The TLS servers record the SNI name clients send (in /counts as "sni:NAME").

Bodies are built once at start (bytes objects), so a request costs a
sendall, not seconds of CPU.
"""
import argparse
import base64
import http.server
import json
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time

COUNTS = {}
LOCK = threading.Lock()
HEALTHY_AT = []  # monotonic arrival times of /healthy requests
TEXT = "text/plain; version=0.0.4; charset=utf-8"
BASIC_OK = "Basic " + base64.b64encode(b"hostile:s3cret").decode()
BEARER_OK = "Bearer tok-good"


def hit(key):
    with LOCK:
        COUNTS[key] = COUNTS.get(key, 0) + 1
        return COUNTS[key]


def build_big(target_bytes):
    """~target_bytes of sample lines over 1000 series (repeats are duplicates
    within one scrape), then one malformed line. Returns (bytes, bad line)."""
    block = "".join('hostile_big{i="%04d"} 1\n' % i for i in range(1000)).encode()
    k = -(-target_bytes // len(block))
    body = b"".join([block] * k) + b"hostile_big{ 1\n"
    return body, 1000 * k + 1


def build_many(n):
    return "".join('hostile_many{i="%d"} 1\n' % i for i in range(n)).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hang_seconds = 30.0
    big = b""
    many = b""
    scheme = "http"

    def log_message(self, fmt, *args):  # quiet
        pass

    def send_body(self, status, body, ctype=TEXT, extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # a client that stops reading (body size limit) is expected
        self.close_connection = True

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        n = hit(self.scheme + ":" + path if self.scheme != "http" else path)
        if path == "/healthy":
            if self.scheme == "http":
                with LOCK:
                    HEALTHY_AT.append(time.monotonic())
            body = ("# HELP hostile_healthy_requests_total Requests to /healthy.\n"
                    "# TYPE hostile_healthy_requests_total counter\n"
                    "hostile_healthy_requests_total %d\nhostile_healthy_info{scheme=\"%s\"} 1\n"
                    % (n, self.scheme))
            self.send_body(200, body.encode())
        elif path == "/counts":
            with LOCK:
                gaps = [b - a for a, b in zip(HEALTHY_AT, HEALTHY_AT[1:])]
                body = json.dumps(dict(COUNTS, healthy_gap_max_ms=round(1000 * max(gaps, default=0)),
                                       healthy_gap_min_ms=round(1000 * min(gaps, default=0)))).encode()
            self.send_body(200, body, "application/json")
        elif path == "/malformed":
            self.send_body(200, b'hostile_good 1\nhostile_other{a="b"} 2\nhostile_bad{a="b" 3\n')
        elif path == "/utf8-label":
            self.send_body(200, b'hostile_good 1\nhostile_utf8{v="ok\xff\xfe"} 1\n')
        elif path == "/utf8-name":
            self.send_body(200, b'hostile_good 1\n{"hostile_\xffname"} 1\n')
        elif path == "/utf8-bare-name":
            self.send_body(200, b'hostile_good 1\nhostile_\xffname 1\n')
        elif path == "/utf8-help":
            self.send_body(200, b"hostile_good 1\n# HELP hostile_help bad \xff help\n"
                                b"# TYPE hostile_help gauge\nhostile_help 1\n")
        elif path == "/big":
            self.send_body(200, self.big)
        elif path == "/big-stream":
            self.send_response(200)
            self.send_header("Content-Type", TEXT)
            self.send_header("Connection", "close")
            self.end_headers()
            mv = memoryview(self.big)
            try:
                for off in range(0, len(mv), 1 << 20):
                    self.wfile.write(mv[off:off + (1 << 20)])
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True
        elif path == "/many":
            self.send_body(200, self.many)
        elif path == "/hang-headers":
            self.send_response(200)
            self.send_header("Content-Type", TEXT)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.flush()
            time.sleep(self.hang_seconds)
            self.close_connection = True
        elif path == "/500":
            self.send_body(500, b"boom\n", "text/plain")
        elif path in ("/basic", "/bearer"):
            want = BASIC_OK if path == "/basic" else BEARER_OK
            got = self.headers.get("Authorization", "")
            if got == want:
                hit(path + ":ok")
                body = 'hostile_auth_ok{path="%s"} 1\n' % path
                self.send_body(200, body.encode())
            else:
                hit(path + ":denied")
                extra = [("WWW-Authenticate", 'Basic realm="hostile"')] if path == "/basic" else []
                self.send_body(401, b"unauthorized\n", "text/plain", extra)
        else:
            self.send_body(404, b"not found\n", "text/plain")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


def tls_server(handler_base, certfile, keyfile, scheme):
    handler = type("TLSHandler_" + scheme, (handler_base,), {"scheme": scheme})
    srv = Server(("127.0.0.1", 0), handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certfile, keyfile)

    def sni(sock, name, context):
        hit("sni:%s:%s" % (scheme, name))
        return None

    ctx.sni_callback = sni
    # handshake in the handler thread, not in accept(): a client that fails
    # verification must not stall the accept loop
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    orig = srv.finish_request

    def finish_request(request, client_address):
        try:
            request.settimeout(10)
            request.do_handshake()
            request.settimeout(None)
        except (ssl.SSLError, OSError):
            hit("tls-handshake-failed:" + scheme)
            return
        orig(request, client_address)

    srv.finish_request = finish_request
    return srv


def silent_listener(hang):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)

    def loop():
        held = []
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            hit("silent:accept")
            now = time.monotonic()
            held.append((now, c))
            keep = []
            for t0, s in held:
                if now - t0 > hang:
                    s.close()
                else:
                    keep.append((t0, s))
            held = keep

    threading.Thread(target=loop, daemon=True).start()
    return ls


def refused_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--certs", required=True, help="directory with server-ip/server-name .crt/.key")
    ap.add_argument("--lifetime", type=float, default=150.0, help="seconds before exiting (max 3600)")
    ap.add_argument("--hang", type=float, default=20.0, help="seconds the hanging paths stay silent")
    ap.add_argument("--big-mb", type=int, default=100, help="size of /big in MiB")
    ap.add_argument("--many", type=int, default=1000000, help="series in /many")
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    Handler.hang_seconds = a.hang
    Handler.big, bad_line = build_big(a.big_mb << 20)
    Handler.many = build_many(a.many)
    servers = [Server(("127.0.0.1", 0), Handler),
               tls_server(Handler, a.certs + "/server-ip.crt", a.certs + "/server-ip.key", "tls_ip"),
               tls_server(Handler, a.certs + "/server-name.crt", a.certs + "/server-name.key", "tls_name")]
    silent = silent_listener(a.hang)
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    info = {"http": servers[0].server_address[1], "tls_ip": servers[1].server_address[1],
            "tls_name": servers[2].server_address[1], "silent": silent.getsockname()[1],
            "refused": refused_port(), "big_bytes": len(Handler.big), "big_bad_line": bad_line,
            "many_bytes": len(Handler.many)}
    print(json.dumps(info), flush=True)
    time.sleep(min(max(a.lifetime, 0.0), 3600.0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
