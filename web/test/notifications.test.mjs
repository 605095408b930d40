// Notifications in the web app (src/lib/notifications.js): where each leads, the bell's badge,
// and the preferences sent back.
import assert from "node:assert/strict";
import { test } from "node:test";
import { changedPreferences, notificationHref, unreadBadge } from "../src/lib/notifications.js";

const ID = "6f1e2b9a-5c59-4c1e-9f0e-5d6f7a8b9c0d";

test("a notification leads to what it is about", () => {
  assert.equal(notificationHref({ subject_type: "proposal", subject_id: ID, data: {} }), `#/proposals/${ID}`);
  assert.equal(notificationHref({ subject_type: "item", subject_id: ID, data: {} }), `#/items/${ID}`);
  assert.equal(notificationHref({ subject_type: "user", subject_id: ID, data: {} }), `#/users/${ID}`);
  assert.equal(notificationHref({ subject_type: "order", subject_id: ID, data: { item_id: ID } }), "#/orders");
  // An auction's page is its item's.
  assert.equal(notificationHref({ subject_type: "auction", subject_id: "a", data: { item_id: ID } }), `#/items/${ID}`);
  assert.equal(notificationHref({ subject_type: "auction", subject_id: "a", data: {} }), "#/market");
  assert.equal(notificationHref({ subject_type: "something-new", subject_id: "x" }), "#/notifications");
});

test("the bell shows a count people read at a glance and screen readers hear in words", () => {
  assert.deepEqual(unreadBadge(0), { text: "", label: "Notifications" });
  assert.deepEqual(unreadBadge(3), { text: "3", label: "Notifications, 3 unread" });
  assert.deepEqual(unreadBadge(250), { text: "99+", label: "Notifications, 250 unread" });
});

test("only the kinds whose choice changed are sent back", () => {
  const saved = [{ kind: "outbid", description: "d", enabled: true, email: true },
    { kind: "new_follower", description: "d", enabled: true, email: false }];
  assert.deepEqual(changedPreferences(saved, saved), []);
  const edited = [{ ...saved[0], email: false }, saved[1]];
  assert.deepEqual(changedPreferences(saved, edited), [{ kind: "outbid", enabled: true, email: false }]);
});
