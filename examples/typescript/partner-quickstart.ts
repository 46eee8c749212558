// The partner-app quickstart in TypeScript: types generated from
// openapi/openapi.json by openapi-typescript, calls made with openapi-fetch
// (see examples/README.md).
//
// A treasurer's tool for a collective: an admin registers it as a partner
// app; the app signs in with the client-credentials grant, records a
// contribution (with an Idempotency-Key, then replays it) and pages through
// the pool's ledger. Holds and pool edits are coordinators' work, so the
// coordinator the tool acts for signs in too: a hold larger than the pool is
// refused as a typed 409 naming what is `available`, and a stale If-Match is
// a typed 412.
//
//   COMMONPOT_URL=http://127.0.0.1:8080 COMMONPOT_COLLECTIVE_ID=… \
//   COMMONPOT_EMAIL=ada@example.org COMMONPOT_PASSWORD=… node dist/partner-quickstart.js

import { randomUUID } from "node:crypto";
import createClient from "openapi-fetch";
import type { components, paths } from "./generated/commonpot.js";

type Entry = components["schemas"]["Entry"];

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function fail(what: string, response: Response, body: unknown): never {
  throw new Error(`${what}: ${response.status} ${JSON.stringify(body)}`);
}

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`expected: ${what}`);
}

const baseUrl = env("COMMONPOT_URL");
const collective = env("COMMONPOT_COLLECTIVE_ID");
const api = createClient<paths>({ baseUrl });
// The token endpoint takes an OAuth 2 form (RFC 6749), as the document says.
const form = { "Content-Type": "application/x-www-form-urlencoded" };

async function signedIn(token: string) {
  return createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });
}

async function main(): Promise<void> {
  // The coordinator (here the collective's admin) signs in.
  const login = await api.POST("/api/v1/auth/token", {
    headers: form,
    body: { grant_type: "password", username: env("COMMONPOT_EMAIL"), password: env("COMMONPOT_PASSWORD") },
  });
  if (!login.data) fail("sign-in", login.response, login.error);
  const coordinator = await signedIn(login.data.access_token);

  // A pool, and the partner app, registered by the admin; its secret is shown once.
  const created = await coordinator.POST("/api/v1/collectives/{id}/pools", {
    params: { path: { id: collective } },
    body: { name: "Quickstart (TypeScript)", currency: "EUR", goal: "1000.00" },
  });
  if (!created.data) fail("create pool", created.response, created.error);
  const pool = created.data;
  const registered = await coordinator.POST("/api/v1/collectives/{id}/clients", {
    params: { path: { id: collective } },
    body: { name: "Treasurer's tool (TypeScript)", scopes: ["contributions:write", "pools:read"] },
  });
  if (!registered.data) fail("register app", registered.response, registered.error);
  const app = registered.data;

  // 1. The app signs in with the client-credentials grant.
  const granted = await api.POST("/api/v1/auth/token", {
    headers: form,
    body: { grant_type: "client_credentials", client_id: app.id, client_secret: app.client_secret },
  });
  if (!granted.data) fail("client credentials", granted.response, granted.error);
  const token = granted.data;
  const partner = await signedIn(token.access_token);
  console.log(`client credentials: ${token.token_type} token for ${token.scope}, ${token.expires_in} s`);

  // 2. A contribution with an Idempotency-Key; the same call again is its replay.
  const key = randomUUID();
  const gift = {
    params: { path: { id: pool.id }, header: { "Idempotency-Key": key } },
    body: { amount: "120.00", method: "bank_transfer" as const, external_reference: `bank-${key}` },
  };
  const first = await partner.POST("/api/v1/pools/{id}/contributions", gift);
  if (!first.data) fail("contribution", first.response, first.error);
  const again = await partner.POST("/api/v1/pools/{id}/contributions", gift);
  if (!again.data) fail("replay", again.response, again.error);
  check(again.data.id === first.data.id, "a replay answers the same contribution");
  check(again.response.headers.get("Idempotent-Replayed") === "true", "the replay says so");
  check(first.response.headers.get("Idempotent-Replayed") === null, "the first answer is not a replay");
  console.log(`contribution ${first.data.amount} ${first.data.id}; replayed: same id`);

  // 3. A hold for more than the pool has: a typed 409 that says what is available.
  const refused = await coordinator.POST("/api/v1/pools/{id}/holds", {
    params: { path: { id: pool.id }, header: { "Idempotency-Key": randomUUID() } },
    body: { amount: "5000.00", note: "too much" },
  });
  const conflict = refused.error;
  if (conflict?.status !== 409) fail("hold for too much", refused.response, refused.error ?? refused.data);
  check(conflict.code === "insufficient_funds", "insufficient_funds");
  check(conflict.available === "120.00", "available 120.00");
  console.log(`hold refused: ${conflict.code}, available ${conflict.available} ${conflict.currency}, needed ${conflict.needed}`);

  // 4. The ledger, one entry a page, following next_cursor to the end.
  const entries: Entry[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await partner.GET("/api/v1/pools/{id}/entries", {
      params: { path: { id: pool.id }, query: { limit: 1, cursor } },
    });
    if (!page.data) fail("entries", page.response, page.error);
    entries.push(...page.data.items);
    if (!page.data.next_cursor) break;
    cursor = page.data.next_cursor;
  }
  check(entries.length === 1 && entries[0]?.kind === "contribution", "one contribution entry");
  console.log(`ledger: ${entries.length} entry, paged one at a time`);

  // 5. Two edits from the same read: the second one's If-Match is stale.
  const read = await coordinator.GET("/api/v1/pools/{id}", { params: { path: { id: pool.id } } });
  const etag = read.response.headers.get("ETag");
  if (!read.data || etag === null) fail("read pool", read.response, read.error);
  const edit = (goal: string) =>
    coordinator.PATCH("/api/v1/pools/{id}", {
      params: { path: { id: pool.id }, header: { "If-Match": etag } },
      body: { goal },
    });
  const edited = await edit("1500.00");
  if (!edited.data) fail("edit pool", edited.response, edited.error);
  const stale = await edit("2000.00");
  if (stale.error?.status !== 412) fail("stale edit", stale.response, stale.error ?? stale.data);
  check(stale.error.code === "precondition_failed", "precondition_failed");
  console.log(`stale If-Match ${etag}: ${stale.error.code}; now ${stale.response.headers.get("ETag")}`);
}

await main();
