// Signing in and out, error pages, and CSRF, in Chromium.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { App, launch, phone, visit, signIn, signOut, checkPage } from "../lib/harness.mjs";

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

test("a person signs in, sees their home, and signs out", async () => {
  const page = await phone(browser, app);
  await visit(page, "/");
  assert.match(page.url(), /\/sign-in\?next=%2F$/);
  await signIn(page, admin.email);
  assert.equal(new URL(page.url()).pathname, "/");
  assert.match(await page.textContent("h1"), /Northside Mutual Aid/);
  await signOut(page);
  assert.equal(new URL(page.url()).pathname, "/sign-in");
  await visit(page, "/");
  assert.match(page.url(), /\/sign-in/);
});

test("a wrong password is refused beside the form, and an empty field is named", async () => {
  const page = await phone(browser, app);
  await signIn(page, admin.email, "not the password");
  assert.match(await page.textContent("[role=alert]"), /email or password is wrong/);
  await visit(page, "/sign-in");
  await page.fill("#f-email", admin.email);
  await Promise.all([page.waitForNavigation(), page.click("form[action='/sign-in'] button")]);
  await checkPage(page);
  assert.match(await page.textContent("#e-password"), /Enter your password/);
  assert.equal(await page.getAttribute("#f-password", "aria-invalid"), "true");
});

test("an unknown page is a readable 404", async () => {
  const page = await phone(browser, app);
  const response = await visit(page, "/no-such-page");
  assert.equal(response.status(), 404);
  assert.match(await page.textContent("h1"), /Page not found/);
});

test("a form posted from another site is refused and ends nothing", async () => {
  const page = await phone(browser, app);
  await signIn(page, admin.email);
  // Another site (another port of this machine) posts a sign-out form.
  const evil = http.createServer((_, res) => {
    res.setHeader("content-type", "text/html");
    res.end(`<!doctype html><html lang="en"><title>x</title><form method="post" action="${app.base}/sign-out"></form><script>document.forms[0].submit()</script>`);
  });
  await new Promise((r) => evil.listen(0, "127.0.0.1", r));
  try {
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url() === `${app.base}/sign-out`),
      page.goto(`http://127.0.0.1:${evil.address().port}/`),
    ]);
    assert.equal(response.status(), 403);
    await page.waitForLoadState();
    assert.match(await page.textContent("h1"), /This form has expired/);
  } finally {
    evil.close();
  }
  await visit(page, "/");
  assert.equal(new URL(page.url()).pathname, "/", "still signed in");
});
