"""The sync: firm config, reading both systems, planning, applying, reporting."""
