"""Structured logs, Prometheus metrics, health and readiness."""
