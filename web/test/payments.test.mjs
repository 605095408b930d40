// The card step of a bid (src/lib/payments.js) against fakes of the DOM, Stripe.js and the API.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  LOOK_EVERY, LOOK_FOR, PaymentError, bidWithCard, confirmCard, loadStripeJs, mountCard, nextLook, paymentMethodId,
  requireCard, stripeFor,
} from "../src/lib/payments.js";

// A document whose <script> elements load (or fail) when the test says so.
function fakeDocument() {
  const scripts = [];
  const doc = {
    scripts,
    createElement(tag) {
      assert.equal(tag, "script");
      const listeners = {};
      const script = {
        removed: false,
        addEventListener: (name, fn) => { listeners[name] = fn; },
        remove() { this.removed = true; },
        fire: (name) => listeners[name](),
      };
      return script;
    },
    head: { appendChild: (script) => scripts.push(script) },
  };
  return doc;
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test("Stripe.js is injected once however many ask, and each key gets one Stripe object", async () => {
  const doc = fakeDocument();
  const made = [];
  const win = {};
  const payments = { publishable_key: "pk_test_1", js_url: "https://js.example/v3/once" };
  const first = stripeFor(payments, { doc, win });
  const second = stripeFor(payments, { doc, win });
  await tick();
  assert.equal(doc.scripts.length, 1);
  assert.equal(doc.scripts[0].src, payments.js_url);
  assert.equal(doc.scripts[0].async, true);
  win.Stripe = (key) => { made.push(key); return { key }; };
  doc.scripts[0].fire("load");
  const [a, b] = await Promise.all([first, second]);
  assert.equal(a, b);
  assert.deepEqual(made, ["pk_test_1"]);
  assert.equal(await stripeFor(payments, { doc, win }), a);
  assert.equal(doc.scripts.length, 1);
});

test("a failed load is a problem to show, and the next attempt injects the script again", async () => {
  const doc = fakeDocument();
  const win = {};
  const url = "https://js.example/v3/flaky";
  const failing = loadStripeJs(url, { doc, win });
  doc.scripts[0].fire("error");
  await assert.rejects(failing, (error) => error instanceof PaymentError && /not reachable/.test(error.detail));
  assert.equal(doc.scripts[0].removed, true);
  const again = loadStripeJs(url, { doc, win });
  assert.equal(doc.scripts.length, 2);
  doc.scripts[1].fire("load"); // loaded, but no Stripe() in the page
  await assert.rejects(again, /no Stripe\(\)/);
});

test("no payments configured: bidding is unavailable, nothing is loaded", async () => {
  const doc = fakeDocument();
  for (const payments of [null, undefined, { publishable_key: "", js_url: "x" }]) {
    await assert.rejects(stripeFor(payments, { doc, win: {} }), (error) => error.title === "Bidding is unavailable");
  }
  assert.equal(doc.scripts.length, 0);
});

test("the PaymentMethod id, whether Stripe.js names it or expands it", () => {
  assert.equal(paymentMethodId({ payment_method: "pm_123" }), "pm_123");
  assert.equal(paymentMethodId({ payment_method: { id: "pm_456", object: "payment_method" } }), "pm_456");
  assert.equal(paymentMethodId({ payment_method: null }), null);
  assert.equal(paymentMethodId({ payment_method: "" }), null);
  assert.equal(paymentMethodId(undefined), null);
});

// A Stripe.js double: one card element, confirmCardSetup answering as told.
function fakeStripe(answer) {
  const calls = [];
  let element;
  return {
    calls,
    get element() { return element; },
    elements: () => ({
      create(type) {
        assert.equal(type, "card");
        element = { listeners: [], mounted: null, on(name, fn) { assert.equal(name, "change"); this.listeners.push(fn); },
          mount(node) { this.mounted = node; }, change(event) { this.listeners.forEach((fn) => fn(event)); } };
        return element;
      },
    }),
    async confirmCardSetup(secret, data) {
      calls.push({ secret, data });
      return typeof answer === "function" ? answer(secret, data) : answer;
    },
  };
}

test("a card counts once something is typed; Stripe's own validation message is shown", () => {
  const stripe = fakeStripe({});
  const card = mountCard(stripe, "node");
  assert.equal(stripe.element.mounted, "node");
  assert.throws(() => requireCard(card), (error) => error.title === "Enter your card");
  assert.throws(() => requireCard(null), (error) => error.title === "Enter your card");
  stripe.element.change(undefined); // the local stand-in's events carry nothing
  requireCard(card);
  stripe.element.change({ empty: false, complete: false, error: { message: "Your card number is invalid." } });
  assert.throws(() => requireCard(card), (error) => error.title === "Check the card" && error.detail === "Your card number is invalid.");
  stripe.element.change({ empty: true, complete: false });
  assert.throws(() => requireCard(card), (error) => error.title === "Enter your card");
});

test("confirming the card: the element goes to Stripe.js; its refusals become problems", async () => {
  const ok = fakeStripe({ setupIntent: { status: "succeeded", payment_method: "pm_ok" } });
  const card = mountCard(ok, "node");
  assert.equal(await confirmCard(ok, card, "seti_1_secret_x"), "pm_ok");
  assert.equal(ok.calls[0].secret, "seti_1_secret_x");
  assert.equal(ok.calls[0].data.payment_method.card, card.element);

  const refused = fakeStripe({ error: { message: "Your card was declined.", code: "card_declined" } });
  await assert.rejects(confirmCard(refused, mountCard(refused, "n"), "s"),
    (error) => error.title === "The card was not accepted" && error.detail === "Your card was declined.");
  const pending = fakeStripe({ setupIntent: { status: "requires_action", payment_method: null } });
  await assert.rejects(confirmCard(pending, mountCard(pending, "n"), "s"), /requires_action/);
  const thrown = fakeStripe(() => { throw new TypeError("network down"); });
  await assert.rejects(confirmCard(thrown, mountCard(thrown, "n"), "s"), /network down/);
  const silent = fakeStripe({ error: undefined });
  await assert.rejects(confirmCard(silent, mountCard(silent, "n"), "s"), PaymentError);
});

test("a bid: a fresh setup intent, the card confirmed, then the bid naming the PaymentMethod", async () => {
  const requests = [];
  const api = async (path, options) => {
    requests.push([path, options]);
    if (path === "/api/payments/setup-intents") return { client_secret: `seti_${requests.length}_secret_z` };
    return { bid: { amount: options.body.amount } };
  };
  let made = 0;
  const stripe = fakeStripe(() => ({ setupIntent: { status: "succeeded", payment_method: { id: `pm_${++made}` } } }));
  const card = mountCard(stripe, "node");
  stripe.element.change();
  const out = await bidWithCard(api, { auctionId: "a1", amount: "25000", stripe, card });
  assert.deepEqual(out, { bid: { amount: "25000" } });
  await bidWithCard(api, { auctionId: "a1", amount: "26000", stripe, card });
  assert.deepEqual(requests.map(([path, o]) => [path, o.method, o.body]), [
    ["/api/payments/setup-intents", "POST", undefined],
    ["/api/auctions/a1/bids", "POST", { amount: "25000", payment_method: "pm_1" }],
    ["/api/payments/setup-intents", "POST", undefined],
    ["/api/auctions/a1/bids", "POST", { amount: "26000", payment_method: "pm_2" }],
  ]);
  assert.deepEqual(stripe.calls.map((c) => c.secret), ["seti_1_secret_z", "seti_3_secret_z"]);
});

test("a bid stops at the first refusal: no card, a refused card, or the API's problem", async () => {
  const requests = [];
  const api = async (path) => {
    requests.push(path);
    if (path.endsWith("/bids")) throw Object.assign(new Error("declined"), { status: 402, title: "The payment was not authorised" });
    return { client_secret: "seti_9_secret_z" };
  };
  const stripe = fakeStripe({ error: { message: "Your card was declined." } });
  const card = mountCard(stripe, "node");
  await assert.rejects(bidWithCard(api, { auctionId: "a", amount: "1", stripe, card }), /type its number/);
  assert.deepEqual(requests, []); // nothing asked of the API without a card
  stripe.element.change();
  await assert.rejects(bidWithCard(api, { auctionId: "a", amount: "1", stripe, card }), /Your card was declined/);
  assert.deepEqual(requests, ["/api/payments/setup-intents"]);
  const accepting = fakeStripe({ setupIntent: { payment_method: "pm_x" } });
  const good = mountCard(accepting, "node");
  accepting.element.change();
  await assert.rejects(bidWithCard(api, { auctionId: "a", amount: "1", stripe: accepting, card: good }),
    (error) => error.status === 402);
});

test("the panel looks again just after the end, then every few seconds for a while", () => {
  const end = Date.parse("2030-01-01T12:00:00Z");
  const auction = { status: "open", ends_at: "2030-01-01T12:00:00Z" };
  assert.equal(nextLook(auction, end - 10_000), 10_500);
  assert.equal(nextLook(auction, end - 2 * 3600 * 1000), null); // far off: not waited for
  assert.equal(nextLook(auction, end + 1), LOOK_EVERY);
  assert.equal(nextLook(auction, end + LOOK_FOR + 1), null);
  assert.equal(nextLook({ ...auction, status: "closed" }, end + 1), null);
  assert.equal(nextLook(undefined, end), null);
  assert.equal(nextLook({ status: "open", ends_at: "not a date" }, end), null);
});
