"""Who holds an item, as SQL over the ``items`` table (no alias): the owner of its linked
artwork token, through that wallet's user, as the chain indexer last saw it; else
``holder_id`` (the artist, then an auction's winner). Used by the API and the graph sync."""

ITEM_HOLDER_SQL = """CASE WHEN items.token_id IS NULL THEN items.holder_id ELSE (
    SELECT holder.id FROM artwork_tokens token
    JOIN users holder ON holder.wallet_address = token.owner AND holder.deleted_at IS NULL
    WHERE token.chain_id = items.token_chain_id AND token.contract = items.token_contract
      AND token.token_id = items.token_id) END"""
