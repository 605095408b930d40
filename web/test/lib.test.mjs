// Pure logic of the web app, under node's own test runner (make test runs it).
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatAmount, parseAmount, percent, times, toMajor } from "../src/lib/money.js";
import { parse } from "../src/lib/routes.js";

test("amounts are parsed into exact minor units", () => {
  assert.equal(parseAmount("1.5", "ETH"), "1500000000000000000");
  assert.equal(parseAmount("0.000000000000000001", "ETH"), "1");
  assert.equal(parseAmount("1,234.56", "EUR"), "123456");
  assert.equal(parseAmount(" 20 ", "GBP"), "2000");
  // Beyond 2^53: no float ever touches the digits.
  assert.equal(parseAmount("123456789012345678.123456789012345678", "ETH"), "123456789012345678123456789012345678");
});

test("bad amounts are refused with a reason", () => {
  assert.throws(() => parseAmount("abc", "EUR"), /is not an amount/);
  assert.throws(() => parseAmount("1.234", "EUR"), /at most 2 decimals/);
  assert.throws(() => parseAmount("0", "ETH"), /greater than zero/);
  assert.throws(() => parseAmount("-1", "ETH"), /is not an amount/);
  assert.throws(() => parseAmount("1e18", "ETH"), /is not an amount/);
});

test("amounts are formatted from minor units", () => {
  assert.equal(formatAmount("1500000000000000000", "ETH"), "1.5 ETH");
  assert.equal(formatAmount("2000000000000000000", "ETH"), "2 ETH");
  assert.equal(formatAmount("123456", "EUR"), "1,234.56 EUR");
  assert.equal(formatAmount("5", "USD"), "0.05 USD");
  assert.equal(formatAmount("0", "EUR"), "0.00 EUR");
  for (const text of ["0.1", "7", "12.34"]) assert.equal(formatAmount(parseAmount(text, "EUR"), "EUR").split(" ")[0], Number(text).toFixed(2));
});

test("minor units back to what a person types, and a price times a quantity", () => {
  assert.equal(toMajor("1500000000000000000", "ETH"), "1.5");
  assert.equal(toMajor("2500", "EUR"), "25");
  assert.equal(toMajor("2550", "EUR"), "25.5");
  assert.equal(toMajor("5", "USD"), "0.05");
  assert.equal(toMajor("0", "GBP"), "0");
  assert.equal(toMajor("42", "XYZ"), "42");
  for (const text of ["0.01", "7", "12.34", "1234567.89"]) assert.equal(toMajor(parseAmount(text, "EUR"), "EUR"), text.replace(/\.?0+$/, ""));
  assert.equal(times("2500", 3), "7500");
  assert.equal(times("123456789012345678901234567890", 100), "12345678901234567890123456789000");
});

test("funding share is exact to a tenth of a percent and capped", () => {
  assert.equal(percent("650000000000000000", "1000000000000000000"), 65);
  assert.equal(percent("1", "3"), 33.3);
  assert.equal(percent("5", "0"), 0);
  assert.equal(percent("300", "100"), 100);
});

test("hash routes", () => {
  const id = "a6830211-7bed-4069-bac4-05da4ab8e6af";
  assert.deepEqual(parse(""), { name: "proposals", params: {}, query: {} });
  assert.deepEqual(parse(`#/proposals/${id}`), { name: "proposal", params: { id }, query: {} });
  assert.equal(parse(`#/proposals/${id}/edit`).name, "proposal-edit");
  assert.equal(parse("#/proposals/new").name, "proposal-new");
  assert.deepEqual(parse("#/market?q=indigo%20loom&sort=popular").query, { q: "indigo loom", sort: "popular" });
  assert.equal(parse("#/network?depth=2").query.depth, "2");
  assert.equal(parse("#/portfolio").name, "portfolio");
  assert.equal(parse("#/shop").name, "shop");
  assert.deepEqual(parse(`#/orders?tab=sold&order=${id}`), { name: "orders", params: {}, query: { tab: "sold", order: id } });
  assert.equal(parse("#/notifications").name, "notifications");
  assert.deepEqual(parse("#/lists?tab=bids"), { name: "lists", params: {}, query: { tab: "bids" } });
  assert.equal(parse("#/proposals/not-an-id").name, "not-found");
  assert.equal(parse("#/nowhere").name, "not-found");
});
