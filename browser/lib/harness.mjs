// The browser suite's harness: starts the real `commonpot serve` on a free
// port with a fresh database (SQLite file, or a new PostgreSQL database
// when TEST_DATABASE_URL is set), drives Debian's Chromium through
// playwright-core, and checks every page it shows: no request leaves
// 127.0.0.1, axe-core finds no serious or critical violation, and nothing
// scrolls sideways at 360 px.

import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
export const BINARY = process.env.COMMONPOT_BIN || path.join(ROOT, "target/debug/commonpot");
export const PASSWORD = "correct horse battery staple";
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

function freshDatabase() {
  const server = process.env.TEST_DATABASE_URL;
  if (server) {
    const name = `cp_browser_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
    execFileSync("psql", [server, "-qAtc", `CREATE DATABASE ${name}`]);
    const base = server.slice(0, server.lastIndexOf("/"));
    return {
      url: `${base}/${name}`,
      drop: () => execFileSync("psql", [server, "-qAtc", `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`]),
    };
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), "cp-browser-"));
  return { url: `sqlite://${dir}/commonpot.db`, dir, drop: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A running service with its own database. */
export class App {
  static async start() {
    const app = new App();
    app.db = freshDatabase();
    app.port = await freePort();
    app.base = `http://127.0.0.1:${app.port}`;
    app.dir = mkdtempSync(path.join(os.tmpdir(), "cp-app-"));
    app.env = {
      ...process.env,
      DATABASE_URL: app.db.url,
      COMMONPOT_BIND: `127.0.0.1:${app.port}`,
      COMMONPOT_JWT_SECRET: "browser-tests-secret-browser-tests-secret-0123",
      COMMONPOT_KEY_FILE: path.join(app.dir, "key"),
      RUST_LOG: "warn",
    };
    app.process = spawn(BINARY, ["serve"], { env: app.env, stdio: ["ignore", "ignore", "inherit"] });
    for (let i = 0; i < 200; i++) {
      try {
        const r = await fetch(`${app.base}/readyz`);
        if (r.ok) return app;
      } catch {}
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("commonpot serve did not become ready");
  }

  async stop() {
    this.process.kill("SIGTERM");
    await new Promise((r) => this.process.once("exit", r));
    this.db.drop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** `commonpot admin bootstrap`: the first admin and their collective. */
  bootstrap(email, name, collective, timeZone = "Europe/Berlin") {
    const out = execFileSync(
      BINARY,
      ["admin", "bootstrap", "--email", email, "--name", name, "--collective", collective, "--time-zone", timeZone],
      { env: { ...this.env, COMMONPOT_BOOTSTRAP_PASSWORD: PASSWORD } },
    );
    return JSON.parse(out.toString());
  }

  /** The JSON API, as a partner app or a test setting up data would call it. */
  async api(method, path, { token, body, key } = {}) {
    const headers = { "content-type": "application/json" };
    if (token) headers.authorization = `Bearer ${token}`;
    if (key) headers["idempotency-key"] = key;
    const r = await fetch(`${this.base}/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    const json = text ? JSON.parse(text) : null;
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
    return json;
  }

  async token(email) {
    const r = await this.api("POST", "/auth/token", {
      body: { grant_type: "password", username: email, password: PASSWORD },
    });
    return r.access_token;
  }

  /** An admin and their collective, with a token. */
  async admin(email = "ada@example.org", name = "Ada", collective = "Northside Mutual Aid") {
    const boot = this.bootstrap(email, name, collective);
    return { email, name, collectiveId: boot.collective.id, token: await this.token(email), membershipId: boot.membership.id };
  }

  /** Invites someone and accepts for them through the API: an active member. */
  async member(admin, email, name, role = "member") {
    const inv = await this.api("POST", `/collectives/${admin.collectiveId}/members`, {
      token: admin.token,
      body: { email, display_name: name, role },
    });
    await this.api("POST", "/invitations/accept", { body: { invitation_token: inv.invitation_token, password: PASSWORD } });
    return { email, name, membershipId: inv.membership.id, token: await this.token(email), collectiveId: admin.collectiveId };
  }

  async pool(admin, body = {}) {
    return this.api("POST", `/collectives/${admin.collectiveId}/pools`, {
      token: admin.token,
      body: { name: "Rent relief", currency: "EUR", goal: "5000.00", rules: { approvals_needed: 2 }, ...body },
    });
  }

  async contribute(admin, poolId, amount) {
    return this.api("POST", `/pools/${poolId}/contributions`, {
      token: admin.token,
      key: crypto.randomUUID(),
      body: { amount, method: "cash" },
    });
  }
}

/** Headless Chromium, from Debian's package: never a downloaded build. */
export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-default-apps",
      "--disable-features=Translate,OptimizationHints,MediaRouter",
    ],
  });
}

/**
 * A phone-sized browser page for one person. Every request it makes is
 * recorded; any that would leave 127.0.0.1 is blocked and fails the test.
 * `javaScript: false` turns the page's scripts off: the checks below still
 * run, except axe-core, whose checks wait on timers a script-less page
 * never fires (the same pages are checked by axe with scripts on).
 */
export async function phone(browser, app, { javaScript = true } = {}) {
  const context = await browser.newContext({
    viewport: { width: 360, height: 740 },
    baseURL: app.base,
    javaScriptEnabled: javaScript,
  });
  const outside = [];
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.hostname !== "127.0.0.1") {
      outside.push(url.href);
      return route.abort();
    }
    return route.continue();
  });
  const page = await context.newPage();
  page.outside = outside;
  page.app = app;
  page.noScript = !javaScript;
  return page;
}

/** The checks every page gets: nothing from outside, axe, 360 px. */
export async function checkPage(page) {
  assert.deepEqual(page.outside, [], `requests left 127.0.0.1 from ${page.url()}`);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 360, `${page.url()} is ${width}px wide at 360px`);
  if (page.noScript) return;
  // axe-core is injected as a script by evaluate, so the page's
  // Content-Security-Policy (scripts from 'self' only) does not block it.
  await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    axe.run(document, { resultTypes: ["violations"] }),
  );
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
    [],
    `accessibility violations on ${page.url()}`,
  );
  const checked = (page.checkedPages ||= new Set());
  checked.add(new URL(page.url()).pathname.replace(/[0-9a-f-]{36}/g, ":id"));
}

/** Goes to a page and checks it. */
export async function visit(page, path) {
  const response = await page.goto(path);
  await checkPage(page);
  return response;
}

/** Submits the form holding `selector` (a button), waits for the next page, checks it. */
export async function submit(page, selector) {
  const [response] = await Promise.all([page.waitForNavigation(), page.click(selector)]);
  await checkPage(page);
  return response;
}

export async function signIn(page, email, password = PASSWORD) {
  await visit(page, "/sign-in");
  await page.fill("#f-email", email);
  await page.fill("#f-password", password);
  return submit(page, "form[action='/sign-in'] button[type=submit]");
}

export async function signOut(page) {
  return submit(page, "form.signout button");
}
