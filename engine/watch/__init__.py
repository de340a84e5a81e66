"""`tpsqbo-engine watch`: webhooks and a schedule drive incremental syncs for one firm."""
