"""What the tools that install browser files from the npm registry share (GraphiQL's assets for
the app, axe-core for the browser tests): a pinned lockfile hashed, `npm ci` run in a cache
directory, and a lock so that concurrent processes install once."""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

NPM_CI_ARGS = (
    "ci",
    "--no-audit",
    "--no-fund",
    "--ignore-scripts",  # we only copy files out; no package needs its install scripts
    "--prefer-offline",
    "--loglevel=error",
)


class NpmInstallError(RuntimeError):
    """A package could not be installed (npm missing, registry unreachable, bad lockfile)."""


def lock_sha256(package_dir: Path) -> str:
    return hashlib.sha256((package_dir / "package-lock.json").read_bytes()).hexdigest()


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """One process at a time (pytest-xdist workers, a test beside `scripts/setup`)."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def npm_ci(package_dir: Path, work_dir: Path, build_command: str) -> Path:
    """`npm ci` of `package_dir`'s package.json and lockfile in `work_dir`; its node_modules.
    `build_command`: what to run again once npm is there (for the error message)."""
    npm = shutil.which("npm")
    if npm is None:
        raise NpmInstallError(
            f"npm not found on PATH: install Node.js 20+ (it ships npm), then run `{build_command}`"
        )
    work_dir.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(package_dir / name, work_dir / name)
    completed = subprocess.run(
        [npm, *NPM_CI_ARGS],
        cwd=work_dir,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if completed.returncode != 0:
        output = (completed.stderr or completed.stdout).strip()[-2000:]
        raise NpmInstallError(f"`npm ci` failed in {work_dir}:\n{output}")
    return work_dir / "node_modules"
