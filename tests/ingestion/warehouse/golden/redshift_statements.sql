-- audit table 1
create schema if not exists ops;

-- audit table 2
create table if not exists "ops"."load_audit" ("manifest_key" varchar(1024) not null, "source" varchar(128), "table_name" varchar(128), "batch_id" varchar(64), "mode" varchar(16), "status" varchar(16), "rows_extracted" bigint, "rows_rejected" bigint, "duplicates_removed" bigint, "rows_curated" bigint, "rows_loaded" bigint, "rows_deleted" bigint, "rows_tombstoned" bigint, "started_at" timestamptz, "finished_at" timestamptz, "load_id" varchar(64), "binlog_position" varchar(256), "capture_lag_seconds" double precision, "events_inserted" bigint, "events_updated" bigint, "events_deleted" bigint, primary key (manifest_key));

-- audit table 3
create table if not exists "ops"."deleted_keys" ("source" varchar(128) not null, "table_name" varchar(128) not null, "key_value" varchar(1024) not null, "batch_id" varchar(64) not null, "manifest_key" varchar(1024) not null, "deleted_at" timestamptz not null default sysdate) diststyle auto compound sortkey (deleted_at);

-- create schema
create schema if not exists "jlr_ops_staging";

-- create table (defaults)
create table if not exists "jlr_ops_staging"."items" ("id" bigint not null, "amount" decimal(12,2), "note" varchar(80), "doc" super, "payload" varbyte(16), "updated_at" timestamptz, "_batch_id" varchar(32) not null, "_is_deleted" boolean not null, "_loaded_at" timestamptz not null default sysdate, primary key ("id")) encode auto diststyle auto sortkey auto;

-- create table (keyless)
create table if not exists "jlr_ops_staging"."items" ("id" bigint, "amount" decimal(12,2), "note" varchar(80), "doc" super, "payload" varbyte(16), "updated_at" timestamptz, "_batch_id" varchar(32) not null, "_is_deleted" boolean not null, "_loaded_at" timestamptz not null default sysdate) encode auto diststyle auto sortkey auto;

-- create table (dist and sort keys)
create table if not exists "jlr_ops_staging"."items" ("id" bigint not null, "amount" decimal(12,2), "note" varchar(80), "doc" super, "payload" varbyte(16), "updated_at" timestamptz, "_batch_id" varchar(32) not null, "_is_deleted" boolean not null, "_loaded_at" timestamptz not null default sysdate, primary key ("id")) encode auto diststyle key distkey ("id") compound sortkey ("updated_at");

-- add column
alter table "jlr_ops_staging"."items" add column "note" varchar(80);

-- widen varchar
alter table "jlr_ops_staging"."items" alter column "note" type varchar(80);

-- audited manifests
select manifest_key from "ops"."load_audit" where source = :source and table_name = :table_name;

-- audit row
select load_id, status, rows_loaded, rows_deleted, rows_tombstoned from "ops"."load_audit" where manifest_key = :manifest_key;

-- staging columns
select column_name, data_type, character_maximum_length, numeric_precision, numeric_scale from svv_columns where table_schema = :schema_name and table_name = :table_name order by ordinal_position;

-- load errors
select file_name, line_number, column_name, error_code, error_message from sys_load_error_detail where query_id = :query_id order by line_number limit 5;

-- incremental load: lock
lock "ops"."load_audit", "jlr_ops_staging"."items";

-- incremental load: create temp table
create temp table "_batch_items" ("id" bigint, "amount" decimal(12,2), "note" varchar(80), "doc" varchar(65535), "payload" varbyte(16), "updated_at" timestamptz, "_batch_id" varchar(32), "_is_deleted" boolean);

-- incremental load: copy
copy "_batch_items" from 's3://jlr-lake/curated/jlr_ops/items/batch=x/_redshift_copy.json' iam_role 'arn:aws:iam::123456789012:role/jlr-redshift-copy' format as parquet manifest;

-- incremental load: count check
select 1 / (case when count(*) = 5 then 1 else 0 end) from "_batch_items";

-- incremental load: audit
insert into "ops"."load_audit" ("manifest_key", "source", "table_name", "batch_id", "mode", "status", "rows_extracted", "rows_rejected", "duplicates_removed", "rows_curated", "rows_loaded", "rows_deleted", "rows_tombstoned", "started_at", "finished_at", "load_id", "binlog_position", "capture_lag_seconds", "events_inserted", "events_updated", "events_deleted") select 'curated/jlr_ops/items/batch=20261124T080000Z/_manifest.json', 'jlr_ops', 'items', '20261124T080000Z', 'incremental', 'loaded', 6, 1, 0, 5, (select count(*) from "_batch_items" where not "_is_deleted"), (select count(*) from "jlr_ops_staging"."items" t join "_batch_items" b on t."id" = b."id"), (select count(*) from "_batch_items" where "_is_deleted"), sysdate, sysdate, '0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f', null, null, null, null, null where not exists (select 1 from "ops"."load_audit" where manifest_key = 'curated/jlr_ops/items/batch=20261124T080000Z/_manifest.json');

-- incremental load: record deletions
insert into "ops"."deleted_keys" ("source", "table_name", "key_value", "batch_id", "manifest_key", "deleted_at") select 'jlr_ops', 'items', cast(b."id" as varchar), '20261124T080000Z', 'curated/jlr_ops/items/batch=20261124T080000Z/_manifest.json', sysdate from "_batch_items" b where b."_is_deleted" and exists (select 1 from "ops"."load_audit" where manifest_key = 'curated/jlr_ops/items/batch=20261124T080000Z/_manifest.json' and load_id = '0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f');

-- incremental load: delete
delete from "jlr_ops_staging"."items" t using "_batch_items" b where t."id" = b."id" and exists (select 1 from "ops"."load_audit" where manifest_key = 'curated/jlr_ops/items/batch=20261124T080000Z/_manifest.json' and load_id = '0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f');

-- incremental load: insert
insert into "jlr_ops_staging"."items" ("id", "amount", "note", "doc", "payload", "updated_at", "_batch_id", "_is_deleted", "_loaded_at") select "id", "amount", "note", json_parse("doc"), "payload", "updated_at", "_batch_id", "_is_deleted", sysdate from "_batch_items" where not "_is_deleted" and exists (select 1 from "ops"."load_audit" where manifest_key = 'curated/jlr_ops/items/batch=20261124T080000Z/_manifest.json' and load_id = '0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f');

-- full load: lock
lock "ops"."load_audit", "jlr_ops_staging"."items";

-- full load: create temp table
create temp table "_batch_items" ("id" bigint, "amount" decimal(12,2), "note" varchar(80), "doc" varchar(65535), "payload" varbyte(16), "updated_at" timestamptz, "_batch_id" varchar(32), "_is_deleted" boolean);

-- full load: copy
copy "_batch_items" from 's3://jlr-lake/curated/jlr_ops/items/batch=x/_redshift_copy.json' iam_role 'arn:aws:iam::123456789012:role/jlr-redshift-copy' format as parquet manifest;

-- full load: count check
select 1 / (case when count(*) = 5 then 1 else 0 end) from "_batch_items";

-- full load: audit
insert into "ops"."load_audit" ("manifest_key", "source", "table_name", "batch_id", "mode", "status", "rows_extracted", "rows_rejected", "duplicates_removed", "rows_curated", "rows_loaded", "rows_deleted", "rows_tombstoned", "started_at", "finished_at", "load_id", "binlog_position", "capture_lag_seconds", "events_inserted", "events_updated", "events_deleted") select 'curated/jlr_ops/items/batch=20261124T080000Z/_manifest.json', 'jlr_ops', 'items', '20261124T080000Z', 'full', 'loaded', 6, 1, 0, 5, (select count(*) from "_batch_items" where not "_is_deleted"), (select count(*) from "jlr_ops_staging"."items"), (select count(*) from "_batch_items" where "_is_deleted"), sysdate, sysdate, '0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f', null, null, null, null, null where not exists (select 1 from "ops"."load_audit" where manifest_key = 'curated/jlr_ops/items/batch=20261124T080000Z/_manifest.json');

-- full load: delete
delete from "jlr_ops_staging"."items" where exists (select 1 from "ops"."load_audit" where manifest_key = 'curated/jlr_ops/items/batch=20261124T080000Z/_manifest.json' and load_id = '0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f');

-- full load: insert
insert into "jlr_ops_staging"."items" ("id", "amount", "note", "doc", "payload", "updated_at", "_batch_id", "_is_deleted", "_loaded_at") select "id", "amount", "note", json_parse("doc"), "payload", "updated_at", "_batch_id", "_is_deleted", sysdate from "_batch_items" where not "_is_deleted" and exists (select 1 from "ops"."load_audit" where manifest_key = 'curated/jlr_ops/items/batch=20261124T080000Z/_manifest.json' and load_id = '0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f');

-- superseded load: lock
lock "ops"."load_audit", "jlr_ops_staging"."items";

-- superseded load: audit
insert into "ops"."load_audit" ("manifest_key", "source", "table_name", "batch_id", "mode", "status", "rows_extracted", "rows_rejected", "duplicates_removed", "rows_curated", "rows_loaded", "rows_deleted", "rows_tombstoned", "started_at", "finished_at", "load_id", "binlog_position", "capture_lag_seconds", "events_inserted", "events_updated", "events_deleted") select 'curated/jlr_ops/items/batch=20261124T080000Z/_manifest.json', 'jlr_ops', 'items', '20261124T080000Z', 'full', 'superseded', 6, 1, 0, 5, 0, 0, 0, sysdate, sysdate, '0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f', null, null, null, null, null where not exists (select 1 from "ops"."load_audit" where manifest_key = 'curated/jlr_ops/items/batch=20261124T080000Z/_manifest.json');

-- append load: lock
lock "ops"."load_audit", "jlr_ops_staging"."items";

-- append load: create temp table
create temp table "_batch_items" ("id" bigint, "amount" decimal(12,2), "note" varchar(80), "doc" varchar(65535), "payload" varbyte(16), "updated_at" timestamptz, "_batch_id" varchar(32), "_is_deleted" boolean);

-- append load: copy
copy "_batch_items" from 's3://jlr-lake/curated/jlr_ops/items/batch=x/_redshift_copy.json' iam_role 'arn:aws:iam::123456789012:role/jlr-redshift-copy' format as parquet manifest;

-- append load: count check
select 1 / (case when count(*) = 5 then 1 else 0 end) from "_batch_items";

-- append load: audit
insert into "ops"."load_audit" ("manifest_key", "source", "table_name", "batch_id", "mode", "status", "rows_extracted", "rows_rejected", "duplicates_removed", "rows_curated", "rows_loaded", "rows_deleted", "rows_tombstoned", "started_at", "finished_at", "load_id", "binlog_position", "capture_lag_seconds", "events_inserted", "events_updated", "events_deleted") select 'curated/jlr_ops/items/batch=20261124T080000Z/_manifest.json', 'jlr_ops', 'items', '20261124T080000Z', 'append', 'loaded', 6, 1, 0, 5, (select count(*) from "_batch_items" where not "_is_deleted"), 0, (select count(*) from "_batch_items" where "_is_deleted"), sysdate, sysdate, '0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f', null, null, null, null, null where not exists (select 1 from "ops"."load_audit" where manifest_key = 'curated/jlr_ops/items/batch=20261124T080000Z/_manifest.json');

-- append load: insert
insert into "jlr_ops_staging"."items" ("id", "amount", "note", "doc", "payload", "updated_at", "_batch_id", "_is_deleted", "_loaded_at") select "id", "amount", "note", json_parse("doc"), "payload", "updated_at", "_batch_id", "_is_deleted", sysdate from "_batch_items" where not "_is_deleted" and exists (select 1 from "ops"."load_audit" where manifest_key = 'curated/jlr_ops/items/batch=20261124T080000Z/_manifest.json' and load_id = '0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f');

-- cdc load: audit
insert into "ops"."load_audit" ("manifest_key", "source", "table_name", "batch_id", "mode", "status", "rows_extracted", "rows_rejected", "duplicates_removed", "rows_curated", "rows_loaded", "rows_deleted", "rows_tombstoned", "started_at", "finished_at", "load_id", "binlog_position", "capture_lag_seconds", "events_inserted", "events_updated", "events_deleted") select 'curated/jlr_ops/items/batch=20261124T080000Z/_manifest.json', 'jlr_ops', 'items', '20261124T080000Z', 'cdc', 'loaded', 6, 1, 0, 5, (select count(*) from "_batch_items" where not "_is_deleted"), (select count(*) from "jlr_ops_staging"."items" t join "_batch_items" b on t."id" = b."id"), (select count(*) from "_batch_items" where "_is_deleted"), sysdate, sysdate, '0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f', 'mariadb-bin.000012:4711', 12.5, 3, 2, 1 where not exists (select 1 from "ops"."load_audit" where manifest_key = 'curated/jlr_ops/items/batch=20261124T080000Z/_manifest.json');

-- audit column 1
alter table "ops"."load_audit" add column "binlog_position" varchar(256);

-- audit column 2
alter table "ops"."load_audit" add column "capture_lag_seconds" double precision;

-- audit column 3
alter table "ops"."load_audit" add column "events_inserted" bigint;

-- audit column 4
alter table "ops"."load_audit" add column "events_updated" bigint;

-- audit column 5
alter table "ops"."load_audit" add column "events_deleted" bigint;

-- spatial: create temp table
create temp table "_batch_items" ("id" bigint, "amount" decimal(12,2), "site" varchar(65535));

-- spatial: insert
insert into "jlr_ops_staging"."items" ("id", "amount", "site", "_loaded_at") select "id", "amount", st_geomfromewkb("site"), sysdate from "_batch_items" where not "_is_deleted" and exists (select 1 from "ops"."load_audit" where manifest_key = 'curated/jlr_ops/items/batch=20261124T080000Z/_manifest.json' and load_id = '0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f');

-- create table (spatial)
create table if not exists "s"."sites" ("id" bigint not null, "amount" decimal(12,2), "site" geometry, "_loaded_at" timestamptz not null default sysdate, primary key ("id")) encode auto diststyle auto sortkey auto;

-- composite key: record deletions
insert into "ops"."deleted_keys" ("source", "table_name", "key_value", "batch_id", "manifest_key", "deleted_at") select 'jlr_ops', 'items', cast(b."id" as varchar) || '|' || cast(b."note" as varchar), '20261124T080000Z', 'curated/jlr_ops/items/batch=20261124T080000Z/_manifest.json', sysdate from "_batch_items" b where b."_is_deleted" and exists (select 1 from "ops"."load_audit" where manifest_key = 'curated/jlr_ops/items/batch=20261124T080000Z/_manifest.json' and load_id = '0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f');

