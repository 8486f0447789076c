"""make package: the deployable artifacts of one release, under dist/<version>/.

* ``lambda/extractor.zip``: the ``ingestion`` package (without the demo generator) and its runtime
  dependencies as Linux x86_64 CPython 3.11 wheels (PyMySQL, pydantic, PyYAML; not boto3, which
  the Lambda runtime provides). Deterministic: sorted entries, fixed timestamps.
* ``glue/``: the two job scripts, ``jlr_platform.zip`` (``ingestion`` and ``glue_jobs``, for
  ``--extra-py-files``) and ``requirements.txt`` (for ``--additional-python-modules``).
* ``infra/``: the CloudFormation template and the state machine definition.
* ``sources/``: the source files (``ingestion/sources/*.yml`` and any given with ``--source``),
  each checked as a run would load it; the function and the jobs read them from S3, so a source
  changes with a deploy and no rebuild of the code.

Versions come from requirements.lock, so the artifacts carry exactly what the tests ran with.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from ingestion.errors import PlatformError

ROOT = Path(__file__).resolve().parent.parent
LAMBDA_DEPENDENCIES = [
    "PyMySQL",
    "mysql-replication",
    "packaging",
    "pydantic",
    "pydantic_core",
    "PyYAML",
    "annotated-types",
    "typing_extensions",
    "typing-inspection",
]
# OpenLineage run events (ingestion.lineage.runs; sent only when JLR_OPENLINEAGE_TRANSPORT names
# a transport): the client and what it imports (python-dateutil, six and urllib3 come with
# boto3 in both runtimes)
LINEAGE_DEPENDENCIES = [
    "openlineage-python",
    "attrs",
    "requests",
    "certifi",
    "charset-normalizer",
    "idna",
    "httpx2",
    "httpcore2",
    "h11",
    "anyio",
    "truststore",
]
LAMBDA_DEPENDENCIES += LINEAGE_DEPENDENCIES
# the Glue jobs read configuration like the Lambda but never MySQL
SOURCE_ONLY = {"PyMySQL", "mysql-replication", "packaging"}
# ... and the curate job counts the rows it wrote from the Parquet footers with pyarrow
GLUE_REQUIREMENTS = [d for d in LAMBDA_DEPENDENCIES if d not in SOURCE_ONLY] + ["pyarrow"]
LAMBDA_LIMIT_BYTES = 50 * 2**20  # direct upload limit of a zipped deployment package
FIXED_TIME = (2020, 1, 1, 0, 0, 0)


def pinned(names: list[str]) -> list[str]:
    wanted = {n.lower().replace("_", "-") for n in names}
    pins = []
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        name = line.split("==")[0].strip().lower().replace("_", "-")
        if "==" in line and name in wanted:
            pins.append(line.strip())
    missing = wanted - {p.split("==")[0].lower().replace("_", "-") for p in pins}
    if missing:
        raise SystemExit(f"package: not pinned in requirements.lock: {', '.join(sorted(missing))}")
    return pins


def version() -> str:
    described = subprocess.run(  # noqa: S603 - fixed arguments
        ["git", "describe", "--always", "--dirty"],  # noqa: S607 - git from PATH  # nosec B607
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return described.stdout.strip() or "dev"


def _add_tree(archive: zipfile.ZipFile, base: Path, package: str, skip: tuple[str, ...] = ()):
    for path in sorted((base / package).rglob("*")):
        relative = path.relative_to(base).as_posix()
        if path.is_dir() or "__pycache__" in relative or relative.startswith(skip):
            continue
        info = zipfile.ZipInfo(relative, FIXED_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        archive.writestr(info, path.read_bytes())


def build_lambda(out: Path) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "deps"
        subprocess.run(  # noqa: S603 - our interpreter, pinned requirements
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--no-deps", "--target", str(target), "--platform", "manylinux2014_x86_64",
             "--implementation", "cp", "--python-version", "3.11", "--only-binary=:all:",
             *pinned(LAMBDA_DEPENDENCIES)],
            check=True,
        )  # fmt: skip
        zip_path = out / "lambda" / "extractor.zip"
        zip_path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(zip_path, "w") as archive:
            for package in sorted(p.name for p in target.iterdir()):
                if package == "bin":
                    continue
                if (target / package).is_dir():
                    _add_tree(archive, target, package)
                else:
                    archive.write(target / package, package)
            _add_tree(archive, ROOT, "ingestion", skip=("ingestion/demo",))
    size = zip_path.stat().st_size
    if size > LAMBDA_LIMIT_BYTES:
        raise SystemExit(f"package: {zip_path} is {size / 2**20:.1f} MiB, over Lambda's 50 MiB")
    return zip_path


def build_glue(out: Path) -> Path:
    glue = out / "glue"
    glue.mkdir(parents=True, exist_ok=True)
    for script in ("curate_raw.py", "load_staging.py"):
        shutil.copy(ROOT / "glue_jobs" / script, glue / script)
    with zipfile.ZipFile(glue / "jlr_platform.zip", "w") as archive:
        _add_tree(archive, ROOT, "ingestion", skip=("ingestion/demo",))
        _add_tree(archive, ROOT, "glue_jobs")
    (glue / "requirements.txt").write_text("\n".join(pinned(GLUE_REQUIREMENTS)) + "\n")
    return glue


def build_infra(out: Path) -> Path:
    infra = out / "infra"
    infra.mkdir(parents=True, exist_ok=True)
    for name in ("platform.yaml", "pipeline.asl.json"):
        shutil.copy(ROOT / "infra" / name, infra / name)
    return infra


def build_sources(out: Path, extra: list[Path] = ()) -> Path:
    """Every source file, validated (a broken file fails here, not in the night's run)."""
    from ingestion.config.source import SOURCES_DIR, load_source

    sources = out / "sources"
    sources.mkdir(parents=True, exist_ok=True)
    for path in [*sorted(SOURCES_DIR.glob("*.yml")), *extra]:
        config = load_source(path)
        shutil.copy(path, sources / f"{config.name}.yml")  # found by the source's name
    return sources


def build(out: Path, sources: list[Path] = ()) -> Path:
    shutil.rmtree(out, ignore_errors=True)
    build_lambda(out)
    build_glue(out)
    build_infra(out)
    build_sources(out, list(sources))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default=None, help="release name (default: git describe)")
    parser.add_argument(
        "--source", action="append", type=Path, default=[], help="another source file to ship"
    )
    args = parser.parse_args()
    try:
        out = build(ROOT / "dist" / (args.version or version()), args.source)
    except PlatformError as exc:
        print(f"package: {exc}", file=sys.stderr)
        return 1
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        print(f"{path.stat().st_size / 2**20:8.2f} MiB  {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
