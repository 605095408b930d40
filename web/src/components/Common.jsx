import { useEffect, useState } from "react";
import { api } from "../lib/api.js";
import { formatAmount, percent } from "../lib/money.js";
import { useLoad } from "./States.jsx";

let categoriesPromise = null;
export function useCategories() {
  const { data } = useLoad(() => (categoriesPromise ||= api("/api/categories").then((c) => c.items)), []);
  return data || [];
}

export function CategorySelect({ value, onChange, label = "Category", allowAll = true, id }) {
  const categories = useCategories();
  return (
    <label>{label}
      <select id={id} value={value || ""} onChange={(e) => onChange(e.target.value)}>
        <option value="">{allowAll ? "All categories" : "None"}</option>
        {categories.map((c) => <option key={c.slug} value={c.slug}>{c.name}</option>)}
      </select>
    </label>
  );
}

export function Progress({ raised, goal, currency }) {
  const share = percent(raised, goal);
  return (
    <div className="funding">
      <div className="bar" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(share)}
        aria-label="Funding progress"><span style={{ width: `${share}%` }} /></div>
      <p><strong data-testid="raised">{formatAmount(raised, currency)}</strong> of {formatAmount(goal, currency)} · {share.toFixed(1)}%</p>
    </div>
  );
}

export function TimeLeft({ until }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  const ms = new Date(until).getTime() - now;
  if (ms <= 0) return <span data-testid="time-left">ended</span>;
  const s = Math.floor(ms / 1000);
  const parts = [[Math.floor(s / 86400), "d"], [Math.floor((s % 86400) / 3600), "h"], [Math.floor((s % 3600) / 60), "m"], [s % 60, "s"]];
  const text = parts.filter(([n], i) => n > 0 || i === 3).slice(0, 3).map(([n, u]) => `${n}${u}`).join(" ");
  return <span data-testid="time-left" title={new Date(until).toLocaleString()}>{text} left</span>;
}

export const when = (iso) => new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
export const day = (iso) => new Date(iso).toLocaleDateString(undefined, { dateStyle: "medium" });
