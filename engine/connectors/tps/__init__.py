"""The TPS Cloud Axis connector: the HTTP contract's client and the file bridge."""
