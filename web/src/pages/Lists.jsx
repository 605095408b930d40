import { api } from "../lib/api.js";
import { go } from "../lib/router.js";
import { formatAmount } from "../lib/money.js";
import { Empty, Loading, Pager, Problem, RegisteredOnly, usePaged } from "../components/States.jsx";

// The caller's own lists: only they see them.
const TABS = [
  ["favorites", "Favourites", "Nothing marked as a favourite yet."],
  ["likes", "Likes", "Nothing liked yet."],
  ["collection", "Collection", "You hold nothing yet: digital works you win or buy, and tokens your wallet owns, show here."],
  ["bids", "Bids", "No bids yet."],
];

function Items({ rows }) {
  return (
    <ul className="cards">
      {rows.map((i) => (
        <li key={i.id} className="card">
          <a href={`#/items/${i.id}`}><strong>{i.title}</strong></a> <span className={`badge ${i.status}`}>{i.status}</span>
          {i.price && <p className="muted">{formatAmount(i.price, i.currency)} · by {i.owner_name || "someone"}</p>}
        </li>
      ))}
    </ul>
  );
}

function Bids({ rows }) {
  const standing = (b) => (b.won ? "won" : b.leading ? "leading" : b.auction_status === "open" ? "outbid" : b.auction_status);
  return (
    <table className="history">
      <thead><tr><th>Item</th><th>Your bid</th><th>Placed</th><th>Standing</th></tr></thead>
      <tbody>
        {rows.map((b) => (
          <tr key={b.id}>
            <td><a href={`#/items/${b.item_id}`}>{b.title}</a></td>
            <td>{formatAmount(b.amount, b.currency)}</td>
            <td>{new Date(b.placed_at).toLocaleString()}</td>
            <td><span className="badge">{standing(b)}</span></td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function List({ tab }) {
  const [, , empty] = TABS.find(([name]) => name === tab);
  const { rows, page, cursor, more } = usePaged((next) => api(`/api/me/${tab}`, { query: { limit: 20, cursor: next } }), [tab]);
  if (page.loading && !page.data) return <Loading />;
  if (page.error) return <Problem error={page.error} onRetry={page.reload} />;
  return (
    <div className="panel" data-testid={`my-${tab}`}>
      {rows.length === 0 ? <Empty>{empty}</Empty> : tab === "bids" ? <Bids rows={rows} /> : <Items rows={rows} />}
      <Pager cursor={cursor} onMore={more} />
    </div>
  );
}

export function ListsPage({ query }) {
  const tab = TABS.some(([name]) => name === query.tab) ? query.tab : "favorites";
  return (
    <RegisteredOnly title="My lists">
      {() => (
        <section className="page">
          <h1>My lists</h1>
          <div className="tabs" role="tablist" aria-label="My lists">
            {TABS.map(([name, label]) => (
              <button key={name} type="button" role="tab" aria-selected={tab === name} onClick={() => go(`/lists?tab=${name}`)}>{label}</button>
            ))}
          </div>
          <List key={tab} tab={tab} />
        </section>
      )}
    </RegisteredOnly>
  );
}
