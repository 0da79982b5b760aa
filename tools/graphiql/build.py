"""Install the self-hosted GraphiQL browser assets from the pinned npm lockfile.

`npm ci` runs in a cache directory (`.cache/graphiql/`, gitignored) and only the few files the
page needs are copied to `app/graphql/static/graphiql/`, together with a `manifest.json` that
records the lockfile hash. A second run with an unchanged lockfile returns at once, without npm.

    python -m tools.graphiql.build [--force]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tools.npm_packages import NpmInstallError, exclusive_lock, npm_ci
from tools.npm_packages import lock_sha256 as lock_sha256_of

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parents[1]
ASSETS_DIR = REPO_ROOT / "app" / "graphql" / "static" / "graphiql"
CACHE_DIR = Path(os.environ.get("RMS_GRAPHIQL_CACHE_DIR", REPO_ROOT / ".cache" / "graphiql"))
MANIFEST_NAME = "manifest.json"

# Served name -> path inside node_modules. app/graphql/graphiql.py links the first four.
ASSET_FILES: dict[str, str] = {
    "react.production.min.js": "react/umd/react.production.min.js",
    "react-dom.production.min.js": "react-dom/umd/react-dom.production.min.js",
    "graphiql.min.js": "graphiql/graphiql.min.js",
    "graphiql.min.css": "graphiql/graphiql.min.css",
    "graphiql.min.js.map": "graphiql/graphiql.min.js.map",
    "graphiql.min.css.map": "graphiql/graphiql.min.css.map",
    "licenses/react.LICENSE": "react/LICENSE",
    "licenses/react-dom.LICENSE": "react-dom/LICENSE",
    "licenses/graphiql.LICENSE": "graphiql/LICENSE",
}
PINNED_PACKAGES = ("graphiql", "graphql", "react", "react-dom")


def ensure_graphiql_assets(force: bool = False) -> Path:
    """Make sure the pinned GraphiQL assets are installed; return their directory.

    Fast and npm-free when the installed manifest matches `package-lock.json` and every file is
    present. `force` reinstalls regardless. Safe to call from several processes at once.
    """
    lock_sha256 = lock_sha256_of(PACKAGE_DIR)
    if not force and _is_installed(ASSETS_DIR, lock_sha256):
        return ASSETS_DIR
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(CACHE_DIR / ".lock"):
        if not force and _is_installed(ASSETS_DIR, lock_sha256):
            return ASSETS_DIR  # another process finished while we waited
        node_modules = _npm_ci(lock_sha256, force=force)
        _install(node_modules, lock_sha256)
    return ASSETS_DIR


def installed_versions(assets_dir: Path = ASSETS_DIR) -> dict[str, str]:
    """Package versions recorded in the installed manifest (empty when not installed)."""
    try:
        manifest = json.loads((assets_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    packages = manifest.get("packages", {})
    return {str(k): str(v) for k, v in packages.items()} if isinstance(packages, dict) else {}


def _is_installed(assets_dir: Path, lock_sha256: str) -> bool:
    try:
        manifest = json.loads((assets_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(manifest, dict) or manifest.get("lock_sha256") != lock_sha256:
        return False
    return all((assets_dir / name).is_file() for name in ASSET_FILES)


def _npm_ci(lock_sha256: str, *, force: bool) -> Path:
    node_modules = CACHE_DIR / "node_modules"
    stamp = CACHE_DIR / ".lock_sha256"
    up_to_date = (
        not force
        and stamp.is_file()
        and stamp.read_text(encoding="utf-8").strip() == lock_sha256
        and all((node_modules / source).is_file() for source in ASSET_FILES.values())
    )
    if up_to_date:
        return node_modules
    stamp.unlink(missing_ok=True)
    node_modules = npm_ci(PACKAGE_DIR, CACHE_DIR, "python -m tools.graphiql.build")
    stamp.write_text(lock_sha256 + "\n", encoding="utf-8")
    return node_modules


def _install(node_modules: Path, lock_sha256: str) -> None:
    """Copy the files into a sibling directory, then swap it in, so readers never see half."""
    staging = ASSETS_DIR.with_name(f".{ASSETS_DIR.name}.staging-{os.getpid()}")
    retired = ASSETS_DIR.with_name(f".{ASSETS_DIR.name}.retired-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        files: dict[str, str] = {}
        for name, source in ASSET_FILES.items():
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(node_modules / source, target)
            files[name] = hashlib.sha256(target.read_bytes()).hexdigest()
        manifest = {"lock_sha256": lock_sha256, "packages": _locked_versions(), "files": files}
        (staging / MANIFEST_NAME).write_text(
            json.dumps(manifest, indent=2) + "\n", encoding="utf-8"
        )
        if ASSETS_DIR.exists():
            ASSETS_DIR.rename(retired)
        staging.rename(ASSETS_DIR)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(retired, ignore_errors=True)


def _locked_versions() -> dict[str, str]:
    lock = json.loads((PACKAGE_DIR / "package-lock.json").read_text(encoding="utf-8"))
    packages = lock.get("packages", {})
    return {
        name: str(packages.get(f"node_modules/{name}", {}).get("version", "?"))
        for name in PINNED_PACKAGES
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.graphiql.build",
        description="Install the pinned GraphiQL assets served by the service itself.",
    )
    parser.add_argument("--force", action="store_true", help="reinstall even if up to date")
    args = parser.parse_args(argv)
    try:
        path = ensure_graphiql_assets(force=args.force)
    except (NpmInstallError, subprocess.TimeoutExpired) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    versions = ", ".join(f"{name} {version}" for name, version in installed_versions(path).items())
    print(f"GraphiQL assets ready in {path.relative_to(REPO_ROOT)} ({versions})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
