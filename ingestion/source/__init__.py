"""The MySQL source: connections (``mysql``), planning a table against the live catalog
(``plan``), streaming rows into raw chunks (``stream``), delete detection (``deletes``) and a
table's extract run (``extract``)."""
