// Moderation in the web app (src/lib/moderation.js): where a reported thing is, which action an
// administrator is offered for it, and the stats' totals.
import assert from "node:assert/strict";
import { test } from "node:test";
import { REASONS, targetAction, targetHref, totals } from "../src/lib/moderation.js";

const ID = "6f1e2b9a-5c59-4c1e-9f0e-5d6f7a8b9c0d";

test("a reported thing leads to its page; a picture has none", () => {
  assert.equal(targetHref("proposal", ID), `#/proposals/${ID}`);
  assert.equal(targetHref("item", ID), `#/items/${ID}`);
  assert.equal(targetHref("user", ID), `#/users/${ID}`);
  assert.equal(targetHref("media", ID), null);
});

test("content is hidden or restored, people suspended or reinstated", () => {
  assert.deepEqual(targetAction("item", ID, null), { label: "Hide", path: `/api/admin/items/${ID}/hide` });
  assert.deepEqual(targetAction("media", ID, "moderation"), { label: "Restore", path: `/api/admin/media/${ID}/restore` });
  assert.deepEqual(targetAction("proposal", ID, null).path, `/api/admin/proposals/${ID}/hide`);
  assert.deepEqual(targetAction("user", ID, null), { label: "Suspend", path: `/api/admin/users/${ID}/suspend` });
  assert.deepEqual(targetAction("user", ID, "suspension"), { label: "Reinstate", path: `/api/admin/users/${ID}/reinstate` });
  // Hidden with its suspended author: it comes back with them, not on its own.
  assert.equal(targetAction("item", ID, "suspension"), null);
});

test("the reasons are the API's, each with words", () => {
  assert.deepEqual(REASONS.map(([value]) => value), ["spam", "abuse", "copyright", "fraud", "explicit", "other"]);
  assert.ok(REASONS.every(([, label]) => label.length > 3));
});

test("the stats' totals add each count over the days", () => {
  const day = (n) => ({ day: "2026-12-04", signups: n, proposals: 1, fundings: 0, sales: 2, reports: n });
  assert.deepEqual(totals([day(1), day(3)]), { signups: 4, proposals: 2, fundings: 0, sales: 4, reports: 4 });
  assert.deepEqual(totals([]), { signups: 0, proposals: 0, fundings: 0, sales: 0, reports: 0 });
});
