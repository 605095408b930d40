import { useEffect, useState } from "react";
import { api } from "../lib/api.js";
import { formatAmount, parseAmount } from "../lib/money.js";
import { useSession } from "../session.jsx";
import { TimeLeft, when } from "../components/Common.jsx";
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

function Auction({ item }) {
  const { profile } = useSession();
  const [version, setVersion] = useState(0);
  const [amount, setAmount] = useState("");
  const auctions = useLoad(() => api(`/api/items/${item.id}/auctions`), [item.id, version]);
  const auction = auctions.data?.items[0];
  const bids = useLoad(() => (auction ? api(`/api/auctions/${auction.id}/bids`, { query: { limit: 10 } }) : null), [auction?.id, version]);
  const bid = useAction(async (event) => {
    event.preventDefault();
    let minor;
    try {
      minor = parseAmount(amount, auction.currency);
    } catch (error) {
      throw { title: "Check the amount", detail: error.message };
    }
    await api(`/api/auctions/${auction.id}/bids`, { method: "POST", body: { amount: minor } });
    setAmount("");
    setVersion((v) => v + 1);
  });
  if (auctions.loading && !auctions.data) return <Loading label="Loading the auction…" />;
  if (auctions.error) return <Problem error={auctions.error} onRetry={auctions.reload} />;
  if (!auction) return null;
  const open = auction.status === "open";
  const seller = profile?.id === auction.seller_id;
  return (
    <div className="panel auction" data-testid="auction">
      <h2>Auction <span className={`badge ${auction.status}`}>{auction.status}</span></h2>
      <dl>
        <dt>Current bid</dt><dd data-testid="current-bid">{auction.current_price ? formatAmount(auction.current_price, auction.currency) : "no bids yet"}</dd>
        {open && <><dt>Minimum next bid</dt><dd data-testid="minimum-bid">{formatAmount(auction.minimum_bid, auction.currency)}</dd></>}
        <dt>{open ? "Time left" : "Ended"}</dt><dd>{open ? <TimeLeft until={auction.ends_at} /> : when(auction.closed_at || auction.ends_at)}</dd>
        <dt>Bids</dt><dd>{auction.bid_count}{auction.reserve_met === false ? " · reserve not met yet" : auction.reserve_met ? " · reserve met" : ""}</dd>
        {auction.leader_id && profile?.id === auction.leader_id && <><dt>You</dt><dd className="ok">are the highest bidder</dd></>}
      </dl>
      {open && !seller && (profile ? (
        <form className="form inline" onSubmit={bid.run} aria-label="Place a bid">
          <label>Your bid ({auction.currency})<input name="bid" inputMode="decimal" value={amount} onChange={(e) => setAmount(e.target.value)} required /></label>
          <button type="submit" disabled={bid.busy}>{bid.busy ? "Bidding…" : "Place bid"}</button>
        </form>
      ) : <p><a href="#/signin">Sign in</a> to bid.</p>)}
      <Problem error={bid.error} />
      {bids.data && (bids.data.items.length ? (
        <ol className="bids">{bids.data.items.map((b) => <li key={b.id}>{formatAmount(b.amount, auction.currency)} · {when(b.placed_at)}</li>)}</ol>
      ) : <Empty>Be the first to bid.</Empty>)}
    </div>
  );
}

export function ItemDetail({ params }) {
  const page = useLoad(() => api(`/api/items/${params.id}`), [params.id]);
  useEffect(() => {
    api("/api/analytics/track", { method: "POST", body: { item_id: params.id, action: "view" } }).catch(() => {}); // counting is best effort
  }, [params.id]);
  if (page.loading) return <Loading />;
  if (page.error) return <section className="page"><Problem error={page.error} onRetry={page.reload} /></section>;
  const item = page.data;
  return (
    <section className="page">
      <div className="columns">
        <div>{item.media_ids.length ? item.media_ids.map((id) => <MediaById key={id} id={id} alt={item.title} className="hero" />) : <div className="cover none tall" />}</div>
        <div>
          <h1>{item.title}</h1>
          <p className="muted">by <a href={`#/users/${item.owner_id}`}>{item.owner_name}</a> · {item.kind} · <span className={`badge ${item.status}`}>{item.status}</span>
            {item.category && <> · {item.category}</>}</p>
          <p className="price">{formatAmount(item.price, item.currency)}</p>
          <Reactions item={item} />
          <div className="prose">{item.description.split("\n").map((line, i) => <p key={i}>{line}</p>)}</div>
          <p>{item.tags.map((t) => <span key={t} className="tag">#{t}</span>)}</p>
          {item.kind === "physical" && <p className="muted">{item.inventory} available · ships to {item.shipping_regions.join(", ") || "nowhere yet"}</p>}
          {item.kind === "digital" && item.license && <p className="muted">License: {item.license}</p>}
          <Auction item={item} />
        </div>
      </div>
    </section>
  );
}
