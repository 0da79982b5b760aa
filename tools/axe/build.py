"""Install axe-core (the accessibility checker the browser tests inject) from the pinned lockfile.

Like tools/graphiql: `npm ci` runs in a cache directory (`.cache/axe/npm/`, gitignored with the
rest of `.cache/`) and the one file the tests need is copied to `.cache/axe/axe.min.js`, next to
a `manifest.json` recording the lockfile's and the file's sha256. A second run with an unchanged
lockfile returns at once, without npm. axe-core is never served by the app: only tests use it.

    python -m tools.axe.build [--force]
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
CACHE_DIR = Path(os.environ.get("RMS_AXE_CACHE_DIR", REPO_ROOT / ".cache" / "axe"))
NPM_DIR = CACHE_DIR / "npm"
AXE_FILE = CACHE_DIR / "axe.min.js"
MANIFEST = CACHE_DIR / "manifest.json"
SOURCE = Path("node_modules") / "axe-core" / "axe.min.js"


def ensure_axe(force: bool = False) -> Path:
    """Make sure the pinned `axe.min.js` is installed; return its path.

    Fast and npm-free when the manifest matches `package-lock.json` and the file's hash.
    `force` reinstalls regardless. Safe to call from several processes at once (pytest-xdist).
    """
    lock_sha256 = lock_sha256_of(PACKAGE_DIR)
    if not force and _is_installed(lock_sha256):
        return AXE_FILE
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(CACHE_DIR / ".lock"):
        if not force and _is_installed(lock_sha256):
            return AXE_FILE  # another process finished while we waited
        npm_ci(PACKAGE_DIR, NPM_DIR, "python -m tools.axe.build")
        _install(lock_sha256)
    return AXE_FILE


def installed_version() -> str | None:
    """The axe-core version recorded in the manifest, or None when not installed."""
    manifest = _read_manifest()
    version = manifest.get("version") if manifest else None
    return str(version) if version else None


def _read_manifest() -> dict[str, object] | None:
    try:
        manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _is_installed(lock_sha256: str) -> bool:
    manifest = _read_manifest()
    if manifest is None or manifest.get("lock_sha256") != lock_sha256:
        return False
    try:
        # Hashing ~0.5 MB takes about a millisecond and catches a truncated or edited copy.
        return hashlib.sha256(AXE_FILE.read_bytes()).hexdigest() == manifest.get("sha256")
    except OSError:
        return False


def _install(lock_sha256: str) -> None:
    """Copy the file next to its final name, then rename: readers never see half a file."""
    staging = AXE_FILE.with_name(f".{AXE_FILE.name}.staging-{os.getpid()}")
    try:
        shutil.copyfile(NPM_DIR / SOURCE, staging)
        file_sha256 = hashlib.sha256(staging.read_bytes()).hexdigest()
        staging.replace(AXE_FILE)
    finally:
        staging.unlink(missing_ok=True)
    manifest = {"lock_sha256": lock_sha256, "version": _locked_version(), "sha256": file_sha256}
    staged_manifest = MANIFEST.with_name(f".{MANIFEST.name}.staging-{os.getpid()}")
    staged_manifest.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    staged_manifest.replace(MANIFEST)


def _locked_version() -> str:
    lock = json.loads((PACKAGE_DIR / "package-lock.json").read_text(encoding="utf-8"))
    return str(lock.get("packages", {}).get("node_modules/axe-core", {}).get("version", "?"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.axe.build",
        description="Install the pinned axe-core used by the portal's browser tests.",
    )
    parser.add_argument("--force", action="store_true", help="reinstall even if up to date")
    args = parser.parse_args(argv)
    try:
        path = ensure_axe(force=args.force)
    except (NpmInstallError, subprocess.TimeoutExpired) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    shown = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
    print(f"axe-core {installed_version()} ready in {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
