"""Semantic search's vectors: the embedding port and its models (Vertex AI in the cloud, a packaged CPU
model locally), and the vectors of items and proposals kept in PostgreSQL with pgvector (decision 0032)."""
