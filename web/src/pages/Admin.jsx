import { useState } from "react";
import { api } from "../lib/api.js";
import { REASONS, targetAction, targetHref, totals } from "../lib/moderation.js";
import { Empty, Loading, Pager, Problem, RegisteredOnly, useAction, useLoad, usePaged } from "../components/States.jsx";

const when = (iso) => new Date(iso).toLocaleString();
const REASON_LABELS = Object.fromEntries(REASONS);

function Queue({ onChange }) {
  const [status, setStatus] = useState("open");
  const { rows, page, cursor, more } = usePaged(
    (cursor) => api("/api/admin/reports", { query: { status, cursor, limit: 20 } }), [status]);
  const act = useAction(async (path) => {
    await api(path, { method: "POST", body: {} });
    page.reload();
    onChange();
  });
  if (page.loading && !page.data) return <Loading label="Loading the reports…" />;
  if (page.error) return <Problem error={page.error} onRetry={page.reload} />;
  return (
    <div className="panel">
      <div className="row">
        <h2>Reports</h2>
        <label>Show <select value={status} onChange={(e) => setStatus(e.target.value)}>
          <option value="open">open</option><option value="actioned">acted upon</option>
          <option value="dismissed">dismissed</option>
        </select></label>
      </div>
      <Problem error={act.error} />
      {rows.length === 0 ? <Empty>No {status} reports.</Empty> : (
        <table className="admin" data-testid="reports">
          <thead><tr><th>Reported</th><th>What</th><th>Why</th><th>When</th><th /></tr></thead>
          <tbody>
            {rows.map((r) => {
              const target = r.target;
              const href = targetHref(r.target_type, r.target_id);
              const action = target && targetAction(r.target_type, r.target_id, target.hidden);
              return (
                <tr key={r.id}>
                  <td>{r.target_type}{target?.hidden && <span className="badge"> hidden ({target.hidden})</span>}</td>
                  <td>{href ? <a href={href}>{target?.label || r.target_id}</a> : target?.label || r.target_id}
                    {target && target.open_reports > 1 && <span className="muted"> · {target.open_reports} open reports</span>}</td>
                  <td>{REASON_LABELS[r.reason]}{r.note && <p className="muted">{r.note}</p>}
                    {r.resolution && <p className="muted">Decided: {r.resolution}</p>}</td>
                  <td>{when(r.created_at)}</td>
                  <td className="actions">
                    {action && <button type="button" disabled={act.busy} onClick={() => act.run(action.path)}>{action.label}</button>}
                    {r.status === "open" && (
                      <button type="button" className="link" disabled={act.busy}
                              onClick={() => act.run(`/api/admin/reports/${r.id}/dismiss`)}>Dismiss</button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <Pager cursor={cursor} onMore={more} />
    </div>
  );
}

function Audit({ version }) {
  const [action, setAction] = useState("");
  const { rows, page, cursor, more } = usePaged(
    (cursor) => api("/api/admin/audit", { query: { action: action || undefined, cursor, limit: 50 } }), [action, version]);
  return (
    <div className="panel">
      <div className="row">
        <h2>Audit log</h2>
        <label>Action <input value={action} placeholder="e.g. moderation.hidden" pattern="[a-z_.]*"
                             onChange={(e) => setAction(e.target.value.trim())} /></label>
      </div>
      {page.error ? <Problem error={page.error} onRetry={page.reload} /> : page.loading && !page.data ? <Loading /> : (
        rows.length === 0 ? <Empty>Nothing recorded.</Empty> : (
          <table className="admin" data-testid="audit">
            <thead><tr><th>When</th><th>Who</th><th>Did</th><th>To</th></tr></thead>
            <tbody>
              {rows.map((e) => (
                <tr key={e.id}>
                  <td>{when(e.occurred_at)}</td>
                  <td>{e.actor_id ? <a href={`#/users/${e.actor_id}`}>{e.actor_id.slice(0, 8)}</a> : "the platform"}</td>
                  <td>{e.action}</td>
                  <td>{e.entity_type} {e.entity_id}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )
      )}
      <Pager cursor={cursor} onMore={more} />
    </div>
  );
}

function Stats({ version }) {
  const stats = useLoad(() => api("/api/admin/stats", { query: { days: 30 } }), [version]);
  if (stats.error) return <Problem error={stats.error} onRetry={stats.reload} />;
  if (!stats.data) return <Loading />;
  const sum = totals(stats.data.days);
  return (
    <div className="panel" data-testid="stats">
      <h2>The last 30 days</h2>
      <ul className="stats">
        <li><strong>{sum.signups}</strong> sign-ups</li>
        <li><strong>{sum.proposals}</strong> proposals published</li>
        <li><strong>{sum.fundings}</strong> fundings</li>
        <li><strong>{sum.sales}</strong> sales</li>
        <li><strong>{sum.reports}</strong> reports</li>
        <li><strong>{stats.data.open_reports}</strong> open reports</li>
        <li><strong>{stats.data.suspended_accounts}</strong> suspended accounts</li>
        <li><strong>{stats.data.hidden_content}</strong> hidden works</li>
      </ul>
      <table className="admin">
        <caption>The last 14 days</caption>
        <thead><tr><th>Day (UTC)</th><th>Sign-ups</th><th>Proposals</th><th>Fundings</th><th>Sales</th><th>Reports</th></tr></thead>
        <tbody>
          {stats.data.days.slice(-14).reverse().map((d) => (
            <tr key={d.day}><td>{d.day}</td><td>{d.signups}</td><td>{d.proposals}</td><td>{d.fundings}</td><td>{d.sales}</td><td>{d.reports}</td></tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

// What an action changes (the counts, the log) is read again after it.
export function AdminPage() {
  const [version, setVersion] = useState(0);
  return (
    <RegisteredOnly title="Administration">
      {(profile) => profile.is_admin ? (
        <section className="page">
          <h1>Administration</h1>
          <Queue onChange={() => setVersion((v) => v + 1)} />
          <Stats version={version} />
          <Audit version={version} />
        </section>
      ) : (
        <section className="page narrow"><h1>Administration</h1><p className="state empty">Only administrators see this page.</p></section>
      )}
    </RegisteredOnly>
  );
}
