import { createRoot } from "react-dom/client";
import { App } from "./App.jsx";
import { initFirebase } from "./lib/firebase.js";
import "./styles.css";

const root = createRoot(document.getElementById("root"));

fetch("/api/config", { headers: { Accept: "application/json" } })
  .then((response) => (response.ok ? response.json() : Promise.reject(new Error(`HTTP ${response.status}`))))
  .then((config) => {
    initFirebase(config);
    root.render(<App config={config} />);
  })
  .catch((error) => {
    root.render(
      <main className="page"><div className="problem" role="alert"><strong>The platform is not reachable</strong>
        <p>Its configuration could not be loaded ({error.message}). Try again in a moment.</p></div></main>,
    );
  });
