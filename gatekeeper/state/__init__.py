"""State that admission leaves behind, behind a protocol so it can live in a shared store."""
