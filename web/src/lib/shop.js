// The marketplace's forms as request bodies, and what an order allows (pure: the pages and
// node's test runner share it). Every function throws an Error whose message a person can
// act on; the pages show it as a problem ("Check the item": "Price: ...").
import { parseAmount, toMajor } from "./money.js";

export const MAX_QUANTITY = 100; // POST /api/orders' quantity

// A form's input, built into a request body; a mistake becomes a problem the page shows.
export const check = (title, build) => {
  try {
    return build();
  } catch (error) {
    throw { title, detail: error.message };
  }
};
export const MAX_IMAGES = 10; // an item's media_ids
const POSTAL_CODE = /^[A-Za-z0-9 -]{2,12}$/;
const COUNTRY = /^[A-Z]{2}$/;

function labelled(label, parse) {
  try {
    return parse();
  } catch (error) {
    throw new Error(`${label}: ${error.message}`);
  }
}

// "3" -> 3, within [min, max]; no decimals, signs or exponents.
export function parseCount(text, label, { min = 0, max = 1_000_000 } = {}) {
  const clean = String(text ?? "").trim();
  if (!/^\d+$/.test(clean)) throw new Error(`${label}: "${text}" is not a whole number`);
  const value = Number(clean);
  if (value < min || value > max) throw new Error(`${label}: give a number from ${min} to ${max}`);
  return value;
}

// "de, fr nl" -> ["DE", "FR", "NL"]: two-letter country codes, each once.
export function parseRegions(text) {
  const codes = String(text ?? "").split(/[\s,;]+/).filter(Boolean).map((code) => code.toUpperCase());
  const wrong = codes.filter((code) => !COUNTRY.test(code));
  if (wrong.length) throw new Error(`Ships to: ${wrong.join(", ")} ${wrong.length === 1 ? "is not a" : "are not"} two-letter country code${wrong.length === 1 ? "" : "s"} (like DE or FR)`);
  return [...new Set(codes)];
}

export const parseTags = (text) => [...new Set(String(text ?? "").split(",").map((t) => t.trim()).filter(Boolean))];

export function emptyItemForm() {
  return { title: "", description: "", kind: "physical", price: "", currency: "EUR", inventory: "1", regions: "",
    license: "", fileMediaId: null, mediaIds: [], category: "", tags: "", sku: "" };
}

// An item (ItemOut) as the form shows it for editing.
export function itemForm(item) {
  return {
    title: item.title, description: item.description, kind: item.kind, price: toMajor(item.price, item.currency),
    currency: item.currency, inventory: item.inventory === null || item.inventory === undefined ? "" : String(item.inventory),
    regions: (item.shipping_regions || []).join(", "), license: item.license || "", fileMediaId: null,
    mediaIds: [...(item.media_ids || [])], category: item.category || "", tags: (item.tags || []).join(", "), sku: item.sku || "",
  };
}

// The values the form stands for, in the API's terms (null: cleared) for an item of `kind`.
function values(form, kind) {
  const title = form.title.trim();
  if (!title) throw new Error("Title: give the work a title");
  const out = {
    title, description: form.description, price: labelled("Price", () => parseAmount(form.price, form.currency)),
    currency: form.currency, media_ids: [...form.mediaIds], category: form.category || null, tags: parseTags(form.tags),
    sku: form.sku.trim() || null,
  };
  if (out.media_ids.length > MAX_IMAGES) throw new Error(`Images: at most ${MAX_IMAGES}`);
  if (kind === "physical") {
    out.inventory = parseCount(form.inventory, "Inventory");
    out.shipping_regions = parseRegions(form.regions);
  } else {
    out.license = form.license.trim() || null;
    if (form.fileMediaId) out.file_media_id = form.fileMediaId;
  }
  return out;
}

// POST /api/items' body: a draft item; optional fields that are empty are left out.
export function itemBody(form) {
  const body = { kind: form.kind, ...values(form, form.kind) };
  for (const key of ["category", "sku", "license"]) if (body[key] === null) delete body[key];
  return body;
}

const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

// PATCH /api/items/{id}'s body: only what changed from `item` (ItemOut). A new file
// (digital) is a change; the current one is not in ItemOut to compare.
export function itemChanges(item, form) {
  const next = values(form, item.kind);
  const changes = {};
  for (const [key, value] of Object.entries(next)) {
    if (key === "file_media_id" || !same(item[key], value)) changes[key] = value;
  }
  return changes;
}

// POST /api/items/{id}/auctions' body, amounts in the item's currency. `endsAt` is what a
// datetime-local input holds (local time); it must lie ahead of `now` (ms).
export function auctionBody(form, currency, now = Date.now()) {
  const ends = new Date(form.endsAt);
  if (!form.endsAt || Number.isNaN(ends.getTime())) throw new Error("Ends at: choose a date and time");
  if (ends.getTime() <= now) throw new Error("Ends at: choose a time in the future");
  const body = {
    ends_at: ends.toISOString(),
    starting_price: labelled("Starting price", () => parseAmount(form.startingPrice, currency)),
    min_increment: labelled("Minimum increment", () => parseAmount(form.minIncrement, currency)),
  };
  if (String(form.reservePrice ?? "").trim()) body.reserve_price = labelled("Reserve", () => parseAmount(form.reservePrice, currency));
  if (String(form.extensionSeconds ?? "").trim()) body.extension_seconds = parseCount(form.extensionSeconds, "Extension", { max: 3600 });
  return body;
}

// A datetime-local input's value for a moment (local time, to the minute).
export function localInput(ms) {
  const d = new Date(ms);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

export const emptyAddress = (country = "") => ({ name: "", line1: "", line2: "", city: "", postal_code: "", country });

// The shipping address as POST /api/orders takes it, for an item shipping to `regions`
// (the API's rule: the country must be one of them, when it names any).
export function shippingBody(address, regions = []) {
  const out = {};
  for (const [key, label] of [["name", "Name"], ["line1", "Address"], ["city", "City"]]) {
    out[key] = String(address[key] ?? "").trim();
    if (!out[key]) throw new Error(`${label}: required for shipping`);
  }
  const line2 = String(address.line2 ?? "").trim();
  if (line2) out.line2 = line2;
  out.postal_code = String(address.postal_code ?? "").trim();
  if (!POSTAL_CODE.test(out.postal_code)) throw new Error("Postal code: 2 to 12 letters, digits, spaces or dashes");
  out.country = String(address.country ?? "").trim().toUpperCase();
  if (!COUNTRY.test(out.country)) throw new Error("Country: a two-letter code, like DE");
  if (regions.length && !regions.includes(out.country)) throw new Error(`Country: this item ships to ${regions.join(", ")} only`);
  return out;
}

// How many of an item one order may take.
export const maxQuantity = (item) => (item.kind === "physical" ? Math.max(0, Math.min(item.inventory ?? 0, MAX_QUANTITY)) : 1);

// POST /api/orders' body less the card: a digital item one at a time and never shipped.
export function purchaseBody(item, { quantity, address }) {
  if (item.kind === "digital") return { item_id: item.id, quantity: 1 };
  const most = maxQuantity(item);
  if (most < 1) throw new Error("Quantity: sold out");
  return {
    item_id: item.id,
    quantity: parseCount(quantity, "Quantity", { min: 1, max: most }),
    shipping: shippingBody(address, item.shipping_regions || []),
  };
}

export const isDigitalOrder = (order) => order.item_kind === "digital";

// What the caller may do with an order, as its buyer or its seller (the API's rules).
export function orderActions(order, role) {
  const digital = isDigitalOrder(order);
  const actions = [];
  if (role === "seller") {
    if (order.status === "paid" && !digital) actions.push("ship");
    // Paid on chain (sale_id): the market contract keeps no refund.
    if (["paid", "shipped", "fulfilled"].includes(order.status) && !order.sale_id) actions.push("refund");
  } else {
    if (order.status === "shipped") actions.push("confirm");
    if (digital && ["paid", "fulfilled"].includes(order.status) && order.downloads_left > 0) actions.push("download");
  }
  return actions;
}

// POST /api/orders/{id}/ship's body.
export function shipBody(form) {
  const carrier = String(form.carrier ?? "").trim();
  if (!carrier) throw new Error("Carrier: name the carrier");
  const body = { carrier };
  const tracking = String(form.tracking ?? "").trim();
  if (tracking) {
    if (!/^[A-Za-z0-9-]{1,128}$/.test(tracking)) throw new Error("Tracking: letters, digits and dashes only");
    body.tracking = tracking;
  }
  return body;
}

// What the seller keeps of an order: its amount less the platform's fee.
export const sellerShare = (order) => (BigInt(order.amount) - BigInt(order.fee)).toString();

// Payouts: the currencies Stripe Connect pays out in (POST /api/payouts' enum).
export const PAYOUT_CURRENCIES = ["EUR", "USD", "GBP"];

// POST /api/payouts/account's body: where the seller's bank account is.
export function accountBody(form) {
  const country = String(form.country ?? "").trim().toUpperCase();
  if (!COUNTRY.test(country)) throw new Error("Country: a two-letter code, like DE");
  return { country };
}

// POST /api/payouts' body: what the seller typed in major units ("12.50" EUR -> "1250").
export function payoutBody(form) {
  if (!PAYOUT_CURRENCIES.includes(form.currency)) throw new Error(`Currency: payouts are in ${PAYOUT_CURRENCIES.join(", ")}`);
  return { currency: form.currency, amount: labelled("Amount", () => parseAmount(form.amount, form.currency)) };
}

// The currency a payout form starts on: the first balance (GET /api/orders/balance's items)
// with money in a payout currency, else EUR.
export function payoutCurrency(balances = []) {
  const some = balances.find((b) => PAYOUT_CURRENCIES.includes(b.currency) && BigInt(b.amount) > 0n);
  return some ? some.currency : PAYOUT_CURRENCIES[0];
}
