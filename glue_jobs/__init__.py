"""AWS Glue 5.1 job scripts (thin entry points) and the pure PySpark functions they call."""
