// Hash routes (#/proposals/123): Hosting serves one index.html and no route needs a rewrite.
import { useEffect, useState } from "react";

const ROUTES = [
  ["proposals", /^\/$|^\/proposals$/],
  ["proposal-new", /^\/proposals\/new$/],
  ["proposal-edit", /^\/proposals\/(?<id>[0-9a-f-]{36})\/edit$/],
  ["proposal", /^\/proposals\/(?<id>[0-9a-f-]{36})$/],
  ["market", /^\/market$/],
  ["item", /^\/items\/(?<id>[0-9a-f-]{36})$/],
  ["network", /^\/network$/],
  ["me", /^\/me$/],
  ["user", /^\/users\/(?<id>[0-9a-f-]{36})$/],
  ["signin", /^\/signin$/],
  ["api", /^\/api-reference$/],
];

export function parse(hash) {
  const [path, search = ""] = (hash.replace(/^#/, "") || "/").split("?");
  for (const [name, pattern] of ROUTES) {
    const match = pattern.exec(path);
    if (match) return { name, params: { ...match.groups }, query: Object.fromEntries(new URLSearchParams(search)) };
  }
  return { name: "not-found", params: {}, query: {} };
}

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
