"""Tenants, their configuration and the Tenant Context Store."""
