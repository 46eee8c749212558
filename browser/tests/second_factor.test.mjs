// A second factor, in Chromium: a member sets up an authenticator app on
// the second-factor page (QR code, secret as text, a code to confirm,
// recovery codes shown once), signs out, and signs in with the password
// and then a code on a page of its own; a wrong code is refused beside
// the field. An admin then requires a second factor of coordinators: a
// coordinator without one is sent to set it up from every page.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { App, launch, phone, visit, submit, signIn, signOut } from "../lib/harness.mjs";

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

/** RFC 4648 base32, as authenticator apps read the secret. */
function base32(text) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of text.replace(/=+$/, "").toUpperCase()) {
    bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/** What an authenticator app shows for `secret` at time step `step` (RFC 6238). */
function totp(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", base32(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(value).padStart(6, "0");
}

const stepNow = () => Math.floor(Date.now() / 1000 / 30);

test("a member sets up a second factor, then signs in with the password and a code", async () => {
  const nia = await app.member(admin, "nia@example.org", "Nia");
  const page = await phone(browser, app);
  await signIn(page, nia.email);
  await visit(page, "/account");
  await submit(page, "main a[href='/account/second-factor']");
  await submit(page, "button:has-text('Set up a second factor')");
  assert.equal(await page.locator("svg[data-qr]").count(), 1, "a QR code is drawn on the page");
  const secret = (await page.textContent("[data-secret]")).trim();
  assert.match(secret, /^[A-Z2-7]{32}$/);

  // A wrong code is refused beside the field, and the QR code stays.
  await page.fill("#f-code", totp(secret, stepNow() + 5));
  const wrong = await submit(page, "button:has-text('Confirm')");
  assert.equal(wrong.status(), 403);
  assert.match(await page.textContent("#e-code"), /wrong/);
  assert.equal((await page.textContent("[data-secret]")).trim(), secret);

  const confirmedAt = stepNow();
  await page.fill("#f-code", totp(secret, confirmedAt));
  await submit(page, "button:has-text('Confirm')");
  const codes = await page.locator("[data-recovery-codes] li").allTextContents();
  assert.equal(codes.length, 10);
  assert.match(await page.textContent("main"), /second factor is set up/);

  // Signing in now takes two steps: the password, then a code.
  await signOut(page);
  await signIn(page, nia.email);
  assert.equal(new URL(page.url()).pathname, "/sign-in");
  assert.match(await page.textContent("h1"), /Your code/);
  // No session yet: nothing is reachable between the two steps.
  const cookies = await page.context().cookies();
  assert.ok(!cookies.some((c) => c.name === "commonpot_session"), "no session before the code");

  await page.fill("#f-code", totp(secret, confirmedAt + 40));
  const refused = await submit(page, "form[action='/sign-in/code'] button[type=submit]");
  assert.equal(refused.status(), 401);
  assert.match(await page.textContent("#e-code"), /wrong/);

  // The next step's code (a phone a little ahead is fine): signed in.
  await page.fill("#f-code", totp(secret, Math.max(stepNow(), confirmedAt) + 1));
  await submit(page, "form[action='/sign-in/code'] button[type=submit]");
  assert.notEqual(new URL(page.url()).pathname, "/sign-in");
  await visit(page, "/account/second-factor");
  assert.match(await page.textContent("main"), /second factor is on/);

  // A recovery code signs in too, once.
  await signOut(page);
  await signIn(page, nia.email);
  await page.click("summary:has-text('Lost your phone?')");
  await page.fill("#f-recovery_code", codes[0].trim());
  await submit(page, "form[action='/sign-in/code'] button[type=submit]");
  assert.notEqual(new URL(page.url()).pathname, "/sign-in");
  await page.context().close();
});

test("a collective that requires a second factor sends a coordinator without one to set it up", async () => {
  const cole = await app.member(admin, "cole@example.org", "Cole", "coordinator");
  const ada = await phone(browser, app);
  await signIn(ada, admin.email);
  await visit(ada, `/c/${admin.collectiveId}/settings`);
  await ada.check("#f-require_second_factor_for_coordinators");
  await submit(ada, "button:has-text('Save settings')");
  assert.match(await ada.textContent("[role=status]"), /saved/);
  // The admin has none either: from now on, only the second-factor page.
  await visit(ada, "/");
  assert.equal(new URL(ada.url()).pathname, "/account/second-factor");
  await ada.context().close();

  const page = await phone(browser, app);
  await signIn(page, cole.email);
  assert.equal(new URL(page.url()).pathname, "/account/second-factor");
  assert.match(await page.textContent("[role=alert]"), /asks everyone who coordinates/);
  await visit(page, `/c/${admin.collectiveId}`);
  assert.equal(new URL(page.url()).pathname, "/account/second-factor");
  await submit(page, "button:has-text('Set up a second factor')");
  const secret = (await page.textContent("[data-secret]")).trim();
  await page.fill("#f-code", totp(secret, stepNow()));
  await submit(page, "button:has-text('Confirm')");
  await visit(page, `/c/${admin.collectiveId}`);
  assert.equal(new URL(page.url()).pathname, `/c/${admin.collectiveId}`);
  await page.context().close();
});
