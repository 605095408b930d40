"""proposals: artists' funding proposals and their lifecycle, and the chain status their totals come from."""
from __future__ import annotations

import shared.startup  # noqa: F401  (first, before anything heavy: see shared/startup.py)

from shared.chain.status import ChainStatusPage, chain_status
from shared.http.api import Api, Call, Reply
from shared.proposals import fundings, proposals, settlement
from shared.proposals.states import HTTP_ACTIONS

api = Api("proposals")


def _reply(call: Call, proposal, name, status: int = 200, **headers: str) -> Reply:
    backers = proposals.backer_count(call.session, proposal.id)
    return Reply(proposals.to_out(proposal, name, backers), status=status,
                 headers={"ETag": proposals.etag(proposal, backers), **headers})


@api.route("POST", "/api/proposals", summary="Create a draft proposal (artists only)", auth="user",
           body=proposals.ProposalIn, response=proposals.ProposalOut, status=201)
def create(call: Call) -> Reply:
    proposal = proposals.create(call.session, call.user, call.body)
    return _reply(call, proposal, call.user.display_name, 201, Location=f"/api/proposals/{proposal.id}")


@api.route("GET", "/api/proposals", summary="List proposals with filters, sort and a cursor",
           auth="public", query=proposals.ProposalQuery, response=proposals.ProposalPage)
def list_proposals(call: Call) -> proposals.ProposalPage:
    return proposals.list_page(call.conn, call.viewer, call.query)


@api.route("GET", "/api/proposals/<uuid:proposal_id>", summary="One proposal", auth="public",
           response=proposals.ProposalOut)
def detail(call: Call) -> Reply:
    row = proposals.read(call.conn, call.path["proposal_id"], call.viewer)
    return Reply(proposals.row_out(row), headers={"ETag": proposals.etag(row, row.backers)})


@api.route("PATCH", "/api/proposals/<uuid:proposal_id>", summary="Edit a proposal (owner only, If-Match)",
           auth="user", body=proposals.ProposalPatch, response=proposals.ProposalOut, errors=(409, 412, 428))
def update(call: Call) -> Reply:
    proposal, name = proposals.get(call.session, call.path["proposal_id"], call.user, for_update=True)
    proposals.check_if_match(proposal, call.request.headers.get("If-Match"))
    proposals.update(call.session, call.user, proposal, call.body)
    return _reply(call, proposal, name)


@api.route("GET", "/api/proposals/<uuid:proposal_id>/fundings", summary="On-chain funding history, newest first",
           auth="public", query=fundings.FundingQuery, response=fundings.FundingPage)
def funding_history(call: Call) -> fundings.FundingPage:
    proposal = proposals.read(call.conn, call.path["proposal_id"], call.viewer)
    return fundings.history(call.conn, proposal.id, call.query)


@api.route("GET", "/api/proposals/<uuid:proposal_id>/withdrawal",
           summary="The transaction the artist's wallet sends to withdraw a funded proposal's money (owner only)",
           auth="user", response=settlement.WithdrawalOut, errors=(409,))
def withdrawal(call: Call) -> settlement.WithdrawalOut:
    return settlement.withdrawal(call.conn, call.path["proposal_id"], call.caller)


@api.route("GET", "/api/proposals/<uuid:proposal_id>/refund",
           summary="The transaction the caller's linked wallet sends to take back its funding of a failed proposal",
           auth="user", response=settlement.RefundOut, errors=(409,))
def refund(call: Call) -> settlement.RefundOut:
    return settlement.refund(call.conn, call.path["proposal_id"], call.caller)


def _transition_route(action: str) -> None:
    @api.route("POST", f"/api/proposals/<uuid:proposal_id>/{action}", summary=f"{action.capitalize()} a proposal",
               auth="user", response=proposals.ProposalOut, errors=(409, 412))
    def change_state(call: Call) -> Reply:
        proposal, name = proposals.get(call.session, call.path["proposal_id"], call.user, for_update=True)
        if call.request.headers.get("If-Match"):
            proposals.check_if_match(proposal, call.request.headers["If-Match"])
        proposals.transition(call.session, call.user, proposal, action)
        return _reply(call, proposal, name)


for _action in HTTP_ACTIONS:
    _transition_route(_action)


@api.route("GET", "/api/chain/status", summary="Indexer checkpoint, last seen head and lag per chain",
           auth="public", response=ChainStatusPage)
def status(call: Call) -> ChainStatusPage:
    return chain_status(call.conn)


def handle(request):
    """functions-framework entry point."""
    return api(request)
