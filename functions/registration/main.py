"""registration: sign-up, the caller's own profile (what they backed, made, hold, marked and bid on; their
notifications), public profiles and follows."""
from __future__ import annotations

import shared.startup  # noqa: F401  (first, before anything heavy: see shared/startup.py)

from shared import errors
from shared.db import after_commit
from shared.http.api import Api, Call, Reply
from shared.identity import site_config
from shared.identity.auth import get_firebase
from shared.market import personal
from shared.market.listing import ItemPage
from shared.notifications import inbox, preferences
from shared.paging import PageQuery
from shared.people import follows, users, wallets
from shared.proposals import portfolio
from shared.proposals.proposals import ProposalPage

api = Api("registration")


@api.route("POST", "/api/register", summary="Create the caller's profile (idempotent per account)",
           auth="token", body=users.RegisterIn, response=users.MyProfile, status=201,
           also={200: users.MyProfile}, errors=(409,))
def register(call: Call) -> Reply:
    user, created = users.register(call.session, call.claims, call.body)
    return Reply(users.my_profile(call.session, user), status=201 if created else 200,
                 headers={"Location": "/api/me"})


@api.route("GET", "/api/me", summary="The caller's own profile", auth="user", response=users.MyProfile)
def me(call: Call) -> users.MyProfile:
    return users.own_profile(call.conn, call.viewer)


@api.route("PATCH", "/api/me", summary="Change display name, bio, links or avatar", auth="user",
           body=users.ProfilePatch, response=users.MyProfile, errors=(404, 409))
def update_me(call: Call) -> users.MyProfile:
    users.update_profile(call.session, call.user, call.body)
    return users.my_profile(call.session, call.user)


@api.route("DELETE", "/api/me", summary="Erase the caller's personal data and sign-in account",
           auth="token", response=None, status=204, errors=(403, 503))
def delete_me(call: Call) -> None:
    # The profile first, committed; then the sign-in account. A 503 from Firebase leaves the
    # account able to sign in and send this again, which then finishes (decision 0005).
    uid = call.claims.uid
    if call.viewer is not None:
        users.erase(call.session, call.user)
    elif not users.account_deletion_pending(call.conn, uid):
        raise errors.RegistrationRequired()
    after_commit(call.session, lambda: users.finish_account_deletion(uid, get_firebase().delete_account))


@api.route("POST", "/api/me/sessions/revoke", summary="Sign out everywhere: every session of the account ends",
           auth="user", response=None, status=204, errors=(503,))
def sign_out_everywhere(call: Call) -> None:
    users.record_sign_out_everywhere(call.session, call.user)
    get_firebase().revoke_sessions(call.claims.uid)


@api.route("POST", "/api/me/wallet/challenge", summary="A single-use Sign-In with Ethereum message to sign",
           auth="user", body=wallets.ChallengeRequest, response=wallets.Challenge, status=201)
def wallet_challenge(call: Call) -> Reply:
    return Reply(wallets.challenge(call.session, call.user, call.body), status=201)


@api.route("POST", "/api/me/wallet", summary="Link the wallet that signed a challenge (replaces a linked one)",
           auth="user", body=wallets.LinkRequest, response=wallets.WalletOut, errors=(400, 409))
def link_wallet(call: Call) -> wallets.WalletOut:
    return wallets.WalletOut(wallet_address=wallets.link(call.session, call.user, call.body))


@api.route("DELETE", "/api/me/wallet", summary="Unlink the account's wallet (idempotent)", auth="user",
           response=None, status=204)
def unlink_wallet(call: Call) -> None:
    wallets.unlink(call.session, call.user)


@api.route("POST", "/api/me/solana-wallet/challenge", summary="A single-use Sign-In with Solana message to sign",
           auth="user", body=wallets.SolanaChallengeRequest, response=wallets.Challenge, status=201)
def solana_wallet_challenge(call: Call) -> Reply:
    return Reply(wallets.challenge(call.session, call.user, call.body, wallets.SOLANA), status=201)


@api.route("POST", "/api/me/solana-wallet", summary="Link the Solana wallet that signed a challenge (ed25519)",
           auth="user", body=wallets.SolanaLinkRequest, response=wallets.SolanaWalletOut, errors=(400, 409))
def link_solana_wallet(call: Call) -> wallets.SolanaWalletOut:
    return wallets.SolanaWalletOut(solana_address=wallets.link(call.session, call.user, call.body, wallets.SOLANA))


@api.route("DELETE", "/api/me/solana-wallet", summary="Unlink the account's Solana wallet (idempotent)",
           auth="user", response=None, status=204)
def unlink_solana_wallet(call: Call) -> None:
    wallets.unlink(call.session, call.user, wallets.SOLANA)


@api.route("GET", "/api/me/fundings", summary="What the caller's linked wallet backed: a position per proposal",
           auth="user", query=portfolio.MyFundingsQuery, response=portfolio.PositionPage)
def my_fundings(call: Call) -> portfolio.PositionPage:
    return portfolio.fundings(call.conn, call.caller, call.query)


@api.route("GET", "/api/me/proposals", summary="The caller's own proposals in every status, drafts too",
           auth="user", query=portfolio.MyProposalsQuery, response=ProposalPage)
def my_proposals(call: Call) -> ProposalPage:
    return portfolio.own_proposals(call.conn, call.caller, call.query)


def _reacted_route(reaction: personal.Reaction, what: str) -> None:
    @api.route("GET", f"/api/me/{reaction}", summary=f"The items the caller {what}, the latest first (private)",
               auth="user", query=PageQuery, response=ItemPage)
    def mine(call: Call) -> ItemPage:
        return personal.reacted(call.conn, call.caller, reaction, call.query)


_reacted_route("favorites", "favorited")
_reacted_route("likes", "liked")


@api.route("GET", "/api/me/collection", summary="The items the caller holds: won, bought, or tokens their wallet owns",
           auth="user", query=PageQuery, response=ItemPage)
def my_collection(call: Call) -> ItemPage:
    return personal.collection(call.conn, call.caller, call.query)


@api.route("GET", "/api/me/bids", summary="The caller's bids, newest first, with where each auction stands",
           auth="user", query=PageQuery, response=personal.MyBidPage)
def my_bids(call: Call) -> personal.MyBidPage:
    return personal.my_bids(call.conn, call.caller, call.query)


@api.route("GET", "/api/me/notifications", summary="The caller's notifications, newest first, and how many are unread",
           auth="user", query=inbox.NotificationQuery, response=inbox.NotificationPage)
def my_notifications(call: Call) -> inbox.NotificationPage:
    return inbox.page(call.conn, call.caller.id, call.query)


@api.route("POST", "/api/me/notifications/read", summary="Mark the caller's notifications named read (idempotent)",
           auth="user", body=inbox.MarkRead, response=inbox.UnreadCount)
def mark_notifications_read(call: Call) -> inbox.UnreadCount:
    return inbox.mark_read(call.session, call.caller.id, call.body.ids)


@api.route("POST", "/api/me/notifications/read-all", summary="Mark every notification of the caller read",
           auth="user", response=inbox.UnreadCount)
def mark_all_notifications_read(call: Call) -> inbox.UnreadCount:
    return inbox.mark_read(call.session, call.caller.id, None)


@api.route("GET", "/api/me/notification-preferences", summary="What the caller hears of, per kind, and by email or not",
           auth="user", response=preferences.Preferences)
def my_notification_preferences(call: Call) -> preferences.Preferences:
    return preferences.read(call.conn, call.caller.id)


@api.route("PUT", "/api/me/notification-preferences", summary="Choose, per kind named, whether to hear of it and by email",
           auth="user", body=preferences.PreferencesIn, response=preferences.Preferences)
def set_notification_preferences(call: Call) -> preferences.Preferences:
    return preferences.change(call.conn, call.caller.id, call.body)


@api.route("GET", "/api/users/<uuid:user_id>", summary="A public profile", auth="public",
           response=users.PublicProfile)
def profile(call: Call) -> users.PublicProfile:
    return users.public_profile(call.conn, call.path["user_id"], call.viewer)


def _people_route(direction: follows.Direction, what: str) -> None:
    @api.route("GET", f"/api/users/<uuid:user_id>/{direction}", summary=what, auth="public", query=PageQuery,
               response=follows.PeoplePage, errors=(403, 404))
    def people(call: Call) -> follows.PeoplePage:
        return follows.people(call.conn, call.viewer, call.path["user_id"], direction, call.query)


_people_route("followers", "Who follows a profile: to others, those whose follows are public; to its owner, all")
_people_route("following", "Whom a profile follows, if its owner made that public (its owner always sees it)")


@api.route("POST", "/api/users/<uuid:user_id>/follow", summary="Follow a user (idempotent)",
           auth="user", response=None, status=204, errors=(422,))
def follow(call: Call) -> None:
    users.follow(call.session, call.user, call.path["user_id"])


@api.route("DELETE", "/api/users/<uuid:user_id>/follow", summary="Stop following a user (idempotent)",
           auth="user", response=None, status=204)
def unfollow(call: Call) -> None:
    users.unfollow(call.session, call.user, call.path["user_id"])


@api.route("GET", "/api/config", summary="What the web app needs to start (Firebase web config, chain)",
           auth="public", response=site_config.SiteConfig)
def config(call: Call) -> site_config.SiteConfig:
    return site_config.site_config()


def handle(request):
    """functions-framework entry point."""
    return api(request)



