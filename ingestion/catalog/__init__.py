"""The Glue-shaped catalog: table shapes and the crawl (``crawl``), the local JSON catalog
(``local``) and the AWS Glue Data Catalog (``glue``)."""
