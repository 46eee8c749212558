// Takes the README's screenshots: a small collective set up through the
// API, its main pages at phone width. `node screenshots.mjs` (after
// `cargo build`); PNGs go to docs/screenshots/.
import { mkdirSync } from "node:fs";
import { App, launch, phone, signIn } from "./lib/harness.mjs";

const out = new URL("../docs/screenshots/", import.meta.url).pathname;
mkdirSync(out, { recursive: true });
const app = await App.start();
const browser = await launch();
try {
  const admin = await app.admin("ada@example.org", "Ada", "Northside Mutual Aid");
  const pool = await app.pool(admin, { name: "Rent relief", description: "Rent, deposits and arrears for members at risk of losing their home." });
  await app.contribute(admin, pool.id, "2400.00");
  const mo = await app.member(admin, "mo@example.org", "Mo");
  const cleo = await app.member(admin, "cleo@example.org", "Cleo", "coordinator");
  const ask = (who, amount, summary, urgency = "standard") =>
    app.api("POST", `/pools/${pool.id}/requests`, { token: who.token, body: { amount, category: "rent", urgency, public_summary: summary, private_details: "Private: only coordinators read this." } });
  const rent = await ask(mo, "450.00", "December rent after losing shifts", "emergency");
  const fridge = await ask(cleo, "300.00", "Repair the community fridge");
  const heating = await ask(admin, "250.00", "Heating oil for the shared house");
  await app.api("POST", `/requests/${rent.id}/review`, { token: cleo.token });
  await app.api("POST", `/pools/${pool.id}/pledges`, { token: mo.token, body: { amount: "20.00", frequency: "monthly", installments: 6 } });
  const round = await app.api("POST", `/pools/${pool.id}/rounds`, {
    token: admin.token,
    body: { title: "Winter round", budget: "600.00", candidates: [fridge.id, heating.id], ballot: { type: "approval", max_count: 2 }, rule: "mes-add1", policy: { direct: 3, indirect: 2, supporter: 1, no_declaration: 1 } },
  });
  await app.api("POST", `/rounds/${round.id}/open`, { token: admin.token, key: crypto.randomUUID() });
  const shot = async (page, path, name) => {
    await page.goto(path);
    await page.screenshot({ path: `${out}${name}.png`, fullPage: false });
  };
  const member = await phone(browser, app);
  await signIn(member, mo.email);
  await shot(member, "/", "member-home");
  await shot(member, `/pools/${pool.id}/ask`, "ask-for-help");
  await member.goto(`/rounds/${round.id}`);
  await member.check(`#a-${fridge.id}`);
  await member.screenshot({ path: `${out}ballot.png` });
  await Promise.all([member.waitForNavigation(), member.click("button:has-text('Cast my ballot')")]);
  const coordinator = await phone(browser, app);
  await signIn(coordinator, cleo.email);
  await shot(coordinator, `/c/${admin.collectiveId}/queue`, "queue");
  await shot(coordinator, `/requests/${rent.id}`, "request");
  // The open round as a coordinator runs it: participation per tier so far.
  await coordinator.goto(`/rounds/${round.id}`);
  await coordinator.locator("#manage-h").scrollIntoViewIfNeeded();
  await coordinator.evaluate(() => document.getElementById("manage-h").scrollIntoView());
  await coordinator.screenshot({ path: `${out}round.png` });
  await app.api("POST", `/rounds/${round.id}/close`, { token: admin.token });
  await app.api("POST", `/rounds/${round.id}/tally`, { token: admin.token });
  await shot(member, `/rounds/${round.id}`, "results");
  console.log(`screenshots in ${out}`);
} finally {
  await browser.close();
  await app.stop();
}
