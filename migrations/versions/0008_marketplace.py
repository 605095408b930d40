"""marketplace: categories, tags, items, favorites, likes, analytics, popularity inbox, auctions, bids, rate limits

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UINT256 = sa.Numeric(78, 0)
UUID = pg.UUID(as_uuid=True)
# table -> the text whose words go into the typo dictionary (``src`` is the row)
WORD_SOURCES = {
    "items": "coalesce(src.title, '') || ' ' || array_to_string(src.tags, ' ')",
    "proposals": "coalesce(src.title, '') || ' ' || array_to_string(src.tags, ' ')",
    "users": "coalesce(src.display_name, '')",
}
STARTER_CATEGORIES = ("painting", "sculpture", "textile", "photography", "digital-art", "sound", "music", "film",
                      "performance", "installation", "craft", "education")


def _now(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()"))


def _reaction(name: str) -> None:
    op.create_table(
        name,
        sa.Column("user_id", UUID, sa.ForeignKey("users.id", ondelete="CASCADE", name=f"fk_{name}_user_id_users"),
                  nullable=False),
        sa.Column("item_id", UUID, sa.ForeignKey("items.id", ondelete="CASCADE", name=f"fk_{name}_item_id_items"),
                  nullable=False),
        _now("created_at"),
        sa.PrimaryKeyConstraint("user_id", "item_id", name=f"pk_{name}"),
    )
    op.create_index(f"ix_{name}_item", name, ["item_id"])


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")  # typo-tolerant search (search_words)
    op.create_table(
        "categories",
        sa.Column("slug", sa.String(32), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("sort_order", sa.Integer, nullable=False, server_default=sa.text("0")),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("slug", name=op.f("pk_categories")),
    )
    # A starter set admins can rename, reorder or delete, and every category proposals
    # named freely until now.
    op.execute("INSERT INTO categories (slug, name, sort_order) SELECT slug, initcap(replace(slug, '-', ' ')), ord "
               f"FROM unnest(ARRAY{list(STARTER_CATEGORIES)!r}) WITH ORDINALITY AS c(slug, ord)")
    op.execute("INSERT INTO categories (slug, name, sort_order) "
               "SELECT DISTINCT category, initcap(replace(category, '-', ' ')), 100 "
               "FROM proposals WHERE category IS NOT NULL ON CONFLICT DO NOTHING")
    op.create_foreign_key("fk_proposals_category_categories", "proposals", "categories", ["category"], ["slug"],
                          onupdate="CASCADE", ondelete="SET NULL")

    # Item pictures and the private file of a digital item come through the media pipeline.
    op.drop_constraint(op.f("ck_media_purpose"), "media", type_="check")
    op.create_check_constraint(op.f("ck_media_purpose"), "media", "purpose IN ('avatar', 'cover', 'item', 'artwork')")

    op.create_table(
        "tags",
        sa.Column("slug", sa.String(32), nullable=False),
        sa.Column("usage_count", sa.Integer, nullable=False, server_default=sa.text("0")),
        _now("created_at"),
        sa.CheckConstraint("usage_count >= 0", name=op.f("ck_tags_usage_not_negative")),
        sa.PrimaryKeyConstraint("slug", name=op.f("pk_tags")),
    )
    op.execute("INSERT INTO tags (slug, usage_count) SELECT tag, count(*) FROM proposals, unnest(tags) AS tag "
               "GROUP BY tag")
    op.create_index("ix_tags_usage", "tags", ["usage_count"])

    # The search document of an item. Declared IMMUTABLE (it is: the text search
    # configuration is named) so that it can define a stored generated column.
    op.execute("""
        CREATE FUNCTION item_document(title text, description text, tags varchar[]) RETURNS tsvector
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT setweight(to_tsvector('english'::regconfig, title), 'A')
                || setweight(to_tsvector('english'::regconfig, array_to_string(tags, ' ')), 'B')
                || setweight(to_tsvector('english'::regconfig, left(description, 4000)), 'C')
        $$
    """)
    op.create_table(
        "items",
        sa.Column("id", UUID, nullable=False, server_default=sa.text("gen_random_uuid()")),
        sa.Column("owner_id", UUID, sa.ForeignKey("users.id", name="fk_items_owner_id_users"), nullable=False),
        sa.Column("title", sa.String(140), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=sa.text("''")),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("price", UINT256, nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default=sa.text("'draft'")),
        sa.Column("inventory", sa.Integer, nullable=True),
        sa.Column("shipping_regions", pg.ARRAY(sa.String(8)), nullable=False,
                  server_default=sa.text("'{}'::varchar[]")),
        sa.Column("license", sa.Text, nullable=True),
        sa.Column("file_media_id", UUID, sa.ForeignKey("media.id", ondelete="SET NULL",
                                                       name="fk_items_file_media_id_media"), nullable=True),
        sa.Column("media_ids", pg.ARRAY(UUID), nullable=False, server_default=sa.text("'{}'::uuid[]")),
        sa.Column("category", sa.String(32), sa.ForeignKey("categories.slug", onupdate="CASCADE", ondelete="SET NULL",
                                                           name="fk_items_category_categories"), nullable=True),
        sa.Column("tags", pg.ARRAY(sa.String(32)), nullable=False, server_default=sa.text("'{}'::varchar[]")),
        sa.Column("token_chain_id", sa.BigInteger, nullable=True),
        sa.Column("token_contract", sa.String(42), nullable=True),
        sa.Column("token_id", UINT256, nullable=True),
        sa.Column("holder_id", UUID, sa.ForeignKey("users.id", name="fk_items_holder_id_users"), nullable=True),
        sa.Column("favorite_count", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("like_count", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("view_count", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("copy_count", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("popularity", sa.Float, nullable=False, server_default=sa.text("'-Infinity'")),
        sa.Column("version", sa.Integer, nullable=False, server_default=sa.text("1")),
        _now("created_at"),
        _now("updated_at"),
        sa.Column("listed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sold_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("search", pg.TSVECTOR, sa.Computed("item_document(title, description, tags)", persisted=True),
                  nullable=False),
        sa.CheckConstraint("kind IN ('physical', 'digital')", name=op.f("ck_items_kind")),
        sa.CheckConstraint("status IN ('draft', 'listed', 'sold', 'archived')", name=op.f("ck_items_status")),
        sa.CheckConstraint("price > 0", name=op.f("ck_items_price_positive")),
        sa.CheckConstraint("(kind = 'physical') = (inventory IS NOT NULL) AND coalesce(inventory, 0) >= 0",
                           name=op.f("ck_items_inventory")),
        sa.CheckConstraint("(token_chain_id IS NULL) = (token_contract IS NULL) "
                           "AND (token_contract IS NULL) = (token_id IS NULL)", name=op.f("ck_items_token")),
        sa.CheckConstraint("favorite_count >= 0 AND like_count >= 0", name=op.f("ck_items_counts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_items")),
    )
    op.create_index("ix_items_search", "items", ["search"], postgresql_using="gin")
    # Everyone browses what is public: the sort orders are indexed for exactly that set.
    public = sa.text("status IN ('listed', 'sold')")
    op.create_index("ix_items_public_created", "items", ["created_at", "id"], postgresql_where=public)
    op.create_index("ix_items_public_popular", "items", ["popularity", "id"], postgresql_where=public)
    op.create_index("ix_items_public_price", "items", ["currency", "price", "id"], postgresql_where=public)
    op.create_index("ix_items_public_category", "items", ["category", "created_at", "id"], postgresql_where=public)
    op.create_index("ix_items_owner", "items", ["owner_id", "created_at", "id"])
    op.create_index("ix_items_tags", "items", ["tags"], postgresql_using="gin")
    op.create_index("ix_items_token", "items", ["token_chain_id", "token_contract", "token_id"], unique=True,
                    postgresql_where=sa.text("token_id IS NOT NULL"))

    # Proposals and artists are found by the same search.
    op.execute("""
        CREATE FUNCTION proposal_document(title text, description text, tags varchar[]) RETURNS tsvector
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT item_document(title, description, tags) $$
    """)
    op.add_column("proposals", sa.Column("search", pg.TSVECTOR, sa.Computed(
        "proposal_document(title, description, tags)", persisted=True), nullable=False))
    op.create_index("ix_proposals_search", "proposals", ["search"], postgresql_using="gin")
    op.execute("""
        CREATE FUNCTION user_document(display_name text, bio text) RETURNS tsvector
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT setweight(to_tsvector('simple'::regconfig, coalesce(display_name, '')), 'A')
                || setweight(to_tsvector('english'::regconfig, left(coalesce(bio, ''), 4000)), 'C')
        $$
    """)
    op.add_column("users", sa.Column("search", pg.TSVECTOR, sa.Computed(
        "user_document(display_name, bio)", persisted=True), nullable=False))
    op.create_index("ix_users_search", "users", ["search"], postgresql_using="gin")

    # The words of titles, tags and artists' names: a typo is corrected against this small
    # dictionary (pg_trgm) and the corrected words searched as usual (shared/market/search.py).
    op.create_table(
        "search_words",
        sa.Column("word", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("word", name=op.f("pk_search_words")),
    )
    op.execute("CREATE INDEX ix_search_words_trgm ON search_words USING gin (word gin_trgm_ops)")
    for table, source in WORD_SOURCES.items():
        op.execute(f"""
            CREATE FUNCTION remember_{table}_words() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO search_words (word)
                SELECT w FROM unnest(tsvector_to_array(to_tsvector('simple', {source.replace("src.", "NEW.")}))) AS w
                WHERE length(w) BETWEEN 3 AND 64
                ON CONFLICT DO NOTHING;
                RETURN NULL;
            END $$
        """)
        columns = "display_name" if table == "users" else "title, tags"  # not on every counter update
        op.execute(f"CREATE TRIGGER remember_words AFTER INSERT OR UPDATE OF {columns} ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION remember_{table}_words()")
        op.execute(f"INSERT INTO search_words (word) SELECT DISTINCT w FROM {table} AS src, "
                   f"unnest(tsvector_to_array(to_tsvector('simple', {source}))) AS w "
                   "WHERE length(w) BETWEEN 3 AND 64 ON CONFLICT DO NOTHING")

    _reaction("favorites")
    _reaction("likes")

    op.create_table(
        "analytics_events",
        sa.Column("item_id", UUID, sa.ForeignKey("items.id", ondelete="CASCADE",
                                                 name="fk_analytics_events_item_id_items"), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("viewer", sa.String(64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        _now("created_at"),
        sa.CheckConstraint("action IN ('view', 'copy')", name=op.f("ck_analytics_events_action")),
        sa.PrimaryKeyConstraint("item_id", "action", "viewer", "window_start", name=op.f("pk_analytics_events")),
    )
    op.create_index("ix_analytics_events_created", "analytics_events", ["created_at"])
    op.create_table(
        "popularity_inbox",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("item_id", UUID, nullable=False),
        sa.Column("weight", sa.Integer, nullable=False),
        _now("occurred_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_popularity_inbox")),
    )

    op.create_table(
        "auctions",
        sa.Column("id", UUID, nullable=False, server_default=sa.text("gen_random_uuid()")),
        sa.Column("item_id", UUID, sa.ForeignKey("items.id", name="fk_auctions_item_id_items"), nullable=False),
        sa.Column("seller_id", UUID, sa.ForeignKey("users.id", name="fk_auctions_seller_id_users"), nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("starting_price", UINT256, nullable=False),
        sa.Column("reserve_price", UINT256, nullable=True),
        sa.Column("min_increment", UINT256, nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scheduled_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("extension_seconds", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default=sa.text("'open'")),
        sa.Column("current_price", UINT256, nullable=True),
        sa.Column("leader_id", UUID, sa.ForeignKey("users.id", name="fk_auctions_leader_id_users"), nullable=True),
        sa.Column("bid_count", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("winner_id", UUID, sa.ForeignKey("users.id", name="fk_auctions_winner_id_users"), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer, nullable=False, server_default=sa.text("1")),
        _now("created_at"),
        sa.CheckConstraint("status IN ('open', 'closed', 'cancelled')", name=op.f("ck_auctions_status")),
        sa.CheckConstraint("outcome IN ('sold', 'reserve_not_met', 'no_bids')", name=op.f("ck_auctions_outcome")),
        sa.CheckConstraint("starting_price > 0 AND min_increment > 0", name=op.f("ck_auctions_prices_positive")),
        sa.CheckConstraint("ends_at > starts_at AND ends_at >= scheduled_end", name=op.f("ck_auctions_times")),
        sa.CheckConstraint("extension_seconds BETWEEN 0 AND 3600", name=op.f("ck_auctions_extension")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auctions")),
    )
    op.create_index("ix_auctions_item", "auctions", ["item_id"], unique=True,
                    postgresql_where=sa.text("status = 'open'"))
    op.create_index("ix_auctions_due", "auctions", ["ends_at"], postgresql_where=sa.text("status = 'open'"))
    op.create_table(
        "bids",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("auction_id", UUID, sa.ForeignKey("auctions.id", name="fk_bids_auction_id_auctions"), nullable=False),
        sa.Column("bidder_id", UUID, sa.ForeignKey("users.id", name="fk_bids_bidder_id_users"), nullable=False),
        sa.Column("amount", UINT256, nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bids")),
        # One bid per price level: even a bug in the bidding code cannot take one twice.
        sa.UniqueConstraint("auction_id", "amount", name=op.f("uq_bids_auction_id")),
    )
    # The bid log is append-only, whoever connects.
    op.execute("""
        CREATE FUNCTION bids_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'bids are append-only' USING ERRCODE = 'insufficient_privilege';
        END $$
    """)
    op.execute("CREATE TRIGGER bids_append_only BEFORE UPDATE OR DELETE ON bids "
               "FOR EACH ROW EXECUTE FUNCTION bids_append_only()")

    # Seen by every instance; losing it in a crash only resets the counters.
    op.execute("CREATE UNLOGGED TABLE rate_limits (key varchar(200) NOT NULL, tat timestamptz NOT NULL, "
               "CONSTRAINT pk_rate_limits PRIMARY KEY (key))")


def downgrade() -> None:
    op.drop_table("rate_limits")
    op.drop_table("bids")
    op.execute("DROP FUNCTION bids_append_only()")
    op.drop_table("auctions")
    op.drop_table("popularity_inbox")
    op.drop_table("analytics_events")
    op.drop_table("likes")
    op.drop_table("favorites")
    for table in WORD_SOURCES:
        op.execute(f"DROP TRIGGER remember_words ON {table}")
        op.execute(f"DROP FUNCTION remember_{table}_words()")
    op.drop_table("search_words")
    op.drop_index("ix_users_search", "users")
    op.drop_column("users", "search")
    op.execute("DROP FUNCTION user_document(text, text)")
    op.drop_index("ix_proposals_search", "proposals")
    op.drop_column("proposals", "search")
    op.execute("DROP FUNCTION proposal_document(text, text, varchar[])")
    op.drop_table("items")
    op.execute("DROP FUNCTION item_document(text, text, varchar[])")
    op.drop_table("tags")
    op.drop_constraint("fk_proposals_category_categories", "proposals", type_="foreignkey")
    op.drop_table("categories")
    op.execute("DELETE FROM media WHERE purpose IN ('item', 'artwork')")
    op.drop_constraint(op.f("ck_media_purpose"), "media", type_="check")
    op.create_check_constraint(op.f("ck_media_purpose"), "media", "purpose IN ('avatar', 'cover')")
    op.execute("DROP EXTENSION IF EXISTS pg_trgm")
