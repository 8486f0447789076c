"""The warehouse: what every backend shares when it loads curated batches (``interface``), the
local PostgreSQL stand-in (``postgres``) and Redshift through the Data API (``redshift``, with its
SQL in ``redshift_sql``)."""
