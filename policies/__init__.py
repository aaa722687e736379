"""Shipped policy bundles (data only). Located at run time with importlib.resources."""
