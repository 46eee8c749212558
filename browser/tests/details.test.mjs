// The rest of #16 and #17's bullets, in Chromium: flows without JavaScript,
// keyboard use with visible focus, cumulative and ranked ballots changed
// until the round closes, a coordinator's queue views, conflict of
// interest, messages and a rejection the requester reads, verifying
// affectedness, reinstating a member, rotating and disabling a partner
// app, cancelling a pledge.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { App, PASSWORD, launch, phone, visit, submit, signIn, checkPage } from "../lib/harness.mjs";

let app, browser, admin, pool, cleo, mo, pat;

before(async () => {
  app = await App.start();
  browser = await launch();
  admin = await app.admin();
  pool = await app.pool(admin);
  await app.contribute(admin, pool.id, "2000.00");
  cleo = await app.member(admin, "cleo@example.org", "Cleo", "coordinator");
  mo = await app.member(admin, "mo@example.org", "Mo");
  pat = await app.member(admin, "pat@example.org", "Pat");
});

after(async () => {
  await browser?.close();
  await app?.stop();
});

const ask = (who, amount, summary, urgency = "standard") =>
  app.api("POST", `/pools/${pool.id}/requests`, {
    token: who.token,
    body: { amount, category: "rent", urgency, public_summary: summary },
  });

async function openRound(title, candidates, ballot) {
  const round = await app.api("POST", `/pools/${pool.id}/rounds`, {
    token: admin.token,
    body: { title, budget: "300.00", candidates, ballot, rule: "greedy" },
  });
  await app.api("POST", `/rounds/${round.id}/open`, { token: admin.token, key: crypto.randomUUID() });
  return round;
}

test("without JavaScript, a member signs in, asks for help and casts a ballot", async () => {
  const page = await phone(browser, app, { javaScript: false });
  await signIn(page, mo.email);
  assert.equal(new URL(page.url()).pathname, "/");
  await visit(page, `/pools/${pool.id}/ask`);
  await page.fill("#f-amount", "80.00");
  await page.fill("#f-category", "food");
  await page.fill("#f-public_summary", "Groceries without scripts");
  await submit(page, "form button[type=submit]:has-text('Send the request')");
  assert.match(await page.textContent("h1"), /Groceries without scripts/);

  const a = await ask(pat, "100.00", "Winter coats");
  const round = await openRound("No-script round", [a.id], { type: "approval" });
  await visit(page, `/rounds/${round.id}`);
  await page.check(`#a-${a.id}`);
  await submit(page, "button:has-text('Cast my ballot')");
  assert.match(await page.textContent("[role=status]"), /ballot is saved/);
  const ballot = await app.api("GET", `/rounds/${round.id}/ballots/me`, { token: mo.token });
  assert.deepEqual(ballot.choices.approve, [a.id]);
  await app.api("POST", `/rounds/${round.id}/cancel`, { token: admin.token, key: crypto.randomUUID() });
});

test("the keyboard alone signs in, and the focus is visible at every step", async () => {
  const page = await phone(browser, app);
  await visit(page, "/sign-in");
  const focused = () =>
    page.evaluate(() => {
      const e = document.activeElement;
      const s = getComputedStyle(e);
      return { id: e.id, tag: e.tagName, outline: s.outlineStyle, width: parseFloat(s.outlineWidth) };
    });
  const visible = (f) => assert.ok(f.outline !== "none" && f.width >= 2, `focus not visible on ${f.tag}#${f.id}`);
  await page.keyboard.press("Tab");
  let f = await focused();
  assert.equal(f.tag, "A", "the skip link comes first");
  visible(f);
  for (let i = 0; i < 12 && (await focused()).id !== "f-email"; i++) {
    await page.keyboard.press("Tab");
    visible(await focused());
  }
  assert.equal((await focused()).id, "f-email");
  await page.keyboard.type(mo.email);
  await page.keyboard.press("Tab");
  f = await focused();
  assert.equal(f.id, "f-password");
  visible(f);
  await page.keyboard.type(PASSWORD);
  await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
  await checkPage(page);
  assert.equal(new URL(page.url()).pathname, "/");
});

test("cumulative points and a ranked order; a ballot changes until the round closes", async () => {
  const a = await ask(mo, "100.00", "Boiler repair");
  const b = await ask(pat, "120.00", "School shoes");
  const c = await ask(mo, "90.00", "Train tickets");
  const d = await ask(pat, "60.00", "Phone credit");
  const points = await openRound("Points round", [a.id, b.id], { type: "cumulative", points: 10 });
  const ranked = await openRound("Ranked round", [c.id, d.id], { type: "ranked" });
  const page = await phone(browser, app);
  await signIn(page, cleo.email);

  await visit(page, `/rounds/${points.id}`);
  assert.match(await page.textContent("main"), /Share up to 10 points/);
  await page.fill(`#p-${a.id}`, "7");
  await page.fill(`#p-${b.id}`, "3");
  assert.match(await page.textContent("[data-running-total]"), /10 of 10 points used/);
  await submit(page, "button:has-text('Cast my ballot')");
  await page.fill(`#p-${a.id}`, "4");
  await page.fill(`#p-${b.id}`, "6");
  await submit(page, "button:has-text('Change my ballot')");
  let ballot = await app.api("GET", `/rounds/${points.id}/ballots/me`, { token: cleo.token });
  assert.deepEqual(ballot.choices.points, { [a.id]: 4, [b.id]: 6 });
  // Over the points: refused, the saved ballot stays.
  await page.fill(`#p-${a.id}`, "9");
  const refused = await submit(page, "button:has-text('Change my ballot')");
  assert.equal(refused.status(), 422);
  ballot = await app.api("GET", `/rounds/${points.id}/ballots/me`, { token: cleo.token });
  assert.deepEqual(ballot.choices.points, { [a.id]: 4, [b.id]: 6 });

  await visit(page, `/rounds/${ranked.id}`);
  await page.fill(`#r-${c.id}`, "2");
  await page.fill(`#r-${d.id}`, "1");
  await submit(page, "button:has-text('Cast my ballot')");
  ballot = await app.api("GET", `/rounds/${ranked.id}/ballots/me`, { token: cleo.token });
  assert.deepEqual(ballot.choices.ranking, [d.id, c.id]);
  await page.fill(`#r-${c.id}`, "1");
  await page.fill(`#r-${d.id}`, "");
  await submit(page, "button:has-text('Change my ballot')");
  ballot = await app.api("GET", `/rounds/${ranked.id}/ballots/me`, { token: cleo.token });
  assert.deepEqual(ballot.choices.ranking, [c.id]);

  // Once closed, no ballot can be cast or changed.
  await app.api("POST", `/rounds/${ranked.id}/close`, { token: admin.token });
  await visit(page, `/rounds/${ranked.id}`);
  assert.equal(await page.locator("form[action$='/ballot']").count(), 0);
  assert.match(await page.textContent("main"), /Voting has closed/);
  for (const r of [points, ranked]) {
    await app.api("POST", `/rounds/${r.id}/cancel`, { token: admin.token, key: crypto.randomUUID() });
  }
});

test("a coordinator's queue views, a conflict of interest, messages, and a rejection the requester reads", async () => {
  const urgent = await ask(mo, "150.00", "Heating cut off", "emergency");
  const other = await ask(pat, "70.00", "Bus fare to the clinic");
  const page = await phone(browser, app);
  await signIn(page, cleo.email);
  await visit(page, `/c/${admin.collectiveId}/queue?owner=unowned`);
  const emergencies = await page.locator("h2:has-text('Emergencies') + ul").textContent();
  assert.match(emergencies, /Heating cut off/);
  assert.match(await page.textContent("main"), /Bus fare to the clinic/);
  // The filter form, without touching the address.
  await page.click("summary:has-text('Filter')");
  await page.selectOption("#q-urgency", "emergency");
  await submit(page, "form[method=get] button:has-text('Show')");
  assert.match(await page.textContent("main"), /Heating cut off/);
  assert.doesNotMatch(await page.textContent("main"), /Bus fare to the clinic/);

  await visit(page, `/requests/${urgent.id}`);
  await submit(page, "button:has-text('Take it into review')");
  await visit(page, `/c/${admin.collectiveId}/queue?owner=mine`);
  assert.match(await page.textContent("main"), /Heating cut off/);
  assert.doesNotMatch(await page.textContent("main"), /Bus fare to the clinic/);

  // An internal note and a message for the requester.
  await visit(page, `/requests/${urgent.id}`);
  await page.fill("#f-body", "Checked the supplier's letter");
  await submit(page, "button:has-text('Send')");
  await page.fill("#f-body", "Please send us the supplier's bill");
  await page.check("#v-requester");
  await submit(page, "button:has-text('Send')");
  await page.fill("#f-reason", "The pool does not cover heating debts yet");
  await submit(page, "button:has-text('Do not approve')");
  assert.match(await page.textContent(".state"), /rejected/);

  const requester = await phone(browser, app);
  await signIn(requester, mo.email);
  await visit(requester, `/requests/${urgent.id}`);
  const seen = await requester.textContent("main");
  assert.match(seen, /Why it was not approved: The pool does not cover heating debts yet/);
  assert.match(seen, /Please send us the supplier's bill/);
  assert.ok(!(await requester.content()).includes("supplier's letter"), "an internal note reached the requester");

  // A conflict of interest: declared, then approving is refused.
  await visit(page, `/requests/${other.id}`);
  await submit(page, "button:has-text('Take it into review')");
  await submit(page, "button:has-text('I have a conflict of interest')");
  assert.match(await page.textContent(".timeline"), /declared a conflict of interest/);
  const refused = await submit(page, "button:has-text('Approve')");
  assert.equal(refused.status(), 403);
  assert.match(await page.textContent("main"), /conflict of interest/);
});

test("a coordinator verifies a member's affectedness", async () => {
  const issue = await app.api("POST", `/collectives/${admin.collectiveId}/issues`, {
    token: admin.token,
    body: { name: "long-term illness" },
  });
  await app.api("PUT", `/collectives/${admin.collectiveId}/affectedness/me`, {
    token: pat.token,
    body: { declarations: [{ issue_id: issue.id, tier: "indirect" }] },
  });
  const page = await phone(browser, app);
  await signIn(page, cleo.email);
  await visit(page, `/c/${admin.collectiveId}/affectedness/review`);
  await submit(page, "button:has-text('Verify Pat: long-term illness')");
  assert.match(await page.locator("li.card", { hasText: "Pat" }).textContent(), /verified/);
  const mine = await app.api("GET", `/collectives/${admin.collectiveId}/affectedness/me`, { token: pat.token });
  assert.equal(mine.declarations.length, 1);
  assert.ok(mine.declarations[0].verified_at, JSON.stringify(mine));
});

test("an admin reinstates a member, rotates an app's secret (shown once) and disables the app", async () => {
  await app.api("PATCH", `/collectives/${admin.collectiveId}/members/${pat.membershipId}`, {
    token: admin.token,
    body: { status: "suspended" },
  });
  const ada = await phone(browser, app);
  await signIn(ada, admin.email);
  await visit(ada, `/c/${admin.collectiveId}/members`);
  await submit(ada, "button:has-text('Reinstate Pat')");
  assert.match(await ada.locator("li.card", { hasText: "Pat" }).textContent(), /active/);

  await visit(ada, `/c/${admin.collectiveId}/apps`);
  await ada.fill("#f-name", "Ledger sync");
  await ada.check("input[value='pools:read']");
  await submit(ada, "button:has-text('Register')");
  const first = await ada.textContent("[data-client-secret]");
  const clientId = (await ada.textContent("[role=status] code")).trim();
  await submit(ada, "button:has-text('New secret for Ledger sync')");
  const second = await ada.textContent("[data-client-secret]");
  assert.notEqual(second, first);
  const token = (secret) =>
    fetch(`${app.base}/api/v1/auth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: secret }),
    });
  assert.ok((await token(first)).status >= 400, "the old secret no longer works");
  assert.equal((await token(second)).status, 200);
  await visit(ada, `/c/${admin.collectiveId}/apps`);
  assert.ok(!(await ada.content()).includes(second), "the secret is shown once");
  await submit(ada, "button:has-text('Disable Ledger sync')");
  assert.match(await ada.locator("li.card", { hasText: "Ledger sync" }).textContent(), /disabled/);
  assert.ok((await token(second)).status >= 400, "a disabled app gets no token");
});

test("a member cancels a pledge", async () => {
  const page = await phone(browser, app);
  await signIn(page, mo.email);
  await visit(page, `/pools/${pool.id}/pledge`);
  await page.fill("#f-amount", "10.00");
  await page.check("#fr-weekly");
  await page.fill("#f-installments", "4");
  await submit(page, "button:has-text('Pledge')");
  await submit(page, "button:has-text('Cancel the pledge')");
  assert.match(await page.textContent(".state"), /cancelled/);
  assert.equal(await page.locator("button:has-text('Pause')").count(), 0);
});
