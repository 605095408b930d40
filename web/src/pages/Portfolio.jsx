import { api } from "../lib/api.js";
import { formatAmount } from "../lib/money.js";
import { Progress, day } from "../components/Common.jsx";
import { Empty, Loading, Pager, Problem, RegisteredOnly, usePaged } from "../components/States.jsx";

// The caller's own lists, paged like every list of the API.
const mine = (path) => (cursor) => api(path, { query: { limit: 20, cursor } });

function Backed() {
  const { rows, page, cursor, more } = usePaged(mine("/api/me/fundings"), []);
  if (page.loading && !page.data) return <Loading label="Loading what you backed…" />;
  if (page.error) return <Problem error={page.error} onRetry={page.reload} />;
  return (
    <div className="panel">
      <h2>What you backed</h2>
      {rows.length === 0 ? <Empty>Nothing yet. Fundings from your linked wallet show here once the chain indexer has read them.</Empty> : (
        <table className="history" data-testid="backed">
          <thead><tr><th>Proposal</th><th>State</th><th>You gave</th><th>Refunded</th><th>Refundable</th></tr></thead>
          <tbody>
            {rows.map((f) => (
              <tr key={f.proposal_id}>
                <td><a href={`#/proposals/${f.proposal_id}`}>{f.title}</a> · deadline {day(f.deadline)}</td>
                <td><span className={`badge ${f.status}`}>{f.status}</span></td>
                <td>{formatAmount(f.funded, f.currency)}</td>
                <td>{formatAmount(f.refunded, f.currency)}</td>
                <td>{BigInt(f.refundable) > 0n ? <a href={`#/proposals/${f.proposal_id}`}>{formatAmount(f.refundable, f.currency)}</a> : "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager cursor={cursor} onMore={more} />
    </div>
  );
}

function Created() {
  const { rows, page, cursor, more } = usePaged(mine("/api/me/proposals"), []);
  if (page.loading && !page.data) return <Loading label="Loading your proposals…" />;
  if (page.error) return <Problem error={page.error} onRetry={page.reload} />;
  return (
    <div className="panel">
      <h2>Your proposals</h2>
      {rows.length === 0 ? <Empty>No proposals yet. <a href="#/proposals/new">Write one</a>.</Empty> : (
        <ul className="cards" data-testid="created">
          {rows.map((p) => (
            <li key={p.id} className="card">
              <a href={`#/proposals/${p.id}`}><strong>{p.title}</strong></a> <span className={`badge ${p.status}`}>{p.status}</span>
              <Progress raised={p.raised_total} goal={p.goal} currency={p.currency} />
              <p className="muted">{p.backers === 1 ? "1 backer" : `${p.backers} backers`} · deadline {day(p.deadline)}</p>
            </li>
          ))}
        </ul>
      )}
      <Pager cursor={cursor} onMore={more} />
    </div>
  );
}

export function PortfolioPage() {
  return (
    <RegisteredOnly title="Portfolio">
      {(profile) => (
        <section className="page">
          <h1>Portfolio</h1>
          {!profile.wallet_address && <p className="muted">Link a wallet on <a href="#/me">your profile</a>: what it backs shows here.</p>}
          <div className="columns">
            <Backed />
            {profile.role === "artist" && <Created />}
          </div>
        </section>
      )}
    </RegisteredOnly>
  );
}
