#!/usr/bin/env python3
"""ui_check.py - the checks of tests/e2e/ui.sh (standard library only).

  ui_check.py demo END                 OpenMetrics demo data for [END-2h, END)
  ui_check.py check PORT END TMPDIR    check the UI of the server on PORT

The browser checks load pages in headless Chromium with --dump-dom (virtual
time lets the page's API calls finish first) and compare what the page
rendered with what the JSON API answers for the same query and time, so no
expected value is written down here.
"""
import gzip
import fcntl
import html.parser
import json
import math
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok   " + name)
    else:
        failed += 1
        print("FAIL " + name + (": " + detail if detail else ""))


# ---- demo data ---------------------------------------------------------------

def demo(end):
    start = end - 7200
    out = ["# HELP demo_cpu_usage_ratio Busy ratio per core.", "# TYPE demo_cpu_usage_ratio gauge"]
    for core in range(4):
        for t in range(start, end, 15):
            x = (t - start) / 7200.0 * 2 * math.pi
            v = 0.45 + 0.25 * math.sin(x * (1 + core * 0.5) + core) + 0.05 * math.sin(x * 9 + core * 2)
            out.append('demo_cpu_usage_ratio{core="%d",host="edge-1"} %.4f %d' % (core, v, t))
    out.append("# TYPE demo_requests counter")
    for path, rate in (("/api", 12), ("/login", 3), ("/static", 6)):
        c = 0.0
        for t in range(start, end, 15):
            c += rate * 15 * (1 + 0.5 * math.sin((t - start) / 1100.0 + rate))
            out.append('demo_requests_total{path="%s"} %.1f %d' % (path, c, t))
    out.append("# EOF")
    print("\n".join(out))


# ---- HTTP ------------------------------------------------------------------------

class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


opener = urllib.request.build_opener(NoRedirect)


def http(base, path, method="GET", headers=None):
    req = urllib.request.Request(base + path, method=method, headers=headers or {})
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def api(base, path, **params):
    st, _, body = http(base, "/api/v1/" + path + ("?" + urllib.parse.urlencode(params) if params else ""))
    try:
        return st, json.loads(body)
    except ValueError:
        return st, None


# ---- DOM ---------------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.kids = tag, dict(attrs), parent, []

    def text(self):
        return "".join(k if isinstance(k, str) else k.text() for k in self.kids)

    def classes(self):
        return (self.attrs.get("class") or "").split()

    def all(self, tag=None, cls=None):
        out = []
        for k in self.kids:
            if isinstance(k, Node):
                if (tag is None or k.tag == tag) and (cls is None or cls in k.classes()):
                    out.append(k)
                out.extend(k.all(tag, cls))
        return out


class TreeBuilder(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.cur = Node("#root", {}, None)

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.kids.append(n)
        if tag not in VOID:
            self.cur = n

    def handle_startendtag(self, tag, attrs):
        self.cur.kids.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.kids.append(data)


def parse_dom(s):
    b = TreeBuilder()
    b.feed(s)
    return b.root


def chromium(tmp, url, *extra):
    cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--hide-scrollbars", "--no-first-run", "--user-data-dir=" + os.path.join(tmp, "chrome"),
           "--window-size=1280,800", "--virtual-time-budget=15000", *extra, url]
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=120)
        return r.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        return ""


def load(tmp, base, path):
    return parse_dom(chromium(tmp, base + path, "--dump-dom"))


def series_name(metric):
    """The UI's label-set text: name{a="b", c="d"} (F.seriesName)."""
    name = metric.get("__name__", "")
    inner = ", ".join('%s="%s"' % (k, metric[k].replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n"))
                      for k in sorted(metric) if k != "__name__")
    return name + ("{" + inner + "}" if inner or not name else "")


def utc(secs):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(secs))


def q(**params):
    return urllib.parse.urlencode(params)


# ---- the checks ----------------------------------------------------------------------

def wait(base, what, cond, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if cond():
                return True
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            pass
        time.sleep(0.3)
    check(what, False, "not within %ds" % seconds)
    return False


def http_checks(base):
    st, h, _ = http(base, "/")
    check("/ redirects to /graph", st == 302 and h.get("Location") == "/graph", "%s %s" % (st, h.get("Location")))
    pages = {}
    for p in ("/graph", "/targets", "/status"):
        st, h, body = http(base, p)
        pages[p] = body.decode()
        check(p + " is the HTML page", st == 200 and h.get("Content-Type") == "text/html; charset=utf-8" and
              'id="app"' in pages[p], "%s %s" % (st, h.get("Content-Type")))
        check(p + " is revalidated (Cache-Control: no-cache)", h.get("Cache-Control") == "no-cache", str(h.get("Cache-Control")))
    assets = sorted(set(re.findall(r'(?:src|href)="(/ui/[^"]+)"', pages["/graph"])))
    check("the page links its assets", len(assets) >= 4, str(assets))
    types = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
    total = 0
    for a in assets:
        path = a.split("?")[0]
        st, h, body = http(base, a)
        want = types.get(os.path.splitext(path)[1])
        check("asset %s: 200 %s" % (path, want), st == 200 and h.get("Content-Type") == want and len(body) > 0,
              "%s %s" % (st, h.get("Content-Type")))
        check("asset %s with its version is cached long" % path, "immutable" in (h.get("Cache-Control") or ""),
              str(h.get("Cache-Control")))
        st, h, plain = http(base, path)
        check("asset %s without a version is revalidated" % path, st == 200 and h.get("Cache-Control") == "no-cache" and plain == body,
              str(h.get("Cache-Control")))
        total += len(body)
    total += len(pages["/graph"])
    check("assets total under 100 KB (%d bytes)" % total, total < 100000)
    js = [a for a in assets if a.split("?")[0].endswith(".js")][0]
    st, h, gz = http(base, js, headers={"Accept-Encoding": "gzip"})
    _, _, plain = http(base, js)
    ok = st == 200 and h.get("Content-Encoding") == "gzip"
    try:
        ok = ok and gzip.decompress(gz) == plain and len(gz) < len(plain)
    except OSError:
        ok = False
    check("assets are gzipped when asked", ok)
    st, h, body = http(base, "/graph", method="HEAD")
    check("HEAD /graph is 200", st == 200)
    for p in ("/ui/nope.js", "/ui/index.htm", "/nope", "/graph/x"):
        st, h, _ = http(base, p)
        check("unknown %s is 404" % p, st == 404, str(st))
    st, body = api(base, "query", query="1+1", time="4")
    check("the API still answers beside the UI", st == 200 and body["data"]["result"] == [4, "2"])


def graph_checks(tmp, base, end):
    expr = "demo_cpu_usage_ratio"
    rng, step = 3600, max(3600 // 250, 1)  # the UI's automatic resolution
    st, want = api(base, "query_range", query=expr, start=end - rng, end=end, step=step)
    wres = want["data"]["result"]
    check("demo data present (%d series)" % len(wres), st == 200 and len(wres) == 4)
    dom = load(tmp, base, "/graph?" + q(**{"g0.expr": expr, "g0.tab": "0", "g0.range_input": "1h", "g0.end_input": utc(end)}))
    paths = dom.all("path", "series-line")
    check("graph: one SVG path per series (%d)" % len(paths), len(paths) == len(wres))
    got = {p.attrs.get("data-series"): p for p in paths}
    for s in wres:
        name = series_name(s["metric"])
        p = got.get(name)
        n = len(s["values"])
        ncmd = len(re.findall(r"[ML]", p.attrs.get("d", ""))) if p else -1
        check("graph: %s drawn with its %d points" % (name, n), p is not None and ncmd == n and
              int(p.attrs.get("data-points", -1)) == n, "path commands %d" % ncmd)
    legend = [i.text() for i in dom.all("div", "legend-item")]
    check("graph: legend names every series", sorted(legend) == sorted(series_name(s["metric"]) for s in wres), str(legend))
    axis = [t.text() for t in dom.all("text")]
    check("graph: time axis labelled in UTC", any(t == utc(end - 1800)[11:16] for t in axis), str(axis))
    stats = " ".join(s.text() for s in dom.all("span", "stats"))
    check("graph: resolution shown", ("Resolution: %ds (auto)" % step) in stats, stats)
    # Stacked: one filled area per series.
    dom = load(tmp, base, "/graph?" + q(**{"g0.expr": expr, "g0.tab": "0", "g0.range_input": "1h",
                                           "g0.end_input": utc(end), "g0.stacked": "1"}))
    check("graph: stacked draws areas", len(dom.all("path", "area")) == len(wres))
    # Table at the same time as the API's instant query.
    t = end - 600
    st, want = api(base, "query", query=expr, time=t)
    dom = load(tmp, base, "/graph?" + q(**{"g0.expr": expr, "g0.tab": "1", "g0.end_input": utc(t)}))
    rows = [(r.all("td", "labels")[0].text(), r.all("td", "value")[0].text()) for r in dom.all("tr")
            if r.all("td", "labels")]
    wrows = [(series_name(s["metric"]), s["value"][1]) for s in want["data"]["result"]]
    check("table: rows are the instant query's (%d)" % len(wrows), rows == wrows and len(rows) == 4, str(rows))
    # Two panels, one of them a scalar table.
    dom = load(tmp, base, "/graph?" + q(**{"g0.expr": expr, "g0.tab": "1", "g0.end_input": utc(t),
                                           "g1.expr": "sum(demo_cpu_usage_ratio) * 2", "g1.tab": "1", "g1.end_input": utc(t)}))
    panels = dom.all("section", "panel")
    st, want = api(base, "query", query="sum(demo_cpu_usage_ratio) * 2", time=t)
    v2 = [r.text() for r in panels[1].all("td", "value")] if len(panels) == 2 else []
    check("two panels from the URL, each rendered", len(panels) == 2 and v2 == [want["data"]["result"][0]["value"][1]], str(v2))


def live_checks(tmp, base, port):
    expr = 'up{job="flint"}'
    dom = load(tmp, base, "/graph?" + q(**{"g0.expr": expr, "g0.tab": "0", "g0.range_input": "5m"}))
    paths = dom.all("path", "series-line")
    name = 'up{instance="127.0.0.1:%s", job="flint"}' % port
    pts = int(paths[0].attrs.get("data-points", 0)) if paths else 0
    check("graph of scraped data: %s with %d points" % (name, pts), len(paths) == 1 and
          paths[0].attrs.get("data-series") == name and pts >= 3)
    check("graph of scraped data: legend entry", [i.text() for i in dom.all("div", "legend-item")] == [name])
    # Errors: a parse error shows the API's message and a caret at its column.
    bad = "sum(rate(demo_requests_total[5m])"
    st, want = api(base, "query", query=bad)
    dom = load(tmp, base, "/graph?" + q(**{"g0.expr": bad, "g0.tab": "1"}))
    errs = dom.all("div", "error")
    msg = want.get("error", "") if want else ""
    check("parse error shown with the API's message", st == 400 and len(errs) == 1 and msg in errs[0].text(),
          errs[0].text() if errs else "no error box")
    m = re.search(r"(\d+):(\d+): parse error", msg)
    caret = dom.all("pre", "caret")
    want_caret = bad + "\n" + " " * (int(m.group(2)) - 1) + "^" if m else None
    check("parse error: caret under the position", bool(caret) and caret[0].text() == want_caret,
          repr(caret[0].text()) if caret else "no caret")
    dom = load(tmp, base, "/graph?" + q(**{"g0.expr": "up", "g0.tab": "0", "g0.range_input": "soon"}))
    errs = dom.all("div", "error")
    check("bad range input is reported", len(errs) == 1 and "soon" in errs[0].text())
    # Targets.
    st, want = api(base, "targets")
    targets = want["data"]["activeTargets"]
    dom = load(tmp, base, "/targets")
    rows = dom.all("tr", "target")
    check("targets: one row per target (%d)" % len(targets), len(rows) == len(targets) == 2)
    by_url = {r.all("a")[0].text(): r for r in rows if r.all("a")}
    for t in targets:
        r = by_url.get(t["scrapeUrl"])
        badge = r.all("span", "badge")[0].text() if r else ""
        check("targets: %s is %s" % (t["scrapeUrl"], t["health"].upper()), badge == t["health"].upper(), badge)
        if t["health"] == "down" and r:
            err = r.all("td", "lasterr")[0].text()
            check("targets: the down target shows its error", err != "" and "127.0.0.1" in err, err)
        if r:
            labels = [s.text() for s in r.all("span", "label")]
            check("targets: %s labels" % t["scrapeUrl"], labels == ['%s="%s"' % (k, t["labels"][k]) for k in sorted(t["labels"])], str(labels))
    pools = [h.text() for h in dom.all("h2", "pool")]
    check("targets: grouped by pool with up counts", any("flint" in p and "(1/1 up)" in p for p in pools) and
          any("down" in p and "(0/1 up)" in p for p in pools), str(pools))
    # Status: build info always; the other sections when the API has them.
    st, bi = api(base, "status/buildinfo")
    dom = load(tmp, base, "/status")
    sections = {s.all("h2")[0].text(): s for s in dom.all("section", "status")}
    cells = [td.text() for td in sections.get("Build information", Node("x", {}, None)).all("td")]
    check("status: build information shows the version", bi["data"]["version"] in cells, str(cells))
    for title, path in (("Runtime information", "status/runtimeinfo"), ("Command-line flags", "status/flags"),
                        ("TSDB status", "status/tsdb"), ("Configuration", "status/config")):
        st, _ = api(base, path)
        sec = sections.get(title)
        if st == 200:
            check("status: %s rendered" % title, sec is not None and len(sec.all("table")) + len(sec.all("pre")) > 0)
        else:
            check("status: %s says not available (API %d)" % (title, st), sec is not None and "not available" in sec.text())


# ---- interaction: Chromium's DevTools protocol over --remote-debugging-pipe ----

class Browser:
    """A headless Chromium driven over fds 3/4 (NUL-separated JSON), so
    the test can type, press keys and move the pointer without websockets."""

    def __init__(self, tmp):
        to_chrome_r, to_chrome_w = os.pipe()
        from_chrome_r, from_chrome_w = os.pipe()
        # Park the child's ends above 3 and 4 so the dup2s cannot clobber them.
        hi_r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 100)
        hi_w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 100)
        for fd in (to_chrome_r, from_chrome_w):
            os.close(fd)

        def child():
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)

        self.proc = subprocess.Popen(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
             "--no-first-run", "--user-data-dir=" + os.path.join(tmp, "chrome-cdp"), "--window-size=1280,800",
             "--remote-debugging-pipe", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=child, close_fds=False)
        os.close(hi_r)
        os.close(hi_w)
        self.w, self.r = to_chrome_w, from_chrome_r
        self.buf, self.seq, self.session = b"", 0, None
        targets = self.send("Target.getTargets")["targetInfos"]
        page = [t for t in targets if t["type"] == "page"][0]
        self.session = self.send("Target.attachToTarget", targetId=page["targetId"], flatten=True)["sessionId"]
        self.send("Page.enable")

    def send(self, method, timeout=30, **params):
        self.seq += 1
        msg = {"id": self.seq, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            msg["sessionId"] = self.session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                m = json.loads(raw)
                if m.get("id") == self.seq:
                    if "error" in m:
                        raise RuntimeError("%s: %s" % (method, m["error"]))
                    return m.get("result", {})
            left = deadline - time.time()
            if left <= 0 or not select.select([self.r], [], [], left)[0]:
                raise RuntimeError(method + ": no answer")
            chunk = os.read(self.r, 1 << 16)
            if not chunk:
                raise RuntimeError(method + ": browser went away")
            self.buf += chunk

    def js(self, expr):
        r = self.send("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError("js: %s" % r["exceptionDetails"].get("text"))
        return r["result"].get("value")

    def until(self, expr, seconds=15):
        """Poll a page expression until it is truthy; its value or None."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            v = self.js(expr)
            if v:
                return v
            time.sleep(0.1)
        return None

    def goto(self, url):
        self.send("Page.navigate", url=url)
        return self.until("document.readyState === 'complete' && location.href !== 'about:blank'")

    def key(self, key, code, vk):
        for t in ("rawKeyDown", "keyUp"):
            self.send("Input.dispatchKeyEvent", type=t, key=key, code=code, windowsVirtualKeyCode=vk)

    def mouse(self, kind, x, y):
        self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left" if kind != "mouseMoved" else "none",
                  clickCount=1 if kind != "mouseMoved" else 0)

    def click(self, selector):
        box = self.js("(() => { const e = document.querySelector(%s); e.scrollIntoView({block: 'center'});"
                      " const r = e.getBoundingClientRect();"
                      " return [r.left + r.width / 2, r.top + r.height / 2]; })()" % json.dumps(selector))
        self.mouse("mouseMoved", *box)
        self.mouse("mousePressed", *box)
        self.mouse("mouseReleased", *box)

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except (RuntimeError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.w)
        os.close(self.r)


def interaction_checks(tmp, base, end):
    try:
        b = Browser(tmp)
    except (RuntimeError, OSError, IndexError, KeyError) as e:
        check("browser over the DevTools pipe", False, str(e))
        return
    try:
        interact(b, base, end)
    except (RuntimeError, OSError, TypeError, KeyError, IndexError, ValueError) as e:
        check("interaction checks ran to the end", False, repr(e))
    finally:
        b.close()


def interact(b, base, end):
    # Completion: type a prefix, the dropdown offers the metric names the
    # API has, Tab takes the first, Enter runs it and the URL records it.
    _, names = api(base, "label/__name__/values")
    want = sorted(n for n in names["data"] if n.startswith("demo_req"))
    b.goto(base + "/graph?" + q(**{"g0.end_input": utc(end)}))  # a fixed end: the API can be asked the same
    b.js("document.querySelector('textarea.expr').focus()")
    b.send("Input.insertText", text="demo_req")
    items = b.until("[...document.querySelectorAll('ul.complete:not([hidden]) li > span:first-child')].map(e => e.textContent)")
    check("completion offers the metric names (%s)" % want, items is not None and items[:len(want)] == want, str(items))
    b.key("Tab", "Tab", 9)
    val = b.js("document.querySelector('textarea.expr').value")
    check("Tab takes the first completion", val == want[0] if want else False, repr(val))
    b.key("Enter", "Enter", 13)
    n = b.until("document.querySelectorAll('path.series-line').length")
    _, rr = api(base, "query_range", query=want[0] if want else "x", start=end - 3600, end=end, step=14)
    check("Enter runs the query and graphs it", n == len(rr["data"]["result"]) and n > 0, str(n))
    search = b.js("location.search")
    check("the URL records the expression", "g0.expr=" + urllib.parse.quote_plus(want[0] if want else "x") in search, search)
    # Range +: the next range of the list, kept in the URL.
    b.click(".ctl-group button[title='longer range']")
    rng = b.until("location.search.includes('range_input=2h') && document.querySelector('input.range').value")
    check("+ moves the range from 1h to 2h", rng == "2h", str(rng))
    # Tab switch to the table and back.
    b.click(".tab-row .tab:nth-child(2)")
    rows = b.until("document.querySelector('.stats').textContent.includes('Result series') &&"
                   " 'rows ' + document.querySelectorAll('table.result tr').length")
    _, inst = api(base, "query", query=want[0] if want else "x", time=end)
    check("the Table tab shows the instant query's rows", rows == "rows %d" % len(inst["data"]["result"]) and
          len(inst["data"]["result"]) > 0, str(rows))
    check("the URL records the tab", "g0.tab=1" in b.js("location.search"))

    # Tooltip: point at one sample of a graph with a fixed end; the tooltip
    # shows that sample's time, series and value as the API gives them.
    expr = "demo_cpu_usage_ratio"
    b.goto(base + "/graph?" + q(**{"g0.expr": expr, "g0.tab": "0", "g0.range_input": "1h", "g0.end_input": utc(end)}))
    if not b.until("document.querySelectorAll('path.series-line').length === 4"):
        check("graph for the tooltip", False)
        return
    _, rr = api(base, "query_range", query=expr, start=end - 3600, end=end, step=14)
    target = rr["data"]["result"][2]
    k = len(target["values"]) // 3
    pt = b.js("""(() => {
      const p = [...document.querySelectorAll('path.series-line')].find(e => e.dataset.series === %s);
      const xy = p.getAttribute('d').match(/[ML][^ML]+/g)[%d].slice(1).split(',').map(Number);
      const r = p.ownerSVGElement.getBoundingClientRect();
      return [r.left + xy[0], r.top + xy[1]]; })()""" % (json.dumps(series_name(target["metric"])), k))
    b.mouse("mouseMoved", pt[0], pt[1])
    tip = b.until("(() => { const t = document.querySelector('.tooltip'); return t && !t.hidden && t.textContent; })()")
    t, v = target["values"][k]
    want_tip = "%s UTC%s" % (utc(t), series_name(target["metric"])) + "value: " + v
    check("tooltip shows the sample's time, series and value", tip == want_tip, "%r != %r" % (tip, want_tip))
    b.mouse("mouseMoved", 5, 5)
    check("tooltip hides when the pointer leaves", b.until("document.querySelector('.tooltip').hidden") is True)
    # Legend: a click shows only that series, a second click all again.
    b.click(".legend-item:nth-child(2)")
    shown = b.until("(() => { const p = document.querySelectorAll('path.series-line');"
                    " return p.length === 1 && p[0].dataset.series; })()")
    check("legend click shows only that series", shown == series_name(rr["data"]["result"][1]["metric"]), str(shown))
    b.click(".legend-item:nth-child(2)")
    check("a second click shows all again", b.until("document.querySelectorAll('path.series-line').length === 4") is True)


def screenshot(tmp, base, end):
    out = os.path.join(tmp, "ui-graph.png")
    chromium(tmp, base + "/graph?" + q(**{"g0.expr": "demo_cpu_usage_ratio", "g0.tab": "0", "g0.range_input": "2h",
                                          "g0.end_input": utc(end)}), "--screenshot=" + out)
    ok = False
    try:
        with open(out, "rb") as f:
            head = f.read(24)
        ok = head[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", head[16:24]) == (1280, 800)
    except OSError:
        pass
    check("screenshot of the graph page (1280x800 PNG)", ok)
    if ok and os.environ.get("UI_SCREENSHOT"):
        shutil.copy(out, os.environ["UI_SCREENSHOT"])


def main():
    # On TERM (the test's timeout or trap) unwind, so browsers get closed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    if sys.argv[1] == "demo":
        demo(int(sys.argv[2]))
        return 0
    port, end, tmp = sys.argv[2], int(sys.argv[3]), sys.argv[4]
    base = "http://127.0.0.1:" + port
    if wait(base, "server ready", lambda: http(base, "/-/ready")[0] == 200, 30) and \
       wait(base, "three self-scrapes stored", lambda: float(api(base, "query", query='count_over_time(up{job="flint"}[1m])')[1]
                                                             ["data"]["result"][0]["value"][1]) >= 3, 30):
        http_checks(base)
        graph_checks(tmp, base, end)
        live_checks(tmp, base, port)
        interaction_checks(tmp, base, end)
        screenshot(tmp, base, end)
    print("ui: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
