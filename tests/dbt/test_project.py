"""The dbt project as Redshift will see it, and the house rules it must keep, checked from dbt's
own artifacts: compiled for the redshift target with no Redshift anywhere (no connection, no
JLR_REDSHIFT_* variables), every model parsed by sqlfluff's Redshift dialect, and the manifest
held to documentation, testing and structure rules (dbt-project-evaluator's, applied by hand)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
import yaml
from sqlfluff.core import FluffConfig, Linter

from ingestion.config.settings import REPO_ROOT

DBT = Path(sys.executable).parent / "dbt"
PROJECT = "jlr_analytics"


def compile_for_redshift(target: Path, *args: str) -> Path:
    """`dbt compile --target redshift --no-populate-cache`, with no Redshift anywhere: no
    connection, no JLR_REDSHIFT_* variables."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JLR_REDSHIFT_", "DBT_")) and k != "JLR_PG_PASSWORD"
    }
    result = subprocess.run(
        [
            str(DBT),
            "compile",
            "--target",
            "redshift",
            "--no-populate-cache",
            *args,
            "--target-path",
            str(target),
            "--log-path",
            str(target / "logs"),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    return target


@pytest.fixture(scope="module")
def redshift_build(tmp_path_factory) -> Path:
    # models as on a first run, the tests as an ordinary build runs them (changed rows only), so
    # that SQL too is parsed as Redshift
    return compile_for_redshift(
        tmp_path_factory.mktemp("redshift-target"),
        "--full-refresh",
        "--vars",
        "{test_scope: changed}",
    )


def parse_failures(compiled: dict[str, str]) -> dict[str, list[str]]:
    """What sqlfluff's Redshift dialect cannot parse in each node's compiled SQL."""
    linter = Linter(config=FluffConfig(overrides={"dialect": "redshift"}))
    failures = {}
    for name, code in compiled.items():
        parsed = linter.parse_string(code)
        problems = [v.desc() for v in parsed.violations]
        if parsed.tree is None or problems:
            failures[name] = problems
    return failures


@pytest.fixture(scope="module")
def manifest(redshift_build: Path) -> dict:
    return json.loads((redshift_build / "manifest.json").read_text())


def models(manifest: dict) -> dict[str, dict]:
    return {
        k: n
        for k, n in manifest["nodes"].items()
        if n["resource_type"] == "model" and n["package_name"] == PROJECT
    }


def test_every_compiled_model_and_test_parses_as_redshift_sql(redshift_build, manifest):
    nodes = [
        n
        for n in manifest["nodes"].values()
        if n["resource_type"] in ("model", "test") and n["package_name"] == PROJECT
    ]
    assert sum(n["resource_type"] == "model" for n in nodes) >= 25
    assert parse_failures({n["name"]: n["compiled_code"] for n in nodes}) == {}


def test_incremental_models_parse_as_redshift_sql_as_every_later_run_sends_them(tmp_path):
    """The SQL of the runs after the first (macros/is_incremental.sql: render_incremental), which
    the first-run compile above renders no part of; without --full-refresh, still offline."""
    target = compile_for_redshift(
        tmp_path,
        "--vars",
        "{render_incremental: true}",
        "--select",
        "config.materialized:incremental",
        "resource_type:snapshot",
        "--indirect-selection",
        "empty",
    )
    nodes = json.loads((target / "manifest.json").read_text())["nodes"].values()
    compiled = {n["name"]: n["compiled_code"] for n in nodes if n.get("compiled_code")}
    assert len(compiled) == 6 and "snap_customers" in compiled
    # the later run's branches are the ones rendered: each reads the newest change it holds
    newest = '._loaded_at) from "jlr"."analytics_{}" as existing'
    assert newest.format('marts"."fct_vehicle_sales') in compiled["fct_vehicle_sales"]
    assert newest.format('snapshots"."snap_customers') in compiled["snap_customers"]
    assert "any(array(" not in compiled["fct_vehicle_sales"]
    assert parse_failures(compiled) == {}


SCOPED_FACT_TEST = "assert_vehicle_sales_match_live_orders"
SCOPED_SINGULAR_TESTS = {
    SCOPED_FACT_TEST,
    "assert_net_price_is_list_minus_discount",
    "assert_one_current_version_per_customer",
}


def test_tests_of_large_models_read_only_changed_rows_on_an_ordinary_build(manifest):
    nodes = manifest["nodes"]
    scoped, whole = [], []
    for test in nodes.values():
        if test["resource_type"] != "test" or test["package_name"] != PROJECT:
            continue
        compiled = Path(test["compiled_path"]).read_text()
        reads_changed_rows = "dbt_invocations" in compiled
        if not test.get("attached_node"):  # singular: scoped by its own SQL
            assert reads_changed_rows == (test["name"] in SCOPED_SINGULAR_TESTS), test["name"]
            (scoped if reads_changed_rows else whole).append(test["name"])
            continue
        tested = nodes.get(test["attached_node"], {})
        changed_at = tested.get("config", {}).get("meta", {}).get("changed_at")
        assert reads_changed_rows == bool(changed_at), test["name"]
        if changed_at:
            assert f'"{changed_at}" >= (' in compiled, test["name"]
        if changed_at and test["test_metadata"]["name"] == "relationships":
            # and the parent is read only at the changed rows' keys, not hashed whole
            assert "select child.from_field from child" in compiled, test["name"]
        (scoped if changed_at else whole).append(test["name"])
    assert len(scoped) >= 40
    # staging row counts against ops.load_audit and the monthly reconciliation read everything
    assert any(n.startswith("source_row_count_matches_load_audit") for n in whole)
    assert "assert_monthly_marts_reconcile_with_facts" in whole
    assert set(scoped) >= SCOPED_SINGULAR_TESTS


def test_scoped_singular_tests_know_their_dependencies_when_parsed_on_a_full_refresh(manifest):
    """This manifest is parsed with --full-refresh, where the scoped branches are not rendered;
    dbt's partial parsing keeps it for the next ordinary build, which would then refuse a ref()
    the parse never saw."""
    test = next(n for n in manifest["nodes"].values() if n["name"] == SCOPED_FACT_TEST)
    assert "model.jlr_analytics.int_staging_deletions" in test["depends_on"]["nodes"]


def test_every_postgres_only_macro_has_a_redshift_version(manifest):
    """dbt-redshift is built on dbt-postgres: adapter.dispatch tries redshift__, then postgres__,
    then default__, so a macro with only postgres__ and default__ versions sends PostgreSQL's
    SQL to Redshift. The models' pre-hooks that call them (the fact's delete of changed orders)
    render only when a run executes them, in no compile above, so this rule is what keeps them
    Redshift SQL."""
    names = {m["name"] for m in manifest["macros"].values() if m["package_name"] == PROJECT}
    postgres_only = {
        name.removeprefix("postgres__")
        for name in names
        if name.startswith("postgres__")
        and "redshift__" + name.removeprefix("postgres__") not in names
    }
    assert len([n for n in names if n.startswith("postgres__")]) >= 4
    assert postgres_only == set()


def test_redshift_physical_design_is_configured(manifest):
    by_name = {n["name"]: n for n in models(manifest).values()}
    assert by_name["fct_vehicle_sales"]["config"]["dist"] == "vin"
    assert by_name["dim_dealer"]["config"]["dist"] == "all"
    assert all(n["config"].get("bind") is False for n in by_name.values())


def test_every_model_seed_snapshot_and_column_is_documented(manifest):
    documented = [
        n
        for n in manifest["nodes"].values()
        if n["resource_type"] in ("model", "seed", "snapshot") and n["package_name"] == PROJECT
    ]
    missing = [n["name"] for n in documented if not n["description"].strip()]
    missing += [
        f"{n['name']}.{c}"
        for n in documented
        for c, col in n["columns"].items()
        if not col["description"].strip()
    ]
    missing += [n["name"] for n in documented if not n["columns"]]
    for source in manifest["sources"].values():
        if not source["description"].strip() or not source["source_description"].strip():
            missing.append(f"source {source['source_name']}.{source['name']}")
    assert missing == []


def test_every_source_table_has_freshness(manifest):
    # a table may opt out only with a reason (dbt-project-evaluator's exceptions, by hand)
    stale = [
        s["name"]
        for s in manifest["sources"].values()
        if not s["meta"].get("freshness_exempt")
        and (not s.get("loaded_at_field") or not (s.get("freshness") or {}).get("error_after"))
    ]
    exempt = [s["name"] for s in manifest["sources"].values() if s["meta"].get("freshness_exempt")]
    assert stale == [] and exempt == ["deleted_keys"]


def column_tests(manifest: dict) -> dict[str, dict[str, set[str]]]:
    """The generic tests on each node's columns: {node id: {column: {test name}}}."""
    tests_on = defaultdict(lambda: defaultdict(set))
    for node in manifest["nodes"].values():
        if node["resource_type"] == "test" and node.get("test_metadata"):
            parent = node.get("attached_node")
            tests_on[parent][node["column_name"]].add(node["test_metadata"]["name"])
    return tests_on


def test_every_model_has_a_primary_key_test_and_every_mart_a_contract(manifest):
    tests_on = column_tests(manifest)
    no_pk = [
        n["name"]
        for key, n in models(manifest).items()
        if not any("primary_key" in names for names in tests_on[key].values())
    ]
    assert no_pk == []
    marts = [n for n in models(manifest).values() if "/marts/" in n["original_file_path"]]
    assert len(marts) >= 11
    assert [n["name"] for n in marts if not n["config"]["contract"]["enforced"]] == []


def test_marts_enforce_not_null_columns_by_constraint(manifest):
    """On a contracted model the database refuses a null in a not_null column (PostgreSQL and
    Redshift enforce NOT NULL), so a not_null test there could never fail: every not_null test on
    a mart is a constraint (the primary key's test also reads nulls, in the same query)."""
    tests_on = column_tests(manifest)
    problems = []
    for key, model in models(manifest).items():
        if not model["config"]["contract"]["enforced"]:
            continue
        tests = tests_on[key]
        for name, column in model["columns"].items():
            constrained = any(c["type"] == "not_null" for c in column.get("constraints", []))
            if "not_null" in tests[name] or ("primary_key" in tests[name] and not constrained):
                problems.append(f"{model['name']}.{name}")
    assert problems == []


def test_the_layers_keep_their_rules(manifest):
    nodes = models(manifest)
    problems = []
    children = defaultdict(list)
    for key, node in nodes.items():
        path, name = node["original_file_path"], node["name"]
        parents = node["depends_on"]["nodes"]
        from_sources = [p for p in parents if p.startswith("source.")]
        for parent in parents:
            children[parent].append(key)
        if "/staging/" in path:
            if not name.startswith("stg_") or len(from_sources) != 1 or len(parents) != 1:
                problems.append(f"{name}: a staging model reads exactly one source")
        elif from_sources:
            problems.append(f"{name}: only staging models read sources")
        if "/intermediate/" in path and not name.startswith("int_"):
            problems.append(f"{name}: intermediate models are named int_*")
        if "/marts/" in path and not parents:
            problems.append(f"{name}: a root model")
    # the view DDL lock (macros/view_materialization.sql) leaves tables out: safe only while no view
    # selects from one, since rebuilding a table drops the views on its previous version
    problems += [
        f"{nodes[c]['name']}: a view on the table {nodes[k]['name']}"
        for k, kids in children.items()
        if k in nodes and nodes[k]["config"]["materialized"] != "view"
        for c in kids
        if nodes[c]["config"]["materialized"] == "view"
    ]
    problems += [
        f"{nodes[k]['name']}: fanout {len(c)} > 3"
        for k, c in children.items()
        if k in nodes and "/marts/" not in nodes[k]["original_file_path"] and len(c) > 3
    ]
    assert problems == []


def test_exposures_depend_on_mart_tables(manifest):
    exposures = list(manifest["exposures"].values())
    assert len(exposures) >= 2
    nodes = manifest["nodes"]
    for exposure in exposures:
        for dep in exposure["depends_on"]["nodes"]:
            assert nodes[dep]["config"]["materialized"] in ("table", "incremental"), dep
            # dbt-project-evaluator: exposures read public models (with contracts)
            assert nodes[dep]["access"] == "public", dep


def test_no_model_rejoins_an_upstream_concept_without_a_reason(manifest):
    """dbt-project-evaluator's rejoin rule: a model reading B and C, where B reads C and B has
    no other child, rejoins C; it is allowed only where the model's YAML says why."""
    nodes = models(manifest)
    children = defaultdict(set)
    for key, node in nodes.items():
        for parent in node["depends_on"]["nodes"]:
            children[parent].add(key)
    rejoins = sorted(
        (node["name"], nodes[b]["name"], nodes[c]["name"])
        for key, node in nodes.items()
        for b in node["depends_on"]["nodes"]
        if b in nodes and children[b] == {key}
        for c in nodes[b]["depends_on"]["nodes"]
        if c in node["depends_on"]["nodes"]
    )
    unexplained = [
        r
        for r in rejoins
        if "fct_rejoin_of_upstream_concepts"
        not in nodes[f"model.{PROJECT}.{r[0]}"]["meta"].get("evaluator_exceptions", {})
    ]
    assert unexplained == []
    assert rejoins == [("model_quality_monthly", "fct_warranty_claims", "dim_vehicle")]


def test_the_primary_key_test_is_declared_to_the_evaluator(manifest):
    declared = yaml.safe_load((REPO_ROOT / "dbt_project.yml").read_text())["vars"][
        "dbt_project_evaluator"
    ]["primary_key_test_macros"]
    assert [f"{PROJECT}.test_primary_key"] in declared
    assert any(m["name"] == "test_primary_key" for m in manifest["macros"].values())
