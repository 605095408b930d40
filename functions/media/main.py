"""media: signed upload URLs, processing status, deletion."""
from __future__ import annotations

import shared.startup  # noqa: F401  (first, before anything heavy: see shared/startup.py)

from shared.http.api import Api, Call, Reply
from shared.media import media, uploads

api = Api("media")


@api.route("POST", "/api/media/uploads", summary="Start an upload: a pending media and a signed PUT URL",
           auth="user", body=uploads.UploadRequest, response=uploads.UploadTicket, status=201, errors=(409,))
def start_upload(call: Call) -> Reply:
    ticket = uploads.create_upload(call.session, call.user, call.body)
    return Reply(ticket, status=201, headers={"Location": f"/api/media/{ticket.media.id}"})


@api.route("GET", "/api/media/<uuid:media_id>", summary="Processing status and variants", auth="public",
           response=media.MediaOut)
def status(call: Call) -> media.MediaOut:
    return media.to_out(media.read(call.conn, call.path["media_id"], call.viewer))


@api.route("DELETE", "/api/media/<uuid:media_id>", summary="Delete a media and its objects (owner only)",
           auth="user", response=None, status=204)
def remove(call: Call) -> None:
    media.delete(call.session, call.user, media.get(call.session, call.path["media_id"], call.user))


def handle(request):
    """functions-framework entry point."""
    return api(request)
