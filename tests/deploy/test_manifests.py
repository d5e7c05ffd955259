"""deploy/ stays honest (issue 16): every MINSHENG_* name it sets is one the code reads, and the Kubernetes and
compose files render with their own tools when those are installed here."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from knowledge.settings import Settings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
# Names deploy/ uses for itself, not settings: compose interpolation (the published port, the image tag) and
# the entrypoint's list of secrets it insists on (deploy/docker/entrypoint.sh).
DEPLOY_ONLY = {"HTTP_PORT", "IMAGE_TAG", "REQUIRED_SECRETS"}


def action_setting_names() -> set[str]:
    """ActionSettings' fields, read from the source: the action server's pydantic 1 lives in the Rasa venv."""
    tree = ast.parse((REPO / "actions" / "settings.py").read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ActionSettings")
    return {
        n.target.id.upper()
        for n in cls.body
        if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
    }


def test_every_minsheng_variable_in_deploy_is_read_by_the_code():
    known = {f.upper() for f in Settings.model_fields} | action_setting_names() | DEPLOY_ONLY
    used: dict[str, set[str]] = {}
    for path in DEPLOY.rglob("*"):
        if path.is_file() and path.suffix in {".yaml", ".yml", ".sh", ".conf", ""} | {".Dockerfile"}:
            for name in re.findall(r"MINSHENG_([A-Z0-9]+(?:_[A-Z0-9]+)*)\b", path.read_text(errors="ignore")):
                used.setdefault(name, set()).add(str(path.relative_to(REPO)))
    assert used, "deploy/ sets no MINSHENG_* variable?"
    unknown = {name: files for name, files in used.items() if name not in known}
    assert not unknown, unknown


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed here")
def test_the_kubernetes_manifests_render_with_kustomize():
    out = subprocess.run(
        ["kubectl", "kustomize", str(DEPLOY / "k8s")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    kinds = re.findall(r"^kind: (\w+)", out.stdout, flags=re.M)
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "Ingress", "ConfigMap"} <= set(kinds), kinds
