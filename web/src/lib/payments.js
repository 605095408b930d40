// Card payments through Stripe.js: a bid is backed by an authorisation on the bidder's card
// (held now, released if they are outbid, taken if they win); buying now charges the card. Stripe.js comes from
// GET /api/config's payments.js_url (js.stripe.com in production, localstripe's stand-in
// with the same API locally) and is loaded once, only when someone is about to pay.
//
// No module here talks to the platform itself: the caller hands in its `api` function,
// so this logic runs under node's test runner too.

export class PaymentError extends Error {
  constructor(title, detail) {
    super(detail);
    this.title = title;
    this.detail = detail;
  }
}

export const unavailable = () =>
  new PaymentError("Bidding is unavailable", "This site takes no card payments at the moment, so it cannot take bids.");

const scripts = new Map(); // js_url -> Promise of the Stripe constructor
const instances = new Map(); // js_url + publishable key -> a Stripe object

// Inject <script src=url> once; a failed load is forgotten, so a later attempt tries again.
export function loadStripeJs(url, { doc = globalThis.document, win = globalThis.window } = {}) {
  let loading = scripts.get(url);
  if (loading) return loading;
  loading = new Promise((resolve, reject) => {
    const script = doc.createElement("script");
    const failed = (detail) => {
      scripts.delete(url);
      script.remove();
      reject(new PaymentError("The card form could not load", detail));
    };
    script.src = url;
    script.async = true;
    script.addEventListener("load", () => (typeof win.Stripe === "function"
      ? resolve(win.Stripe) : failed("Stripe.js loaded but offers no Stripe(): try again later.")));
    script.addEventListener("error", () => failed("Stripe.js is not reachable: check your connection and try again."));
    doc.head.appendChild(script);
  });
  scripts.set(url, loading);
  return loading;
}

// The Stripe object for this site's configuration (config.payments; null: no payments).
export async function stripeFor(payments, options) {
  if (!payments?.publishable_key || !payments?.js_url) throw unavailable();
  const key = `${payments.js_url} ${payments.publishable_key}`;
  if (!instances.has(key)) {
    const Stripe = await loadStripeJs(payments.js_url, options);
    if (!instances.has(key)) instances.set(key, Stripe(payments.publishable_key));
  }
  return instances.get(key);
}

// A card element mounted in `node`, with what its change events said. Stripe's events carry
// {complete, empty, error}; the local stand-in's carry nothing, so "touched" is what counts.
export function mountCard(stripe, node) {
  const element = stripe.elements().create("card");
  const card = { element, touched: false, error: null };
  element.on("change", (event) => {
    card.touched = !event?.empty;
    card.error = event?.error?.message || null;
  });
  element.mount(node);
  return card;
}

export const BID_CARD = "Your bid is held on a card: type its number, expiry date and CVC.";
export const BUY_CARD = "You pay by card: type its number, expiry date and CVC.";

export function requireCard(card, detail = BID_CARD) {
  if (!card?.touched) {
    throw new PaymentError("Enter your card", detail);
  }
  if (card.error) throw new PaymentError("Check the card", card.error);
}

// Stripe.js answers setupIntent.payment_method as an id, or expanded as an object.
export function paymentMethodId(setupIntent) {
  const method = setupIntent?.payment_method;
  if (typeof method === "string") return method || null;
  return typeof method?.id === "string" ? method.id : null;
}

// Confirm a SetupIntent with the card: the PaymentMethod id a bid names.
export async function confirmCard(stripe, card, clientSecret) {
  let result;
  try {
    result = await stripe.confirmCardSetup(clientSecret, { payment_method: { card: card.element } });
  } catch (error) {
    throw new PaymentError("The card could not be checked", error?.message || String(error));
  }
  if (result?.error) {
    throw new PaymentError("The card was not accepted", result.error.message || "The card was refused: try another.");
  }
  const id = paymentMethodId(result?.setupIntent);
  if (!id) {
    const status = result?.setupIntent?.status;
    throw new PaymentError("The card was not accepted", status ? `Its setup ended ${status}: try again.` : "Try again.");
  }
  return id;
}

// The card as a PaymentMethod for one payment: a fresh SetupIntent each time (a PaymentMethod
// that belongs to no customer can back one payment only), confirmed by Stripe.js.
export async function cardPaymentMethod(api, { stripe, card, detail }) {
  requireCard(card, detail);
  const setup = await api("/api/payments/setup-intents", { method: "POST" });
  return confirmCard(stripe, card, setup.client_secret);
}

// A bid backed by the card. The API's problems (402 declined, 409 too low or ended, 422, 503)
// arrive as they are.
export async function bidWithCard(api, { auctionId, amount, stripe, card }) {
  const paymentMethod = await cardPaymentMethod(api, { stripe, card, detail: BID_CARD });
  return api(`/api/auctions/${auctionId}/bids`, { method: "POST", body: { amount, payment_method: paymentMethod } });
}

// Buy now with the card: `order` is POST /api/orders' body less the card (lib/shop.js's
// purchaseBody); the answer is the order, paid. 402 declined, 409 sold out or being
// auctioned, 422 invalid arrive as they are.
// The purchase carries an Idempotency-Key: if the answer is lost on the way (status 0, the
// connection dropped), it is sent once more under the same key, and the server answers with the
// order the first one made rather than charging again.
export async function buyWithCard(api, { order, stripe, card, key = crypto.randomUUID() }) {
  const paymentMethod = await cardPaymentMethod(api, { stripe, card, detail: BUY_CARD });
  const send = () => api("/api/orders", { method: "POST", body: { ...order, payment_method: paymentMethod },
    headers: { "Idempotency-Key": key } });
  try {
    return await send();
  } catch (error) {
    if (error?.status !== 0) throw error;
    return send();
  }
}

// When the auction panel should look again by itself (ms from `now`), or null: just after
// the end, then every few seconds until the close job has closed it (it runs each minute),
// for a few minutes at most. An end further away than an hour is not waited for.
export const LOOK_EVERY = 3000;
export const LOOK_FOR = 3 * 60 * 1000;

export function nextLook(auction, now) {
  if (auction?.status !== "open") return null;
  const ends = Date.parse(auction.ends_at);
  if (Number.isNaN(ends)) return null;
  if (now < ends) return ends - now > 3600 * 1000 ? null : ends - now + 500;
  return now - ends > LOOK_FOR ? null : LOOK_EVERY;
}
