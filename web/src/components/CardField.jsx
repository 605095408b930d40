import { useCallback, useEffect, useId, useRef, useState } from "react";
import { mountCard, stripeFor } from "../lib/payments.js";
import { Loading, Problem } from "./States.jsx";

// Stripe.js for this site (config.payments), loaded on the first call of `load` (when the
// person starts a bid), not with the page: { stripe, loading, error, load }.
export function useStripe(payments) {
  const [state, setState] = useState({ stripe: null, loading: false, error: null });
  const pending = useRef(null);
  const load = useCallback(() => {
    if (!pending.current) {
      setState((s) => ({ ...s, loading: true, error: null }));
      pending.current = stripeFor(payments).then(
        (stripe) => {
          setState({ stripe, loading: false, error: null });
          return stripe;
        },
        (error) => {
          pending.current = null; // the next attempt loads again
          setState({ stripe: null, loading: false, error });
          throw error;
        },
      );
    }
    return pending.current;
  }, [payments]);
  return { ...state, load };
}

// Stripe's card element (number, expiry, CVC; the local stand-in renders plain inputs),
// mounted while `stripe` is there; `cardRef.current` is the mounted card for lib/payments.js.
export function CardField({ stripe, cardRef, note }) {
  const node = useRef(null);
  const labelId = useId();
  useEffect(() => {
    if (!stripe.stripe || !node.current) return undefined;
    const card = mountCard(stripe.stripe, node.current);
    cardRef.current = card;
    return () => {
      if (cardRef.current === card) cardRef.current = null;
      card.element.destroy();
    };
  }, [stripe.stripe, cardRef]);
  return (
    <div className="card-step" role="group" aria-labelledby={labelId}>
      <span className="label" id={labelId}>Card</span>
      <div className="card-field" ref={node} hidden={!stripe.stripe} data-testid="card-field" />
      {stripe.loading && <Loading label="Loading the card form…" />}
      {!stripe.stripe && !stripe.loading && !stripe.error && <p className="muted">The card form opens when you start your bid.</p>}
      <Problem error={stripe.error} onRetry={() => stripe.load().catch(() => {})} />
      {note && <p className="muted small">{note}</p>}
    </div>
  );
}
