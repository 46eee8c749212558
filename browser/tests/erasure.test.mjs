// Erasure in Chromium (#25): a person reads the warning on their account
// page, is refused with a wrong password, then erases their account with
// the right one and lands signed out with a notice, unable to sign in
// again; an admin erases a member from the members page after a warning
// page, and the member's name is gone from the list.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { App, launch, phone, visit, submit, signIn, checkPage } from "../lib/harness.mjs";

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

test("a person erases their account everywhere from the account page", async () => {
  await app.member(admin, "mo@example.org", "Mo");
  const mo = await phone(browser, app);
  await signIn(mo, "mo@example.org");
  await visit(mo, "/account");
  assert.match(await mo.textContent("main"), /This cannot be undone/);

  await mo.fill("#f-erase_password", "not my password at all");
  const wrong = await submit(mo, "button:has-text('Erase my account everywhere')");
  assert.equal(wrong.status(), 403);
  assert.match(await mo.textContent("#e-erase_password"), /not your current password/);

  await mo.fill("#f-erase_password", "correct horse battery staple");
  await submit(mo, "button:has-text('Erase my account everywhere')");
  assert.equal(new URL(mo.url()).pathname, "/sign-in");
  assert.match(await mo.textContent("[role=status]"), /Your account is erased/);
  // Signed out, and the account is gone: signing in is refused.
  const again = await signIn(mo, "mo@example.org");
  assert.equal(again.status(), 401);
});

test("an admin erases a member from the collective after a warning", async () => {
  const zed = await app.member(admin, "zed@example.org", "Zed Zimmer");
  const ada = await phone(browser, app);
  await signIn(ada, admin.email);
  await visit(ada, `/c/${admin.collectiveId}/members`);
  await Promise.all([ada.waitForNavigation(), ada.click("a:has-text('Erase Zed Zimmer from this collective')")]);
  assert.equal(new URL(ada.url()).pathname, `/c/${admin.collectiveId}/members/${zed.membershipId}/erasure`);
  await checkPage(ada);
  assert.match(await ada.textContent("main"), /This cannot be undone/);
  await submit(ada, "button:has-text('Erase Zed Zimmer')");
  assert.equal(new URL(ada.url()).pathname, `/c/${admin.collectiveId}/members`);
  assert.match(await ada.textContent("[role=status]"), /erased from this collective/);
  const main = await ada.textContent("main");
  assert.ok(!main.includes("Zed Zimmer") && !main.includes("zed@example.org"), main);
});
