// An artist's shop: their items in every status (drafts too), create and edit, list and
// unlist, start an auction, and the catalog as CSV both ways.
import { useId, useState } from "react";
import { api, ApiError } from "../lib/api.js";
import { CURRENCIES, formatAmount } from "../lib/money.js";
import {
  MAX_IMAGES, auctionBody, emptyItemForm, itemBody, itemChanges, itemForm, localInput,
  check,
} from "../lib/shop.js";
import { useSession } from "../session.jsx";
import { CategorySelect, when } from "../components/Common.jsx";
import { ImageUpload, MediaById } from "../components/Media.jsx";
import { Empty, Loading, Pager, Problem, useAction, usePaged } from "../components/States.jsx";


function Images({ ids, onChange }) {
  return (
    <div className="panel">
      <h2>Images</h2>
      {ids.length > 0 && (
        <ul className="thumbs" data-testid="item-images">
          {ids.map((id, i) => (
            <li key={id}>
              <MediaById id={id} alt={`Image ${i + 1}`} width={256} className="preview" />
              <button type="button" className="link" onClick={() => onChange(ids.filter((x) => x !== id))}
                aria-label={`Remove image ${i + 1}`}>Remove</button>
            </li>
          ))}
        </ul>
      )}
      {ids.length < MAX_IMAGES
        ? <ImageUpload purpose="item" label={ids.length ? "Add another image" : "Add an image"} preview={false}
          onReady={(media) => onChange([...ids, media.id])} />
        : <p className="muted">{MAX_IMAGES} images at most.</p>}
    </div>
  );
}

// Create (no `existing`) or edit an item; `existing` carries its ETag (_etag) from GET.
function ItemForm({ existing, onSaved, onCancel }) {
  const [form, setForm] = useState(() => (existing ? itemForm(existing) : emptyItemForm()));
  const set = (key) => (event) => setForm((f) => ({ ...f, [key]: event.target.value }));
  const setValue = (key) => (value) => setForm((f) => ({ ...f, [key]: value }));
  const listed = existing?.status === "listed";
  const physical = form.kind === "physical";
  const hint = useId();
  const save = useAction(async (event) => {
    event.preventDefault();
    if (!existing) {
      onSaved(await api("/api/items", { method: "POST", body: check("Check the item", () => itemBody(form)) }));
      return;
    }
    const changes = check("Check the item", () => itemChanges(existing, form));
    onSaved(Object.keys(changes).length === 0 ? existing
      : await api(`/api/items/${existing.id}`, { method: "PATCH", body: changes, headers: { "If-Match": existing._etag } }));
  });
  return (
    <form className="form panel item-form" onSubmit={save.run} aria-label={existing ? `Edit ${existing.title}` : "New item"}>
      <h2>{existing ? `Edit “${existing.title}”` : "New item"}</h2>
      <label>Title<input name="title" value={form.title} onChange={set("title")} required maxLength={140} /></label>
      <label>Description<textarea name="description" value={form.description} onChange={set("description")} rows={4} maxLength={10000} /></label>
      <label>Kind<select name="kind" value={form.kind} onChange={set("kind")} disabled={Boolean(existing)}>
        <option value="physical">Physical (shipped)</option><option value="digital">Digital (downloaded)</option></select></label>
      <div className="row">
        <label className="grow">Price<input name="price" inputMode="decimal" value={form.price} onChange={set("price")} required placeholder="25.00" /></label>
        <label>Currency<select name="currency" value={form.currency} onChange={set("currency")} disabled={listed}>
          {CURRENCIES.map((c) => <option key={c}>{c}</option>)}</select></label>
      </div>
      {form.currency === "ETH" && <p className="muted small">Cards pay in EUR, USD or GBP: an ETH price cannot be bought or auctioned yet.</p>}
      {physical ? (
        <div className="row">
          <label>Inventory<input name="inventory" type="number" min={0} max={1000000} value={form.inventory} onChange={set("inventory")} required /></label>
          <label className="grow">Ships to<input name="regions" value={form.regions} onChange={set("regions")} placeholder="DE, FR, NL"
            aria-describedby={hint} /></label>
        </div>
      ) : (
        <>
          <label>License<textarea name="license" value={form.license} onChange={set("license")} rows={2} placeholder="Personal use, no resale" /></label>
          <div className="panel">
            <h2>The file buyers receive</h2>
            {existing?.has_file && !form.fileMediaId && <p className="muted">This item has its file.</p>}
            {listed ? <p className="muted">The file of a listed item stays as it is: unlist it to replace the file.</p>
              : <ImageUpload purpose="artwork" label={existing?.has_file ? "Replace the file" : "Choose the file"}
                onReady={(media) => setValue("fileMediaId")(media.id)} />}
          </div>
        </>
      )}
      {physical && <p className="muted small" id={hint}>Two-letter country codes, separated by commas; buyers choose one of them.</p>}
      <CategorySelect value={form.category} onChange={setValue("category")} allowAll={false} />
      <div className="row">
        <label className="grow">Tags (comma separated)<input name="tags" value={form.tags} onChange={set("tags")} placeholder="ceramics, blue" /></label>
        <label>SKU<input name="sku" value={form.sku} onChange={set("sku")} maxLength={64} placeholder="optional" /></label>
      </div>
      <Images ids={form.mediaIds} onChange={setValue("mediaIds")} />
      <Problem error={save.error} />
      <div className="actions">
        <button type="submit" disabled={save.busy}>{save.busy ? "Saving…" : existing ? "Save changes" : "Create draft"}</button>
        <button type="button" className="link" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}

function AuctionForm({ item, onDone, onCancel }) {
  const [form, setForm] = useState(() => ({
    endsAt: localInput(Date.now() + 7 * 86400000), startingPrice: "", minIncrement: "", reservePrice: "", extensionSeconds: "300",
  }));
  const set = (key) => (event) => setForm((f) => ({ ...f, [key]: event.target.value }));
  const start = useAction(async (event) => {
    event.preventDefault();
    const body = check("Check the auction", () => auctionBody(form, item.currency));
    onDone(await api(`/api/items/${item.id}/auctions`, { method: "POST", body }));
  });
  return (
    <form className="form panel" onSubmit={start.run} aria-label={`Auction ${item.title}`}>
      <h2>Auction “{item.title}”</h2>
      <label>Ends at<input name="ends_at" type="datetime-local" value={form.endsAt} onChange={set("endsAt")} required /></label>
      <div className="row">
        <label className="grow">Starting price ({item.currency})<input name="starting_price" inputMode="decimal" value={form.startingPrice} onChange={set("startingPrice")} required /></label>
        <label className="grow">Minimum increment ({item.currency})<input name="min_increment" inputMode="decimal" value={form.minIncrement} onChange={set("minIncrement")} required /></label>
      </div>
      <div className="row">
        <label className="grow">Reserve ({item.currency}, optional)<input name="reserve_price" inputMode="decimal" value={form.reservePrice} onChange={set("reservePrice")} /></label>
        <label className="grow">Extension (seconds)<input name="extension_seconds" type="number" min={0} max={3600} value={form.extensionSeconds} onChange={set("extensionSeconds")} /></label>
      </div>
      <p className="muted small">A bid in the last seconds of the extension moves the end that far past the bid; the reserve stays hidden from bidders.</p>
      <Problem error={start.error} />
      <div className="actions">
        <button type="submit" disabled={start.busy}>{start.busy ? "Starting…" : "Start auction"}</button>
        <button type="button" className="link" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}

function ShopItem({ item, onChange }) {
  const [mode, setMode] = useState(null); // null | {edit: item with its ETag} | "auction"
  const [auction, setAuction] = useState(null);
  const act = useAction(async (action) => {
    onChange(await api(`/api/items/${item.id}/${action}`, { method: "POST" }));
  });
  const edit = useAction(async () => {
    setMode({ edit: await api(`/api/items/${item.id}`) }); // fresh, with the ETag the PATCH names
  });
  const editable = item.status === "draft" || item.status === "listed";
  return (
    <li className="card shop-item" data-testid="shop-item">
      <div className="shop-row">
        {item.media_ids[0] ? <MediaById id={item.media_ids[0]} alt="" width={256} className="thumb" /> : <div className="thumb none" />}
        <div className="grow">
          <h3><a href={`#/items/${item.id}`}>{item.title}</a> <span className={`badge ${item.status}`} data-testid="shop-item-status">{item.status}</span></h3>
          <p className="muted">
            {item.kind} · <strong>{formatAmount(item.price, item.currency)}</strong>
            {item.kind === "physical" && <> · {item.inventory} in stock · ships to {item.shipping_regions.join(", ") || "nowhere yet"}</>}
            {item.kind === "digital" && <> · {item.has_file ? "file attached" : "no file yet"}</>}
            {item.sku && <> · SKU {item.sku}</>}
          </p>
          <div className="actions">
            {editable && <button type="button" onClick={edit.run} disabled={edit.busy}>{edit.busy ? "Opening…" : "Edit"}</button>}
            {item.status === "draft" && <button type="button" onClick={() => act.run("list")} disabled={act.busy}>List</button>}
            {item.status === "listed" && <button type="button" onClick={() => act.run("unlist")} disabled={act.busy}>Unlist</button>}
            {item.status === "listed" && <button type="button" onClick={() => setMode("auction")}>Start auction</button>}
          </div>
          <Problem error={act.error || edit.error} />
          {auction && (
            <p className="state ok" role="status">Auction open until {when(auction.ends_at)}: <a href={`#/items/${item.id}`}>see it</a>.</p>
          )}
        </div>
      </div>
      {mode?.edit && <ItemForm existing={mode.edit} onCancel={() => setMode(null)}
        onSaved={(saved) => { setMode(null); onChange(saved); }} />}
      {mode === "auction" && <AuctionForm item={item} onCancel={() => setMode(null)}
        onDone={(created) => { setMode(null); setAuction(created); }} />}
    </li>
  );
}

// GET /api/items/export as a file download (text/csv, not JSON: the raw response).
async function exportCsv() {
  const response = await api("/api/items/export", { raw: true, headers: { Accept: "text/csv, application/problem+json" } });
  if (!response.ok) {
    const problem = (response.headers.get("Content-Type") || "").includes("json") ? await response.json() : { title: response.statusText };
    throw new ApiError(response.status, problem);
  }
  const url = URL.createObjectURL(await response.blob());
  const link = Object.assign(document.createElement("a"), { href: url, download: "catalog.csv" });
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

function ImportCsv({ onImported, onClose }) {
  const [text, setText] = useState("");
  const [report, setReport] = useState(null);
  const choose = async (event) => {
    const file = event.target.files?.[0];
    if (file) setText(await file.text());
  };
  const run = useAction(async (event) => {
    event.preventDefault();
    setReport(null);
    const out = await api("/api/items/import", { method: "POST", body: { csv: text } });
    setReport(out);
    if (out.created || out.updated) onImported();
  });
  return (
    <form className="form panel" onSubmit={run.run} aria-label="Import CSV">
      <h2>Import a catalog</h2>
      <p className="muted small">A header row first: sku, title, description, kind, price, currency, inventory, shipping_regions
        (separated by “;”), license, low_stock_threshold. Prices are in minor units (2500 is 25.00 EUR). Rows create or
        update items by SKU, each on its own; an export is a template.</p>
      <label className="file">CSV file<input type="file" accept=".csv,text/csv" onChange={choose} /></label>
      <label>CSV<textarea name="csv" rows={6} value={text} onChange={(e) => setText(e.target.value)} required /></label>
      <Problem error={run.error} />
      {report && (
        <div className="state" role="status" data-testid="import-report">
          <p>{report.created} created · {report.updated} updated · {report.unchanged} unchanged · {report.rejected.length} rejected</p>
          {report.rejected.length > 0 && (
            <ul>{report.rejected.map((r) => <li key={r.line}>Line {r.line}{r.sku ? ` (${r.sku})` : ""}: {r.errors.join("; ")}</li>)}</ul>
          )}
        </div>
      )}
      <div className="actions">
        <button type="submit" disabled={run.busy || !text.trim()}>{run.busy ? "Importing…" : "Import"}</button>
        <button type="button" className="link" onClick={onClose}>Close</button>
      </div>
    </form>
  );
}

const STATUSES = [["", "All"], ["draft", "Drafts"], ["listed", "Listed"], ["sold", "Sold"], ["archived", "Archived"]];

function Shop({ profile }) {
  const [status, setStatus] = useState("");
  const [panel, setPanel] = useState(null); // null | "new" | "import"
  const [changed, setChanged] = useState({}); // id -> the item as the last write answered
  const { rows, page, cursor, more } = usePaged(
    (next) => api("/api/items", { query: { owner: profile.id, status, sort: "newest", limit: 20, cursor: next } }),
    [profile.id, status]);
  const download = useAction(exportCsv);
  const reload = () => { setChanged({}); page.reload(); };
  return (
    <section className="page">
      <div className="heading">
        <h1>My shop</h1>
        <div className="actions">
          <button type="button" onClick={() => setPanel(panel === "new" ? null : "new")} aria-expanded={panel === "new"}>New item</button>
          <button type="button" onClick={() => setPanel(panel === "import" ? null : "import")} aria-expanded={panel === "import"}>Import CSV</button>
          <button type="button" onClick={download.run} disabled={download.busy}>{download.busy ? "Exporting…" : "Export CSV"}</button>
          <a href="#/orders?tab=sold">Sold orders</a>
        </div>
      </div>
      <Problem error={download.error} />
      {panel === "new" && <ItemForm onCancel={() => setPanel(null)} onSaved={() => { setPanel(null); reload(); }} />}
      {panel === "import" && <ImportCsv onClose={() => setPanel(null)} onImported={reload} />}
      <div className="tabs" role="tablist" aria-label="Items by status">
        {STATUSES.map(([value, label]) => (
          <button key={value} type="button" role="tab" aria-selected={status === value} onClick={() => setStatus(value)}>{label}</button>
        ))}
      </div>
      {page.loading && !page.data && <Loading label="Loading your items…" />}
      <Problem error={page.error} onRetry={page.reload} />
      {page.data && rows.length === 0 && <Empty>{status ? `No ${status} items.` : "No items yet: create your first one with “New item”."}</Empty>}
      <ul className="cards" data-testid="shop-items">
        {rows.map((row) => {
          const item = changed[row.id] || row;
          return <ShopItem key={row.id} item={item} onChange={(next) => setChanged((c) => ({ ...c, [next.id]: next }))} />;
        })}
      </ul>
      <Pager cursor={cursor} onMore={more} />
    </section>
  );
}

export function ShopPage() {
  const { user, profile, error } = useSession();
  const note = (text) => <section className="page narrow"><h1>My shop</h1><p className="state empty">{text}</p></section>;
  if (!user) return note(<>Please <a href="#/signin">sign in</a> first.</>);
  if (error) return <section className="page"><Problem error={error} /></section>;
  if (profile === undefined) return <Loading />;
  if (profile === null) return note(<><a href="#/me">Choose your role</a> first.</>);
  if (profile.role !== "artist") return note("Only artists sell in the marketplace.");
  return <Shop profile={profile} />;
}
