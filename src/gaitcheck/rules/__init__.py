"""Rule and catalogue data shipped with gaitcheck (TOML files read with importlib.resources)."""
