import { useState } from "react";
import { api } from "../lib/api.js";
import { CURRENCIES, parseAmount, toMajor as major } from "../lib/money.js";
import { go } from "../lib/router.js";
import { useSession } from "../session.jsx";
import { CategorySelect } from "../components/Common.jsx";
import { ImageUpload, MediaById } from "../components/Media.jsx";
import { Loading, Problem, useAction, useLoad } from "../components/States.jsx";

const localInput = (iso) => {
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
};

const sameMinute = (a, b) => Math.floor(new Date(a).getTime() / 60000) === Math.floor(new Date(b).getTime() / 60000);

function changed(existing, body) {
  const same = {
    tags: (a, b) => a.join(",") === b.join(","),
    deadline: sameMinute,
    category: (a, b) => (a || null) === (b || null),
  };
  return Object.fromEntries(Object.entries(body).filter(([key, value]) => !(same[key] || Object.is)(existing[key], value)));
}

function Editor({ existing }) {
  const [form, setForm] = useState(() => existing ? {
    title: existing.title, description: existing.description, category: existing.category || "", tags: existing.tags.join(", "),
    goal: major(existing.goal, existing.currency), currency: existing.currency, deadline: localInput(existing.deadline),
  } : { title: "", description: "", category: "", tags: "", goal: "", currency: "ETH", deadline: localInput(Date.now() + 30 * 86400000) });
  const [cover, setCover] = useState(existing?.cover_media_id || null);
  const [etag, setEtag] = useState(existing?._etag);
  const set = (key) => (event) => setForm({ ...form, [key]: event.target.value });
  const termsFixed = Boolean(existing) && existing.status !== "draft";

  const save = useAction(async (event) => {
    event.preventDefault();
    let goal;
    try {
      goal = parseAmount(form.goal, form.currency);
    } catch (error) {
      throw { title: "Check the goal", detail: error.message };
    }
    const body = {
      title: form.title, description: form.description, category: form.category || null, goal, currency: form.currency,
      tags: form.tags.split(",").map((t) => t.trim()).filter(Boolean), deadline: new Date(form.deadline).toISOString(),
    };
    let saved;
    if (existing) {
      // Only what changed: an open proposal's terms (goal, currency, deadline) are fixed.
      const changes = changed(existing, { ...body, cover_media_id: cover });
      saved = Object.keys(changes).length === 0 ? existing
        : await api(`/api/proposals/${existing.id}`, { method: "PATCH", body: changes, headers: { "If-Match": etag } });
    } else {
      saved = await api("/api/proposals", { method: "POST", body });
      if (cover) saved = await api(`/api/proposals/${saved.id}`, { method: "PATCH", body: { cover_media_id: cover }, headers: { "If-Match": saved._etag } });
    }
    setEtag(saved._etag);
    go(`/proposals/${saved.id}`);
  });

  return (
    <section className="page narrow">
      <h1>{existing ? `Edit “${existing.title}”` : "New proposal"}</h1>
      <form className="form" onSubmit={save.run}>
        <label>Title<input name="title" value={form.title} onChange={set("title")} required maxLength={200} /></label>
        <label>Description<textarea name="description" value={form.description} onChange={set("description")} rows={6} maxLength={20000} /></label>
        <CategorySelect value={form.category} onChange={(category) => setForm({ ...form, category })} allowAll={false} />
        <label>Tags (comma separated)<input name="tags" value={form.tags} onChange={set("tags")} placeholder="textile, indigo" /></label>
        <div className="row">
          <label className="grow">Goal<input name="goal" inputMode="decimal" value={form.goal} onChange={set("goal")} required placeholder="2.5" disabled={termsFixed} /></label>
          <label>Currency<select name="currency" value={form.currency} onChange={set("currency")} disabled={termsFixed}>
            {CURRENCIES.map((c) => <option key={c}>{c}</option>)}</select></label>
        </div>
        <label>Deadline<input name="deadline" type="datetime-local" value={form.deadline} onChange={set("deadline")} required disabled={termsFixed} /></label>
        {termsFixed && <p className="muted">The goal, currency and deadline of a published proposal are fixed: backers funded those terms.</p>}
        <div className="panel">
          <h2>Cover image</h2>
          {cover && <MediaById id={cover} alt="Current cover" width={512} className="preview" />}
          <ImageUpload purpose="cover" label={cover ? "Replace the cover" : "Choose a cover"} onReady={(media) => setCover(media.id)} preview={false} />
        </div>
        <Problem error={save.error} />
        <div className="actions">
          <button type="submit" disabled={save.busy}>{save.busy ? "Saving…" : existing ? "Save changes" : "Create draft"}</button>
          <a href={existing ? `#/proposals/${existing.id}` : "#/proposals"}>Cancel</a>
        </div>
      </form>
    </section>
  );
}

export function ProposalEditor({ params }) {
  const { profile } = useSession();
  const page = useLoad(() => (params.id ? api(`/api/proposals/${params.id}`) : null), [params.id]);
  if (!profile) return <section className="page narrow"><p className="state empty">Please <a href="#/signin">sign in</a> as an artist to write a proposal.</p></section>;
  if (profile.role !== "artist") return <section className="page narrow"><p className="state empty">Only artists publish proposals.</p></section>;
  if (page.loading) return <Loading />;
  if (page.error) return <section className="page"><Problem error={page.error} /></section>;
  return <Editor existing={page.data} />;
}
