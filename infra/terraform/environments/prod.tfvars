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
  # The graph (Neo4j Aura); its user and password are the NEO4J_* secrets.
  GRAPH_URL = "neo4j+s://kalakrut-prod.databases.neo4j.io"
  # ProposalFunding on mainnet: replace with the address the contract was deployed at.
  FUNDING_CONTRACT = "0x0000000000000000000000000000000000000000"
}
