"""The QuickBooks Online connector: OAuth tokens, a throttled, retrying API client."""
