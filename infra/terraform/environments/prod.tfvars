project_id         = "kalakrut-prod"
environment        = "prod"
region             = "europe-west1"
db_tier            = "db-custom-2-7680"
hosting_origins    = ["https://kalakrut.art", "https://kalakrut-prod-prod.web.app"]
db_max_connections = 500
alert_email        = "oncall@kalakrut.example"
function_env = {
  LOG_LEVEL             = "INFO"
  SIWE_DOMAIN           = "kalakrut.art"
  SIWE_URI              = "https://kalakrut.art"
  CHAIN_ID              = "1"
  RATE_LIMIT_PER_SECOND = "10"
  RATE_LIMIT_BURST      = "20"
  PUBLIC_CACHE_SECONDS  = "30"
  # The platform's fee on each sale, in basis points of the price (1000 = 10 %).
  PLATFORM_FEE_BPS      = "1000"
  # Stripe's publishable key (public by design; the secret key is the STRIPE_SECRET_KEY secret).
  STRIPE_PUBLISHABLE_KEY = "pk_live_replace-with-the-account-key"
  # Proxies whose X-Forwarded-For entries are believed (decision 0024): Cloud Run's front end
  # (link-local, as the container sees it) and Hosting's CDN egress (Fastly's published list,
  # https://api.fastly.com/public-ip-list: refresh it with docs/deploy.md's check).
  TRUSTED_PROXIES = "169.254.0.0/16,23.235.32.0/20,43.249.72.0/22,103.244.50.0/24,103.245.222.0/23,103.245.224.0/24,104.156.80.0/20,140.248.64.0/18,140.248.128.0/17,146.75.0.0/17,151.101.0.0/16,157.52.64.0/18,167.82.0.0/17,167.82.128.0/20,167.82.160.0/20,167.82.224.0/20,172.111.64.0/18,185.31.16.0/22,199.27.72.0/21,199.232.0.0/16,2a04:4e40::/32,2a04:4e42::/32"
  # The graph (Neo4j Aura); its user and password are the NEO4J_* secrets.
  GRAPH_URL = "neo4j+s://kalakrut-prod.databases.neo4j.io"
  # ProposalFunding on mainnet: replace with the address the contract was deployed at.
  FUNDING_CONTRACT = "0x0000000000000000000000000000000000000000"
  # ArtworkMarket (contracts/ArtworkMarket.sol), deployed with the ArtworkToken's address, the
  # platform's treasury and PLATFORM_FEE_BPS: replace with its address.
  MARKET_CONTRACT = "0x0000000000000000000000000000000000000000"
  # Notifications' email: a mail provider's submission port (STARTTLS); its login is the
  # SMTP_USERNAME / SMTP_PASSWORD secrets. Replace with the provider and sender you use.
  SMTP_HOST = "smtp.sendgrid.net"
  SMTP_PORT = "587"
  SMTP_FROM = "notifications@kalakrut.example"
  # Semantic search (decision 0032): asked for 256 dimensions, the vectors' column.
  EMBEDDING_MODEL = "text-embedding-005"
}
