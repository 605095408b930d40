// Notifications in the web app (pure: the pages and the tests share it).

// Where a notification leads: the thing it is about, in the app's own pages.
export function notificationHref(n) {
  const data = n.data || {};
  switch (n.subject_type) {
    case "proposal": return `#/proposals/${n.subject_id}`;
    case "item": return `#/items/${n.subject_id}`;
    case "user": return `#/users/${n.subject_id}`;
    case "order": return "#/orders";
    case "auction": return data.item_id ? `#/items/${data.item_id}` : "#/market";
    default: return "#/notifications";
  }
}

// The bell's label: a count people can read at a glance, and its words for screen readers.
export function unreadBadge(count) {
  if (!count) return { text: "", label: "Notifications" };
  return { text: count > 99 ? "99+" : String(count), label: `Notifications, ${count} unread` };
}

// The preferences as the API takes them back: only the kinds whose choice changed.
export function changedPreferences(saved, edited) {
  const before = new Map(saved.map((p) => [p.kind, p]));
  return edited
    .filter((p) => before.get(p.kind)?.enabled !== p.enabled || before.get(p.kind)?.email !== p.email)
    .map(({ kind, enabled, email }) => ({ kind, enabled, email }));
}
