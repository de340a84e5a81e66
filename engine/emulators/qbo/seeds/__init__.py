"""The sandbox companies, as data files (see sandbox.py)."""
