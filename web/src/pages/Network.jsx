import { useState } from "react";
import { api } from "../lib/api.js";
import { go, withQuery } from "../lib/router.js";
import { useSession } from "../session.jsx";
import { EgoGraph, href, nameOf } from "../components/EgoGraph.jsx";
import { Empty, Loading, Problem, useAction, useLoad } from "../components/States.jsx";

function People() {
  const page = useLoad(() => api("/api/network/people-you-may-know"), []);
  const [followed, setFollowed] = useState(new Set());
  const follow = useAction(async (id) => {
    await api(`/api/users/${id}/follow`, { method: "POST" });
    setFollowed((s) => new Set(s).add(id));
  });
  if (page.loading) return <Loading />;
  if (page.error) return <Problem error={page.error} onRetry={page.reload} />;
  if (!page.data.items.length) return <Empty>No suggestions yet: follow artists and back proposals, and people will appear here.</Empty>;
  return (
    <ul className="people" data-testid="people-you-may-know">
      {page.data.items.map((p) => (
        <li key={p.id}>
          <a href={`#/users/${p.id}`}>{p.name}</a> {p.role && <span className="badge">{p.role}</span>}
          <p className="muted">{p.reasons.join("; ")}</p>
          <button type="button" onClick={() => follow.run(p.id)} disabled={followed.has(p.id) || follow.busy}>{followed.has(p.id) ? "Following" : "Follow"}</button>
        </li>
      ))}
      <Problem error={follow.error} />
    </ul>
  );
}

function ProposalsForYou() {
  const page = useLoad(() => api("/api/network/proposals-for-you"), []);
  if (page.loading) return <Loading />;
  if (page.error) return <Problem error={page.error} onRetry={page.reload} />;
  if (!page.data.items.length) return <Empty>Back a proposal, and proposals that people like you back will show here.</Empty>;
  return (
    <ul className="people">
      {page.data.items.map((p) => <li key={p.id}><a href={`#/proposals/${p.id}`}>{p.title}</a><p className="muted">{p.reason}</p></li>)}
    </ul>
  );
}

export function NetworkPage({ query }) {
  const { profile, user } = useSession();
  const depth = query.depth === "2" ? 2 : 1;
  const ego = useLoad(() => (profile ? api("/api/network/ego", { query: { depth } }) : null), [profile?.id, depth]);
  if (!user) return <section className="page narrow"><p className="state empty">Please <a href="#/signin">sign in</a> to see your network.</p></section>;
  if (profile === null) return <section className="page narrow"><p className="state empty"><a href="#/me">Choose your role</a> first.</p></section>;
  if (!profile) return <Loading />;
  return (
    <section className="page">
      <h1>Your network</h1>
      <div className="panel">
        <div className="heading">
          <h2>The picture</h2>
          <label>Depth <select value={depth} onChange={(e) => go(withQuery("/network", { depth: e.target.value }))}><option value={1}>1</option><option value={2}>2</option></select></label>
        </div>
        {ego.loading && <Loading label="Drawing your network…" />}
        <Problem error={ego.error} onRetry={ego.reload} />
        {ego.data && (ego.data.edges.length ? <EgoGraph network={ego.data} me={profile.id} />
          : <Empty>Your network is empty: follow people or back a proposal.</Empty>)}
        {ego.data && (
          <details>
            <summary>Your connections as a list</summary>
            <ul data-testid="ego-list">{ego.data.nodes.filter((n) => n.id !== profile.id).map((n) => <li key={n.id}>{href(n) ? <a href={href(n)}>{nameOf(n)}</a> : nameOf(n)} <span className="muted">({n.label.toLowerCase()})</span></li>)}</ul>
          </details>
        )}
      </div>
      <div className="columns">
        <div className="panel"><h2>People you may know</h2><People /></div>
        <div className="panel"><h2>Proposals for you</h2><ProposalsForYou /></div>
      </div>
    </section>
  );
}
