import { useState } from "react";
import { api } from "../lib/api.js";
import { useSession } from "../session.jsx";
import { ImageUpload } from "../components/Media.jsx";
import { Loading, Problem, useAction } from "../components/States.jsx";
import { hasSolanaWallet, linkSolanaWallet } from "../lib/solana.js";
import { hasWallet, linkWallet } from "../lib/wallet.js";
import { markRegistered, signOut } from "../lib/firebase.js";

const ROLES = [
  ["artist", "Artist", "publish proposals and sell works"],
  ["investor", "Investor", "back proposals on chain"],
  ["collector", "Collector", "collect works and bid in auctions"],
];

function ChooseRole() {
  const { user, setProfile } = useSession();
  const [role, setRole] = useState("artist");
  const register = useAction(async (event) => {
    event.preventDefault();
    setProfile(await api("/api/register", { method: "POST", body: { role, display_name: user.displayName || undefined } }));
    markRegistered();
  });
  return (
    <section className="page narrow">
      <h1>Welcome{user.displayName ? `, ${user.displayName}` : ""}</h1>
      <p>How will you use KalaKrut? You can't change this later.</p>
      <form onSubmit={register.run} className="form">
        <fieldset className="roles">
          <legend>Your role</legend>
          {ROLES.map(([value, label, help]) => (
            <label key={value} className="role">
              <input type="radio" name="role" value={value} checked={role === value} onChange={() => setRole(value)} />
              <strong>{label}</strong> <span>{help}</span>
            </label>
          ))}
        </fieldset>
        <Problem error={register.error} />
        <button type="submit" disabled={register.busy}>Register as {role}</button>
      </form>
    </section>
  );
}

function ProfileForm({ profile }) {
  const { setProfile } = useSession();
  const [form, setForm] = useState({ display_name: profile.display_name || "", bio: profile.bio || "", links: profile.links.join("\n"),
    follows_public: profile.follows_public });
  const [saved, setSaved] = useState(false);
  const save = useAction(async (event) => {
    event.preventDefault();
    setSaved(false);
    const links = form.links.split("\n").map((l) => l.trim()).filter(Boolean);
    setProfile(await api("/api/me", { method: "PATCH", body: {
      display_name: form.display_name, bio: form.bio, links, follows_public: form.follows_public,
    } }));
    setSaved(true);
  });
  const set = (key) => (event) => setForm({ ...form, [key]: event.target.value });
  return (
    <form onSubmit={save.run} className="form">
      <h2>Profile</h2>
      <label>Display name<input value={form.display_name} onChange={set("display_name")} maxLength={80} required /></label>
      <label>Bio<textarea value={form.bio} onChange={set("bio")} rows={4} maxLength={2000} /></label>
      <label>Links (one per line)<textarea value={form.links} onChange={set("links")} rows={3} /></label>
      <label className="check">
        <input type="checkbox" checked={form.follows_public} onChange={(e) => setForm({ ...form, follows_public: e.target.checked })} />
        Show others whom I follow (off: only you see it, and you are left out of others' follower lists)
      </label>
      <Problem error={save.error} />
      {saved && <p className="state ok" role="status">Saved.</p>}
      <button type="submit" disabled={save.busy}>Save profile</button>
    </form>
  );
}

// One linked wallet: its address, or a button that links one (the wallet signs a one-time
// message; nothing is sent on chain).
function LinkedWallet({ name, address, testId, found, help, link }) {
  const action = useAction(link);
  return (
    <div className="linked-wallet">
      <h3>{name}</h3>
      {address ? (
        <p>Linked: <code data-testid={testId}>{address}</code></p>
      ) : (
        <>
          <p>{help}</p>
          {!found && <p className="state empty">No {name} browser wallet was found.</p>}
          <button type="button" onClick={action.run} disabled={action.busy}>
            {action.busy ? "Waiting for the wallet…" : `Connect and link ${name} wallet`}
          </button>
        </>
      )}
      <Problem error={action.error} />
    </div>
  );
}

// After a link the profile is read again: two links at once each see the other's address.
function Wallets({ profile }) {
  const { config, refresh } = useSession();
  return (
    <div className="panel">
      <h2>Wallets</h2>
      <LinkedWallet name="Ethereum" address={profile.wallet_address} testId="wallet-address" found={hasWallet()}
        help="Sign-In with Ethereum: fund proposals and buy works on chain from this wallet."
        link={async () => { await linkWallet(config.chain?.chain_id); await refresh(); }} />
      <LinkedWallet name="Solana" address={profile.solana_address} testId="solana-address" found={hasSolanaWallet()}
        help="Sign-In with Solana: the wallet signs a one-time message with its ed25519 key."
        link={async () => { await linkSolanaWallet(); await refresh(); }} />
    </div>
  );
}

// Ends every session of the account, here and on every other device (a lost phone).
function Sessions() {
  const everywhere = useAction(async () => {
    await api("/api/me/sessions/revoke", { method: "POST" });
    await signOut();
    window.location.hash = "#/signin";
  });
  return (
    <div className="panel">
      <h2>Sessions</h2>
      <p className="muted">Signed in on a device you no longer have? End every session, this one included.</p>
      <button type="button" onClick={everywhere.run} disabled={everywhere.busy}>Sign out everywhere</button>
      <Problem error={everywhere.error} />
    </div>
  );
}

export function MePage() {
  const { user, profile, error, setProfile } = useSession();
  if (!user) return <section className="page narrow"><h1>Your profile</h1><p className="state empty">Please <a href="#/signin">sign in</a> first.</p></section>;
  if (error) return <section className="page"><Problem error={error} /></section>;
  if (profile === undefined) return <Loading />;
  if (profile === null) return <ChooseRole />;
  const attachAvatar = async (media) => setProfile(await api("/api/me", { method: "PATCH", body: { avatar_media_id: media.id } }));
  return (
    <section className="page">
      <div className="profile-head">
        {profile.avatar_url ? <img className="avatar" src={profile.avatar_url} alt="Your avatar" data-testid="avatar" />
          : <div className="avatar none" aria-hidden="true">{(profile.display_name || "?")[0]}</div>}
        <div>
          <h1>{profile.display_name}</h1>
          <p className="muted"><span className="badge" data-testid="role">{profile.role}</span> · {profile.email} · {profile.followers} followers · {profile.following} following</p>
          {profile.role === "artist" && <a className="button" href="#/proposals/new">New proposal</a>}
        </div>
      </div>
      <div className="columns">
        <ProfileForm profile={profile} />
        <div>
          <div className="panel">
            <h2>Avatar</h2>
            <ImageUpload purpose="avatar" label="Choose an image" onReady={attachAvatar} />
          </div>
          <Wallets profile={profile} />
          <Sessions />
          <p><a href={`#/users/${profile.id}`}>See your public profile</a></p>
        </div>
      </div>
    </section>
  );
}
