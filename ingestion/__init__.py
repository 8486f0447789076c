"""JLR data platform: ingestion (extract, lake, catalog, load) for Lambda, Glue and the CLI."""

__version__ = "0.1.0"
