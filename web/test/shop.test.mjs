// The marketplace's forms as request bodies (src/lib/shop.js) and the buy-now card step.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  PAYOUT_CURRENCIES, accountBody, auctionBody, emptyAddress, emptyItemForm, itemBody, itemChanges, itemForm, localInput,
  maxQuantity, orderActions, parseCount, parseRegions, parseTags, payoutBody, payoutCurrency, purchaseBody, sellerShare,
  shipBody, shippingBody,
} from "../src/lib/shop.js";
import { buyWithCard, mountCard } from "../src/lib/payments.js";

const ITEM = {
  id: "6f1e2b9a-5c59-4c1e-9f0e-5d6f7a8b9c0d", title: "Kiln Bowl", description: "Stoneware.", kind: "physical", price: "2500",
  currency: "EUR", status: "draft", inventory: 3, shipping_regions: ["DE", "FR"], license: null, has_file: false,
  media_ids: ["a1b2c3d4-0000-4000-8000-000000000001"], category: null, tags: ["ceramics"], sku: null,
};

test("counts, regions and tags are read strictly", () => {
  assert.equal(parseCount(" 12 ", "Inventory"), 12);
  assert.equal(parseCount("0", "Inventory"), 0);
  assert.throws(() => parseCount("1.5", "Inventory"), /Inventory: "1.5" is not a whole number/);
  assert.throws(() => parseCount("-1", "Inventory"), /not a whole number/);
  assert.throws(() => parseCount("", "Quantity", { min: 1 }), /not a whole number/);
  assert.throws(() => parseCount("0", "Quantity", { min: 1, max: 3 }), /from 1 to 3/);
  assert.throws(() => parseCount("4", "Quantity", { min: 1, max: 3 }), /from 1 to 3/);
  assert.deepEqual(parseRegions("de, fr nl;DE"), ["DE", "FR", "NL"]);
  assert.deepEqual(parseRegions("  "), []);
  assert.throws(() => parseRegions("DE, Germany, F"), /GERMANY, F are not two-letter country codes/);
  assert.throws(() => parseRegions("DEU"), /DEU is not a two-letter country code/);
  assert.deepEqual(parseTags("ceramics, blue , ,ceramics"), ["ceramics", "blue"]);
});

test("a new physical item: the price in minor units, stock and regions, empty options left out", () => {
  const form = { ...emptyItemForm(), title: "  Kiln Bowl ", price: "25", inventory: "3", regions: "de, fr", tags: "ceramics",
    mediaIds: ["m1"], license: "ignored for a physical item" };
  assert.deepEqual(itemBody(form), {
    kind: "physical", title: "Kiln Bowl", description: "", price: "2500", currency: "EUR", media_ids: ["m1"],
    tags: ["ceramics"], inventory: 3, shipping_regions: ["DE", "FR"],
  });
  assert.equal(itemBody({ ...form, price: "1,234.5", category: "ceramics", sku: " BOWL-1 " }).price, "123450");
  assert.equal(itemBody({ ...form, category: "ceramics", sku: " BOWL-1 " }).sku, "BOWL-1");
  assert.equal(itemBody({ ...form, currency: "ETH", price: "0.5" }).price, "500000000000000000");
});

test("a new digital item: license and file, no stock or regions", () => {
  const form = { ...emptyItemForm(), kind: "digital", title: "Night Print", price: "9.99", license: " Personal use ",
    fileMediaId: "f1", inventory: "5", regions: "DE" };
  assert.deepEqual(itemBody(form), {
    kind: "digital", title: "Night Print", description: "", price: "999", currency: "EUR", media_ids: [], tags: [],
    license: "Personal use", file_media_id: "f1",
  });
  const bare = itemBody({ ...form, license: "", fileMediaId: null });
  assert.equal("license" in bare, false);
  assert.equal("file_media_id" in bare, false);
});

test("item form mistakes are named by their field", () => {
  const form = { ...emptyItemForm(), title: "Bowl", price: "25" };
  assert.throws(() => itemBody({ ...form, title: "  " }), /^Error: Title:/);
  assert.throws(() => itemBody({ ...form, price: "" }), /^Error: Price: "" is not an amount/);
  assert.throws(() => itemBody({ ...form, price: "0" }), /^Error: Price: the amount must be greater than zero/);
  assert.throws(() => itemBody({ ...form, price: "1.234" }), /Price: EUR has at most 2 decimals/);
  assert.throws(() => itemBody({ ...form, inventory: "lots" }), /^Error: Inventory:/);
  assert.throws(() => itemBody({ ...form, regions: "Deutschland" }), /^Error: Ships to:/);
  assert.throws(() => itemBody({ ...form, mediaIds: Array.from({ length: 11 }, (_, i) => `m${i}`) }), /at most 10/);
});

test("editing sends only what changed, with null for a cleared option", () => {
  const form = itemForm({ ...ITEM, category: "ceramics", sku: "BOWL-1" });
  assert.deepEqual(form, {
    title: "Kiln Bowl", description: "Stoneware.", kind: "physical", price: "25", currency: "EUR", inventory: "3",
    regions: "DE, FR", license: "", fileMediaId: null, mediaIds: ITEM.media_ids, category: "ceramics",
    tags: "ceramics", sku: "BOWL-1",
  });
  const item = { ...ITEM, category: "ceramics", sku: "BOWL-1" };
  assert.deepEqual(itemChanges(item, form), {});
  assert.deepEqual(itemChanges(item, { ...form, price: "27.50", inventory: "5", regions: "DE, FR, NL", category: "", sku: "" }),
    { price: "2750", inventory: 5, shipping_regions: ["DE", "FR", "NL"], category: null, sku: null });
  assert.deepEqual(itemChanges(item, { ...form, mediaIds: [], tags: "ceramics, blue" }), { media_ids: [], tags: ["ceramics", "blue"] });
  // The kind cannot change: a physical item's form never sends a license.
  assert.deepEqual(itemChanges(item, { ...form, kind: "digital", license: "x" }), {});
});

test("editing a digital item: a new file is a change, the license can be cleared", () => {
  const item = { ...ITEM, kind: "digital", inventory: null, shipping_regions: [], license: "Personal use", has_file: true };
  const form = itemForm(item);
  assert.equal(form.inventory, "");
  assert.deepEqual(itemChanges(item, form), {});
  assert.deepEqual(itemChanges(item, { ...form, fileMediaId: "f2", license: " " }), { license: null, file_media_id: "f2" });
});

test("an auction: local end time to ISO, amounts in the item's currency, optional reserve and extension", () => {
  const now = Date.parse("2030-01-01T12:00:00Z");
  const endsAt = localInput(now + 86400000);
  assert.deepEqual(auctionBody({ endsAt, startingPrice: "50", minIncrement: "5", reservePrice: "", extensionSeconds: "" }, "EUR", now), {
    ends_at: "2030-01-02T12:00:00.000Z", starting_price: "5000", min_increment: "500",
  });
  assert.deepEqual(auctionBody({ endsAt, startingPrice: "50", minIncrement: "5", reservePrice: "80", extensionSeconds: "120" }, "GBP", now), {
    ends_at: "2030-01-02T12:00:00.000Z", starting_price: "5000", min_increment: "500", reserve_price: "8000", extension_seconds: 120,
  });
  const good = { endsAt, startingPrice: "50", minIncrement: "5" };
  assert.throws(() => auctionBody({ ...good, endsAt: "" }, "EUR", now), /Ends at: choose a date/);
  assert.throws(() => auctionBody({ ...good, endsAt: localInput(now - 60000) }, "EUR", now), /in the future/);
  assert.throws(() => auctionBody({ ...good, minIncrement: "0" }, "EUR", now), /^Error: Minimum increment:/);
  assert.throws(() => auctionBody({ ...good, extensionSeconds: "7200" }, "EUR", now), /Extension: give a number from 0 to 3600/);
});

test("a shipping address: trimmed, the country upper-cased and within the item's regions", () => {
  const address = { ...emptyAddress("de"), name: " Cora ", line1: "Torstr. 1", city: "Berlin", postal_code: "10115" };
  assert.deepEqual(shippingBody(address, ["DE", "FR"]), { name: "Cora", line1: "Torstr. 1", city: "Berlin", postal_code: "10115", country: "DE" });
  assert.equal(shippingBody({ ...address, line2: " Hinterhaus " }, []).line2, "Hinterhaus");
  assert.throws(() => shippingBody({ ...address, country: "NL" }, ["DE", "FR"]), /ships to DE, FR only/);
  assert.throws(() => shippingBody({ ...address, country: "Germany" }, []), /Country: a two-letter code/);
  assert.throws(() => shippingBody({ ...address, postal_code: "1" }, []), /Postal code/);
  assert.throws(() => shippingBody({ ...address, city: " " }, []), /City: required/);
});

test("a purchase: quantity within stock for a physical item, one unshipped copy of a digital one", () => {
  const address = { ...emptyAddress("FR"), name: "Cora", line1: "1 rue X", city: "Paris", postal_code: "75001" };
  assert.deepEqual(purchaseBody(ITEM, { quantity: "2", address }), {
    item_id: ITEM.id, quantity: 2, shipping: { name: "Cora", line1: "1 rue X", city: "Paris", postal_code: "75001", country: "FR" },
  });
  assert.throws(() => purchaseBody(ITEM, { quantity: "4", address }), /Quantity: give a number from 1 to 3/);
  assert.throws(() => purchaseBody({ ...ITEM, inventory: 0 }, { quantity: "1", address }), /sold out/);
  assert.equal(maxQuantity({ ...ITEM, inventory: 5000 }), 100);
  const digital = { ...ITEM, kind: "digital", inventory: null, shipping_regions: [] };
  assert.deepEqual(purchaseBody(digital, { quantity: "7", address }), { item_id: ITEM.id, quantity: 1 });
});

test("what an order allows its buyer and its seller", () => {
  const physical = (status) => ({ status, item_kind: "physical", downloads_left: null });
  const digital = (status, left = 5) => ({ status, item_kind: "digital", downloads_left: left });
  assert.deepEqual(orderActions(physical("paid"), "seller"), ["ship", "refund"]);
  assert.deepEqual(orderActions(physical("shipped"), "seller"), ["refund"]);
  assert.deepEqual(orderActions(physical("fulfilled"), "seller"), ["refund"]);
  assert.deepEqual(orderActions(physical("refunded"), "seller"), []);
  assert.deepEqual(orderActions(physical("pending"), "seller"), []);
  assert.deepEqual(orderActions(digital("paid"), "seller"), ["refund"]);
  assert.deepEqual(orderActions({ ...digital("fulfilled"), sale_id: "1" }, "seller"), []); // paid on chain: no refund
  assert.deepEqual(orderActions(physical("paid"), "buyer"), []);
  assert.deepEqual(orderActions(physical("shipped"), "buyer"), ["confirm"]);
  assert.deepEqual(orderActions(digital("paid"), "buyer"), ["download"]);
  assert.deepEqual(orderActions(digital("fulfilled", 1), "buyer"), ["download"]);
  assert.deepEqual(orderActions(digital("fulfilled", 0), "buyer"), []);
  assert.deepEqual(orderActions(digital("refunded"), "buyer"), []);
});

test("shipping a parcel, and the seller's share", () => {
  assert.deepEqual(shipBody({ carrier: " DHL ", tracking: "" }), { carrier: "DHL" });
  assert.deepEqual(shipBody({ carrier: "DHL", tracking: " JJD-0001 " }), { carrier: "DHL", tracking: "JJD-0001" });
  assert.throws(() => shipBody({ carrier: " " }), /Carrier/);
  assert.throws(() => shipBody({ carrier: "DHL", tracking: "a b" }), /Tracking/);
  assert.equal(sellerShare({ amount: "2500", fee: "250" }), "2250");
  assert.equal(sellerShare({ amount: "123456789012345678901", fee: "1" }), "123456789012345678900");
});

test("payouts: the account's country, the amount typed in major units to minor units", () => {
  assert.deepEqual(accountBody({ country: " de " }), { country: "DE" });
  assert.throws(() => accountBody({ country: "" }), /^Error: Country: a two-letter code/);
  assert.throws(() => accountBody({ country: "DEU" }), /Country: a two-letter code/);
  assert.throws(() => accountBody({ country: "D1" }), /Country: a two-letter code/);

  assert.deepEqual(payoutBody({ currency: "EUR", amount: "12.5" }), { currency: "EUR", amount: "1250" });
  assert.deepEqual(payoutBody({ currency: "GBP", amount: " 1,234.56 " }), { currency: "GBP", amount: "123456" });
  assert.deepEqual(payoutBody({ currency: "USD", amount: "7" }), { currency: "USD", amount: "700" });
  assert.throws(() => payoutBody({ currency: "EUR", amount: "" }), /^Error: Amount: "" is not an amount/);
  assert.throws(() => payoutBody({ currency: "EUR", amount: "0.00" }), /^Error: Amount: the amount must be greater than zero/);
  assert.throws(() => payoutBody({ currency: "EUR", amount: "1.001" }), /^Error: Amount: EUR has at most 2 decimals/);
  assert.throws(() => payoutBody({ currency: "EUR", amount: "-5" }), /Amount: "-5" is not an amount/);
  assert.throws(() => payoutBody({ currency: "ETH", amount: "1" }), /^Error: Currency: payouts are in EUR, USD, GBP/);
  assert.deepEqual(PAYOUT_CURRENCIES, ["EUR", "USD", "GBP"]);

  // The form starts on the first payout currency with money in it.
  assert.equal(payoutCurrency(undefined), "EUR");
  assert.equal(payoutCurrency([]), "EUR");
  assert.equal(payoutCurrency([{ currency: "ETH", amount: "5" }, { currency: "EUR", amount: "0" }, { currency: "GBP", amount: "300" }]), "GBP");
});

test("buy now: a fresh setup intent, the card confirmed, then the order naming the PaymentMethod", async () => {
  const requests = [];
  let lose = 0; // answers to lose on the way, as a dropped connection does (ApiError status 0)
  const api = async (path, options) => {
    requests.push([path, options.method, options.body, options.headers?.["Idempotency-Key"]]);
    if (path === "/api/payments/setup-intents") return { client_secret: "seti_1_secret_z" };
    if (lose > 0) {
      lose -= 1;
      throw Object.assign(new Error("unreachable"), { status: 0 });
    }
    return { id: "o1", status: "paid" };
  };
  let listener;
  const element = { on: (_, fn) => { listener = fn; }, mount() {} };
  const stripe = {
    elements: () => ({ create: () => element }),
    confirmCardSetup: async () => ({ setupIntent: { status: "succeeded", payment_method: "pm_9" } }),
  };
  const card = mountCard(stripe, "node");
  const order = { item_id: "i1", quantity: 1, shipping: { country: "DE" } };
  await assert.rejects(buyWithCard(api, { order, stripe, card }), (error) => error.title === "Enter your card" && /You pay by card/.test(error.detail));
  assert.deepEqual(requests, []);
  listener();
  assert.deepEqual(await buyWithCard(api, { order, stripe, card, key: "k1" }), { id: "o1", status: "paid" });
  const body = { item_id: "i1", quantity: 1, shipping: { country: "DE" }, payment_method: "pm_9" };
  assert.deepEqual(requests, [["/api/payments/setup-intents", "POST", undefined, undefined], ["/api/orders", "POST", body, "k1"]]);
  // A lost answer: sent once more under the same key (the server answers with the first order).
  requests.length = 0;
  lose = 1;
  assert.deepEqual(await buyWithCard(api, { order, stripe, card, key: "k2" }), { id: "o1", status: "paid" });
  assert.deepEqual(requests.slice(1), [["/api/orders", "POST", body, "k2"], ["/api/orders", "POST", body, "k2"]]);
  // Each purchase has its own key.
  requests.length = 0;
  await buyWithCard(api, { order, stripe, card });
  await buyWithCard(api, { order, stripe, card });
  assert.notEqual(requests[1][3], requests[3][3]);
});
