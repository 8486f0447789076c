"""Configuration: source files (``source``), machine settings (``settings``, the only reader of
the environment) and where the source's credentials come from (``credentials``)."""
