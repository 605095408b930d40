"""The webhook's Stripe-Signature check (shared/payments/webhook.py ``signed_by``) against
stripe-python's own (``WebhookSignature.verify_header``), which it stands in for to keep the
stripe client out of the function's cold start: on headers made as Stripe makes them, with
every way of getting one wrong, the two agree; on any text at all, ours accepts nothing
stripe-python refuses."""
from __future__ import annotations

import time

import stripe
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.payments.webhook import TOLERANCE_SECONDS, signed_by
from tests.support import stripe_signing


def stripes(payload: str, header: str, secret: str) -> bool:
    try:
        return stripe.WebhookSignature.verify_header(payload, header, secret, tolerance=TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError:
        return False


def sign(stamp: int, payload: str, secret: str) -> str:
    return stripe_signing.signature(stamp, payload.encode(), secret)


# Ages in seconds, clear of the tolerance's edge (stripe-python reads its own clock a moment later).
AGES = st.integers(-3600, -1) | st.integers(0, TOLERANCE_SECONDS - 30) | st.integers(TOLERANCE_SECONDS + 30, 10**6)
SECRETS = st.text(min_size=1, max_size=30).map(lambda s: "whsec_" + s)
ARABIC_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@st.composite
def deliveries(draw):
    # The clock as the test runs (stripe-python reads it too), not as the module was collected.
    now = int(time.time())
    payload, secret, stamp = draw(st.text(max_size=200)), draw(SECRETS), now - draw(AGES)
    signed_with = draw(st.sampled_from(["ours", "another secret", "another body", "another time"]))
    signature = {"ours": sign(stamp, payload, secret),
                 "another secret": sign(stamp, payload, secret + "x"),
                 "another body": sign(stamp, payload + " ", secret),
                 "another time": sign(stamp + 1, payload, secret)}[signed_with]
    # Stripe writes the time as plain digits; stripe-python reads it with int(), which takes more.
    written = draw(st.sampled_from([str(stamp), f"0{stamp}", f"+{stamp}", f" {stamp}", f"{stamp} ",
                                    f"{str(stamp)[:3]}_{str(stamp)[3:]}", str(stamp).translate(ARABIC_DIGITS)]))
    items = [f"t={written}", f"v1={signature}"]
    items += draw(st.lists(st.sampled_from([f"v1={sign(stamp, payload, 'whsec_other')}", f"v0={signature}",
                                            "v1=", "t", "v1", "x=y", f"t={stamp + 7}", ""]), max_size=3))
    items = draw(st.permutations(items))
    return payload, ",".join(items), secret, now, written.isascii() and written.isdigit()


@settings(max_examples=500, deadline=None)
@given(deliveries())
def test_headers_as_stripe_makes_them_are_judged_as_stripe_python_judges_them(delivery):
    payload, header, secret, now, plain_time = delivery
    ours, theirs = signed_by(payload, header, secret, now=now), stripes(payload, header, secret)
    assert ours <= theirs  # nothing stripe-python refuses
    if plain_time:  # a time as Stripe writes it: the same answer, either way
        assert ours == theirs


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), st.text(max_size=120), SECRETS)
def test_any_header_text_is_judged_without_an_error(payload, header, secret):
    ours = signed_by(payload, header, secret, now=time.time())
    assert ours is False or stripes(payload, header, secret)


def test_a_fresh_signature_is_accepted_and_a_replay_is_not():
    now = int(time.time())
    payload, secret = '{"type": "payment_intent.succeeded"}', "whsec_test"
    assert signed_by(payload, f"t={now},v1={sign(now, payload, secret)}", secret, now=now)
    old = now - TOLERANCE_SECONDS - 1
    assert not signed_by(payload, f"t={old},v1={sign(old, payload, secret)}", secret, now=now)
    assert not signed_by(payload, f"t={now},v1={sign(now, payload, secret)}", " ", now=now)
