// The app's pages by hash path (pure: the router hook and the tests share it).
const ROUTES = [
  ["proposals", /^\/$|^\/proposals$/],
  ["proposal-new", /^\/proposals\/new$/],
  ["proposal-edit", /^\/proposals\/(?<id>[0-9a-f-]{36})\/edit$/],
  ["proposal", /^\/proposals\/(?<id>[0-9a-f-]{36})$/],
  ["market", /^\/market$/],
  ["item", /^\/items\/(?<id>[0-9a-f-]{36})$/],
  ["network", /^\/network$/],
  ["me", /^\/me$/],
  ["portfolio", /^\/portfolio$/],
  ["shop", /^\/shop$/],
  ["orders", /^\/orders$/],
  ["notifications", /^\/notifications$/],
  ["lists", /^\/lists$/],
  ["admin", /^\/admin$/],
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
