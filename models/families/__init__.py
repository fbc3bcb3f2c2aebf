"""The built-in model families, one file each; models/registry.py lists them (BUILTIN_FAMILIES)."""
