"""A local QuickBooks Online emulator: the v3 Accounting API, OAuth and webhooks on loopback."""
