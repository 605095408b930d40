import { useState } from "react";
import { api } from "../lib/api.js";
import { REASONS } from "../lib/moderation.js";
import { useSession } from "../session.jsx";
import { Problem, useAction } from "./States.jsx";

// "Report" under a proposal, an item or a profile that is someone else's: a reason, a note,
// sent once (the API keeps one open report per person and thing).
export function ReportButton({ type, id, ownerId }) {
  const { profile } = useSession();
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState("spam");
  const [note, setNote] = useState("");
  const [sent, setSent] = useState(false);
  const send = useAction(async () => {
    await api("/api/reports", { method: "POST", body: { target_type: type, target_id: id, reason, note } });
    setSent(true);
    setOpen(false);
  });
  if (!profile || profile.id === ownerId) return null;
  if (sent) return <p className="muted" role="status">Reported. Thank you: an administrator will look at it.</p>;
  if (!open) return <button type="button" className="link report" onClick={() => setOpen(true)}>Report</button>;
  return (
    <form className="panel report" onSubmit={(e) => { e.preventDefault(); send.run(); }} aria-label="Report">
      <label>Why
        <select value={reason} onChange={(e) => setReason(e.target.value)}>
          {REASONS.map(([value, label]) => <option key={value} value={value}>{label}</option>)}
        </select>
      </label>
      <label>What should the administrators know? (optional)
        <textarea value={note} maxLength={1000} onChange={(e) => setNote(e.target.value)} />
      </label>
      <Problem error={send.error} />
      <div className="row">
        <button type="submit" disabled={send.busy}>Send the report</button>
        <button type="button" className="link" onClick={() => setOpen(false)}>Cancel</button>
      </div>
    </form>
  );
}
