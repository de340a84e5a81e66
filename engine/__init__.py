"""tpsqbo-engine: TPS Cloud Axis <-> QuickBooks Online sync driven by rule files."""

__version__ = "0.1.0"
__all__ = ["__version__"]
