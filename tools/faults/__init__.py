"""Fault and fuzz suite (issue 9): `python -m tools.faults` (see docs/hardening.md)."""
