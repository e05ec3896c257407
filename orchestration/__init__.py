"""Orchestration: the HTTP edge, alert processing, the sweep and the composition of the incident stages.

Sits above the domain packages (extractors, analysis, remediation, notify) and shared/; function_app.py wires
triggers to it."""
