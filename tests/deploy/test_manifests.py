"""Every container in deploy/ (the Kubernetes manifests and the compose file) runs a command line
its role accepts: the role's own `--check-config` with the container's flags, env (a ConfigMap's
too) and mounted files (Secrets, made here under a temporary root) exits 0; without the mounted
secrets it exits 1 naming what is missing."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from reliant.clients.codec import CodecKey
from tests.certificates import CertificateAuthority
from tests.e2e.harness import clean_env, run_cli

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DATA_DIR = "/var/lib/reliant"


@dataclass(frozen=True)
class Container:
    source: str
    argv: list[str]
    env: dict[str, str]
    files: dict[str, str]  # a mounted file's path in the container -> the secret key it holds
    spec: dict[str, Any]

    @property
    def role(self) -> str:
        return self.argv[2] if self.argv[1] == "server" else self.argv[1]

    def flag(self, name: str) -> str:
        return self.argv[self.argv.index(name) + 1]


def _entrypoint() -> list[str]:
    line = next(x for x in (DEPLOY / "Dockerfile").read_text().splitlines() if x.startswith("ENTRYPOINT"))
    return list(json.loads(line.removeprefix("ENTRYPOINT")))


def kubernetes_containers() -> list[Container]:
    docs = [d for p in sorted((DEPLOY / "kubernetes").glob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d]
    config_maps = {d["metadata"]["name"]: d["data"] for d in docs if d["kind"] == "ConfigMap"}
    secrets = {
        d["metadata"]["name"]: {**d.get("data", {}), **d.get("stringData", {})} for d in docs if d["kind"] == "Secret"
    }
    found = []
    for doc in docs:
        if doc["kind"] not in ("Deployment", "StatefulSet"):
            continue
        pod = doc["spec"]["template"]["spec"]
        volumes = {v["name"]: v["secret"]["secretName"] for v in pod.get("volumes", []) if "secret" in v}
        for c in pod["containers"]:
            env: dict[str, str] = {}
            for source in c.get("envFrom", []):
                env.update(config_maps[source["configMapRef"]["name"]])
            for item in c.get("env", []):
                if "valueFrom" in item:
                    ref = item["valueFrom"]["configMapKeyRef"]
                    env[item["name"]] = config_maps[ref["name"]][ref["key"]]
                else:
                    env[item["name"]] = str(item["value"])
            files = {
                f"{mount['mountPath']}/{key}": key
                for mount in c.get("volumeMounts", [])
                if mount["name"] in volumes
                for key in secrets[volumes[mount["name"]]]
            }
            argv = c.get("command", _entrypoint()) + [str(a) for a in c.get("args", [])]
            found.append(Container(f"kubernetes/{doc['metadata']['name']}", argv, env, files, c))
    return found


def compose_containers() -> list[Container]:
    doc = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    found = []
    for name, service in doc["services"].items():
        if not str(service.get("image", "")).startswith("reliant:"):
            continue
        argv = service.get("entrypoint", _entrypoint()) + [str(a) for a in service["command"]]
        env = {k: str(v) for k, v in service.get("environment", {}).items()}
        files = {f"/run/secrets/{s}": s for s in service.get("secrets", [])}
        found.append(Container(f"compose/{name}", argv, env, files, service))
    return found


CONTAINERS = kubernetes_containers() + compose_containers()


def _materialize(container: Container, root: Path, *, secrets: bool = True) -> tuple[list[str], dict[str, str]]:
    """The container's argv and env with its in-container paths moved under `root`, and its mounted
    files written there (0600, as a Secret mounted with a restrictive mode is)."""
    prefixes = sorted({str(Path(p).parent) for p in container.files} | {DATA_DIR}, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(p) for p in prefixes))

    def moved(text: str) -> str:
        return pattern.sub(lambda m: str(root) + m.group(0), text)

    ca = CertificateAuthority(root.parent / "pki")
    pair = ca.server("role")
    for path, key in container.files.items() if secrets else ():
        target = Path(moved(path))
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if key == "codec_key":
            text = CodecKey.generate().to_text()
        elif key.endswith(".key") or key.endswith("_key"):
            text = pair.key.read_text()
        elif "crt" in key or "cert" in key:
            text = (ca.cert if "ca" in key else pair.cert).read_text()
        else:
            text = f"{key}-value\n"
        target.write_text(text)
        target.chmod(0o600)
    return [moved(a) for a in container.argv], {k: moved(v) for k, v in container.env.items()}


def test_deploy_defines_every_role_in_kubernetes_and_compose() -> None:
    for prefix in ("kubernetes/", "compose/"):
        roles = {c.role for c in CONTAINERS if c.source.startswith(prefix)}
        assert roles == {"api", "worker", "gateway"}, (prefix, roles)
    assert "appliance" not in (DEPLOY / "Dockerfile").read_text().split("ENTRYPOINT")[0].split("pip install")[1]


@pytest.mark.parametrize("container", [c for c in CONTAINERS if c.source.startswith("kubernetes/")], ids=str)
def test_kubernetes_probes_hit_the_roles_health_and_ready(container: Container) -> None:
    port = container.flag("--port" if container.role == "api" else "--probe-port")
    assert container.spec["livenessProbe"]["httpGet"] == {"path": "/health", "port": int(port)}
    assert container.spec["readinessProbe"]["httpGet"] == {"path": "/ready", "port": int(port)}


@pytest.mark.parametrize("container", CONTAINERS, ids=lambda c: c.source)
def test_each_container_command_line_passes_its_roles_check_config(container: Container, tmp_path: Path) -> None:
    assert container.argv[0] == "reliant", container.argv
    argv, env = _materialize(container, tmp_path / "root")
    done = run_cli(*argv[1:], "--check-config", env=clean_env(**env), timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("container", CONTAINERS, ids=lambda c: c.source)
def test_the_command_line_without_its_mounted_secrets_fails_the_check(container: Container, tmp_path: Path) -> None:
    argv, env = _materialize(container, tmp_path / "root", secrets=False)
    done = run_cli(*argv[1:], "--check-config", env=clean_env(**env), timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "/run/secrets/" in done.stderr, done.stderr
    assert not (tmp_path / "root" / DATA_DIR.lstrip("/")).exists(), "the check wrote nothing"
