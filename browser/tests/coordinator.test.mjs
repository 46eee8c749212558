// What coordinators and admins do, in Chromium: review, approve (two
// coordinators, a lower amount), pay in two parts; record a card
// contribution with a fee and a chargeback, and check the statement and its
// CSV against the pool's balances; run a round from creation to enactment;
// invite, change a role, suspend, register a partner app (its secret shown
// once); a member cannot reach these pages; the public page names nobody.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { App, launch, phone, visit, submit, signIn } from "../lib/harness.mjs";

let app, browser, admin, pool, cleo, mo, pat;

before(async () => {
  app = await App.start();
  browser = await launch();
  admin = await app.admin();
  pool = await app.pool(admin, { public: true });
  await app.contribute(admin, pool.id, "2000.00");
  cleo = await app.member(admin, "cleo@example.org", "Cleo", "coordinator");
  mo = await app.member(admin, "mo@example.org", "Mo");
  pat = await app.member(admin, "pat@example.org", "Pat");
});

after(async () => {
  await browser?.close();
  await app?.stop();
});

test("a request is reviewed, approved for less by two coordinators, paid in two parts, and the member sees it paid", async () => {
  const request = await app.api("POST", `/pools/${pool.id}/requests`, {
    token: mo.token,
    body: { amount: "500.00", category: "rent", urgency: "standard", public_summary: "Rent arrears" },
  });
  const ada = await phone(browser, app);
  await signIn(ada, admin.email);
  await visit(ada, `/c/${admin.collectiveId}/queue`);
  await submit(ada, `a[href='/requests/${request.id}']`);
  await submit(ada, "button:has-text('Take it into review')");
  await ada.fill("#f-amount", "400.00");
  await submit(ada, "button:has-text('Approve')");
  assert.match(await ada.textContent("main"), /approvals 1 of 2/);

  const bo = await phone(browser, app);
  await signIn(bo, cleo.email);
  await visit(bo, `/requests/${request.id}`);
  await submit(bo, "button:has-text('Approve')");
  assert.match(await bo.textContent(".state"), /approved/);
  for (const amount of ["250.00", "150.00"]) {
    await bo.fill("#f-pay_amount", amount);
    await submit(bo, "button:has-text('Record the payment')");
  }
  while ((await bo.locator("button:has-text('It was paid')").count()) > 0) {
    await submit(bo, "button:has-text('It was paid') >> nth=0");
  }
  assert.match(await bo.textContent(".state"), /^paid$/);

  const member = await phone(browser, app);
  await signIn(member, mo.email);
  await visit(member, `/requests/${request.id}`);
  assert.match(await member.textContent(".timeline"), /Paid in full: €150\.00/);
});

test("a card contribution with a fee and a chargeback: the statement and its CSV agree with the balances", async () => {
  const ada = await phone(browser, app);
  await signIn(ada, admin.email);
  await visit(ada, `/pools/${pool.id}/money`);
  await ada.fill("#f-amount", "100.00");
  await ada.fill("#f-fee", "3.20");
  await ada.selectOption("#f-method", "card");
  await submit(ada, "button:has-text('Record')");
  const card = ada.locator("li.card", { hasText: "Card" }).first();
  await card.locator("summary").click();
  await card.locator("input[name=refund_amount]").fill("100.00");
  await card.locator("input[value=chargeback]").check();
  await card.locator("input[name=dispute_fee]").fill("15.00");
  await submit(ada, "li.card:has-text('Card') button:has-text('Record it')");
  const balances = (await app.api("GET", `/pools/${pool.id}`, { token: admin.token })).balances;
  await submit(ada, "button:has-text('Show the statement')");
  const shown = await ada.textContent("[data-closing-available]");
  assert.equal(shown.replace(/[€,]/g, ""), balances.available);
  const csv = await ada.evaluate(async (href) => (await fetch(href)).text(), await ada.getAttribute("a:has-text('CSV')", "href"));
  assert.match(csv, /chargeback/);
});

test("a coordinator creates, opens, closes, tallies and enacts a round; funded requests are approved, the rest not funded", async () => {
  const ask = (who, amount, summary) =>
    app.api("POST", `/pools/${pool.id}/requests`, { token: who.token, body: { amount, category: "food", urgency: "standard", public_summary: summary } });
  const a = await ask(mo, "300.00", "Food bank restock");
  const b = await ask(pat, "500.00", "New roof for the hall");
  const ada = await phone(browser, app);
  await signIn(ada, admin.email);
  await visit(ada, `/pools/${pool.id}/rounds/new`);
  await ada.fill("#f-title", "Spring round");
  await ada.fill("#f-budget", "400.00");
  await ada.check(`#c-${a.id}`);
  await ada.check(`#c-${b.id}`);
  await ada.selectOption("#f-rule", "greedy");
  await submit(ada, "button:has-text('Create the round')");
  await submit(ada, "button:has-text('Open it')");
  for (const voter of [mo, pat]) {
    const p = await phone(browser, app);
    await signIn(p, voter.email);
    await visit(p, new URL(ada.url()).pathname);
    await p.check(`#a-${a.id}`);
    await submit(p, "button:has-text('Cast my ballot')");
  }
  await submit(ada, "button:has-text('Close the vote')");
  await submit(ada, "button:has-text('Count the votes')");
  assert.match(await ada.textContent("main"), /Funded: Food bank restock/);
  await submit(ada, "button:has-text('Enact')");
  assert.match(await ada.textContent(".state"), /enacted/);
  const funded = await app.api("GET", `/requests/${a.id}`, { token: admin.token });
  const unfunded = await app.api("GET", `/requests/${b.id}`, { token: admin.token });
  assert.equal(funded.state, "approved");
  assert.ok(funded.hold_id);
  assert.equal(unfunded.state, "not_funded");
});

test("an admin invites someone, changes a role, suspends a member, and registers an app whose secret is shown once", async () => {
  const ada = await phone(browser, app);
  await signIn(ada, admin.email);
  await visit(ada, `/c/${admin.collectiveId}/members`);
  await ada.fill("#f-email", "nia@example.org");
  await ada.fill("#f-display_name", "Nia");
  await submit(ada, "button:has-text('Invite')");
  assert.match(await ada.textContent("[data-invitation-link]"), /\/invitations\/accept\?token=cpi_/);
  const row = ada.locator("li.card", { hasText: "Pat" });
  await row.locator("select").selectOption("coordinator");
  await submit(ada, "li.card:has-text('Pat') button:has-text('Change role')");
  assert.match(await ada.locator("li.card", { hasText: "Pat" }).textContent(), /coordinator/);
  await submit(ada, "button:has-text('Suspend Pat')");
  assert.match(await ada.locator("li.card", { hasText: "Pat" }).textContent(), /suspended/);

  await visit(ada, `/c/${admin.collectiveId}/apps`);
  await ada.fill("#f-name", "Card processor");
  await ada.check("input[value='contributions:write']");
  await submit(ada, "button:has-text('Register')");
  const secret = await ada.textContent("[data-client-secret]");
  assert.ok(secret.length > 20);
  await visit(ada, `/c/${admin.collectiveId}/apps`);
  assert.ok(!(await ada.content()).includes(secret), "the secret is shown once");
});

test("a member cannot reach coordinator or admin pages, and the public page names nobody", async () => {
  const member = await phone(browser, app);
  await signIn(member, mo.email);
  for (const path of [
    `/c/${admin.collectiveId}/queue`,
    `/c/${admin.collectiveId}/apps`,
    `/c/${admin.collectiveId}/affectedness/review`,
    `/pools/${pool.id}/money`,
    `/pools/${pool.id}/rounds/new`,
    `/pools/${pool.id}/edit`,
  ]) {
    const response = await visit(member, path);
    assert.equal(response.status(), 403, path);
    assert.match(await member.textContent("h1"), /Not allowed/);
  }
  const anyone = await phone(browser, app);
  const response = await visit(anyone, `/public/pools/${pool.id}`);
  assert.equal(response.status(), 200);
  const html = await anyone.content();
  for (const name of [/\bAda\b/, /\bMo\b/, /\bCleo\b/, /\bPat\b/, /Rent arrears/, /@example\.org/]) {
    assert.doesNotMatch(html, name, "a name on the public page");
  }
});

test("an admin changes a pool's rules; a rule that contradicts another is refused by its field and changes nothing", async () => {
  const ada = await phone(browser, app);
  await signIn(ada, admin.email);
  await visit(ada, `/c/${admin.collectiveId}/pools`);
  await submit(ada, `a[href='/pools/${pool.id}/edit']`);
  assert.equal(await ada.inputValue("#f-approvals_needed"), "2");
  await ada.fill("#f-max_request", "100.00");
  await ada.fill("#f-fast_track_limit", "150.00");
  const refused = await submit(ada, "button:has-text('Save the settings')");
  assert.equal(refused.status(), 422);
  assert.match(await ada.textContent("#e-fast_track_limit"), /not be more than the largest request/);
  assert.equal((await app.api("GET", `/pools/${pool.id}`, { token: admin.token })).rules.max_request, null);

  await ada.fill("#f-max_request", "800.00");
  await ada.fill("#f-fast_track_limit", "50.00");
  await ada.fill("#f-approvals_needed", "1");
  await ada.check("#rq-coordinators");
  await submit(ada, "button:has-text('Save the settings')");
  assert.equal(new URL(ada.url()).pathname, `/c/${admin.collectiveId}/pools`);
  assert.match(await ada.textContent("main"), /largest request €800\.00; 1 approval; emergencies up to €50\.00 need one; coordinators may ask/);
  const rules = (await app.api("GET", `/pools/${pool.id}`, { token: admin.token })).rules;
  assert.deepEqual(
    [rules.max_request, rules.approvals_needed, rules.fast_track_limit, rules.requesters],
    ["800.00", 1, "50.00", "coordinators"],
  );
});
