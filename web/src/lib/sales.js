// Sales of artwork tokens for ETH through the market contract (decision 0028): the forms as
// request bodies, and what a person may do with a sale. The API answers with the transactions;
// the wallet sends them (lib/wallet.js sendCalls).
import { parseAmount } from "./money.js";

export const MIN_HOURS = 1 / 6; // ten minutes, as ArtworkMarket's anti-sniping extension
export const MAX_HOURS = 30 * 24;

// {kind: "fixed"|"auction", price: "1.5", hours: "24"} -> POST /api/items/{id}/sales's body.
export function saleBody({ kind, price, hours }) {
  const body = { kind, price: parseAmount(price, "ETH") };
  if (kind === "auction") {
    const count = Number(String(hours).trim());
    if (!Number.isFinite(count) || count < MIN_HOURS || count > MAX_HOURS) {
      throw new Error(`an auction lasts from ten minutes to ${MAX_HOURS} hours`);
    }
    body.duration_seconds = Math.round(count * 3600);
  }
  return body;
}

const same = (a, b) => Boolean(a && b) && a.toLowerCase() === b.toLowerCase();

// The actions open to the holder of ``wallet`` at ``now`` (a Date): buy, bid, settle, cancel.
export function saleActions(sale, wallet, now = new Date()) {
  if (sale.status !== "open") return [];
  const mine = same(sale.seller, wallet);
  const ended = sale.kind === "auction" && new Date(sale.ends_at) <= now;
  const actions = [];
  if (sale.kind === "fixed" && !mine) actions.push("buy");
  if (sale.kind === "auction" && !ended && !mine) actions.push("bid");
  if (ended) actions.push("settle");
  if (mine && sale.bids === 0) actions.push("cancel");
  return actions;
}
