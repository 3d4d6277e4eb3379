"""Identity: which records are the same customer (xref first, then deterministic keys, then scores)."""
