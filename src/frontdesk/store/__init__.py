"""Persistence: the async engine and sessions, the model base, tenant-scoped queries, migrations."""
