"""The HTTP API (FastAPI): health, readiness and, as the product grows, the customer-card and flow APIs."""
