import { useState } from "react";
import { api } from "../lib/api.js";
import { CURRENCIES, formatAmount, parseAmount } from "../lib/money.js";
import { go, withQuery } from "../lib/router.js";
import { searchMode } from "../lib/search.js";
import { check } from "../lib/shop.js";
import { CategorySelect } from "../components/Common.jsx";
import { MediaById } from "../components/Media.jsx";
import { Empty, Loading, Pager, Problem, useLoad } from "../components/States.jsx";

function ItemCard({ item }) {
  return (
    <article className="card">
      <a href={`#/items/${item.id}`} className="cover-link" tabIndex={-1} aria-hidden="true">
        {item.media_ids[0] ? <MediaById id={item.media_ids[0]} alt="" width={512} className="cover" /> : <div className="cover none" />}
      </a>
      <h3><a href={`#/items/${item.id}`}>{item.title}</a></h3>
      <p className="muted">{item.owner_name} · {item.kind} · <span className={`badge ${item.status}`}>{item.status}</span></p>
      <p><strong>{formatAmount(item.price, item.currency)}</strong> · ♥ {item.like_count} · ★ {item.favorite_count}</p>
    </article>
  );
}

function priceOrNothing(text, currency) {
  return text ? parseAmount(text, currency) : undefined;
}

export function Market({ query }) {
  const f = { q: query.q || "", match: query.match || "", category: query.category || "", kind: query.kind || "", sort: query.sort || "",
    currency: query.currency || "EUR", min: query.min || "", max: query.max || "" };
  const [form, setForm] = useState(f);
  const [more, setMore] = useState({ items: [], cursor: null, busy: false });
  const set = (key) => (event) => setForm({ ...form, [key]: event.target.value });

  const page = useLoad(async () => {
    setMore({ items: [], cursor: null, busy: false });
    const [min_price, max_price] = check("Check the price range",
      () => [priceOrNothing(f.min, f.currency), priceOrNothing(f.max, f.currency)]);
    const priced = min_price || max_price || f.sort.startsWith("price");
    const common = { category: f.category, min_price, max_price, currency: priced ? f.currency : undefined, limit: 24 };
    const [path, params] = f.q ? ["/api/search", { ...common, q: f.q, type: "item", ...searchMode(f.match, f.sort) }]
      : ["/api/items", { ...common, kind: f.kind, sort: f.sort || "newest" }];
    return { ...(await api(path, { query: params })), search: Boolean(f.q), path, params };
  }, [f.q, f.match, f.category, f.kind, f.sort, f.currency, f.min, f.max]);

  const loadMore = async () => {
    setMore((m) => ({ ...m, busy: true }));
    const cursor = more.items.length ? more.cursor : page.data.next_cursor;
    const next = await api(page.data.path, { query: { ...page.data.params, cursor } });
    setMore((m) => ({ items: [...m.items, ...next.items], cursor: next.next_cursor, busy: false }));
  };
  const rows = page.data ? [...page.data.items, ...more.items] : [];

  return (
    <section className="page">
      <h1>Marketplace</h1>
      <form className="filters" role="search" onSubmit={(e) => { e.preventDefault(); go(withQuery("/market", form)); }}>
        <label className="grow">Search works<input type="search" name="q" value={form.q} onChange={set("q")} placeholder="e.g. indigo loom" /></label>
        <label>Match<select value={form.match} onChange={set("match")} disabled={!form.q}>
          <option value="">Words</option><option value="meaning">Meaning</option><option value="both">Words and meaning</option></select></label>
        <CategorySelect value={form.category} onChange={(category) => setForm({ ...form, category })} />
        <label>Kind<select value={form.kind} onChange={set("kind")} disabled={Boolean(form.q)}>
          <option value="">Any</option><option value="physical">Physical</option><option value="digital">Digital</option></select></label>
        <label>Sort<select value={form.sort} onChange={set("sort")} disabled={Boolean(form.q && form.match)}>
          <option value="">{form.q ? "Relevance" : "Newest"}</option><option value="popular">Popular</option>
          <option value="price_asc">Price: low to high</option><option value="price_desc">Price: high to low</option></select></label>
        <label>Currency<select value={form.currency} onChange={set("currency")}>{CURRENCIES.map((c) => <option key={c}>{c}</option>)}</select></label>
        <label>Min price<input inputMode="decimal" size={6} value={form.min} onChange={set("min")} /></label>
        <label>Max price<input inputMode="decimal" size={6} value={form.max} onChange={set("max")} /></label>
        <button type="submit">Search</button>
      </form>
      {page.loading && <Loading />}
      <Problem error={page.error} onRetry={page.reload} />
      {page.data?.mode === "fuzzy" && <p className="state" data-testid="fuzzy">No exact match for “{f.q}”: showing close spellings.</p>}
      {["semantic", "hybrid"].includes(page.data?.mode) && <p className="state" data-testid="by-meaning">Found by meaning{page.data.mode === "hybrid" ? " and words" : ""}: the closest first.</p>}
      {page.data && rows.length === 0 && <Empty>Nothing matches. Try fewer words or another category.</Empty>}
      {page.data?.search ? (
        <ul className="hits" data-testid="search-results">
          {rows.map((hit) => (
            <li key={hit.id}>
              <a href={`#/items/${hit.id}`}>{hit.title}</a> {hit.price && <strong>{formatAmount(hit.price, hit.currency)}</strong>}
              {/* The API escapes the text and adds only <mark> highlights. */}
              <p dangerouslySetInnerHTML={{ __html: hit.snippet_html }} />
            </li>
          ))}
        </ul>
      ) : <div className="grid">{rows.map((item) => <ItemCard key={item.id} item={item} />)}</div>}
      <Pager cursor={more.items.length ? more.cursor : page.data?.next_cursor} onMore={loadMore} busy={more.busy} />
    </section>
  );
}
