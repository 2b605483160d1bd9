"""HTTP layer of the server (FastAPI)."""
