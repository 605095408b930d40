import { useCallback, useEffect, useState } from "react";
import { api } from "../lib/api.js";
import { formatAmount, parseAmount } from "../lib/money.js";
import { fundProposal, sendPrepared } from "../lib/wallet.js";
import { useSession } from "../session.jsx";
import { ReportButton } from "../components/Report.jsx";
import { Progress, day, when } from "../components/Common.jsx";
import { MediaById } from "../components/Media.jsx";
import { Empty, Loading, Pager, Problem, useAction, useLoad, usePaged } from "../components/States.jsx";

const short = (address) => `${address.slice(0, 6)}…${address.slice(-4)}`;

function History({ proposal, version }) {
  const { page, rows, cursor, more } = usePaged(
    (next) => api(`/api/proposals/${proposal.id}/fundings`, { query: { limit: 20, cursor: next } }), [proposal.id, version]);
  if (page.loading && !page.data) return <Loading label="Loading the funding history…" />;
  if (page.error) return <Problem error={page.error} onRetry={page.reload} />;
  return (
    <div className="panel">
      <h2>On-chain funding history</h2>
      {rows.length === 0 ? <Empty>No fundings yet. Backers' transactions appear here once the chain indexer has read them.</Empty> : (
        <table className="history" data-testid="funding-history">
          <thead><tr><th>When</th><th>Backer</th><th>Amount</th><th>Transaction</th></tr></thead>
          <tbody>
            {rows.map((f) => (
              <tr key={`${f.tx_hash}-${f.block_number}-${f.kind}-${f.backer}`}>
                <td>{when(f.block_time)}</td>
                <td>{f.backer_user_id ? <a href={`#/users/${f.backer_user_id}`}>{f.backer_name || short(f.backer)}</a> : <code>{short(f.backer)}</code>}</td>
                <td className={f.kind}>{f.kind === "refunded" ? "−" : ""}{formatAmount(f.amount, proposal.currency)}</td>
                <td><code title={f.tx_hash}>{short(f.tx_hash)}</code> · block {f.block_number}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager cursor={cursor} onMore={more} />
    </div>
  );
}

function FundForm({ proposal, onFunded }) {
  const { config, profile } = useSession();
  const [amount, setAmount] = useState("");
  const [done, setDone] = useState(null);
  const fund = useAction(async (event) => {
    event.preventDefault();
    setDone(null);
    const wei = parseAmount(amount, proposal.currency);
    const hash = await fundProposal(config.chain, proposal.id, wei);
    setDone(hash);
    setAmount("");
    onFunded();
  });
  if (proposal.currency !== "ETH") return <p className="muted">This proposal is funded in {proposal.currency}, off chain.</p>;
  return (
    <form className="form inline" onSubmit={fund.run} aria-label="Fund this proposal">
      <label>Amount (ETH)<input name="amount" inputMode="decimal" value={amount} onChange={(e) => setAmount(e.target.value)} placeholder="0.5" required /></label>
      <button type="submit" disabled={fund.busy}>{fund.busy ? "Confirm in your wallet…" : "Fund from wallet"}</button>
      {!profile?.wallet_address && <p className="muted">Tip: link your wallet on <a href="#/me">your profile</a> so your backing shows your name.</p>}
      <Problem error={fund.error?.message && !fund.error.title ? { title: "Check the amount", detail: fund.error.message } : fund.error} />
      {done && <p className="state ok" role="status">Sent: <code>{short(done)}</code>. The total updates here once the chain indexer has read the block.</p>}
    </form>
  );
}

// What the chain pays out: the artist's withdrawal of a funded proposal, a backer's refund
// of a failed one. The API prepares the call (who may send it, to what, for how much);
// the wallet sends it; the state follows once the indexer has read the block.
function Settle({ proposal, kind, onSent }) {
  const prepared = useLoad(() => api(`/api/proposals/${proposal.id}/${kind}`), [proposal.id, kind, proposal.version]);
  const [sent, setSent] = useState(null);
  const send = useAction(async () => {
    const account = kind === "withdrawal" ? prepared.data.artist : prepared.data.backer;
    setSent(await sendPrepared(prepared.data, account));
    onSent();
  });
  const withdrawal = kind === "withdrawal";
  if (prepared.loading && !prepared.data) return <Loading label="Asking the chain what is due…" />;
  if (prepared.error?.status === 409 && !withdrawal) return null; // this wallet has nothing to take back
  if (prepared.error) return <Problem error={prepared.error} />;
  const amount = formatAmount(prepared.data.amount, proposal.currency);
  return (
    <div className="panel" data-testid={kind}>
      <h2>{withdrawal ? "Withdraw the funds" : "Take your refund"}</h2>
      <p>{withdrawal ? <>The goal is met: <strong>{amount}</strong> go to <code>{short(prepared.data.artist)}</code>.</>
        : <>The deadline passed below the goal: <strong>{amount}</strong> go back to <code>{short(prepared.data.backer)}</code>.</>}</p>
      <button type="button" onClick={send.run} disabled={send.busy || Boolean(sent)}>
        {send.busy ? "Confirm in your wallet…" : withdrawal ? "Withdraw to my wallet" : "Refund to my wallet"}</button>
      <Problem error={send.error} />
      {sent && <p className="state ok" role="status">Sent: <code>{short(sent)}</code>. The state updates here once the chain indexer has read the block.</p>}
    </div>
  );
}

// After a funding, the total changes once the indexer has read the block: look again
// every few seconds until it does (or a minute has passed). A payout changes the state.
function useFollowTotals(proposal, refresh) {
  const [since, setSince] = useState(null);
  useEffect(() => {
    if (since === null || !proposal) return undefined;
    if (proposal.raised_total !== since.raised || proposal.status !== since.status || Date.now() - since.at > 60000) {
      setSince(null);
      return undefined;
    }
    const timer = setTimeout(refresh, 3000); // each answer is a new object: the next look is set up again
    return () => clearTimeout(timer);
  }, [since, proposal, refresh]);
  return () => setSince({ raised: proposal.raised_total, status: proposal.status, at: Date.now() });
}

export function ProposalDetail({ params }) {
  const { profile } = useSession();
  const [version, setVersion] = useState(0);
  const page = useLoad(() => api(`/api/proposals/${params.id}`), [params.id, version]);
  const refresh = useCallback(() => setVersion((v) => v + 1), []);
  const followTotals = useFollowTotals(page.data, refresh);
  const act = useAction(async (action) => {
    await api(`/api/proposals/${params.id}/${action}`, { method: "POST", headers: { "If-Match": page.data._etag } });
    refresh();
  });
  if (page.loading && !page.data) return <Loading />;
  if (page.error) return <section className="page"><Problem error={page.error} onRetry={page.reload} /></section>;
  const p = page.data;
  const mine = profile && profile.id === p.owner_id;
  return (
    <section className="page">
      {p.cover_media_id && <MediaById id={p.cover_media_id} alt={`Cover of ${p.title}`} className="hero" width={2048} />}
      <div className="heading">
        <h1>{p.title}</h1>
        <span className={`badge ${p.status}`} data-testid="status">{p.status}</span>
      </div>
      <p className="muted">by <a href={`#/users/${p.owner_id}`}>{p.owner_name || "an artist"}</a>
        {p.category && <> · {p.category}</>} · deadline {day(p.deadline)}
        {p.tags.map((t) => <a key={t} className="tag" href={`#/proposals?tag=${t}&status=`}>#{t}</a>)}</p>
      {p.hidden && <p className="problem" role="note">An administrator took this out of public sight{p.hidden === "suspension" ? " with its author's account" : ""}: only its author and administrators see it.</p>}
      <ReportButton type="proposal" id={p.id} ownerId={p.owner_id} />
      <Progress raised={p.raised_total} goal={p.goal} currency={p.currency} />
      <p className="muted" data-testid="backers">{p.backers === 1 ? "1 backer" : `${p.backers ?? 0} backers`}</p>
      <div className="columns">
        <div className="prose">{p.description ? p.description.split("\n").map((line, i) => <p key={i}>{line}</p>) : <p className="muted">No description.</p>}</div>
        <div>
          {mine && (
            <div className="panel">
              <h2>Manage</h2>
              <div className="actions">
                {["draft", "open"].includes(p.status) && <a className="button" href={`#/proposals/${p.id}/edit`}>Edit</a>}
                {p.status === "draft" && <button type="button" onClick={() => act.run("publish")} disabled={act.busy}>Publish</button>}
                {["draft", "open"].includes(p.status) && <button type="button" className="danger" onClick={() => window.confirm("Cancel this proposal?") && act.run("cancel")} disabled={act.busy}>Cancel proposal</button>}
                {p.status === "open" && <button type="button" onClick={() => act.run("close")} disabled={act.busy}>Close</button>}
              </div>
              <Problem error={act.error} />
            </div>
          )}
          {mine && p.status === "funded" && p.currency === "ETH" && <Settle proposal={p} kind="withdrawal" onSent={followTotals} />}
          {!mine && profile?.wallet_address && p.status === "failed" && <Settle proposal={p} kind="refund" onSent={followTotals} />}
          {p.status === "open" && !mine && (
            <div className="panel">
              <h2>Back this proposal</h2>
              {profile ? <FundForm proposal={p} onFunded={followTotals} /> : <p><a href="#/signin">Sign in</a> to fund it from your wallet.</p>}
            </div>
          )}
          <button type="button" className="link" onClick={refresh}>Refresh totals</button>
        </div>
      </div>
      {p.status !== "draft" && <History proposal={p} version={version} />}
    </section>
  );
}
