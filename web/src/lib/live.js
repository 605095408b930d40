// Live documents (Cloud Firestore through the Firebase SDK, shared/live on the server): an
// auction's state, the signed-in person's unread count. They say *that* something changed;
// the pages then read the API, which stays the one source of what they show. The SDK loads
// on first use, so pages that watch nothing never download it.
import { getApp } from "@firebase/app";
import { firestoreEmulator } from "./firebase.js";

let instance = null;

function firestore() {
  instance ??= import("@firebase/firestore").then((sdk) => {
    const db = sdk.getFirestore(getApp());
    if (firestoreEmulator) {
      const [host, port] = firestoreEmulator.split(":");
      sdk.connectFirestoreEmulator(db, host, Number(port));
    }
    return { sdk, db };
  });
  return instance;
}

// Call onChange() each time the document at ``path`` changes (and once when first read);
// returns the function that stops watching. A document that cannot be read (offline, not
// allowed) is simply not watched: the pages still load and poll as before.
export function watch(path, onChange) {
  let stop = () => {};
  let stopped = false;
  firestore().then(({ sdk, db }) => {
    if (!stopped) stop = sdk.onSnapshot(sdk.doc(db, path), () => onChange(), () => {});
  }, () => {});
  return () => {
    stopped = true;
    stop();
  };
}
