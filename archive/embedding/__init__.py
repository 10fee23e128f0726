"""Embedding: the Embedder protocol, sentence-transformers, a fake for tests, the worker pool, the NumPy query encoder, model files."""
