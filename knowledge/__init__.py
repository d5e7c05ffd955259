"""Minsheng knowledge base: sources, parsing, chunking, embeddings, hybrid retrieval, catalogue."""
