// The marketplace's search modes (src/lib/search.js).
import assert from "node:assert/strict";
import { test } from "node:test";
import { searchMode } from "../src/lib/search.js";

test("words keep the chosen order; meaning, alone or with words, ranks by relevance", () => {
  assert.deepEqual(searchMode("", ""), { sort: "relevance" });
  assert.deepEqual(searchMode("", "price_asc"), { sort: "price_asc" });
  assert.deepEqual(searchMode("meaning", "price_asc"), { mode: "semantic", sort: "relevance" });
  assert.deepEqual(searchMode("both", ""), { mode: "hybrid", sort: "relevance" });
});
