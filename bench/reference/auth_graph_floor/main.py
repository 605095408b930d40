"""Reference: the floor of a signed-in graph read — the database floor plus what the
issue asks of every request the network function serves before any code of ours runs:
verify the Firebase ID token with firebase-admin (revocation checked, so one account
lookup) and ask the graph store one question (docs/decisions/0017-network-cold-start.md)."""
import os
from urllib.parse import urlsplit

from sqlalchemy import create_engine, text

_engine = None


def handle(request):
    global _engine
    import firebase_admin
    from falkordb import FalkorDB
    from firebase_admin import auth

    if _engine is None:
        _engine = create_engine(os.environ["DATABASE_URL"], pool_size=1)
        firebase_admin.initialize_app(options={"projectId": os.environ["GOOGLE_CLOUD_PROJECT"]})
    token = request.headers["Authorization"].removeprefix("Bearer ")
    uid = auth.verify_id_token(token, check_revoked=True)["uid"]
    with _engine.connect() as connection:
        found = connection.execute(text("SELECT count(*) FROM users WHERE firebase_uid = :uid"), {"uid": uid}).scalar()
    graph = urlsplit(os.environ["GRAPH_URL"])
    answer = FalkorDB(host=graph.hostname, port=graph.port).select_graph(graph.path.strip("/")).ro_query("RETURN 1")
    return f"{found} {answer.result_set[0][0]}"
