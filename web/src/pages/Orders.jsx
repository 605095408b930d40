// The caller's orders: what they bought (confirm a delivery, download a file) and what they
// sold (ship, refund; their balance per currency from the ledger, paid out through Stripe Connect).
import { useId, useState } from "react";
import { api } from "../lib/api.js";
import { formatAmount } from "../lib/money.js";
import { go } from "../lib/router.js";
import {
  PAYOUT_CURRENCIES, accountBody, isDigitalOrder, orderActions, payoutBody, payoutCurrency, sellerShare, shipBody,
  check,
} from "../lib/shop.js";
import { marketCredits, withdrawCredits } from "../lib/wallet.js";
import { useSession } from "../session.jsx";
import { when } from "../components/Common.jsx";
import { Empty, Loading, Pager, Problem, RegisteredOnly, useAction, useLoad, usePaged } from "../components/States.jsx";


// An order carries its item's title: it outlives the listing (an archived item is still named).
function ItemName({ order }) {
  return <a href={`#/items/${order.item_id}`} data-testid="order-item">{order.item_title}</a>;
}

function Dates({ order }) {
  const steps = [["Ordered", order.created_at], ["paid", order.paid_at], ["shipped", order.shipped_at],
    ["received", order.fulfilled_at], ["refunded", order.refunded_at]].filter(([, at]) => at);
  return <p className="muted small">{steps.map(([label, at]) => `${label} ${when(at)}`).join(" · ")}</p>;
}

function Address({ shipping }) {
  if (!shipping) return null;
  return (
    <address className="small" data-testid="ship-to">
      Ship to: {[shipping.name, shipping.line1, shipping.line2, `${shipping.postal_code} ${shipping.city}`, shipping.country].filter(Boolean).join(", ")}
    </address>
  );
}

function ShipForm({ order, onChanged }) {
  const [form, setForm] = useState({ carrier: "", tracking: "" });
  const set = (key) => (event) => setForm((f) => ({ ...f, [key]: event.target.value }));
  const ship = useAction(async (event) => {
    event.preventDefault();
    const body = check("Check the shipment", () => shipBody(form));
    onChanged(await api(`/api/orders/${order.id}/ship`, { method: "POST", body }));
  });
  return (
    <form className="form inline ship" onSubmit={ship.run} aria-label="Mark shipped">
      <div className="row">
        <label className="grow">Carrier<input name="carrier" value={form.carrier} onChange={set("carrier")} required maxLength={64} placeholder="DHL" /></label>
        <label className="grow">Tracking (optional)<input name="tracking" value={form.tracking} onChange={set("tracking")} maxLength={128} /></label>
      </div>
      <button type="submit" disabled={ship.busy}>{ship.busy ? "Saving…" : "Mark shipped"}</button>
      <Problem error={ship.error} />
    </form>
  );
}

function Refund({ order, onChanged }) {
  const [asking, setAsking] = useState(false);
  const [pending, setPending] = useState(false);
  const refund = useAction(async () => {
    const out = await api(`/api/orders/${order.id}/refund`, { method: "POST" });
    setAsking(false);
    // The card provider could not refund at once: the API retries; the order says refunded then.
    setPending(out.status !== "refunded");
    onChanged(out);
  });
  if (pending) return <p className="state" role="status">The refund is on its way: the order shows “refunded” once the card provider has made it.</p>;
  return (
    <div className="actions">
      {asking ? (
        <>
          <span>Give {formatAmount(order.amount, order.currency)} back to the buyer?</span>
          <button type="button" className="danger" onClick={refund.run} disabled={refund.busy}>{refund.busy ? "Refunding…" : "Yes, refund"}</button>
          <button type="button" className="link" onClick={() => setAsking(false)}>Keep the order</button>
        </>
      ) : <button type="button" className="danger" onClick={() => setAsking(true)}>Refund</button>}
      <Problem error={refund.error} />
    </div>
  );
}

function Download({ order, onChanged }) {
  const [link, setLink] = useState(null);
  const download = useAction(async () => {
    // Opened now, while the click still counts as the person's: a window opened after the
    // answer arrives would be a pop-up to block.
    const tab = window.open("", "_blank");
    let out;
    try {
      out = await api(`/api/orders/${order.id}/download`);
    } catch (error) {
      tab?.close();
      throw error;
    }
    setLink(out);
    if (tab) {
      tab.opener = null;
      tab.location.href = out.url;
    }
    onChanged(await api(`/api/orders/${order.id}`)); // downloads left, and fulfilled by the first
  });
  return (
    <div className="actions">
      <button type="button" onClick={download.run} disabled={download.busy}>{download.busy ? "Preparing…" : "Download"}</button>
      <span className="muted small" data-testid="downloads-left">{order.downloads_left} download{order.downloads_left === 1 ? "" : "s"} left</span>
      {link && <a href={link.url} target="_blank" rel="noopener noreferrer">Open the file (link valid until {when(link.expires_at)})</a>}
      <Problem error={download.error} />
    </div>
  );
}

function Confirm({ order, onChanged }) {
  const confirm = useAction(async () => onChanged(await api(`/api/orders/${order.id}/confirm`, { method: "POST" })));
  return (
    <div className="actions">
      <button type="button" onClick={confirm.run} disabled={confirm.busy}>{confirm.busy ? "Confirming…" : "Confirm received"}</button>
      <Problem error={confirm.error} />
    </div>
  );
}

function Order({ order, role, highlight, onChanged }) {
  const actions = orderActions(order, role);
  return (
    <li className={`card order${highlight ? " highlight" : ""}`} data-testid="order" data-order-id={order.id}>
      <h3><ItemName order={order} /> <span className={`badge ${order.status}`} data-testid="order-status">{order.status}</span></h3>
      <p>
        {order.quantity > 1 && <>{order.quantity} × · </>}
        <strong data-testid="order-amount">{formatAmount(order.amount, order.currency)}</strong>
        {role === "seller" && <span className="muted"> · fee {formatAmount(order.fee, order.currency)} · you receive {formatAmount(sellerShare(order), order.currency)}</span>}
        {order.auction_id && <span className="muted"> · won at auction</span>}
        {isDigitalOrder(order) && <span className="muted"> · digital</span>}
      </p>
      <Dates order={order} />
      {order.carrier && <p className="small" data-testid="shipment">Shipped with {order.carrier}{order.tracking ? `, tracking ${order.tracking}` : ""}</p>}
      {role === "seller" && <Address shipping={order.shipping} />}
      {actions.includes("ship") && <ShipForm order={order} onChanged={onChanged} />}
      {actions.includes("confirm") && <Confirm order={order} onChanged={onChanged} />}
      {actions.includes("download") && <Download order={order} onChanged={onChanged} />}
      {actions.includes("refund") && <Refund order={order} onChanged={onChanged} />}
    </li>
  );
}

function Balance({ balance }) {
  return (
    <div className="panel">
      <h2>Your balance</h2>
      {balance.loading && !balance.data && <Loading label="Loading your balance…" />}
      <Problem error={balance.error} onRetry={balance.reload} />
      {balance.data && (balance.data.items.length ? (
        <ul className="balance" data-testid="balance">
          {balance.data.items.map((b) => <li key={b.currency}><strong>{formatAmount(b.amount, b.currency)}</strong></li>)}
        </ul>
      ) : <Empty>Nothing earned yet.</Empty>)}
      <p className="muted small">What your sales earned, less the platform’s fee and refunds. ETH is paid out by the market contract (below), not from this balance.</p>
    </div>
  );
}

// Connect (or finish connecting) the payout account: Stripe hosts the onboarding and sends
// the seller back to this tab.
function PayoutAccount() {
  const [country, setCountry] = useState("");
  const [account, setAccount] = useState(null);
  const connect = useAction(async (event) => {
    event.preventDefault();
    setAccount(null);
    const body = check("Check the country", () => accountBody({ country }));
    const out = await api("/api/payouts/account", { method: "POST", body });
    setAccount(out);
    if (!out.payouts_enabled) window.location.assign(out.url);
  });
  return (
    <form className="form inline" onSubmit={connect.run} aria-label="Set up payouts">
      <label>Country of your bank account (two-letter code)
        <input name="country" value={country} onChange={(e) => setCountry(e.target.value)} required maxLength={2}
          placeholder="DE" autoComplete="country" />
      </label>
      <button type="submit" disabled={connect.busy}>{connect.busy ? "Connecting…" : "Set up payouts"}</button>
      {account && (account.payouts_enabled ? (
        <p className="ok" role="status" data-testid="payouts-account">
          Payouts are enabled. <a href={account.url}>Review your details at Stripe</a>
        </p>
      ) : (
        <p className="state" role="status" data-testid="payouts-account">
          Your payout account is not ready yet: finish setting up at Stripe. <a href={account.url}>Continue at Stripe</a>
        </p>
      ))}
      <Problem error={connect.error} />
    </form>
  );
}

const PAYOUT_DONE = {
  paid: (amount) => `${amount} is paid out to your account.`,
  pending: (amount) => `${amount} is on its way to your account.`,
  failed: (amount) => `Stripe refused the payout of ${amount}: it is back in your balance.`,
};

// Send part of a balance to the payout account; amounts typed in major units.
function PayoutForm({ balances, onPaid }) {
  const [form, setForm] = useState({ currency: null, amount: "" }); // currency null: follow the balance
  const [done, setDone] = useState(null);
  const hint = useId();
  const currency = form.currency ?? payoutCurrency(balances);
  const set = (key) => (event) => setForm((f) => ({ ...f, [key]: event.target.value }));
  const pay = useAction(async (event) => {
    event.preventDefault();
    setDone(null);
    const body = check("Check the payout", () => payoutBody({ currency, amount: form.amount }));
    const out = await api("/api/payouts", { method: "POST", body });
    setDone(out);
    setForm((f) => ({ ...f, amount: "" }));
    onPaid(out);
  });
  const available = balances?.find((b) => b.currency === currency)?.amount;
  return (
    <form className="form inline payout" onSubmit={pay.run} aria-label="Pay out">
      <div className="row">
        <label className="grow">Amount ({currency})
          <input name="amount" inputMode="decimal" value={form.amount} onChange={set("amount")} required placeholder="25.00"
            aria-describedby={hint} />
        </label>
        <label>Currency<select name="currency" value={currency} onChange={set("currency")}>
          {PAYOUT_CURRENCIES.map((c) => <option key={c}>{c}</option>)}</select></label>
      </div>
      <button type="submit" disabled={pay.busy}>{pay.busy ? "Paying out…" : "Pay out"}</button>
      <p className="muted small" id={hint}>Your balance: {formatAmount(available ?? "0", currency)}</p>
      {done && (
        <p className={done.status === "failed" ? "state" : "ok"} role="status" data-testid="payout-done">
          {PAYOUT_DONE[done.status]?.(formatAmount(done.amount, done.currency)) ?? `Payout ${done.status}.`}
        </p>
      )}
      <Problem error={pay.error} />
    </form>
  );
}

function PayoutList({ version }) {
  const list = useLoad(() => api("/api/payouts"), [version]);
  return (
    <>
      <h3>Your payouts</h3>
      {list.loading && !list.data && <Loading label="Loading your payouts…" />}
      <Problem error={list.error} onRetry={list.reload} />
      {list.data && (list.data.items.length ? (
        <table className="history" data-testid="payouts">
          <thead><tr><th>When</th><th>Amount</th><th>Status</th></tr></thead>
          <tbody>
            {list.data.items.map((p) => (
              <tr key={p.id} data-testid="payout">
                <td>{when(p.created_at)}</td>
                <td>{formatAmount(p.amount, p.currency)}</td>
                <td><span className={`badge ${p.status}`}>{p.status}</span></td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : <Empty>No payouts yet.</Empty>)}
    </>
  );
}

function Payouts({ balances, version, onPaid }) {
  return (
    <div className="panel payouts">
      <h2>Payouts</h2>
      <p className="muted small">Send your balance to your bank account. Set up once: Stripe asks who you are and where to pay.</p>
      <PayoutAccount />
      <PayoutForm balances={balances} onPaid={onPaid} />
      <PayoutList version={version} />
    </div>
  );
}

// ETH sales pay through the market contract: what it holds for the wallet (proceeds, outbid
// bids) is read from the chain and withdrawn by the wallet itself.
function ChainProceeds({ chain }) {
  const [credits, setCredits] = useState(null);
  const read = useAction(async () => setCredits(await marketCredits(chain)));
  const withdraw = useAction(async () => {
    await withdrawCredits(chain);
    setCredits(await marketCredits(chain));
  });
  return (
    <div className="panel" data-testid="chain-proceeds">
      <h2>ETH in the market contract</h2>
      <p className="muted small">Your ETH sales, and bids others outbid, wait in the contract until your wallet withdraws them.</p>
      {credits && <p>{credits.account}: <strong data-testid="chain-credits">{formatAmount(credits.wei, "ETH")}</strong></p>}
      <button type="button" onClick={read.run} disabled={read.busy}>{read.busy ? "Asking your wallet…" : "Check with your wallet"}</button>
      {credits && BigInt(credits.wei) > 0n && (
        <button type="button" onClick={withdraw.run} disabled={withdraw.busy}>{withdraw.busy ? "Withdrawing…" : "Withdraw to your wallet"}</button>
      )}
      <Problem error={read.error || withdraw.error} />
    </div>
  );
}

// The seller's money: the balance and its payouts, reloaded after a refund or a payout.
function SellerMoney({ version, onPaid }) {
  const { config } = useSession();
  const balance = useLoad(() => api("/api/orders/balance"), [version]);
  return (
    <>
      <Balance balance={balance} />
      <Payouts balances={balance.data?.items} version={version} onPaid={onPaid} />
      {config.chain?.market_contract && <ChainProceeds chain={config.chain} />}
    </>
  );
}

function OrderList({ role, highlight }) {
  const [changed, setChanged] = useState({}); // id -> the order as the last action answered
  const [money, setMoney] = useState(0);
  const { rows, page, cursor, more } = usePaged(
    (next) => api("/api/orders", { query: { role, limit: 20, cursor: next } }), [role]);
  const onChanged = (order) => {
    setChanged((c) => ({ ...c, [order.id]: order }));
    if (order.status === "refunded") setMoney((m) => m + 1);
  };
  return (
    <div role="tabpanel" aria-label={role === "seller" ? "Sold" : "Bought"}>
      {role === "seller" && <SellerMoney version={money} onPaid={() => setMoney((m) => m + 1)} />}
      {page.loading && !page.data && <Loading label="Loading your orders…" />}
      <Problem error={page.error} onRetry={page.reload} />
      {page.data && rows.length === 0 && (
        <Empty>{role === "seller" ? "Nothing sold yet." : <>Nothing bought yet: find a work in the <a href="#/market">marketplace</a>.</>}</Empty>
      )}
      <ul className="cards" data-testid="orders">
        {rows.map((row) => <Order key={row.id} order={changed[row.id] || row} role={role} highlight={row.id === highlight} onChanged={onChanged} />)}
      </ul>
      <Pager cursor={cursor} onMore={more} />
    </div>
  );
}

export function OrdersPage({ query }) {
  const tab = query.tab === "sold" ? "sold" : "bought";
  const tabs = [["bought", "Bought"], ["sold", "Sold"]];
  return (
    <RegisteredOnly title="Orders">
      {() => (
        <section className="page">
          <h1>Orders</h1>
          <div className="tabs" role="tablist" aria-label="Orders">
            {tabs.map(([name, label]) => (
              <button key={name} type="button" role="tab" aria-selected={tab === name} onClick={() => go(name === "sold" ? "/orders?tab=sold" : "/orders")}>{label}</button>
            ))}
          </div>
          <OrderList key={tab} role={tab === "sold" ? "seller" : "buyer"} highlight={query.order} />
        </section>
      )}
    </RegisteredOnly>
  );
}
