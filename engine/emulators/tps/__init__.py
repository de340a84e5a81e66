"""A local TPS Cloud Axis: the engine's TPS contract served with a demo firm."""
