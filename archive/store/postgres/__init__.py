"""The PostgreSQL + pgvector backend: HNSW vector search, tsvector keyword search, advisory-lock writers."""
