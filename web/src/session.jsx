// Who is signed in (Firebase), their platform profile (GET /api/me; null before registering)
// and how many of their notifications are unread (the bell).
import { createContext, useCallback, useContext, useEffect, useState } from "react";
import { api } from "./lib/api.js";
import { isFreshAccount, onUserChanged } from "./lib/firebase.js";
import { watch } from "./lib/live.js";

const SessionContext = createContext(null);
// The bell asks again whenever the person's live unread document changes (lib/live.js), and
// this often besides, should the live document be out of reach.
const UNREAD_POLL_MS = 60_000;

export function SessionProvider({ config, children }) {
  const [state, setState] = useState({ user: undefined, profile: undefined, error: null });

  const loadProfile = useCallback(async (user) => {
    if (!user) return setState({ user: null, profile: null, error: null });
    if (isFreshAccount(user)) return setState({ user, profile: null, error: null });
    try {
      setState({ user, profile: await api("/api/me"), error: null });
    } catch (error) {
      const unregistered = error.code === "registration-required" || error.status === 404;
      setState({ user, profile: null, error: unregistered ? null : error });
    }
  }, []);

  useEffect(() => onUserChanged((user) => {
    setState((s) => (s.user?.uid === user?.uid ? s : { ...s, user, profile: undefined }));
    loadProfile(user);
  }), [loadProfile]);

  const [unread, setUnread] = useState(0);
  const registered = Boolean(state.profile);
  useEffect(() => {
    if (!registered) return setUnread(0);
    let live = true;
    const ask = () => api("/api/me/notifications", { query: { limit: 1, unread: true } })
      .then((page) => live && setUnread(page.unread_count), () => {});
    ask(); // now, whether or not the live document can be watched
    const unwatch = watch(`inbox/${state.user.uid}`, ask);
    const timer = setInterval(ask, UNREAD_POLL_MS);
    return () => { live = false; clearInterval(timer); unwatch(); };
  }, [registered, state.user?.uid]);

  const value = {
    ...state, config, unread, setUnread,
    refresh: () => loadProfile(state.user), setProfile: (profile) => setState((s) => ({ ...s, profile })),
  };
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export const useSession = () => useContext(SessionContext);
