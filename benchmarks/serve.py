"""``sxzones serve`` under load: a single site check with 20 concurrent clients (p50/p95/max
latency; target p95 < 200 ms), and one 100,000-row firm upload (seconds; every row screened
or rejected).

The server runs as its own process (``sxzones serve`` on a free port of 127.0.0.1, with its
worker processes), as a reviewer's laptop or an intranet host would run it; the clients are
threads of this process (http.client, each its own keep-alive connection, the next request
sent as soon as the answer came: a closed loop with no pause), on the same cores as the
server. Each client
cycles through :data:`POINTS` from its own starting point, so that concurrent requests are
of different places. Prints the load average before and after, since the machine may be
shared, and the CPU time spent per site check by the server's HTTP process, by its worker
processes, and by the clients (they take that much of the cores from the server: with N
clients on C cores the mean latency is about N x (server + client CPU) / C). Checks that the
served verdicts are the command's for every point (``sxzones check``), and that the firm
upload's CSV is ``sxzones firms``'s byte for byte.

    .venv/bin/python benchmarks/serve.py [--clients 20] [--requests 400] [--rows 100000]
                                         [--workers N]
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import numpy as np

try:
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx  # type: ignore[no-redef]

#: Points across Shanxi (WGS84 longitude, latitude), each checked as its own project: city
#: centres (inside built-up areas, key control units), county towns within 20 km, open
#: country beyond, and four points in ecological red lines (priority protection units), so
#: that the verdicts are conflict, conditional and clear.
POINTS = [
    "112.30,37.56", "113.05,36.20", "111.52,36.08", "112.55,37.87", "112.73,37.70",
    "113.30,40.08", "112.43,39.33", "112.73,38.42", "113.58,37.86", "111.14,37.52",
    "112.85,35.49", "111.00,35.03", "111.95,38.95", "113.60,39.05", "110.80,36.50",
    "112.20,35.30", "113.40,37.10", "111.70,37.20", "112.00,36.60", "111.40,39.40",
    "112.45,38.90", "110.60,35.50", "113.20,38.70", "111.457,34.8414", "113.131,35.5856",
    "112.4573,38.0593", "112.2388,39.7818",
]  # fmt: skip


def start_server(workers: int | None) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    extra = [] if workers is None else ["--workers", str(workers)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "sxzones.cli", "--quiet", "serve", "--port", str(port), *extra],
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/api/setup", timeout=30).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not start")


def site_checks(url: str, clients: int, requests: int) -> list[float]:
    """Latencies (s) of ``requests`` site checks sent by ``clients`` threads at once.

    Each client is a keep-alive connection of the standard library's ``http.client``
    sending the page's form (URL-encoded, as a browser posts it) and reading the whole
    answer. Not httpx: the clients stand for browsers on other machines, yet here they run
    on the server's two cores, and httpx spent 2.2 ms of CPU per request there (http.client
    about a sixth of that), which the server's latency paid for."""
    times: list[float] = []
    lock = threading.Lock()
    per = requests // clients
    host, port = urllib.parse.urlsplit(url).netloc.rsplit(":", 1)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}

    def client(k: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=120)
        try:
            for i in range(per + 2):
                form = {
                    "coords": POINTS[(k + i) % len(POINTS)],
                    "crs": "wgs84",
                    "industry": "coking",
                }
                body = urllib.parse.urlencode(form)
                t = time.perf_counter()
                conn.request("POST", "/api/check", body, headers)
                r = conn.getresponse()
                answer = r.read()
                dt = time.perf_counter() - t
                assert r.status == 200, answer[:500]
                if i >= 2:  # the first two of each client warm its thread's indexes
                    with lock:
                        times.append(dt)
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times


def cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU time (user + system, s) so far of process ``pid`` (the server: HTTP, forms, the
    pipes to its workers) and of its children (the worker processes: the analyses)."""
    try:
        import psutil
    except ImportError:  # pragma: no cover
        return float("nan"), float("nan")
    main = psutil.Process(pid)
    return sum(main.cpu_times()[:2]), sum(
        sum(p.cpu_times()[:2]) for p in main.children(recursive=True)
    )


def cli(*args: str) -> None:
    r = subprocess.run([sys.executable, "-m", "sxzones.cli", "--quiet", *args], check=False)
    if r.returncode != 0:
        raise SystemExit(f"sxzones {' '.join(args)} failed")


def same_verdicts(url: str, folder: Path) -> str:
    """The served site check of each point against ``sxzones check`` of the same point."""
    for k, point in enumerate(POINTS):
        form = {"coords": point, "crs": "wgs84", "industry": "coking"}
        served = httpx.post(url + "/api/check", data=form, timeout=60).json()
        out = folder / f"check{k}"
        cli("check", "--project", point, "--crs", "wgs84", "--industry", "coking",
            "--out", str(out))  # fmt: skip
        doc = json.loads((out / "site_check.json").read_text(encoding="utf-8"))
        if served["document"]["projects"] != doc["projects"]:
            raise SystemExit(f"the served check of {point} is not the command's")
    return f"the served checks of {len(POINTS)} points are the command's"


def firm_list(rows: int) -> bytes:
    rng = np.random.default_rng(42)
    lon = rng.uniform(110.3, 114.5, rows)
    lat = rng.uniform(34.6, 40.7, rows)
    inds = np.array(["钢铁", "焦化", "水泥", "化工", "coking", "steel"])[rng.integers(0, 6, rows)]
    buf = io.StringIO()
    buf.write("firm_id,name,industry,lon,lat\n")
    for i in range(rows):
        buf.write(f"F{i},企业{i},{inds[i]},{lon[i]:.6f},{lat[i]:.6f}\n")
    return buf.getvalue().encode("utf-8")


def firm_upload(url: str, data: bytes) -> tuple[float, dict]:
    t = time.perf_counter()
    r = httpx.post(
        url + "/api/firms",
        data={"crs": "wgs84"},
        files={"file": ("firms.csv", data)},
        timeout=900,
    )
    dt = time.perf_counter() - t
    assert r.status_code == 200, r.text[:500]
    return dt, r.json()


def same_firm_csv(url: str, res: dict, data: bytes, folder: Path) -> str:
    """The upload's firm_zones.csv against the command the page shows, run on the same file."""
    (folder / "firms.csv").write_bytes(data)
    args = shlex.split(res["command"])[1:]
    args[args.index("--firms") + 1] = str(folder / "firms.csv")
    args[args.index("--out") + 1] = str(folder / "firms-cli")
    cli(*args)
    web = httpx.get(f"{url}/download/{res['job']}/firm_zones.csv", timeout=300).content
    if web != (folder / "firms-cli" / "firm_zones.csv").read_bytes():
        raise SystemExit("the uploaded list's firm_zones.csv is not the command's")
    return f"firm_zones.csv ({len(web) / 1e6:.1f} MB) is the command's byte for byte"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=None, help="default: the server's")
    a = ap.parse_args()
    print(f"load average before: {os.getloadavg()}; cores: {os.cpu_count()}")
    proc, url = start_server(a.workers)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            print(same_verdicts(url, Path(tmp)))
            server0, workers0 = cpu_seconds(proc.pid)
            client0 = time.process_time()
            times = sorted(site_checks(url, a.clients, a.requests))
            sent = len(times) + 2 * a.clients  # with the two warm-up requests of each client
            client = (time.process_time() - client0) / sent
            server1, workers1 = cpu_seconds(proc.pid)
            server, workers = (server1 - server0) / sent, (workers1 - workers0) / sent
            load = os.getloadavg()
            p = lambda q: times[min(len(times) - 1, int(q * len(times)))] * 1000  # noqa: E731
            print(
                f"site check, {a.clients} concurrent clients, {len(times)} requests of "
                f"{len(POINTS)} points: p50 {p(0.5):.0f} ms, p95 {p(0.95):.0f} ms, max "
                f"{times[-1] * 1000:.0f} ms, mean {statistics.mean(times) * 1000:.0f} ms "
                f"(target p95 < 200 ms); load average at the end {load}"
            )
            print(
                f"CPU per request: server {(server + workers) * 1000:.1f} ms (HTTP process "
                f"{server * 1000:.1f} + workers {workers * 1000:.1f}); the clients (threads "
                f"of this process, on the same cores) {client * 1000:.1f} ms"
            )
            data = firm_list(a.rows)
            dt, res = firm_upload(url, data)
            print(
                f"firm upload, {a.rows} rows: {dt:.1f} s; screened {res['rows']} + rejected "
                f"{res['n_rejects']} = {res['rows'] + res['n_rejects']}; zones {res['counts']}"
            )
            print(same_firm_csv(url, res, data, Path(tmp)))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
