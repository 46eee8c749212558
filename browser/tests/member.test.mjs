// What a member does, in Chromium: ask for help (and keep it private),
// amend and withdraw, pledge, declare affectedness, vote in a round opened
// through the API, and read the weighted, explained result.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { App, launch, phone, visit, submit, signIn, signOut, checkPage } from "../lib/harness.mjs";

let app, browser, admin, pool, mo, cleo, pat;

before(async () => {
  app = await App.start();
  browser = await launch();
  admin = await app.admin();
  pool = await app.pool(admin);
  await app.contribute(admin, pool.id, "1000.00");
  mo = await app.member(admin, "mo@example.org", "Mo");
  cleo = await app.member(admin, "cleo@example.org", "Cleo");
  pat = await app.member(admin, "pat@example.org", "Pat");
});

after(async () => {
  await browser?.close();
  await app?.stop();
});

async function requestCount() {
  const page = await app.api("GET", `/collectives/${admin.collectiveId}/requests?state=submitted,in_review,withdrawn`, { token: admin.token });
  return page.items.length;
}

test("a member asks for help, sees it in their timeline; another member never sees its private details", async () => {
  const page = await phone(browser, app);
  await signIn(page, mo.email);
  await visit(page, `/pools/${pool.id}/ask`);
  assert.match(await page.textContent("legend.private, .private legend"), /Private — seen only by you and the coordinators/);
  await page.fill("#f-amount", "450.00");
  await page.fill("#f-category", "rent");
  await page.fill("#f-public_summary", "Help with December rent");
  await page.fill("#f-private_details", "Landlord threatens eviction on the 3rd");
  await page.fill("#f-payout_reference", "DE89 3704 0044 0532 0130 00");
  await submit(page, "form button[type=submit]:has-text('Send the request')");
  assert.match(page.url(), /\/requests\/[0-9a-f-]{36}$/);
  assert.match(await page.textContent("h1"), /Help with December rent/);
  assert.match(await page.textContent(".timeline"), /Asked for help/);
  assert.match(await page.textContent("main"), /Landlord threatens eviction/);
  const requestPath = new URL(page.url()).pathname;

  await visit(page, "/");
  assert.match(await page.textContent("main"), /Help with December rent/);
  assert.match(await page.textContent("main"), /€450\.00/);

  const other = await phone(browser, app);
  await signIn(other, cleo.email);
  await visit(other, requestPath);
  const html = await other.content();
  assert.match(html, /Help with December rent/);
  for (const secret of ["Landlord", "eviction", "DE89", "0532 0130"]) {
    assert.ok(!html.includes(secret), `${secret} is in the HTML another member receives`);
  }
});

test("bad input shows the message by the field and changes nothing", async () => {
  const before = await requestCount();
  const page = await phone(browser, app);
  await signIn(page, pat.email);
  await visit(page, `/pools/${pool.id}/ask`);
  await submit(page, "form button[type=submit]:has-text('Send the request')");
  assert.match(await page.textContent("#e-amount"), /Enter the amount/);
  assert.match(await page.textContent("#e-public_summary"), /short summary/);
  await page.fill("#f-amount", "12.345");
  await page.fill("#f-category", "food");
  await page.fill("#f-public_summary", "x".repeat(501));
  const response = await submit(page, "form button[type=submit]:has-text('Send the request')");
  assert.equal(response.status(), 422);
  assert.match(await page.textContent("#e-amount"), /more decimals than EUR allows/);
  assert.equal(await page.getAttribute("#f-amount", "aria-invalid"), "true");
  assert.equal(await page.inputValue("#f-amount"), "12.345", "what was typed is kept");
  await page.fill("#f-amount", "12.00");
  await submit(page, "form button[type=submit]:has-text('Send the request')");
  assert.match(await page.textContent("#e-public_summary"), /at most 500 characters/);
  assert.equal(await requestCount(), before, "nothing was saved");
});

test("a member amends a request and withdraws it with a reason", async () => {
  const page = await phone(browser, app);
  await signIn(page, pat.email);
  await visit(page, `/pools/${pool.id}/ask`);
  await page.fill("#f-amount", "60.00");
  await page.fill("#f-category", "transport");
  await page.fill("#f-public_summary", "Bus pass for the month");
  await submit(page, "form button[type=submit]:has-text('Send the request')");
  const requestPath = new URL(page.url()).pathname;
  await submit(page, "a:has-text('Change it')");
  assert.equal(new URL(page.url()).pathname, `${requestPath}/amend`);
  await page.fill("#f-amount", "45.00");
  await submit(page, "form button[type=submit]:has-text('Save the changes')");
  assert.match(await page.textContent("main"), /€45\.00/);
  assert.match(await page.textContent(".timeline"), /Changed by the requester/);
  // Withdrawing needs a reason.
  await submit(page, "button:has-text('Withdraw the request')");
  assert.match(await page.textContent("#e-reason"), /why you withdraw/);
  await page.fill("#f-reason", "A friend lent me the money");
  await submit(page, "button:has-text('Withdraw the request')");
  assert.match(await page.textContent(".state"), /withdrawn/);
  assert.match(await page.textContent(".private"), /Withdrawn because: A friend lent me the money/);
});

test("a member pledges monthly and sees the installments due", async () => {
  const page = await phone(browser, app);
  await signIn(page, cleo.email);
  await visit(page, `/pools/${pool.id}/pledge`);
  await page.fill("#f-amount", "25.00");
  await page.check("#fr-monthly");
  await page.fill("#f-installments", "6");
  await submit(page, "button:has-text('Pledge')");
  assert.match(page.url(), /\/pledges\/[0-9a-f-]{36}$/);
  assert.match(await page.textContent("h1"), /€25\.00 monthly/);
  assert.equal(await page.locator("tbody tr").count(), 6);
  await submit(page, "button:has-text('Pause')");
  assert.match(await page.textContent(".state"), /paused/);
  await visit(page, "/");
  assert.match(await page.textContent("main"), /€25\.00 monthly/);
});

test("members declare affectedness, vote with their weights, and read the explained result", async () => {
  const issue = await app.api("POST", `/collectives/${admin.collectiveId}/issues`, {
    token: admin.token,
    body: { name: "facing eviction", description: "Threatened with losing your home" },
  });
  // Mo is directly affected (weight 3); Cleo and Pat declare nothing (weight 1).
  const page = await phone(browser, app);
  await signIn(page, mo.email);
  await visit(page, `/c/${admin.collectiveId}/affectedness`);
  assert.match(await page.textContent("main"), /Only you and the coordinators see your answers/);
  await page.check(`#t-${issue.id}-direct`);
  await submit(page, "button:has-text('Save')");
  assert.match(await page.textContent("[role=status]"), /Saved/);
  assert.ok(await page.isChecked(`#t-${issue.id}-direct`));

  const ask = async (who, amount, summary) =>
    app.api("POST", `/pools/${pool.id}/requests`, {
      token: who.token,
      body: { amount, category: "rent", urgency: "standard", public_summary: summary },
    });
  const a = await ask(mo, "300.00", "Keep Mo's flat");
  const b = await ask(cleo, "300.00", "Fix the community fridge");
  const round = await app.api("POST", `/pools/${pool.id}/rounds`, {
    token: admin.token,
    body: {
      title: "Winter round",
      budget: "400.00",
      candidates: [a.id, b.id],
      ballot: { type: "approval", max_count: 1 },
      rule: "greedy",
      policy: { direct: 3, indirect: 2, supporter: 1, no_declaration: 1 },
    },
  });
  await app.api("POST", `/rounds/${round.id}/open`, { token: admin.token, key: crypto.randomUUID() });

  // Over the limit: refused, naming it; then a valid ballot, with the running total.
  await visit(page, `/rounds/${round.id}`);
  await page.check(`#a-${a.id}`);
  assert.match(await page.textContent("[data-running-total]"), /1 chosen, €300\.00/);
  await page.check(`#a-${b.id}`);
  assert.match(await page.textContent("[data-running-total]"), /2 chosen, €600\.00/);
  const refused = await submit(page, "button:has-text('Cast my ballot')");
  assert.equal(refused.status(), 422);
  assert.match(await page.textContent("#ballot-problem"), /at most 1 may be approved/);
  await page.uncheck(`#a-${b.id}`);
  await submit(page, "button:has-text('Cast my ballot')");
  assert.match(await page.textContent("[role=status]"), /ballot is saved/);

  for (const voter of [cleo, pat]) {
    const p = await phone(browser, app);
    await signIn(p, voter.email);
    await visit(p, "/");
    await submit(p, `a[href='/rounds/${round.id}']`);
    await p.check(`#a-${b.id}`);
    await submit(p, "button:has-text('Cast my ballot')");
  }

  // While it is open, the coordinator watches participation per tier;
  // members never see it.
  const ada = await phone(browser, app);
  await signIn(ada, admin.email);
  await visit(ada, `/rounds/${round.id}`);
  const rows = await ada.$$eval("[data-turnout] tbody tr", (trs) =>
    trs.map((tr) => [...tr.cells].map((c) => c.textContent.trim())),
  );
  assert.deepEqual(rows, [
    ["Directly affected", "3", "1 of 1 (100%)"],
    ["Indirectly affected", "2", "0 of 0 (0%)"],
    ["Supporters", "1", "0 of 0 (0%)"],
    ["No declaration", "1", "2 of 3 (66%)"],
  ]);
  await visit(page, `/rounds/${round.id}`);
  assert.equal(await page.locator("[data-turnout]").count(), 0);

  await app.api("POST", `/rounds/${round.id}/close`, { token: admin.token });
  await app.api("POST", `/rounds/${round.id}/tally`, { token: admin.token });
  await visit(page, `/rounds/${round.id}`);
  const text = await page.textContent("main");
  // Two members chose the fridge, but Mo's weight of 3 carries the flat.
  assert.match(text, /Funded: Keep Mo's flat/);
  assert.match(text, /weighted support 3/);
  assert.match(text, /Not funded: Fix the community fridge/);
  assert.match(text, /weighted support 2/);
  assert.match(text, /less budget was left than it costs/);
  assert.match(text, /Directly affected/);
  assert.match(text, /Spent\s*€300\.00/);
});

test("a suspended member is refused at their next click; sign-out ends the session", async () => {
  const page = await phone(browser, app);
  await signIn(page, pat.email);
  await visit(page, `/c/${admin.collectiveId}`);
  await app.api("PATCH", `/collectives/${admin.collectiveId}/members/${pat.membershipId}`, {
    token: admin.token,
    body: { status: "suspended" },
  });
  const response = await visit(page, `/c/${admin.collectiveId}`);
  assert.equal(response.status(), 403);
  assert.match(await page.textContent("main"), /suspended/);
  await visit(page, "/");
  await signOut(page);
  await visit(page, "/");
  assert.match(page.url(), /\/sign-in/);
});
