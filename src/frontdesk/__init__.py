"""Front Desk: a multi-tenant, omnichannel AI front desk."""

__version__ = "0.1.0"
