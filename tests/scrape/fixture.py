#!/usr/bin/env python3
"""fixture.py - scrape targets for manual and end-to-end tests of flint's
scrape loop (Python standard library only; loopback only; bounded lifetime).

The Check suite `scrapeloop` uses an in-process C server with the same
paths; this one is for running `flint server` against by hand or from a
shell test:

    python3 tests/scrape/fixture.py --port 0 --lifetime 60 &
    # prints "port N" on its first line, then serves until the lifetime ends

Paths:
    /healthy    text 0.0.4; req_total counts requests; gone_metric only in
                the first two responses (staleness); temp{job="exposed"}
                (honor_labels / exported_job); dup_metric twice (duplicates)
    /om         OpenMetrics 1.0 with # EOF
    /gzip       gzip-encoded text body when the client accepts gzip
    /flaky      two good responses, then HTTP 503
    /malformed  a body whose second line does not parse
    /500        HTTP 500
    /hang       sends nothing until the client gives up (at most --hang s)
    /huge       ~20 MB text body without Content-Length
    /limit      20 series (for sample_limit tests)
"""
import argparse
import gzip
import http.server
import socketserver
import sys
import threading
import time

COUNTS = {}
LOCK = threading.Lock()


def hit(path):
    with LOCK:
        COUNTS[path] = COUNTS.get(path, 0) + 1
        return COUNTS[path]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hang_seconds = 30.0

    def log_message(self, fmt, *args):  # quiet
        pass

    def send_body(self, status, ctype, body, encoding=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        n = hit(path)
        text = "text/plain; version=0.0.4; charset=utf-8"
        if path == "/healthy":
            body = ("# HELP req_total Requests.\n# TYPE req_total counter\n"
                    'req_total{path="/healthy"} %d\n'
                    'temp{job="exposed"} 3\n'
                    "dup_metric 1\ndup_metric 2\n" % n)
            if n <= 2:
                body += "gone_metric 1\n"
            self.send_body(200, text, body.encode())
        elif path == "/om":
            body = "# TYPE om_events counter\nom_events_total %d\n# EOF\n" % n
            self.send_body(200, "application/openmetrics-text; version=1.0.0; charset=utf-8", body.encode())
        elif path == "/gzip":
            body = b"# TYPE gz_metric gauge\ngz_metric 7\n"
            if "gzip" in self.headers.get("Accept-Encoding", ""):
                self.send_body(200, text, gzip.compress(body), "gzip")
            else:
                self.send_body(200, text, body)
        elif path == "/flaky":
            if n <= 2:
                self.send_body(200, text, b"flaky_metric 1\nflaky_other 2\n")
            else:
                self.send_body(503, "text/plain", b"later\n")
        elif path == "/malformed":
            self.send_body(200, text, b"good_metric 1\nbad_metric{ 2\n")
        elif path == "/500":
            self.send_body(500, "text/plain", b"boom\n")
        elif path == "/hang":
            time.sleep(self.hang_seconds)
        elif path == "/huge":
            self.send_response(200)
            self.send_header("Content-Type", text)
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                for i in range(0, 1000000, 1000):
                    self.wfile.write("".join('huge_metric{i="%d"} 1\n' % j for j in range(i, i + 1000)).encode())
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True
        elif path == "/limit":
            body = "".join('limit_metric{i="%d"} 1\n' % i for i in range(20))
            self.send_body(200, text, body.encode())
        else:
            self.send_body(404, "text/plain", b"not found\n")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0, help="0: any free port (printed)")
    ap.add_argument("--lifetime", type=float, default=60.0, help="seconds before exiting (max 3600)")
    ap.add_argument("--hang", type=float, default=30.0, help="seconds /hang stays silent")
    a = ap.parse_args()
    Handler.hang_seconds = a.hang
    srv = Server(("127.0.0.1", a.port), Handler)
    print("port %d" % srv.server_address[1], flush=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    time.sleep(min(max(a.lifetime, 0.0), 3600.0))
    srv.shutdown()
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
