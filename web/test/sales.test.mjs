// Sales for ETH (src/lib/sales.js): the sale form's body and who may do what.
import assert from "node:assert/strict";
import { test } from "node:test";
import { saleActions, saleBody } from "../src/lib/sales.js";

const SELLER = "0x20F73A21fBB54f7A4b4Bd15bB17d8447215376Ba";
const BUYER = "0x462edb28EaE0798f80086743580F4d22E350C96D";

test("a sale's body is wei, and an auction's length is bounded as the contract bounds it", () => {
  assert.deepEqual(saleBody({ kind: "fixed", price: "1.5", hours: "" }), { kind: "fixed", price: "1500000000000000000" });
  assert.deepEqual(saleBody({ kind: "auction", price: "0.01", hours: "24" }),
    { kind: "auction", price: "10000000000000000", duration_seconds: 86400 });
  assert.throws(() => saleBody({ kind: "auction", price: "1", hours: "0.1" }), /ten minutes/);
  assert.throws(() => saleBody({ kind: "auction", price: "1", hours: "721" }), /720 hours/);
  assert.throws(() => saleBody({ kind: "fixed", price: "0", hours: "" }), /greater than zero/);
  assert.throws(() => saleBody({ kind: "fixed", price: "1e18", hours: "" }), /not an amount/);
});

test("the seller cancels until a bid, others buy or bid, anyone settles an ended auction", () => {
  const now = new Date("2026-12-03T12:00:00Z");
  const fixed = { status: "open", kind: "fixed", seller: SELLER, bids: 0 };
  assert.deepEqual(saleActions(fixed, BUYER, now), ["buy"]);
  assert.deepEqual(saleActions(fixed, SELLER.toLowerCase(), now), ["cancel"]);
  const running = { status: "open", kind: "auction", seller: SELLER, bids: 1, ends_at: "2026-12-03T13:00:00Z" };
  assert.deepEqual(saleActions(running, BUYER, now), ["bid"]);
  assert.deepEqual(saleActions(running, SELLER, now), []);
  assert.deepEqual(saleActions({ ...running, bids: 0 }, SELLER, now), ["cancel"]);
  assert.deepEqual(saleActions({ ...running, ends_at: "2026-12-03T11:00:00Z" }, null, now), ["settle"]);
  assert.deepEqual(saleActions({ ...fixed, status: "sold" }, BUYER, now), []);
});
