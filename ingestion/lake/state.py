"""A table's extract state in the lake: its watermark, its in-flight run and its key lists, so
that a Lambda, a Glue job and a laptop all see the same progress."""

from __future__ import annotations

from ingestion.lake import layout
from ingestion.lake.manifests import RawManifest
from ingestion.lake.storage import Lake


class TableState:
    """Watermark, in-flight run and key list of one table, kept in the lake."""

    def __init__(self, lake: Lake, source: str, table: str):
        self.lake, self.source, self.table = lake, source, table
        self.watermark_key = layout.table_state_file(source, table, "watermark")
        self.inflight_key = layout.table_state_file(source, table, "inflight")

    def _get(self, key: str) -> dict | None:
        return self.lake.get_json(key) if self.lake.exists(key) else None

    def watermark(self) -> dict | None:
        return self._get(self.watermark_key)

    def inflight(self) -> dict | None:
        return self._get(self.inflight_key)

    def keys_file(self, run_id: str) -> str:
        return layout.key_list_file(self.source, self.table, run_id)

    def start(self, run: dict) -> None:
        self.lake.put_json(self.inflight_key, run)

    def finish(self, manifest: RawManifest, manifest_key: str) -> None:
        """After the manifest is committed: advance the watermark, forget the in-flight run."""
        self.lake.put_json(
            self.watermark_key,
            {
                "run_id": manifest.run_id,
                "high": manifest.window["high"],  # a time, or (mode cdc) a binlog position
                "server": manifest.window.get("server"),  # mode cdc: the binlog's server
                "manifest": manifest_key,
                "keys": manifest.keys,
            },
        )
        self.lake.delete(self.inflight_key)

    def abandon(self, run_prefix: str) -> None:
        """Drop an unfinished run (a full refresh replaces it); nothing of it was visible."""
        self.lake.delete_prefix(run_prefix)
        self.lake.delete(self.inflight_key)
