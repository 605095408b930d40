import { useState } from "react";
import { authMessage, signIn, signUp } from "../lib/firebase.js";
import { go } from "../lib/router.js";
import { Problem } from "../components/States.jsx";

export function SignInPage() {
  const [mode, setMode] = useState("signin");
  const [form, setForm] = useState({ email: "", password: "", name: "" });
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (key) => (event) => setForm({ ...form, [key]: event.target.value });

  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (mode === "signup") {
        await signUp(form.email, form.password, form.name.trim());
        go("/me"); // choose a role next
      } else {
        await signIn(form.email, form.password);
        go("/");
      }
    } catch (caught) {
      setError({ title: mode === "signup" ? "Could not create the account" : "Could not sign in", detail: authMessage(caught) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="page narrow">
      <h1>{mode === "signup" ? "Create your account" : "Sign in"}</h1>
      <div className="tabs" role="tablist" aria-label="Sign in or sign up">
        <button type="button" role="tab" aria-selected={mode === "signin"} onClick={() => setMode("signin")}>Sign in</button>
        <button type="button" role="tab" aria-selected={mode === "signup"} onClick={() => setMode("signup")}>Sign up</button>
      </div>
      <form onSubmit={submit} className="form">
        {mode === "signup" && (
          <label>Display name<input name="name" value={form.name} onChange={set("name")} autoComplete="name" required maxLength={80} /></label>
        )}
        <label>Email<input name="email" type="email" value={form.email} onChange={set("email")} autoComplete="email" required /></label>
        <label>Password<input name="password" type="password" value={form.password} onChange={set("password")}
          autoComplete={mode === "signup" ? "new-password" : "current-password"} required minLength={6} /></label>
        <Problem error={error} />
        <button type="submit" disabled={busy}>{busy ? "Please wait…" : mode === "signup" ? "Sign up" : "Sign in"}</button>
      </form>
    </section>
  );
}
