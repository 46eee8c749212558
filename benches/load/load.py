#!/usr/bin/env python3
"""The load benchmark's harness (benches/load/run.sh runs it; see
docs/performance.md): contributions over HTTP with wrk against the real
`commonpot serve`, on SQLite and PostgreSQL, then the exactly-once check and
`commonpot verify`, then the raw SQL ceiling for the same minimal write
measured in the same run. Python standard library only; needs wrk, and psql
and pgbench for PostgreSQL.
"""

import argparse
import base64
import datetime
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LUA = os.path.join(HERE, "contribute.lua")
PASSWORD = "load benchmark password 1234"
EMAIL = "load@example.org"


def log(*parts):
    print("[load]", *parts, file=sys.stderr, flush=True)


def load1():
    """The 1-minute load average now."""
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def uptime():
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, token=None, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=60) as res:
            return res.status, json.loads(res.read() or b"null")
    except urllib.error.HTTPError as e:
        raise SystemExit(f"{method} {url}: {e.code} {e.read()[:500]!r}")


class Database:
    """A fresh database: a SQLite file in a temporary folder, or a new
    PostgreSQL database on the server given (dropped afterwards)."""

    def __init__(self, kind, workdir, pg_admin_url):
        self.kind = kind
        self.pg_admin_url = pg_admin_url
        if kind == "sqlite":
            self.path = os.path.join(workdir, "load.db")
            self.url = "sqlite://" + self.path
        else:
            self.name = "cp_load_" + uuid.uuid4().hex[:12]
            self.psql_admin(f"CREATE DATABASE {self.name}")
            base = pg_admin_url.rsplit("/", 1)[0]
            self.url = f"{base}/{self.name}"

    def psql_admin(self, sql):
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", self.pg_admin_url, "-c", sql],
                       check=True, capture_output=True, text=True)

    def query(self, sql):
        """Rows of a query, as tuples of strings (PostgreSQL) or values."""
        if self.kind == "sqlite":
            with sqlite3.connect(self.path) as conn:
                return conn.execute(sql).fetchall()
        out = subprocess.run(["psql", "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                              self.url, "-c", sql], check=True, capture_output=True, text=True).stdout
        return [tuple(line.split("\t")) for line in out.splitlines() if line]

    def scalar(self, sql):
        return int(self.query(sql)[0][0])

    def drop(self):
        if self.kind == "postgres":
            self.psql_admin(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


class Server:
    """The real `commonpot serve`, in its own process."""

    def __init__(self, binary, env, workdir):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.logfile = open(os.path.join(workdir, "serve.log"), "ab")
        self.proc = subprocess.Popen([binary, "serve", "--bind", f"127.0.0.1:{self.port}"],
                                     env=env, cwd=workdir, stdout=self.logfile,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"commonpot serve exited ({self.proc.returncode}); see {self.logfile.name}")
            try:
                with urllib.request.urlopen(self.base + "/readyz", timeout=2) as res:
                    if res.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.time() > deadline:
                self.stop()
                raise SystemExit("commonpot serve did not become ready in 60 s")
            time.sleep(0.2)

    def stop(self):
        """A graceful stop: requests in flight finish before it exits."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logfile.close()


def setup(binary, env, server, pools):
    """An admin and their collective (the CLI's bootstrap), a token, pools."""
    out = subprocess.run([binary, "admin", "bootstrap", "--email", EMAIL, "--name", "Load",
                          "--collective", "Load benchmark"],
                         env={**env, "COMMONPOT_BOOTSTRAP_PASSWORD": PASSWORD},
                         check=True, capture_output=True, text=True).stdout
    collective = json.loads(out)["collective"]["id"]
    _, token = http("POST", server.base + "/api/v1/auth/token",
                    body={"grant_type": "password", "username": EMAIL, "password": PASSWORD})
    token = token["access_token"]
    ids = []
    for i in range(pools):
        _, pool = http("POST", f"{server.base}/api/v1/collectives/{collective}/pools", token,
                       {"name": f"Load pool {i + 1}", "currency": "EUR"})
        ids.append(pool["id"])
    return collective, token, ids


def wrk(server, token, pools, seconds, connections, threads, workdir, tag):
    out = os.path.join(workdir, f"wrk-{tag}.json")
    env = {**os.environ, "LOAD_TOKEN": token, "LOAD_POOLS": ",".join(pools),
           "LOAD_RUN": f"{tag}-{uuid.uuid4().hex[:8]}", "LOAD_OUT": out}
    before = load1()
    text = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
                           "--timeout", "30s", "-s", LUA, server.base],
                          env=env, check=True, capture_output=True, text=True).stdout
    after = load1()
    with open(out) as f:
        result = json.load(f)
    with open(out + ".acked") as f:
        acked = [line.strip() for line in f if line.strip()]
    ok = sum(c for s, c in result["statuses"].items() if 200 <= int(s) < 300)
    seconds_run = result["duration_us"] / 1e6
    result.update({
        "tag": tag, "load_before": before, "load_after": after, "ok": ok,
        "non_2xx": result["requests"] - ok,
        "socket_errors": sum(v for k, v in result["errors"].items() if k != "status"),
        "ok_per_second": ok / seconds_run, "wrk_text": text,
    })
    log(f"{tag}: {ok / seconds_run:.0f} 2xx/s, p50 {result['latency_us']['p50'] / 1000:.1f} ms, "
        f"p99 {result['latency_us']['p99'] / 1000:.1f} ms, statuses {result['statuses']}, "
        f"socket errors {result['errors']}, load {before:.2f}->{after:.2f}")
    return result, acked


def check(db, runs, acked):
    """Every write answered 2xx is booked exactly once, and nothing else is."""
    answered = sum(r["ok"] for r in runs)
    distinct = set(acked)
    booked_ids = {row[0] for row in db.query("SELECT id FROM contributions")}
    c = {
        "answered_2xx": answered,
        "answered_ids": len(acked),
        "answered_distinct_ids": len(distinct),
        "answered_not_booked": len(distinct - booked_ids),
        "contributions": len(booked_ids),
        "entries": db.scalar("SELECT count(*) FROM ledger_entries WHERE reference_kind = 'contribution'"),
        "postings": db.scalar(
            "SELECT count(*) FROM ledger_postings p JOIN ledger_entries e "
            "ON e.collective_id = p.collective_id AND e.id = p.entry_id "
            "WHERE e.reference_kind = 'contribution'"),
        "contributions_without_one_entry_of_two_postings": db.scalar(
            "SELECT count(*) FROM contributions c WHERE "
            "(SELECT count(*) FROM ledger_entries e WHERE e.id = c.entry_id "
            "  AND e.reference_kind = 'contribution' AND e.reference_id = c.id) <> 1 "
            "OR (SELECT count(*) FROM ledger_postings p WHERE p.entry_id = c.entry_id) <> 2"),
        "entries_without_contribution": db.scalar(
            "SELECT count(*) FROM ledger_entries e WHERE e.reference_kind = 'contribution' "
            "AND NOT EXISTS (SELECT 1 FROM contributions c WHERE c.id = e.reference_id)"),
        "idempotency_records_201": db.scalar(
            "SELECT count(*) FROM idempotency_keys WHERE endpoint LIKE 'POST /api/v1/pools/%/contributions' "
            "AND response_status = 201"),
        "received_minor_total": db.scalar("SELECT coalesce(sum(received_minor), 0) FROM pools"),
        "contributed_minor_total": db.scalar("SELECT coalesce(sum(amount_minor), 0) FROM contributions"),
    }
    c["booked_not_answered"] = c["contributions"] - len(distinct & booked_ids)
    # wrk stops at the deadline without reading the answers still in flight
    # (one per connection): those may be booked but not answered. The Lua
    # script counts the requests it built; those not answered bound them.
    c["in_flight_bound"] = sum(r["sent"] - r["requests"] for r in runs)
    c["exactly_once"] = (
        c["answered_ids"] == answered
        and c["answered_distinct_ids"] == answered
        and c["answered_not_booked"] == 0
        and c["contributions_without_one_entry_of_two_postings"] == 0
        and c["entries_without_contribution"] == 0
        and c["entries"] == c["contributions"]
        and c["postings"] == 2 * c["contributions"]
        and c["idempotency_records_201"] == c["contributions"]
        and c["received_minor_total"] == c["contributed_minor_total"]
        and 0 <= c["booked_not_answered"] <= c["in_flight_bound"]
    )
    return c


def verify(binary, env):
    proc = subprocess.run([binary, "verify"], env=env, capture_output=True, text=True)
    return {"passed": proc.returncode == 0, "output": (proc.stdout + proc.stderr).strip()}


PG_WRITE = """\
UPDATE pools SET available_minor = available_minor + 100, received_minor = received_minor + 100
  WHERE id = (SELECT id FROM load_pool_ids WHERE n = :n);
INSERT INTO ledger_entries (collective_id, id, pool_id, kind, reference_kind, reference_id, reverses_entry_id, created_at)
  SELECT collective_id, 'e' || :client_id || '-' || :r || '-{k}', id, 'contribution', 'load_ceiling',
         'e' || :client_id || '-' || :r || '-{k}', NULL, localtimestamp FROM load_pool_ids WHERE n = :n;
INSERT INTO ledger_postings (collective_id, id, entry_id, pool_id, account, amount_minor, currency)
  SELECT collective_id, 'p' || :client_id || '-' || :r || '-{k}-1', 'e' || :client_id || '-' || :r || '-{k}', id,
         'contributions_in', -100, currency FROM load_pool_ids WHERE n = :n;
INSERT INTO ledger_postings (collective_id, id, entry_id, pool_id, account, amount_minor, currency)
  SELECT collective_id, 'p' || :client_id || '-' || :r || '-{k}-2', 'e' || :client_id || '-' || :r || '-{k}', id,
         'available', 100, currency FROM load_pool_ids WHERE n = :n;
"""

PG_MULTI_ROW = """\
UPDATE pools SET available_minor = available_minor + 100 * {batch}, received_minor = received_minor + 100 * {batch}
  WHERE id = (SELECT id FROM load_pool_ids WHERE n = :n);
INSERT INTO ledger_entries (collective_id, id, pool_id, kind, reference_kind, reference_id, reverses_entry_id, created_at)
  SELECT collective_id, 'e' || :client_id || '-' || :r || '-' || g, id, 'contribution', 'load_ceiling',
         'e' || :client_id || '-' || :r || '-' || g, NULL, localtimestamp
  FROM load_pool_ids, generate_series(1, {batch}) g WHERE n = :n;
INSERT INTO ledger_postings (collective_id, id, entry_id, pool_id, account, amount_minor, currency)
  SELECT collective_id, 'p' || :client_id || '-' || :r || '-' || g || '-' || a.k, 'e' || :client_id || '-' || :r || '-' || g,
         id, a.account, a.amount, currency
  FROM load_pool_ids, generate_series(1, {batch}) g,
       (VALUES (1, 'contributions_in', -100), (2, 'available', 100)) AS a (k, account, amount)
  WHERE n = :n;
"""


def pg_script(pools, batch, multi_row):
    """A pgbench script: one transaction of `batch` minimal writes. One per
    transaction: to a pool drawn at random (as HTTP requests rotate). Batched:
    all to the client's own pool (as writers sharded by pool would: a batch
    never waits for another's row lock)."""
    pick = f"random(1, {pools})" if batch == 1 else f"1 + :client_id % {pools}"
    head = f"\\set n {pick}\n\\set r random(1, 9223372036854775806)\nBEGIN;\n"
    if multi_row:
        body = PG_MULTI_ROW.format(batch=batch)
    else:
        body = "".join(PG_WRITE.format(k=k) for k in range(batch))
    return head + body + "END;\n"


def pg_ceiling(db, workdir, seconds, clients, cases):
    db.query("CREATE TABLE load_pool_ids AS SELECT (row_number() OVER (ORDER BY id))::int AS n, "
             "collective_id, id, currency FROM pools")
    db.query("ALTER TABLE load_pool_ids ADD PRIMARY KEY (n)")
    results = []
    for label, pools, batch, multi_row in cases:
        script = os.path.join(workdir, f"pgbench-{pools}-{batch}-{int(multi_row)}.sql")
        with open(script, "w") as f:
            f.write(pg_script(pools, batch, multi_row))
        before = load1()
        proc = subprocess.run(["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", "2",
                               "-T", str(seconds), "-f", script, db.url],
                              capture_output=True, text=True)
        after = load1()
        if proc.returncode != 0:
            raise SystemExit(f"pgbench failed ({label}):\n{proc.stdout}\n{proc.stderr}")
        tps = float(re.search(r"tps = ([0-9.]+)", proc.stdout).group(1))
        latency = re.search(r"latency average = ([0-9.]+) ms", proc.stdout)
        failed = re.search(r"number of failed transactions: (\d+)", proc.stdout)
        r = {"label": label, "pools": pools, "batch": batch, "multi_row": multi_row,
             "clients": clients, "transactions_per_second": tps, "writes_per_second": tps * batch,
             "latency_avg_ms": float(latency.group(1)) if latency else None,
             "failed_transactions": int(failed.group(1)) if failed else 0,
             "load_before": before, "load_after": after}
        log(f"pgbench {label}: {r['writes_per_second']:.0f} writes/s "
            f"({tps:.0f} tx/s, latency avg {r['latency_avg_ms']} ms), load {before:.2f}->{after:.2f}")
        results.append(r)
    return results


def sqlite_ceiling(binary, db, seconds, cases):
    results = []
    for label, pools, batch in cases:
        before = load1()
        out = subprocess.run([binary, "--db", db.path, "--seconds", str(seconds), "--batch", str(batch),
                              "--pools", str(pools)], check=True, capture_output=True, text=True).stdout
        after = load1()
        r = json.loads(out.strip().splitlines()[-1])
        r.update({"label": label, "load_before": before, "load_after": after,
                  "implementation": "diesel, the server's bundled SQLite"})
        log(f"sqlite {label}: {r['writes_per_second']:.0f} writes/s, load {before:.2f}->{after:.2f}")
        results.append(r)
    return results


def sqlite_ceiling_python(db, seconds, cases):
    """The same minimal write as benches/load/sqlite_ceiling.rs, from
    Python's sqlite3 module (its own SQLite library, not the server's; a
    little interpreter time per statement): used when the Rust bench is not
    built. One connection, WAL, `synchronous = FULL`, prepared statements
    (sqlite3 caches them)."""
    results = []
    for label, pools, batch in cases:
        conn = sqlite3.connect(db.path, isolation_level=None)
        conn.executescript("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; "
                           "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")
        synchronous = conn.execute("PRAGMA synchronous").fetchone()[0]
        assert synchronous == 2, synchronous
        targets = conn.execute("SELECT collective_id, id, currency FROM pools ORDER BY id LIMIT ?",
                               (pools,)).fetchall()
        before = load1()
        writes = transactions = 0
        started = time.perf_counter()
        deadline = started + seconds
        while time.perf_counter() < deadline:
            conn.execute("BEGIN")
            for _ in range(batch):
                collective, pool, currency = targets[writes % len(targets)]
                at = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
                entry = str(uuid.uuid4())
                moved = conn.execute("UPDATE pools SET available_minor = available_minor + ?, "
                                     "received_minor = received_minor + ? WHERE id = ?",
                                     (100, 100, pool)).rowcount
                assert moved == 1
                conn.execute("INSERT INTO ledger_entries (collective_id, id, pool_id, kind, reference_kind, "
                             "reference_id, reverses_entry_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             (collective, entry, pool, "contribution", "load_ceiling", entry, None, at))
                for account, minor in (("contributions_in", -100), ("available", 100)):
                    conn.execute("INSERT INTO ledger_postings (collective_id, id, entry_id, pool_id, account, "
                                 "amount_minor, currency) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 (collective, str(uuid.uuid4()), entry, pool, account, minor, currency))
                writes += 1
            conn.execute("COMMIT")
            transactions += 1
        elapsed = time.perf_counter() - started
        conn.close()
        after = load1()
        r = {"label": label, "batch": batch, "pools": len(targets), "writes": writes,
             "transactions": transactions, "seconds": elapsed, "writes_per_second": writes / elapsed,
             "implementation": f"python sqlite3, SQLite {sqlite3.sqlite_version}",
             "load_before": before, "load_after": after}
        log(f"sqlite (python) {label}: {r['writes_per_second']:.0f} writes/s, load {before:.2f}->{after:.2f}")
        results.append(r)
    return results


def run_database(kind, args, server_env_base):
    workdir = tempfile.mkdtemp(prefix=f"commonpot-load-{kind}-")
    db = Database(kind, workdir, args.pg_url)
    env = {**server_env_base, "DATABASE_URL": db.url}
    result = {"database": kind}
    try:
        server = Server(args.binary, env, workdir)
        try:
            collective, token, pools = setup(args.binary, env, server, args.pools)
            runs, acked = [], []
            cases = [("warm-up", pools, args.warmup), (f"{len(pools)} pools", pools, args.duration),
                     ("one hot pool", pools[:1], args.duration)]
            for tag, targets, seconds in cases:
                if seconds <= 0:
                    continue
                r, ids = wrk(server, token, targets, seconds, args.connections, args.threads, workdir,
                             tag.replace(" ", "-"))
                r["case"] = tag
                runs.append(r)
                acked.extend(ids)
        finally:
            server.stop()
        result["http"] = [r for r in runs if r["case"] != "warm-up"]
        result["check"] = check(db, runs, acked)
        result["verify"] = verify(args.binary, env)
        log(f"{kind}: exactly once {result['check']['exactly_once']}: {result['check']}")
        log(f"{kind}: verify passed {result['verify']['passed']}")
        if args.ceiling > 0:
            if kind == "sqlite":
                cases = [("one per transaction", args.pools, 1),
                         (f"{args.batch} per transaction", args.pools, args.batch)]
                if args.sqlite_ceiling:
                    result["ceiling"] = sqlite_ceiling(args.sqlite_ceiling, db, args.ceiling, cases)
                else:
                    log("sqlite: no --sqlite-ceiling executable: the raw SQL ceiling from Python's sqlite3")
                    result["ceiling"] = sqlite_ceiling_python(db, args.ceiling, cases)
            else:
                result["ceiling"] = pg_ceiling(db, workdir, args.ceiling, args.pg_clients, [
                    (f"one per transaction, {args.pools} pools", args.pools, 1, False),
                    ("one per transaction, one hot pool", 1, 1, False),
                    (f"{args.batch} per transaction, statement by statement", args.pools, args.batch, False),
                    (f"{args.batch} per transaction, multi-row inserts", args.pools, args.batch, True)])
    finally:
        if not args.keep:
            db.drop()
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log(f"kept {workdir} and {db.url}")
    return result


NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


def ms(us):
    return f"{us / 1000:.1f} ms"


def render(report):
    a = report["args"]
    lines = [
        f"Run {report['started']} – {report['finished']} (UTC), commit `{report['commit']}`, "
        f"{report['cpus']} CPUs; `uptime` at the start: `{report['uptime_start']}`; "
        f"at the end: `{report['uptime_end']}`.",
        "",
        f"HTTP: wrk, {a['connections']} connections, {a['threads']} threads, {a['duration']} s per case "
        f"after a {a['warmup']} s warm-up, each request a new contribution of 1.00 with a fresh "
        f"`Idempotency-Key`; raw SQL: {a['ceiling']} s per case. Load = the 1-minute load average "
        "at the start → end of the row.",
        "",
        "| database | what | writes/s | p50 | p99 | non-2xx / socket errors | load |",
        "|---|---|---|---|---|---|---|",
    ]
    for d in report["databases"]:
        name = NAMES[d["database"]]
        for r in d.get("http", []):
            refused = ", ".join(f"{c} × {s}" for s, c in sorted(r["statuses"].items()) if not 200 <= int(s) < 300)
            non_2xx = f"{r['non_2xx']} ({refused})" if refused else str(r["non_2xx"])
            lines.append(
                f"| {name} | HTTP, {r['case']} | {r['ok_per_second']:,.0f} | {ms(r['latency_us']['p50'])} | "
                f"{ms(r['latency_us']['p99'])} | {non_2xx} / {r['socket_errors']} | "
                f"{r['load_before']:.1f} → {r['load_after']:.1f} |")
        for r in d.get("ceiling", []):
            if d["database"] == "sqlite":
                what = f"raw SQL, {r['label']} (1 connection; {r.get('implementation', 'diesel')})"
                extra = "—"
            else:
                what = f"raw SQL (pgbench, {r['clients']} clients), {r['label']}"
                extra = f"{r['failed_transactions']} failed"
            lat = f"avg {r['latency_avg_ms']:.1f} ms / tx" if r.get("latency_avg_ms") else "—"
            lines.append(f"| {name} | {what} | {r['writes_per_second']:,.0f} | {lat} | — | {extra} | "
                         f"{r['load_before']:.1f} → {r['load_after']:.1f} |")
    lines += [
        "",
        "| database | 2xx answers | answered ids found booked | contributions booked | "
        "entries / postings | idempotency records | booked, answer not read (≤ in flight) | "
        "exactly once | `verify` |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for d in report["databases"]:
        c = d["check"]
        lines.append(
            f"| {NAMES[d['database']]} | {c['answered_2xx']:,} | "
            f"{c['answered_distinct_ids'] - c['answered_not_booked']:,} of {c['answered_distinct_ids']:,} distinct | "
            f"{c['contributions']:,} | {c['entries']:,} / {c['postings']:,} | {c['idempotency_records_201']:,} | "
            f"{c['booked_not_answered']} (≤ {c['in_flight_bound']}) | "
            f"{'yes' if c['exactly_once'] else '**NO**'} | {'passed' if d['verify']['passed'] else '**FAILED**'} |")
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--binary", default=os.path.join(ROOT, "target/release/commonpot"))
    p.add_argument("--sqlite-ceiling", help="the load_sqlite_ceiling bench executable")
    p.add_argument("--databases", default="sqlite,postgres")
    p.add_argument("--pg-url", default=os.environ.get("LOAD_PG_URL",
                                                      "postgres://postgres@127.0.0.1:5432/postgres"),
                   help="a PostgreSQL database to connect to for creating (and dropping) a fresh one")
    p.add_argument("--pools", type=int, default=64)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--duration", type=int, default=20, help="seconds per HTTP case")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--ceiling", type=int, default=10, help="seconds per raw SQL case (0: skip)")
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--pg-clients", type=int, default=32)
    p.add_argument("--commit", help="what the binary was built from (default: git HEAD)")
    p.add_argument("--keep", action="store_true", help="keep the databases and logs")
    p.add_argument("--out", default=os.path.join(ROOT, "target/load"))
    args = p.parse_args()
    args.binary = os.path.abspath(args.binary)
    if args.sqlite_ceiling:
        args.sqlite_ceiling = os.path.abspath(args.sqlite_ceiling)

    started = datetime.datetime.now(datetime.timezone.utc)
    report = {
        "started": started.strftime("%Y-%m-%d %H:%M"),
        "uptime_start": uptime(),
        "cpus": os.cpu_count(),
        "commit": args.commit or subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                                capture_output=True, text=True).stdout.strip(),
        "args": vars(args),
        "databases": [],
    }
    server_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("COMMONPOT_") and k != "DATABASE_URL"},
        "COMMONPOT_JWT_SECRET": "load-benchmark-secret-load-benchmark-secret",
        "COMMONPOT_ACCESS_TOKEN_TTL_SECS": "86400",
        # One field key for serve, admin bootstrap and verify alike (each
        # would otherwise look for its own key file in its working folder).
        "COMMONPOT_ENCRYPTION_KEYS": base64.b64encode(os.urandom(32)).decode(),
    }
    failed = False
    for kind in args.databases.split(","):
        log(f"{kind}: {uptime()}")
        d = run_database(kind, args, server_env)
        report["databases"].append(d)
        failed |= not (d["check"]["exactly_once"] and d["verify"]["passed"])
        if not d["verify"]["passed"]:
            log(d["verify"]["output"])
    report["finished"] = datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M")
    report["uptime_end"] = uptime()
    table = render(report)
    os.makedirs(args.out, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%S")
    with open(os.path.join(args.out, f"load-{stamp}.json"), "w") as f:
        json.dump(report, f, indent=1, default=str)
    with open(os.path.join(args.out, f"load-{stamp}.md"), "w") as f:
        f.write(table)
    print(table)
    log(f"written to {args.out}/load-{stamp}.{{md,json}}")
    if failed:
        log("FAILED: a write was not booked exactly once, or verify failed")
        sys.exit(1)


if __name__ == "__main__":
    main()
