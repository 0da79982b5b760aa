"""The README's run command: `rms dev` brings up the whole loop on a fresh data folder."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tools.devdb import free_port


def test_rms_dev_installs_syncs_files_returns_and_prints_a_token(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools",
            "dev",
            "--port",
            str(free_port()),
            "--db-port",
            str(free_port()),
            "--sim-port",
            str(free_port()),
            "--smtp-port",
            str(free_port()),
            "--mail-port",
            str(free_port()),
            "--data-dir",
            str(tmp_path / "data"),
            "--orders",
            "40",
            "--exit-after-setup",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "GraphiQL:" in out
    assert re.search(r"Returns portal: +http://127\.0\.0\.1:\d+/portal/rms34\.myshopify\.com", out)
    assert re.search(r"Mail \(dev\): +http://127\.0\.0\.1:\d+/", out), out
    synced = re.search(r"(\d+) orders synced, (\d+) sample returns filed", out)
    assert synced is not None, out
    assert int(synced.group(1)) > 0
    assert int(synced.group(2)) > 0
    assert re.search(r'"Authorization": "Bearer rk_[0-9a-f]{12}_', out)


def test_rms_dev_trusts_no_forwarded_headers_unless_configured() -> None:
    from app.config import Settings
    from tools.cli.dev import server_config

    loaded = server_config(object(), Settings(_env_file=None), 8000)
    loaded.load()
    assert loaded.proxy_headers is False  # a rotating X-Forwarded-For changes nothing
    proxied = server_config(
        object(), Settings(_env_file=None, forwarded_allow_ips="10.0.0.7"), 8000
    )
    assert proxied.proxy_headers is True
    assert proxied.forwarded_allow_ips == "10.0.0.7"
