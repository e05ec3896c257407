"""The incident dashboard: HTML pages rendered on the server (list, incident, trends, health), inline SVG charts,
CSRF defence for its buttons, and the queries over the read model (shared.readmodel, shared.trendstats)."""
