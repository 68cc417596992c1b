"""VQA grounding with SATORI staged rewards."""
