// The marketplace's search (pure: the page and the tests share it).

// The API's mode and order for what the person chose to match: by words (any order), by
// meaning or by both (the API ranks those by relevance only).
export function searchMode(match, sort) {
  if (match === "meaning") return { mode: "semantic", sort: "relevance" };
  if (match === "both") return { mode: "hybrid", sort: "relevance" };
  return { sort: sort || "relevance" };
}
