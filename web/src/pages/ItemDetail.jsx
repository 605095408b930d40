import { useEffect, useRef, useState } from "react";
import { api } from "../lib/api.js";
import { watch } from "../lib/live.js";
import { formatAmount, parseAmount, times } from "../lib/money.js";
import { bidWithCard, buyWithCard, nextLook } from "../lib/payments.js";
import { check, emptyAddress, maxQuantity, purchaseBody } from "../lib/shop.js";
import { useSession } from "../session.jsx";
import { ReportButton } from "../components/Report.jsx";
import { TimeLeft, when } from "../components/Common.jsx";
import { CardField, useStripe } from "../components/CardField.jsx";
import { ChainSales } from "../components/ChainSales.jsx";
import { MediaById } from "../components/Media.jsx";
import { Empty, Loading, Problem, useAction, useLoad } from "../components/States.jsx";

function Reactions({ item }) {
  const { profile } = useSession();
  const [state, setState] = useState({ favorite: false, like: false, favorite_count: item.favorite_count, like_count: item.like_count });
  useEffect(() => {
    if (profile) api(`/api/items/${item.id}/reactions`).then((r) => setState((s) => ({ ...s, favorite: r.favorite, like: r.like })), () => {});
  }, [item.id, profile]);
  const toggle = useAction(async (kind) => {
    const out = await api(`/api/items/${item.id}/${kind}`, { method: state[kind] ? "DELETE" : "PUT" });
    setState((s) => ({ ...s, [kind]: out.active, [`${kind}_count`]: out.count }));
  });
  if (!profile) return <p className="muted">♥ {state.like_count} likes · ★ {state.favorite_count} favorites · <a href="#/signin">sign in</a> to react</p>;
  return (
    <div className="actions">
      <button type="button" aria-pressed={state.favorite} onClick={() => toggle.run("favorite")} disabled={toggle.busy} data-testid="favorite">
        {state.favorite ? "★ Favorited" : "☆ Favorite"} ({state.favorite_count})
      </button>
      <button type="button" aria-pressed={state.like} onClick={() => toggle.run("like")} disabled={toggle.busy} data-testid="like">
        {state.like ? "♥ Liked" : "♡ Like"} ({state.like_count})
      </button>
      <Problem error={toggle.error} />
    </div>
  );
}

const OUTCOMES = {
  reserve_not_met: "Not sold: the reserve was not met",
  no_bids: "Not sold: nobody bid",
  payment_failed: "Not sold: the winner's payment failed",
};

function Outcome({ auction }) {
  const { profile } = useSession();
  const winner = useLoad(() => (auction.winner_id && auction.winner_id !== profile?.id
    ? api(`/api/users/${auction.winner_id}`) : null), [auction.winner_id, profile?.id]);
  if (auction.outcome !== "sold" || !auction.winner_id) return OUTCOMES[auction.outcome] || "Closed";
  if (auction.winner_id === profile?.id) return <span className="ok">You won this auction</span>;
  return <>Won by <a href={`#/users/${auction.winner_id}`}>{winner.data?.display_name || "the highest bidder"}</a></>;
}

function Auction({ item, onClosed, onAuction }) {
  const { profile, config } = useSession();
  const [version, setVersion] = useState(0);
  const [amount, setAmount] = useState("");
  const stripe = useStripe(config.payments);
  const card = useRef(null);
  const auctions = useLoad(() => api(`/api/items/${item.id}/auctions`), [item.id, version]);
  const auction = auctions.data?.items[0];
  const bids = useLoad(() => (auction ? api(`/api/auctions/${auction.id}/bids`, { query: { limit: 10 } }) : null), [auction?.id, version]);
  // The page offers Buy now only once it knows no auction runs.
  useEffect(() => {
    if (auctions.data) onAuction?.(auction || null);
  }, [auctions.data, auction, onAuction]);
  // Another person's bid, or the close: the auction's live document changes, and the panel
  // reads the API again (the first answer is the state the page has just read).
  const auctionId = auction?.id;
  useEffect(() => {
    if (!auctionId) return undefined;
    let first = true;
    return watch(`auctions/${auctionId}`, () => {
      if (first) first = false;
      else setVersion((v) => v + 1);
    });
  }, [auctionId]);
  // Around the end: look again by itself until the close job has closed the auction.
  useEffect(() => {
    const wait = nextLook(auction, Date.now());
    if (wait === null) return undefined;
    const timer = setTimeout(() => setVersion((v) => v + 1), wait); // each answer is a new object: set up again
    return () => clearTimeout(timer);
  }, [auction]);
  // Seen closing: the item changes too (sold to the winner once their payment is taken).
  const seen = useRef(null);
  useEffect(() => {
    if (seen.current === "open" && auction && auction.status !== "open") onClosed?.();
    seen.current = auction?.status ?? null;
  }, [auction?.status, onClosed]);
  const bid = useAction(async (event) => {
    event.preventDefault();
    const minor = check("Check the amount", () => parseAmount(amount, auction.currency));
    const loaded = await stripe.load();
    await bidWithCard(api, { auctionId: auction.id, amount: minor, stripe: loaded, card: card.current });
    setAmount("");
    setVersion((v) => v + 1);
  });
  if (auctions.loading && !auctions.data) return <Loading label="Loading the auction…" />;
  if (auctions.error) return <Problem error={auctions.error} onRetry={auctions.reload} />;
  if (!auction) return null;
  const open = auction.status === "open";
  const seller = profile?.id === auction.seller_id;
  let bidding = null;
  if (open && !seller) {
    if (!config.payments) {
      bidding = <p className="muted" data-testid="bidding-unavailable">Bidding is unavailable: this site takes no card payments at the moment.</p>;
    } else if (!profile) {
      bidding = <p><a href="#/signin">Sign in</a> to bid.</p>;
    } else {
      bidding = (
        // Stripe.js loads when the person starts a bid (focus anywhere in the form), not with the page.
        <form className="form bid" onSubmit={bid.run} onFocus={() => stripe.load().catch(() => {})} aria-label="Place a bid">
          <label>Your bid ({auction.currency})<input name="bid" inputMode="decimal" value={amount} onChange={(e) => setAmount(e.target.value)} required /></label>
          <CardField stripe={stripe} cardRef={card}
            note="The amount is held on your card: released if you are outbid, taken only if you win." />
          <button type="submit" disabled={bid.busy}>{bid.busy ? "Bidding…" : "Place bid"}</button>
        </form>
      );
    }
  }
  return (
    <div className="panel auction" data-testid="auction">
      <h2>Auction <span className={`badge ${auction.status}`} data-testid="auction-status">{auction.status}</span></h2>
      <dl>
        <dt>{open ? "Current bid" : "Final bid"}</dt><dd data-testid="current-bid">{auction.current_price ? formatAmount(auction.current_price, auction.currency) : "no bids yet"}</dd>
        {open && <><dt>Minimum next bid</dt><dd data-testid="minimum-bid">{formatAmount(auction.minimum_bid, auction.currency)}</dd></>}
        <dt>{open ? "Time left" : "Ended"}</dt><dd>{open ? <TimeLeft until={auction.ends_at} /> : when(auction.closed_at || auction.ends_at)}</dd>
        <dt>Bids</dt><dd>{auction.bid_count}{auction.reserve_met === false ? " · reserve not met yet" : auction.reserve_met ? " · reserve met" : ""}</dd>
        {open && auction.leader_id && profile?.id === auction.leader_id && <><dt>You</dt><dd className="ok">are the highest bidder</dd></>}
        {auction.status === "closed" && <><dt>Outcome</dt><dd data-testid="outcome"><Outcome auction={auction} /></dd></>}
      </dl>
      {bidding}
      <Problem error={bid.error} />
      {bids.data && (bids.data.items.length ? (
        <ol className="bids">{bids.data.items.map((b) => <li key={b.id}>{formatAmount(b.amount, auction.currency)} · {when(b.placed_at)}</li>)}</ol>
      ) : <Empty>Be the first to bid.</Empty>)}
    </div>
  );
}

// Buy now: a listed item with no auction running, not the caller's own. A physical one takes
// a quantity and a shipping address in its regions; the card is charged at once (Stripe.js
// gives the PaymentMethod, as for a bid).
function BuyNow({ item, onBought }) {
  const { profile, config } = useSession();
  const regions = item.shipping_regions || [];
  const [quantity, setQuantity] = useState("1");
  const [address, setAddress] = useState(() => emptyAddress(regions[0] || ""));
  const stripe = useStripe(config.payments);
  const card = useRef(null);
  const physical = item.kind === "physical";
  const most = maxQuantity(item);
  const count = /^\d+$/.test(quantity) ? Number(quantity) : 1;
  const set = (key) => (event) => setAddress((a) => ({ ...a, [key]: event.target.value }));
  const buy = useAction(async (event) => {
    event.preventDefault();
    const order = check("Check your order", () => purchaseBody(item, { quantity, address }));
    const loaded = await stripe.load();
    onBought(await buyWithCard(api, { order, stripe: loaded, card: card.current }));
  });
  let body;
  if (!config.payments) {
    body = <p className="muted" data-testid="buying-unavailable">Buying is unavailable: this site takes no card payments at the moment.</p>;
  } else if (item.currency === "ETH") {
    body = <p className="muted">Works priced in ETH are sold on chain, from a wallet{config.chain?.market_contract ? " (below)" : ", which this site does not offer at the moment"}.</p>;
  } else if (!profile) {
    body = <p><a href="#/signin">Sign in</a> to buy.</p>;
  } else if (physical && most < 1) {
    body = <p className="muted">Sold out.</p>;
  } else {
    body = (
      // Stripe.js loads when the person starts filling the form, not with the page.
      <form className="form" onSubmit={buy.run} onFocus={() => stripe.load().catch(() => {})} aria-label="Buy now">
        {physical && (
          <>
            <label>Quantity<input name="quantity" type="number" min={1} max={most} value={quantity} onChange={(e) => setQuantity(e.target.value)} required /></label>
            <fieldset className="form address">
              <legend>Shipping address</legend>
              <label>Name<input name="name" value={address.name} onChange={set("name")} autoComplete="shipping name" required maxLength={120} /></label>
              <label>Address line 1<input name="line1" value={address.line1} onChange={set("line1")} autoComplete="shipping address-line1" required maxLength={120} /></label>
              <label>Address line 2 (optional)<input name="line2" value={address.line2} onChange={set("line2")} autoComplete="shipping address-line2" maxLength={120} /></label>
              <div className="row">
                <label>Postal code<input name="postal_code" value={address.postal_code} onChange={set("postal_code")} autoComplete="shipping postal-code" required maxLength={12} size={8} /></label>
                <label className="grow">City<input name="city" value={address.city} onChange={set("city")} autoComplete="shipping address-level2" required maxLength={120} /></label>
              </div>
              {regions.length ? (
                <label>Country<select name="country" value={address.country} onChange={set("country")} required>
                  {regions.map((r) => <option key={r} value={r}>{r}</option>)}</select></label>
              ) : (
                <label>Country (two-letter code)<input name="country" value={address.country} onChange={set("country")} autoComplete="shipping country"
                  required minLength={2} maxLength={2} placeholder="DE" /></label>
              )}
            </fieldset>
          </>
        )}
        <CardField stripe={stripe} cardRef={card} note="Your card is charged when you buy." />
        <p>Total <strong data-testid="buy-total">{formatAmount(times(item.price, physical ? count : 1), item.currency)}</strong></p>
        <button type="submit" disabled={buy.busy}>{buy.busy ? "Paying…" : "Buy now"}</button>
      </form>
    );
  }
  return (
    <div className="panel buy" data-testid="buy">
      <h2>Buy now</h2>
      {body}
      <Problem error={buy.error} />
    </div>
  );
}

export function ItemDetail({ params }) {
  const { profile } = useSession();
  const page = useLoad(() => api(`/api/items/${params.id}`), [params.id]);
  const [auction, setAuction] = useState(undefined); // undefined: not known yet; null: none
  const [bought, setBought] = useState(null);
  useEffect(() => {
    api("/api/analytics/track", { method: "POST", body: { item_id: params.id, action: "view" } }).catch(() => {}); // counting is best effort
  }, [params.id]);
  if (page.loading && !page.data) return <Loading />;
  if (page.error) return <section className="page"><Problem error={page.error} onRetry={page.reload} /></section>;
  const item = page.data;
  return (
    <section className="page">
      <div className="columns">
        <div>{item.media_ids.length ? item.media_ids.map((id) => <MediaById key={id} id={id} alt={item.title} className="hero" />) : <div className="cover none tall" />}</div>
        <div>
          <h1>{item.title}</h1>
          <p className="muted">by <a href={`#/users/${item.owner_id}`}>{item.owner_name}</a> · {item.kind} · <span className={`badge ${item.status}`} data-testid="item-status">{item.status}</span>
            {item.category && <> · {item.category}</>}</p>
          <p className="price">{formatAmount(item.price, item.currency)}</p>
          {item.hidden && <p className="problem" role="note">An administrator took this out of public sight{item.hidden === "suspension" ? " with its author's account" : ""}: only its author and administrators see it.</p>}
          <Reactions item={item} />
          <ReportButton type="item" id={item.id} ownerId={item.owner_id} />
          <div className="prose">{item.description.split("\n").map((line, i) => <p key={i}>{line}</p>)}</div>
          <p>{item.tags.map((t) => <span key={t} className="tag">#{t}</span>)}</p>
          {item.kind === "physical" && <p className="muted">{item.inventory} available · ships to {item.shipping_regions.join(", ") || "nowhere yet"}</p>}
          {item.kind === "digital" && item.license && <p className="muted">License: {item.license}</p>}
          {bought && (
            <div className="panel bought" role="status" data-testid="bought">
              <strong className="ok">Bought: your order is {bought.status}.</strong>{" "}
              {formatAmount(bought.amount, bought.currency)} for {bought.quantity}. <a href={`#/orders?order=${bought.id}`}>See your order</a>
            </div>
          )}
          {item.status === "listed" && auction !== undefined && auction?.status !== "open" && profile?.id !== item.owner_id && (
            <BuyNow item={item} onBought={(order) => { setBought(order); page.reload(); }} />
          )}
          {profile && profile.id === item.owner_id && <p><a href="#/shop">Manage it in your shop</a></p>}
          <Auction item={item} onClosed={page.reload} onAuction={setAuction} />
          <ChainSales item={item} holder={item.holder_id} />
        </div>
      </div>
    </section>
  );
}
