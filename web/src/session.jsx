// Who is signed in (Firebase) and their platform profile (GET /api/me; null before registering).
import { createContext, useCallback, useContext, useEffect, useState } from "react";
import { api } from "./lib/api.js";
import { isFreshAccount, onUserChanged } from "./lib/firebase.js";

const SessionContext = createContext(null);

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

  const value = { ...state, config, refresh: () => loadProfile(state.user), setProfile: (profile) => setState((s) => ({ ...s, profile })) };
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export const useSession = () => useContext(SessionContext);
