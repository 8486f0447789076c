"""The lake: storage backends (``storage``), the one module that knows every key and prefix
(``layout``), typed manifests (``manifests``), per-table state (``state``) and the per-source run
lock (``lock``)."""
