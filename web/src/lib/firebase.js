// Firebase Auth (the web SDK's modular packages), configured at run time from
// GET /api/config so one build serves every environment; locally it talks to the emulator.
// Firestore's live documents are lib/live.js.
import { initializeApp } from "@firebase/app";
import {
  connectAuthEmulator, createUserWithEmailAndPassword, getAuth, onIdTokenChanged,
  signInWithEmailAndPassword, signOut as firebaseSignOut, updateProfile,
} from "@firebase/auth";

let auth = null;
let ready;
// host:port of the Firestore emulator (local development only; lib/live.js).
export let firestoreEmulator = null;

export function initFirebase(config) {
  const app = initializeApp({
    apiKey: config.firebase.api_key, authDomain: config.firebase.auth_domain, projectId: config.firebase.project_id,
  });
  auth = getAuth(app);
  if (config.auth_emulator_url) connectAuthEmulator(auth, config.auth_emulator_url, { disableWarnings: true });
  firestoreEmulator = config.firestore_emulator_host || null;
  ready = new Promise((resolve) => {
    const stop = onIdTokenChanged(auth, () => { stop(); resolve(); });
  });
  return auth;
}

export function onUserChanged(callback) {
  return onIdTokenChanged(auth, callback);
}

export async function currentToken() {
  if (!auth) return null;
  await ready;
  return auth.currentUser ? auth.currentUser.getIdToken() : null;
}

// An account created in this tab has no platform profile yet: asking GET /api/me would
// only answer 403, so the session goes straight to choosing a role.
let freshEmail = null;
export const isFreshAccount = (user) => Boolean(user?.email) && user.email === freshEmail;
export const markRegistered = () => { freshEmail = null; };

export async function signUp(email, password, displayName) {
  freshEmail = email.trim().toLowerCase();
  const credential = await createUserWithEmailAndPassword(auth, email, password);
  if (displayName) {
    await updateProfile(credential.user, { displayName });
    await credential.user.getIdToken(true); // the new name into the token the API reads
  }
  return credential.user;
}

export function signIn(email, password) {
  return signInWithEmailAndPassword(auth, email, password).then((c) => c.user);
}

export function signOut() {
  return firebaseSignOut(auth);
}

// Firebase's errors are codes ("auth/wrong-password"); people read sentences.
const AUTH_MESSAGES = {
  "auth/invalid-credential": "The email or password is not right.",
  "auth/wrong-password": "The email or password is not right.",
  "auth/user-not-found": "There is no account with this email.",
  "auth/email-already-in-use": "An account with this email exists: sign in instead.",
  "auth/weak-password": "Choose a password of at least 6 characters.",
  "auth/invalid-email": "This is not a valid email address.",
  "auth/too-many-requests": "Too many attempts: wait a moment and try again.",
  "auth/network-request-failed": "The sign-in service is not reachable.",
};

export function authMessage(error) {
  return AUTH_MESSAGES[error?.code] || error?.message || "Sign-in failed.";
}
