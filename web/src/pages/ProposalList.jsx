import { useState } from "react";
import { api } from "../lib/api.js";
import { go, withQuery } from "../lib/router.js";
import { useSession } from "../session.jsx";
import { CategorySelect, Progress, day } from "../components/Common.jsx";
import { MediaById } from "../components/Media.jsx";
import { Empty, Loading, Pager, Problem, useLoad } from "../components/States.jsx";

function Card({ proposal }) {
  return (
    <article className="card">
      <a href={`#/proposals/${proposal.id}`} className="cover-link" tabIndex={-1} aria-hidden="true">
        {proposal.cover_media_id ? <MediaById id={proposal.cover_media_id} alt="" width={512} className="cover" /> : <div className="cover none" />}
      </a>
      <h3><a href={`#/proposals/${proposal.id}`}>{proposal.title}</a></h3>
      <p className="muted">by {proposal.owner_name || "an artist"} · <span className={`badge ${proposal.status}`}>{proposal.status}</span> · until {day(proposal.deadline)}</p>
      <Progress raised={proposal.raised_total} goal={proposal.goal} currency={proposal.currency} />
    </article>
  );
}

export function ProposalList({ query }) {
  const { profile } = useSession();
  const filters = { status: query.status ?? "open", category: query.category || "", tag: query.tag || "", sort: query.sort || "newest", q: query.q || "" };
  const [text, setText] = useState(filters.q);
  const [extra, setExtra] = useState({ items: [], cursor: null, busy: false });
  const set = (changes) => go(withQuery("/proposals", { ...filters, ...changes }));

  const page = useLoad(async () => {
    setExtra({ items: [], cursor: null, busy: false });
    if (filters.q) {
      const found = await api("/api/search", { query: { q: filters.q, type: "proposal", category: filters.category, status: filters.status || undefined } });
      return { items: found.items, next_cursor: null, search: found };
    }
    return api("/api/proposals", { query: { status: filters.status, category: filters.category, tag: filters.tag, sort: filters.sort, limit: 12 } });
  }, [filters.status, filters.category, filters.tag, filters.sort, filters.q]);

  const more = async () => {
    setExtra((e) => ({ ...e, busy: true }));
    const cursor = extra.cursor || page.data.next_cursor;
    const next = await api("/api/proposals", { query: { ...filters, q: undefined, limit: 12, cursor } });
    setExtra((e) => ({ items: [...e.items, ...next.items], cursor: next.next_cursor, busy: false }));
  };
  const items = page.data ? [...page.data.items, ...extra.items] : [];
  const cursor = extra.items.length ? extra.cursor : page.data?.next_cursor;

  return (
    <section className="page">
      <div className="heading">
        <h1>Proposals</h1>
        {profile?.role === "artist" && <a className="button" href="#/proposals/new">New proposal</a>}
      </div>
      <form className="filters" role="search" onSubmit={(e) => { e.preventDefault(); set({ q: text.trim() }); }}>
        <label className="grow">Search proposals<input type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder="e.g. weaving, field recordings" /></label>
        <label>Status
          <select value={filters.status} onChange={(e) => set({ status: e.target.value })}>
            <option value="open">Open</option><option value="funded">Funded</option><option value="closed">Closed</option>
            <option value="cancelled">Cancelled</option><option value="">Any</option>
          </select>
        </label>
        <CategorySelect value={filters.category} onChange={(category) => set({ category })} />
        <label>Sort
          <select value={filters.sort} onChange={(e) => set({ sort: e.target.value })} disabled={Boolean(filters.q)}>
            <option value="newest">Newest</option><option value="deadline">Deadline soonest</option><option value="most_funded">Most funded</option>
          </select>
        </label>
        <button type="submit">Search</button>
      </form>
      {filters.tag && <p>Tagged <span className="badge">#{filters.tag}</span> <button type="button" className="link" onClick={() => set({ tag: "" })}>clear</button></p>}
      {page.loading && <Loading />}
      <Problem error={page.error} onRetry={page.reload} />
      {page.data?.search?.mode === "fuzzy" && <p className="state">No exact match: showing similar words.</p>}
      {page.data && items.length === 0 && <Empty>No proposals match. Try another filter{profile?.role === "artist" ? " or publish your own" : ""}.</Empty>}
      {page.data?.search ? (
        <ul className="hits">
          {items.map((hit) => (
            <li key={hit.id}><a href={`#/proposals/${hit.id}`}>{hit.title}</a>
              {/* The API escapes the text and adds only <mark> highlights. */}
              <p dangerouslySetInnerHTML={{ __html: hit.snippet_html }} /></li>
          ))}
        </ul>
      ) : (
        <div className="grid">{items.map((p) => <Card key={p.id} proposal={p} />)}</div>
      )}
      <Pager cursor={cursor} onMore={more} busy={extra.busy} />
    </section>
  );
}
