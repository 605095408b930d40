import { api } from "../lib/api.js";
import { Empty, Loading, Pager, Problem, usePaged } from "./States.jsx";

// A profile's followers or following, as far as the API shows them to this reader.
export function People({ userId, direction, title }) {
  const { rows, page, cursor, more } = usePaged(
    (next) => api(`/api/users/${userId}/${direction}`, { query: { limit: 20, cursor: next } }), [userId, direction]);
  if (page.loading && !page.data) return <Loading />;
  if (page.error?.status === 403) return <div className="panel"><h2>{title}</h2><Empty>Kept private.</Empty></div>;
  if (page.error) return <Problem error={page.error} onRetry={page.reload} />;
  return (
    <div className="panel" data-testid={direction}>
      <h2>{title}</h2>
      {rows.length === 0 ? <Empty>No one to show: people choose whether their follows are public.</Empty> : (
        <ul>{rows.map((p) => <li key={p.id}><a href={`#/users/${p.id}`}>{p.display_name || "Someone"}</a> <span className="badge">{p.role}</span></li>)}</ul>
      )}
      <Pager cursor={cursor} onMore={more} />
    </div>
  );
}
