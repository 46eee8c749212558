// Accepting an invitation, in Chromium: an admin invites someone new on the
// members page, who opens the link, chooses a password, joins, signs out and
// signs in again; someone who already has an account signs in from the
// invitation and accepts with one click — never asked for a password there.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { App, PASSWORD, launch, phone, visit, submit, signIn, signOut, checkPage } from "../lib/harness.mjs";

let app, browser, admin;

before(async () => {
  app = await App.start();
  browser = await launch();
  admin = await app.admin();
});

after(async () => {
  await browser?.close();
  await app?.stop();
});

/** An admin invites `email` on the members page; answers the link shown. */
async function invite(email, name) {
  const ada = await phone(browser, app);
  await signIn(ada, admin.email);
  await visit(ada, `/c/${admin.collectiveId}/members`);
  await ada.fill("#f-email", email);
  await ada.fill("#f-display_name", name);
  await submit(ada, "button:has-text('Invite')");
  const link = (await ada.textContent("[data-invitation-link]")).trim();
  assert.match(link, /\/invitations\/accept\?token=cpi_/);
  await ada.context().close();
  return link;
}

test("an admin invites someone new, who chooses a password, joins, and signs in again", async () => {
  const link = await invite("nia@example.org", "Nia");
  const nia = await phone(browser, app);
  await visit(nia, link);
  assert.match(await nia.textContent("h1"), /Join Northside Mutual Aid/);
  assert.match(await nia.textContent("main"), /nia@example\.org/);

  // Two different passwords: the message is by the field, nothing joins.
  await nia.fill("#f-password", PASSWORD);
  await nia.fill("#f-password_again", "not the same at all");
  const differ = await submit(nia, "button:has-text('Create my account')");
  assert.equal(differ.status(), 422);
  assert.match(await nia.textContent("#e-password_again"), /differ/);

  await nia.fill("#f-password", PASSWORD);
  await nia.fill("#f-password_again", PASSWORD);
  await submit(nia, "button:has-text('Create my account')");
  assert.equal(new URL(nia.url()).pathname, `/c/${admin.collectiveId}`);
  assert.match(await nia.textContent("h1"), /Northside Mutual Aid/);
  await signOut(nia);
  await signIn(nia, "nia@example.org");
  assert.match(await nia.textContent("h1"), /Northside Mutual Aid/);

  // The link is used up: accepting forgets its token.
  const again = await visit(nia, link);
  assert.equal(again.status(), 404);
  const members = await app.api("GET", `/collectives/${admin.collectiveId}/members?status=active`, { token: admin.token });
  assert.ok(members.items.some((m) => m.email === "nia@example.org" && m.display_name === "Nia"));
});

test("someone with an account signs in from the invitation and accepts it with one click", async () => {
  // Bo already runs another collective.
  app.bootstrap("bo@example.org", "Bo", "Southside Pantry");
  const link = await invite("bo@example.org", "Bo");
  const bo = await phone(browser, app);
  await visit(bo, link);
  // Trying a password here is refused whatever it is: sign in instead.
  await bo.fill("#f-password", PASSWORD);
  await bo.fill("#f-password_again", PASSWORD);
  const refused = await submit(bo, "button:has-text('Create my account')");
  assert.equal(refused.status(), 401);
  assert.match(await bo.textContent("[role=alert]"), /already has an account/);

  await Promise.all([bo.waitForNavigation(), bo.click("main a:has-text('Sign in')")]);
  await checkPage(bo);
  await bo.fill("#f-email", "bo@example.org");
  await bo.fill("#f-password", PASSWORD);
  await submit(bo, "form[action='/sign-in'] button[type=submit]");
  assert.match(bo.url(), /\/invitations\/accept\?token=/);
  assert.equal(await bo.locator("input[type=password]").count(), 0, "no password asked when signed in");
  await submit(bo, "button:has-text('Accept and join')");
  assert.equal(new URL(bo.url()).pathname, `/c/${admin.collectiveId}`);
  await visit(bo, "/");
  const home = await bo.textContent("main");
  assert.match(home, /Northside Mutual Aid/);
  assert.match(home, /Southside Pantry/);
});
