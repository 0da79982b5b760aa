"""The deployment files (Dockerfile, compose.yaml, ops/prometheus): no container runtime runs
here, so these check what can go wrong without one. Every setting compose passes is a setting
of the service, every command it runs is an entry point of the project, the image runs as a
non-root user and probes a route that exists, and Prometheus accepts its configuration."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML, via uvicorn[standard]

from app.config import Settings
from app.main import create_app
from tools.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
PROMTOOL = shutil.which("promtool")
# Settings without a safe default: compose must refuse to start without them.
REQUIRED = {
    "APP_URL",
    "SHOPIFY_API_KEY",
    "SHOPIFY_API_SECRET",
    "ENCRYPTION_KEYS",
    "OPERATOR_API_KEY",
    "FORWARDED_ALLOW_IPS",
}


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def _service_environments() -> dict[str, dict[str, str]]:
    return {
        name: dict(service.get("environment") or {})
        for name, service in _compose()["services"].items()
        if service.get("image") == "returns-management"
    }


def test_every_variable_compose_sets_is_a_setting_of_the_service() -> None:
    settings = {name.upper() for name in Settings.model_fields}
    environments = _service_environments()
    assert set(environments) == {"migrate", "api", "worker"}
    for service, environment in environments.items():
        unknown = set(environment) - settings
        assert not unknown, f"{service} sets {unknown}, which no setting reads"
        assert environment["ENVIRONMENT"] == "production"
        for name, value in environment.items():  # secrets are required, never defaulted
            if name in REQUIRED:
                assert ":?" in str(value), (service, name)
        assert "replicaSet=" in environment["MONGODB_URI"]  # transactions need a replica set


def test_every_command_compose_runs_is_an_entry_point_of_the_project() -> None:
    scripts = (ROOT / "pyproject.toml").read_text()
    assert 'rms = "tools.cli:main"' in scripts
    parser = build_parser()
    for name in ("migrate", "api", "worker"):
        command = [str(part) for part in _compose()["services"][name]["command"]]
        if command[0] == "rms":
            parsed = parser.parse_args(command[1:])  # exits (fails the test) on a bad command
            assert callable(parsed.func), command
        else:
            assert command[:2] == ["uvicorn", "app.main:app"], command


def test_only_the_api_uses_the_images_health_check() -> None:
    services = _compose()["services"]
    assert services["migrate"]["healthcheck"] == {"disable": True}
    worker_probe = " ".join(services["worker"]["healthcheck"]["test"])
    assert "9101/metrics" in worker_probe and "--metrics-port" in services["worker"]["command"]
    assert "healthcheck" not in services["api"]  # the image's own, on /api/health/live


async def test_the_image_runs_unprivileged_and_probes_a_route_that_answers() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    lines = [line.strip() for line in dockerfile.splitlines()]
    assert sum(line.startswith("FROM ") for line in lines) >= 2  # build stage, runtime stage
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    probe = next(line for line in lines if "/api/health/live" in line)
    assert "HEALTHCHECK" in dockerfile and probe
    transport = httpx.ASGITransport(app=create_app(configure_logs=False))  # no I/O: no lifespan
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        assert (await http.get("/api/health/live")).status_code == 200
    cmd = [line for line in lines if line.startswith("CMD ")][-1]  # not HEALTHCHECK's
    assert shlex.split(cmd.removeprefix("CMD ").strip("[]").replace(",", " "))[:2] == [
        "uvicorn",
        "app.main:app",
    ]


@pytest.mark.skipif(
    PROMTOOL is None and not os.environ.get("CI"),
    reason="promtool not installed (apt-get install prometheus); required when CI is set",
)
def test_prometheus_accepts_the_configuration_and_the_alert_rules(tmp_path: Path) -> None:
    assert PROMTOOL is not None, "promtool is required in CI (.ci/run installs prometheus)"
    for name in ("prometheus.yml", "alerts.yml"):
        shutil.copy(ROOT / "ops" / "prometheus" / name, tmp_path / name)
    (tmp_path / "operator_key").write_text("the operator key\n")  # compose mounts the real one
    checked = subprocess.run(
        [PROMTOOL, "check", "config", "prometheus.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "8 rules found" in checked.stdout
