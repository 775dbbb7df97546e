#!/usr/bin/env python3
"""Helpers for bench/run.sh (Python 3.11 standard library only).

Subcommands:
  free-port                      print a free TCP port on 127.0.0.1
  target-dir                     read `cargo metadata` JSON on stdin, print target_directory
  fixtures DIR PATHS             write 1k.bin, app.js, big.bin, mixed/ into DIR, and the URL
                                 paths of mixed/ into the file PATHS, one a line
  children PID                   print the PIDs whose parent is PID (nginx workers)
  cpu PID...                     print utime+stime of the PIDs in seconds (float)
  rss PID...                     print the summed VmRSS of the PIDs in KiB
  idle-rss PORT N PATH PID...    open N keep-alive connections, one GET each, keep them open,
                                 print "<rss KiB> <connections still open>"
  wrk-line FILE                  print the BENCH line (from bench/report.lua) of a wrk log
  report RESULTS [A B]           print the results table (see run.sh for the row format);
                                 A and B name the two servers (default: shelf nginx)
  dav-fixtures DIR N             make DIR a folder of N entries for the PROPFIND scenario
                                 (one folder in ten, files of 200 B - 20 KiB)
  multistatus FILE               check FILE is a WebDAV multistatus; print "<responses>
                                 <distinct hrefs> <bytes>"
"""

import json
import os
import xml.etree.ElementTree as ET
import random
import socket
import statistics
import sys
import time

# ---------------------------------------------------------------------------- small tools


def free_port():
    # Bind port 0 and let the kernel choose; the port is released on close. Another process
    # could grab it before the server binds, but on a loopback test box that race is harmless.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])


def target_dir():
    print(json.load(sys.stdin)["target_directory"])


def children(pid):
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # Field 4 (ppid) comes after the command name, which may contain spaces: split after ')'.
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[1] == str(pid):
            print(entry)


def cpu_seconds(pids):
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        fields = stat[stat.rindex(")") + 2 :].split()
        # utime and stime are fields 14 and 15 (1-based) of the whole line, i.e. 11 and 12 here.
        # For a thread-group leader they include the threads that already exited, which
        # matters for shelf (one thread per connection).
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def rss_kib(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


# ---------------------------------------------------------------------------- fixtures

JS_WORDS = [
    "function", "const", "let", "return", "if", "else", "for", "while", "new", "this",
    "await", "async", "import", "export", "default", "class", "extends", "null", "true",
    "false", "undefined", "typeof", "instanceof", "document", "window", "element", "value",
    "options", "config", "state", "props", "render", "update", "handler", "callback",
    "response", "request", "payload", "items", "index", "length", "push", "map", "filter",
]


def js_text(rng, size):
    """Text that compresses like real minified-ish JavaScript (roughly 4-5x with gzip -6)."""
    out = []
    n = 0
    i = 0
    while n < size:
        name = rng.choice(JS_WORDS) + rng.choice(JS_WORDS).capitalize() + str(rng.randrange(100))
        arg = rng.choice(JS_WORDS)
        body = " ".join(
            f"{rng.choice(JS_WORDS)}.{rng.choice(JS_WORDS)}({rng.randrange(1000)});"
            for _ in range(rng.randrange(1, 5))
        )
        chunk = (
            f"/* module {i} */\n"
            f"export function {name}({arg}, options = {{}}) {{\n"
            f"  const {arg}Value = {arg} ?? \"{rng.choice(JS_WORDS)}-{rng.randrange(1 << 20):x}\";\n"
            f"  if ({arg}Value.length > {rng.randrange(64)}) {{ {body} }}\n"
            f"  return {{ {arg}: {arg}Value, id: 0x{rng.randrange(1 << 32):08x} }};\n"
            f"}}\n"
        )
        out.append(chunk)
        n += len(chunk)
        i += 1
    return "".join(out).encode()[:size]


def text_like(rng, size, kind):
    words = [w for w in JS_WORDS] + ["lorem", "ipsum", "dolor", "amet", "shelf", "nginx"]
    if kind == "html":
        head = b"<!doctype html>\n<html><head><title>page</title></head><body>\n"
        line = lambda: f"<p class=\"{rng.choice(words)}\">{' '.join(rng.choices(words, k=8))}</p>\n"
    elif kind == "css":
        head = b"/* styles */\n"
        line = lambda: f".{rng.choice(words)}-{rng.randrange(100)} {{ margin: {rng.randrange(20)}px; color: #{rng.randrange(1 << 24):06x}; }}\n"
    elif kind == "json":
        head = b"["
        line = lambda: json.dumps({"id": rng.randrange(10**6), "name": rng.choice(words), "tags": rng.choices(words, k=3)}) + ",\n"
    elif kind == "js":
        return js_text(rng, size)
    else:  # txt
        head = b""
        line = lambda: " ".join(rng.choices(words, k=12)) + "\n"
    buf = bytearray(head)
    while len(buf) < size:
        buf += line().encode()
    return bytes(buf[:size])


def png_like(rng, size):
    # A real PNG signature and IHDR, then incompressible bytes: what an image looks like to a
    # file server (served as-is, never worth compressing).
    head = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00"
    return (head + rng.randbytes(max(0, size - len(head))))[:size]


def fixtures(root, paths_file):
    rng = random.Random(20240601)  # fixed seed: the same bytes on every run and machine
    os.makedirs(os.path.join(root, "mixed"), exist_ok=True)
    with open(os.path.join(root, "1k.bin"), "wb") as f:
        f.write(rng.randbytes(1024))
    with open(os.path.join(root, "app.js"), "wb") as f:
        f.write(js_text(rng, 100 * 1024))
    with open(os.path.join(root, "big.bin"), "wb") as f:
        block = rng.randbytes(1 << 20)
        for _ in range(64):  # 64 MiB, written 1 MiB at a time
            f.write(block)
    kinds = ["html", "css", "js", "json", "png", "txt"]
    paths = []
    for i in range(200):
        kind = kinds[i % len(kinds)]
        # Mostly small files, a few up to 20 KiB: log-uniform between 200 B and 20 KiB.
        size = int(200 * (100 ** rng.random()))
        data = png_like(rng, size) if kind == "png" else text_like(rng, size, kind)
        name = f"f{i:03d}.{kind}"
        with open(os.path.join(root, "mixed", name), "wb") as f:
            f.write(data)
        paths.append(f"/mixed/{name}")
    with open(paths_file, "w") as f:
        f.write("\n".join(paths) + "\n")


def dav_fixtures(folder, n):
    """A folder of n entries as a WebDAV client lists it: mostly files of a few kinds and
    sizes (so getcontenttype and getcontentlength vary), one entry in ten a subfolder."""
    rng = random.Random(20261203)  # fixed seed: the same folder on every run and machine
    kinds = ["txt", "html", "css", "js", "json", "png", "pdf", "jpg"]
    os.makedirs(folder, exist_ok=True)
    for i in range(n):
        if i % 10 == 9:
            os.makedirs(os.path.join(folder, f"folder-{i:04d}"), exist_ok=True)
            continue
        size = int(200 * (100 ** rng.random()))
        with open(os.path.join(folder, f"file-{i:04d}.{kinds[i % len(kinds)]}"), "wb") as f:
            f.write(b"x" * size)


def multistatus(path):
    """Parse a 207 body as XML (any prefix for DAV:); count its responses and their hrefs."""
    with open(path, "rb") as f:
        body = f.read()
    try:
        root = ET.fromstring(body)
    except ET.ParseError as e:
        sys.exit(f"{path}: not well-formed XML: {e}")
    if root.tag != "{DAV:}multistatus":
        sys.exit(f"{path}: the root element is {root.tag}, not DAV: multistatus")
    responses = root.findall("{DAV:}response")
    hrefs = {r.findtext("{DAV:}href") for r in responses}
    print(len(responses), len(hrefs - {None}), len(body))


# ---------------------------------------------------------------------------- idle connections


def read_response(sock):
    """Read one response with a Content-Length body; return its status code."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the response head")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed in the response body")
        rest += chunk
    return status


def idle_rss(port, n, path, pids):
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    socks = []
    try:
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(request)
            status = read_response(s)
            if status != 200:
                raise RuntimeError(f"status {status} on connection {len(socks) + 1}")
            socks.append(s)
        # Let the servers settle (threads park, workers go back to epoll) before reading RSS.
        time.sleep(1.0)
        rss = rss_kib(pids)
        # Count the connections the server still holds open: a closed one reads b"" at once.
        alive = 0
        for s in socks:
            s.setblocking(False)
            try:
                alive += 0 if s.recv(1, socket.MSG_PEEK) == b"" else 1
            except BlockingIOError:
                alive += 1
            except OSError:
                pass
        print(rss, alive)
    finally:
        for s in socks:
            s.close()


# ---------------------------------------------------------------------------- wrk and report


def wrk_line(path):
    """The machine-readable line report.lua's done() prints, as KEY=VALUE pairs on one line."""
    with open(path) as f:
        for line in f:
            if line.startswith("BENCH "):
                print(line[6:].strip())
                return
    sys.exit(f"no BENCH line in {path} (did wrk fail?)")


def fmt_value(value, unit):
    if unit == "req/s":
        return f"{value:,.0f} req/s"
    if unit == "MiB/s":
        return f"{value:,.1f} MiB/s"
    if unit == "MiB":
        return f"{value:,.1f} MiB"
    if unit == "KiB":
        return f"{value:,.1f} KiB"
    if unit == "us":
        return f"{value:,.1f} µs"
    return f"{value} {unit}"


def report(results_path, servers=("shelf", "nginx")):
    """Rows of RESULTS: `scenario<TAB>server<TAB>value<TAB>unit`, one per round (or one), and
    notes `scenario<TAB>-<TAB>-<TAB>text` shown at the end of the scenario's line.

    Throughput scenarios come first, in the order run; then the resource rows (RSS, CPU). A
    ratio only where both servers were measured: a server that was not has no number."""
    order = []
    values = {}
    units = {}
    notes = {}
    with open(results_path) as f:
        for line in f:
            scenario, server, value, unit = line.rstrip("\n").split("\t")
            if server == "-":
                notes.setdefault(scenario, []).append(unit)
                continue
            if scenario not in units:
                order.append(scenario)
                units[scenario] = unit
            values.setdefault((scenario, server), []).append(float(value))
    throughput = ("req/s", "MiB/s")
    order.sort(key=lambda s: units[s] not in throughput)  # stable: keeps the run order
    first, second = servers
    print(f"{'scenario':<15}{first:<18}{second:<18}{first}/{second}")
    for scenario in order:
        unit = units[scenario]
        cells = []
        medians = {}
        for server in servers:
            got = values.get((scenario, server))
            if got:
                medians[server] = statistics.median(got)
                cells.append(fmt_value(medians[server], unit))
            else:
                cells.append("n/a")
        # A ratio only for throughput, where higher is better in both columns alike.
        ratio = ""
        if unit in throughput and first in medians and medians.get(second):
            ratio = f"{medians[first] / medians[second]:.2f}"
        note = "; ".join(notes.get(scenario, []))
        line = f"{scenario:<15}{cells[0]:<18}{cells[1]:<18}{ratio:<6}"
        if note:
            line += f"  (!) {note}"
        print(line.rstrip())


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "free-port":
        free_port()
    elif cmd == "target-dir":
        target_dir()
    elif cmd == "fixtures":
        fixtures(args[0], args[1])
    elif cmd == "children":
        children(args[0])
    elif cmd == "cpu":
        print(f"{cpu_seconds(args):.2f}")
    elif cmd == "rss":
        print(rss_kib(args))
    elif cmd == "idle-rss":
        idle_rss(int(args[0]), int(args[1]), args[2], args[3:])
    elif cmd == "wrk-line":
        wrk_line(args[0])
    elif cmd == "report":
        report(args[0], tuple(args[1:3]) if len(args) >= 3 else ("shelf", "nginx"))
    elif cmd == "dav-fixtures":
        dav_fixtures(args[0], int(args[1]))
    elif cmd == "multistatus":
        multistatus(args[0])
    else:
        sys.exit(f"unknown subcommand {cmd}\n{__doc__}")


if __name__ == "__main__":
    main(sys.argv)
