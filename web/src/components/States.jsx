import { useCallback, useEffect, useRef, useState } from "react";
import { useSession } from "../session.jsx";

export function Loading({ label = "Loading…" }) {
  return <p className="state loading" role="status" aria-live="polite"><span className="spinner" aria-hidden="true" />{label}</p>;
}

export function Empty({ children }) {
  return <p className="state empty">{children}</p>;
}

// A problem+json error (or a wallet/sign-in error) as the person should read it.
export function Problem({ error, onRetry }) {
  if (!error) return null;
  // A 422 lists its fields: "title: String should have at most 140 characters".
  const lines = error.errors?.map((e) => `${(e.location || []).slice(1).join(".") || "request"}: ${e.message}`) || [];
  return (
    <div className="problem" role="alert">
      <strong>{error.title || "Something went wrong"}</strong>
      {error.detail && <p>{error.detail}</p>}
      {lines.length > 0 && <ul>{lines.map((line) => <li key={line}>{line}</li>)}</ul>}
      {onRetry && <button type="button" onClick={onRetry}>Try again</button>}
    </div>
  );
}

// Load data for a page: { data, error, loading, reload }. A stale answer never overwrites a newer one.
export function useLoad(load, deps) {
  const [state, setState] = useState({ data: undefined, error: null, loading: true });
  const generation = useRef(0);
  const run = useCallback(() => {
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true, error: null }));
    Promise.resolve().then(load).then(
      (data) => mine === generation.current && setState({ data, error: null, loading: false }),
      (error) => mine === generation.current && setState({ data: undefined, error, loading: false }),
    );
  }, deps); // the caller names what the load depends on
  useEffect(run, [run]);
  return { ...state, reload: run };
}

// A keyset-paged list: ``loadPage(cursor)`` answers {items, next_cursor}; the first page
// loads (again when ``deps`` change or on ``page.reload()``, dropping the pages "More"
// appended), "More" appends. { page, rows, cursor, more }.
export function usePaged(loadPage, deps) {
  const [extra, setExtra] = useState({ items: [], cursor: undefined });
  const page = useLoad(() => {
    setExtra({ items: [], cursor: undefined });
    return loadPage(undefined);
  }, deps);
  const more = async () => {
    const next = await loadPage(extra.cursor ?? page.data.next_cursor);
    setExtra((m) => ({ items: [...m.items, ...next.items], cursor: next.next_cursor }));
  };
  const rows = page.data ? [...page.data.items, ...extra.items] : [];
  return { page, rows, cursor: extra.items.length ? extra.cursor : page.data?.next_cursor, more };
}

// Run an action (a button press): { run, busy, error }.
export function useAction(action) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const run = async (...args) => {
    setBusy(true);
    setError(null);
    try {
      return await action(...args);
    } catch (caught) {
      setError(caught);
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { run, busy, error, setError };
}

export function Pager({ cursor, onMore, busy }) {
  if (!cursor) return null;
  return <button type="button" className="more" onClick={onMore} disabled={busy}>{busy ? "Loading…" : "Show more"}</button>;
}

// A page for registered people only: it asks to sign in, or to choose a role, first;
// ``children(profile)`` renders the page itself.
export function RegisteredOnly({ title, children }) {
  const { user, profile, error } = useSession();
  const note = (text) => <section className="page narrow"><h1>{title}</h1><p className="state empty">{text}</p></section>;
  if (!user) return note(<>Please <a href="#/signin">sign in</a> first.</>);
  if (error) return <section className="page"><Problem error={error} /></section>;
  if (profile === undefined) return <Loading />;
  if (profile === null) return note(<><a href="#/me">Choose your role</a> first.</>);
  return children(profile);
}
