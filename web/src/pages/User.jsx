import { useState } from "react";
import { api } from "../lib/api.js";
import { useSession } from "../session.jsx";
import { ReportButton } from "../components/Report.jsx";
import { Empty, Loading, Problem, useAction, useLoad } from "../components/States.jsx";
import { People } from "../components/People.jsx";

export function UserPage({ params }) {
  const { profile: me } = useSession();
  const page = useLoad(() => Promise.all([
    api(`/api/users/${params.id}`),
    api("/api/proposals", { query: { owner: params.id, status: "", limit: 20 } }),
    api("/api/items", { query: { owner: params.id, limit: 20 } }),
  ]), [params.id]);
  const [following, setFollowing] = useState(null);
  const follow = useAction(async (on) => {
    await api(`/api/users/${params.id}/follow`, { method: on ? "POST" : "DELETE" });
    setFollowing(on);
  });
  if (page.loading) return <Loading />;
  if (page.error) return <section className="page"><Problem error={page.error} onRetry={page.reload} /></section>;
  const [user, proposals, items] = page.data;
  return (
    <section className="page">
      <div className="profile-head">
        {user.avatar_url ? <img className="avatar" src={user.avatar_url} alt="" /> : <div className="avatar none" aria-hidden="true">{(user.display_name || "?")[0]}</div>}
        <div>
          <h1>{user.display_name || "Someone"}</h1>
          <p className="muted"><span className="badge">{user.role}</span> · {user.followers} followers · {user.following} following</p>
          {me && me.id !== user.id && (
            <div className="actions">
              <button type="button" onClick={() => follow.run(true)} disabled={follow.busy || following === true}>{following ? "Following" : "Follow"}</button>
              <button type="button" className="link" onClick={() => follow.run(false)} disabled={follow.busy}>Unfollow</button>
            </div>
          )}
          <Problem error={follow.error} />
          <ReportButton type="user" id={user.id} ownerId={user.id} />
        </div>
      </div>
      {user.bio && <div className="prose"><p>{user.bio}</p></div>}
      {user.links.length > 0 && <ul>{user.links.map((l) => <li key={l}>{/^https?:\/\//.test(l) ? <a href={l} rel="noopener noreferrer nofollow">{l}</a> : l}</li>)}</ul>}
      <div className="columns">
        <div className="panel"><h2>Proposals</h2>
          {proposals.items.length ? <ul>{proposals.items.map((p) => <li key={p.id}><a href={`#/proposals/${p.id}`}>{p.title}</a> <span className={`badge ${p.status}`}>{p.status}</span></li>)}</ul> : <Empty>No proposals.</Empty>}
        </div>
        <div className="panel"><h2>Works</h2>
          {items.items.length ? <ul>{items.items.map((i) => <li key={i.id}><a href={`#/items/${i.id}`}>{i.title}</a></li>)}</ul> : <Empty>No works listed.</Empty>}
        </div>
      </div>
      <div className="columns">
        <People userId={user.id} direction="followers" title="Followers" />
        <People userId={user.id} direction="following" title="Following" />
      </div>
    </section>
  );
}
