// Hash routes (#/proposals/123): Hosting serves one index.html and no route needs a rewrite.
import { useEffect, useState } from "react";
import { parse } from "./routes.js";

export function useRoute() {
  const [route, setRoute] = useState(() => parse(window.location.hash));
  useEffect(() => {
    const update = () => { setRoute(parse(window.location.hash)); window.scrollTo(0, 0); };
    window.addEventListener("hashchange", update);
    return () => window.removeEventListener("hashchange", update);
  }, []);
  return route;
}

export function go(path) {
  window.location.hash = path;
}

export function withQuery(path, query) {
  const params = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== "" && v !== undefined && v !== null));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}
