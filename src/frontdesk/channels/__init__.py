"""Channel adapters: one per channel, behind one protocol, found through the registry."""
