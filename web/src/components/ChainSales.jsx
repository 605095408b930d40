// An artwork token's sales for ETH (decision 0028): the market contract holds the token and every
// bid; the API prepares each transaction and the person's linked wallet sends it. What the chain
// then does shows here once the indexer has confirmed it.
import { useState } from "react";
import { api } from "../lib/api.js";
import { formatAmount, parseAmount } from "../lib/money.js";
import { saleActions, saleBody } from "../lib/sales.js";
import { check } from "../lib/shop.js";
import { sendCalls } from "../lib/wallet.js";
import { useSession } from "../session.jsx";
import { TimeLeft } from "./Common.jsx";
import { Empty, Loading, Problem, useAction, useLoad } from "./States.jsx";

const LABELS = { buy: "Buy with your wallet", bid: "Bid from your wallet", settle: "Settle the auction", cancel: "Cancel the sale" };

function SellForm({ item, onSent }) {
  const [form, setForm] = useState({ kind: "fixed", price: "", hours: "24" });
  const set = (key) => (event) => setForm((f) => ({ ...f, [key]: event.target.value }));
  const sell = useAction(async (event) => {
    event.preventDefault();
    const body = check("Check the sale", () => saleBody(form));
    await sendCalls(await api(`/api/items/${item.id}/sales`, { method: "POST", body }));
    onSent();
  });
  return (
    <form className="form" onSubmit={sell.run} aria-label="Sell for ETH">
      <label>How<select name="kind" value={form.kind} onChange={set("kind")}>
        <option value="fixed">At a fixed price</option><option value="auction">By auction</option></select></label>
      <label>{form.kind === "auction" ? "Lowest first bid (ETH)" : "Price (ETH)"}
        <input name="sale-price" inputMode="decimal" value={form.price} onChange={set("price")} required /></label>
      {form.kind === "auction" && <label>Hours<input name="hours" inputMode="decimal" value={form.hours} onChange={set("hours")} required /></label>}
      <p className="muted">Your wallet approves the market contract for the token, then puts it on sale: the contract holds it until it is sold or you cancel.</p>
      <button type="submit" disabled={sell.busy}>{sell.busy ? "Waiting for your wallet…" : "Put it on sale"}</button>
      <Problem error={sell.error} />
    </form>
  );
}

function Sale({ item, sale, wallet, onSent }) {
  const [amount, setAmount] = useState("");
  const act = useAction(async (action) => {
    const body = action === "bid" ? check("Check your bid", () => ({ amount: parseAmount(amount, "ETH") })) : undefined;
    await sendCalls(await api(`/api/items/${item.id}/sales/${sale.id}/${action}`, { method: "POST", body }));
    onSent();
  });
  const actions = wallet ? saleActions(sale, wallet) : [];
  return (
    <li className="panel" data-testid="chain-sale">
      <p><strong data-testid="chain-sale-status">{sale.status}</strong> · {sale.kind === "fixed" ? "fixed price" : "auction"} ·{" "}
        {formatAmount(sale.amount ?? sale.bid ?? sale.price, "ETH")}{sale.kind === "auction" && <> · {sale.bids} bids</>}
        {sale.kind === "auction" && sale.status === "open" && <> · <TimeLeft until={sale.ends_at} /></>}</p>
      {sale.minimum_bid && <p className="muted">Lowest next bid {formatAmount(sale.minimum_bid, "ETH")}: it is paid into the contract, and paid back to you if someone bids more.</p>}
      {actions.includes("bid") && (
        <label>Your bid (ETH)<input name="chain-bid" inputMode="decimal" value={amount} onChange={(e) => setAmount(e.target.value)} /></label>
      )}
      {actions.map((action) => (
        <button key={action} type="button" onClick={() => act.run(action)} disabled={act.busy}>{LABELS[action]}</button>
      ))}
      <Problem error={act.error} />
    </li>
  );
}

export function ChainSales({ item, holder }) {
  const { profile, config } = useSession();
  const onChain = item.currency === "ETH" && Boolean(config.chain?.market_contract);
  const sales = useLoad(() => (onChain ? api(`/api/items/${item.id}/sales`) : Promise.resolve({ items: [] })), [item.id, onChain]);
  const [sent, setSent] = useState(false);
  if (!onChain) return null;
  const onSent = () => { setSent(true); sales.reload(); };
  const open = sales.data?.items.some((s) => s.status === "open");
  const wallet = profile?.wallet_address;
  return (
    <div className="panel" data-testid="chain-sales">
      <h2>On chain, for ETH</h2>
      {sales.loading && !sales.data && <Loading />}
      <Problem error={sales.error} onRetry={sales.reload} />
      {sent && <p role="status" className="ok">Sent. The sale shows the change once the chain has confirmed it.</p>}
      {sales.data && (sales.data.items.length
        ? <ol className="bare">{sales.data.items.map((sale) => <Sale key={sale.id} item={item} sale={sale} wallet={wallet} onSent={onSent} />)}</ol>
        : <Empty>Not on sale on chain.</Empty>)}
      {!open && profile && holder && profile.id === holder && item.token && (
        wallet ? <SellForm item={item} onSent={onSent} /> : <p className="muted"><a href="#/me">Link your wallet</a> to sell the token.</p>
      )}
      {!wallet && profile && open && <p className="muted"><a href="#/me">Link your wallet</a> to buy or bid.</p>}
    </div>
  );
}
