// Takes the README's screenshots from `commonpot demo`: a fresh database,
// `commonpot serve` on a free port, the demo run against it, then the
// demo's own accounts signed in, in Debian's Chromium at 1280×800. PNGs go
// to docs/screenshots/ (squeezed with pngquant when it is installed).
// Run through `bash browser/screenshots.sh`, which installs what is missing.
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { App, BINARY, launch } from "./lib/harness.mjs";

const out = new URL("../docs/screenshots/", import.meta.url).pathname;
mkdirSync(out, { recursive: true });
const app = await App.start();
const browser = await launch();
try {
  const report = execFileSync(BINARY, ["demo", "--seed", process.env.DEMO_SEED || "1"], {
    env: app.env,
  }).toString();
  // "  admin  ana@example.org  demo-admin-…  (Ana …)"
  const account = (role) => {
    const line = report.split("\n").find((l) => l.trim().split(/\s+/)[0] === role);
    if (!line) throw new Error(`no ${role} account in:\n${report}`);
    const [, email, password] = line.trim().split(/\s+/);
    return { email, password };
  };
  const admin = account("admin");
  // The demo takes longer than the server keeps an idle connection: the
  // first call may meet the one /readyz left open, closed meanwhile.
  const signIn = () =>
    app.api("POST", "/auth/token", {
      body: { grant_type: "password", username: admin.email, password: admin.password },
    });
  const token = (await signIn().catch(signIn)).access_token;
  const get = (path) => app.api("GET", path, { token });
  const collective = (await get("/collectives")).items[0].id;
  const pools = (await get(`/collectives/${collective}/pools`)).items;
  const eur = pools.find((p) => p.currency === "EUR");
  const publicPool = pools.find((p) => p.public) || eur;
  const rounds = await get(`/collectives/${collective}/rounds`);
  const roundList = rounds.items || rounds;
  const enacted = roundList.find((r) => r.phase === "enacted");
  // A request a coordinator is working on: in review, with a conversation.
  const reviewing = (await get(`/collectives/${collective}/requests?state=in_review&limit=50`)).items;
  const request = reviewing[0];

  const desktop = async ({ email, password }) => {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 800 },
      deviceScaleFactor: 1,
      baseURL: app.base,
    });
    await context.route("**/*", (route) =>
      new URL(route.request().url()).hostname === "127.0.0.1" ? route.continue() : route.abort(),
    );
    const page = await context.newPage();
    if (email) {
      await page.goto("/sign-in");
      await page.fill("#f-email", email);
      await page.fill("#f-password", password);
      await Promise.all([page.waitForNavigation(), page.click("form[action='/sign-in'] button[type=submit]")]);
    }
    return page;
  };
  const shot = async (page, path, name) => {
    const response = await page.goto(path);
    if (!response.ok()) throw new Error(`${path}: ${response.status()}`);
    await page.screenshot({ path: `${out}${name}.png` });
    console.log(`${name}.png  ${path}`);
  };

  const member = await desktop(account("member"));
  await shot(member, "/", "member-home");
  await shot(member, `/rounds/${enacted.id}`, "results");
  const coordinator = await desktop(account("coordinator"));
  await shot(coordinator, `/c/${collective}/queue`, "queue");
  await shot(coordinator, `/requests/${request.id}`, "request");
  const anyone = await desktop({});
  await shot(anyone, `/public/pools/${publicPool.id}`, "public-pool");
  console.log(`screenshots in ${out}`);
} finally {
  await browser.close();
  await app.stop();
}
