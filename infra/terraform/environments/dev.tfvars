project_id         = "kalakrut-dev"
environment        = "dev"
region             = "europe-west1"
db_tier            = "db-custom-1-3840"
hosting_origins    = ["https://kalakrut-dev-dev.web.app", "https://kalakrut-dev-dev.firebaseapp.com"]
db_max_connections = 200
alert_email        = "oncall-dev@kalakrut.example"
function_env = {
  LOG_LEVEL             = "INFO"
  SIWE_DOMAIN           = "kalakrut-dev-dev.web.app"
  SIWE_URI              = "https://kalakrut-dev-dev.web.app"
  CHAIN_ID              = "11155111"
  RATE_LIMIT_PER_SECOND = "10"
  RATE_LIMIT_BURST      = "10"
  PUBLIC_CACHE_SECONDS  = "30"
  # The graph (Neo4j Aura); its user and password are the NEO4J_* secrets.
  GRAPH_URL = "neo4j+s://kalakrut-dev.databases.neo4j.io"
  # ProposalFunding on Sepolia: replace with the address the contract was deployed at.
  FUNDING_CONTRACT = "0x0000000000000000000000000000000000000000"
}
