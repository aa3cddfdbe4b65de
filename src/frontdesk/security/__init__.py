"""Credentials, signatures, rate limits and the audit log."""
