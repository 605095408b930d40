// Moderation in the web app (pure: the pages and the tests share it).

// The reasons a report gives, as the API names them and people read them.
export const REASONS = [
  ["spam", "Spam or advertising"],
  ["abuse", "Harassment or hate"],
  ["copyright", "Someone else's work"],
  ["fraud", "Fraud or a scam"],
  ["explicit", "Explicit or violent content"],
  ["other", "Something else"],
];

// Where a reported thing is in the app; null for a picture (it has no page of its own).
export function targetHref(type, id) {
  switch (type) {
    case "proposal": return `#/proposals/${id}`;
    case "item": return `#/items/${id}`;
    case "user": return `#/users/${id}`;
    default: return null;
  }
}

// The API path of an administrator's action on a report's target, by what it is and its state:
// content is hidden or restored, a person suspended or reinstated. Content hidden with its
// suspended author comes back only with them: no action on it.
const SEGMENTS = { proposal: "proposals", item: "items", media: "media" };

export function targetAction(type, id, hidden) {
  if (type === "user") {
    return hidden ? { label: "Reinstate", path: `/api/admin/users/${id}/reinstate` }
      : { label: "Suspend", path: `/api/admin/users/${id}/suspend` };
  }
  if (hidden === "suspension") return null;
  const segment = SEGMENTS[type];
  return hidden ? { label: "Restore", path: `/api/admin/${segment}/${id}/restore` }
    : { label: "Hide", path: `/api/admin/${segment}/${id}/hide` };
}

// The stats' days summed: the window's totals per count.
export function totals(days) {
  const sum = { signups: 0, proposals: 0, fundings: 0, sales: 0, reports: 0 };
  for (const day of days) for (const key of Object.keys(sum)) sum[key] += day[key];
  return sum;
}
