import { useEffect, useState } from "react";
import { api } from "../lib/api.js";
import { formatAmount } from "../lib/money.js";
import { changedPreferences, notificationHref } from "../lib/notifications.js";
import { useSession } from "../session.jsx";
import { Empty, Loading, Pager, Problem, RegisteredOnly, useAction, useLoad, usePaged } from "../components/States.jsx";

const when = (iso) => new Date(iso).toLocaleString();

function Inbox({ onRead }) {
  const [unreadOnly, setUnreadOnly] = useState(false);
  const { rows, page, cursor, more } = usePaged(
    (cursor) => api("/api/me/notifications", { query: { limit: 20, cursor, unread: unreadOnly || undefined } }),
    [unreadOnly],
  );
  // ids: those to mark read; none: every one.
  const mark = useAction(async (ids) => {
    const { unread_count: unread } = await api(ids ? "/api/me/notifications/read" : "/api/me/notifications/read-all",
      { method: "POST", body: ids ? { ids } : undefined });
    onRead(unread);
    page.reload();
  });
  if (page.loading && !page.data) return <Loading label="Loading your notifications…" />;
  if (page.error) return <Problem error={page.error} onRetry={page.reload} />;
  return (
    <div className="panel">
      <div className="row">
        <h2>Inbox</h2>
        <label><input type="checkbox" checked={unreadOnly} onChange={(e) => setUnreadOnly(e.target.checked)} /> Unread only</label>
        <button type="button" onClick={() => mark.run()} disabled={mark.busy || !page.data.unread_count}>
          Mark all read
        </button>
      </div>
      <Problem error={mark.error} />
      {rows.length === 0 ? <Empty>Nothing here yet. Bids, sales, fundings and new followers show here.</Empty> : (
        <ul className="notifications" data-testid="notifications">
          {rows.map((n) => (
            <li key={n.id} className={n.read_at ? "read" : "unread"}>
              <a href={notificationHref(n)} onClick={() => !n.read_at && mark.run([n.id])}>{n.title}</a>
              {n.data.amount && n.data.currency && <span> · {formatAmount(n.data.amount, n.data.currency)}</span>}
              <span className="muted"> · {when(n.created_at)}</span>
            </li>
          ))}
        </ul>
      )}
      <Pager cursor={cursor} onMore={more} />
    </div>
  );
}

function Choices() {
  const saved = useLoad(() => api("/api/me/notification-preferences"), []);
  const [edited, setEdited] = useState(null);
  useEffect(() => { if (saved.data) setEdited(saved.data.items); }, [saved.data]);
  const save = useAction(async () => {
    const items = changedPreferences(saved.data.items, edited);
    if (items.length) setEdited((await api("/api/me/notification-preferences", { method: "PUT", body: { items } })).items);
  });
  if (saved.error) return <Problem error={saved.error} onRetry={saved.reload} />;
  if (!edited) return <Loading />;
  const set = (kind, field) => (e) => setEdited(edited.map((p) => (p.kind === kind ? { ...p, [field]: e.target.checked } : p)));
  return (
    <form className="panel" onSubmit={(e) => { e.preventDefault(); save.run(); }}>
      <h2>What you hear of</h2>
      <p className="muted">Email goes to your sign-in address once it is verified.</p>
      <table className="history" data-testid="preferences">
        <thead><tr><th>Kind</th><th>On</th><th>Email</th></tr></thead>
        <tbody>
          {edited.map((p) => (
            <tr key={p.kind}>
              <td>{p.description}</td>
              <td><input type="checkbox" aria-label={`${p.kind} on`} checked={p.enabled} onChange={set(p.kind, "enabled")} /></td>
              <td><input type="checkbox" aria-label={`${p.kind} by email`} checked={p.email} disabled={!p.enabled} onChange={set(p.kind, "email")} /></td>
            </tr>
          ))}
        </tbody>
      </table>
      <Problem error={save.error} />
      <button type="submit" disabled={save.busy}>{save.busy ? "Saving…" : "Save"}</button>
    </form>
  );
}

export function NotificationsPage() {
  const { setUnread } = useSession();
  return (
    <RegisteredOnly title="Notifications">
      {() => (
        <section className="page">
          <h1>Notifications</h1>
          <div className="columns">
            <Inbox onRead={setUnread} />
            <Choices />
          </div>
        </section>
      )}
    </RegisteredOnly>
  );
}
