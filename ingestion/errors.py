"""Project exceptions. Each message says what went wrong and what to do; none carries a secret.

The CLI turns any of these into one clear line and a non-zero exit code; anything else is a bug
and keeps its traceback.
"""


class PlatformError(Exception):
    """Base of every error a user can act on."""


class ConfigError(PlatformError):
    """A configuration file or setting is invalid (names the file, table and field)."""


class SourceError(PlatformError):
    """The MySQL source cannot be reached or read."""


class LakeError(PlatformError):
    """The lake (S3 or local directory) cannot be read or written."""


class CatalogError(PlatformError):
    """The Glue-shaped catalog is missing a table or holds an incompatible definition."""


class TableError(PlatformError):
    """One table cannot be copied as it is; the other tables of the run can."""


class UnsupportedTypeError(TableError, CatalogError):
    """A column's MySQL type has no mapping: that table cannot be copied; the others can."""


class NameCollisionError(TableError, ConfigError):
    """Two of a table's columns would have the same warehouse name (or one a name the pipeline
    adds): that table cannot be copied; the others can."""


class CurateError(PlatformError):
    """The curate job could not turn raw data into curated Parquet."""


class LoadError(PlatformError):
    """The warehouse load failed; nothing of the failed batch is visible."""
