"""The cluster configuration files that cannot run here, checked against their schemas.

The launcher YAMLs go through Ray's own preparation and JSON schema; the KubeRay
manifest through Ray's KubeRay autoscaler (which turns a RayCluster into a launcher
config) and a schema of the RayCluster fields it uses. The scripts that do run here are
exercised by the cluster tests (tests/cluster/conftest.py starts every node and the
tracking server with them).
"""
import configparser
import re
import subprocess

import jsonschema
import pytest
import ray
import yaml

from tests.helpers import ROOT

CLUSTER = ROOT / "cluster"


@pytest.mark.parametrize("name", ["ray-onprem.yaml", "ray-aws.yaml"])
def test_launcher_configs_pass_rays_schema(name):
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = prepare_config(yaml.safe_load((CLUSTER / name).read_text()))
    validate_config(config)
    commands = " ".join(config["head_start_ray_commands"] + config["worker_start_ray_commands"])
    assert "cluster/start-head.sh" in commands and "cluster/start-worker.sh $RAY_HEAD_IP:6379" in commands
    assert "GP_STORAGE_PATH=" in commands  # Ray Train's storage, shared by every node
    assert config["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"


def test_the_aws_config_scales_between_its_bounds():
    from ray.autoscaler._private.util import prepare_config

    config = prepare_config(yaml.safe_load((CLUSTER / "ray-aws.yaml").read_text()))
    types = config["available_node_types"]
    assert config["provider"]["type"] == "aws" and config["head_node_type"] == "head"
    assert sum(t.get("max_workers", 0) for n, t in types.items() if n != "head") <= config["max_workers"]
    assert all(t["min_workers"] <= t["max_workers"] for n, t in types.items() if n != "head")


# What KubeRay's RayCluster CRD (ray.io/v1) requires of the fields this manifest uses.
_POD = {"type": "object", "required": ["spec"], "properties": {"spec": {
    "type": "object", "required": ["containers"], "properties": {"containers": {
        "type": "array", "minItems": 1, "items": {"type": "object", "required": ["name", "image"]}}}}}}
_START_PARAMS = {"type": "object", "additionalProperties": {"type": "string"}}
RAYCLUSTER = {
    "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "ray.io/v1"}, "kind": {"const": "RayCluster"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {"type": "object", "required": ["headGroupSpec"], "properties": {
            "rayVersion": {"type": "string"},
            "authOptions": {"type": "object", "properties": {"mode": {"enum": ["disabled", "token"]}}},
            "enableInTreeAutoscaling": {"type": "boolean"},
            "headGroupSpec": {"type": "object", "required": ["template"],
                              "properties": {"rayStartParams": _START_PARAMS, "template": _POD}},
            "workerGroupSpecs": {"type": "array", "items": {
                "type": "object", "required": ["groupName", "template"],
                "properties": {"groupName": {"type": "string"}, "replicas": {"type": "integer"},
                               "minReplicas": {"type": "integer"}, "maxReplicas": {"type": "integer"},
                               "rayStartParams": _START_PARAMS, "template": _POD}}}}}},
}


def kuberay_docs() -> dict:
    return {d["kind"]: d for d in yaml.safe_load_all((CLUSTER / "kuberay-raycluster.yaml").read_text())}


def test_the_kuberay_manifest_matches_the_raycluster_schema():
    docs = kuberay_docs()
    cluster = docs["RayCluster"]
    jsonschema.validate(cluster, RAYCLUSTER)
    assert cluster["spec"]["rayVersion"] == ray.__version__
    assert cluster["spec"]["authOptions"]["mode"] == "token"
    claim = docs["PersistentVolumeClaim"]["metadata"]["name"]
    for group in [cluster["spec"]["headGroupSpec"], *cluster["spec"]["workerGroupSpecs"]]:
        pod = group["template"]["spec"]
        env = {e["name"]: e.get("value") for c in pod["containers"] for e in c.get("env", [])}
        assert env["GP_STORAGE_PATH"].startswith("/mnt/gp-shared")
        assert {v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]} == {claim}
    assert docs["PersistentVolumeClaim"]["spec"]["accessModes"] == ["ReadWriteMany"]


def test_rays_kuberay_autoscaler_accepts_the_manifest():
    from ray.autoscaler._private.kuberay.autoscaling_config import _derive_autoscaling_config_from_ray_cr
    from ray.autoscaler._private.util import validate_config

    cluster = kuberay_docs()["RayCluster"]
    cluster["metadata"]["namespace"] = "default"  # filled in by the API server
    config = _derive_autoscaling_config_from_ray_cr(cluster)
    validate_config(config)
    assert config["available_node_types"]["headgroup"]["resources"]["CPU"] == 0
    assert config["available_node_types"]["cpu"]["resources"]["CPU"] == 4


def test_the_image_is_built_from_the_installed_ray_and_python():
    import sys

    base = re.search(r"^FROM rayproject/ray:(\S+)-py(\d)(\d+)-cpu$", (CLUSTER / "Dockerfile").read_text(), re.M)
    assert base and base.group(1) == ray.__version__
    assert (int(base.group(2)), int(base.group(3))) == sys.version_info[:2]
    assert re.search(r"image: \S+/gp:0\.1\.0", (CLUSTER / "kuberay-raycluster.yaml").read_text())


def test_the_mlflow_auth_template_gives_what_mlflow_reads(tmp_path, monkeypatch):
    from mlflow.server.auth.config import read_auth_config

    text = (CLUSTER / "mlflow-auth.ini").read_text().replace("@DATABASE_URI@", f"sqlite:///{tmp_path}/auth.db")
    (tmp_path / "auth.ini").write_text(text)
    monkeypatch.setenv("MLFLOW_AUTH_CONFIG_PATH", str(tmp_path / "auth.ini"))
    monkeypatch.delenv("MLFLOW_AUTH_ADMIN_PASSWORD", raising=False)
    config = read_auth_config()
    assert config.default_permission == "READ" and config.admin_password is None  # never in the file
    assert config.database_uri.endswith("/auth.db") and config.auth_cache_ttl_seconds == 60
    assert configparser.ConfigParser().read(tmp_path / "auth.ini")


@pytest.mark.parametrize("script", sorted(p.name for p in CLUSTER.glob("*.sh")))
def test_scripts_parse_and_say_how_to_use_them(script):
    assert subprocess.run(["bash", "-n", CLUSTER / script]).returncode == 0
    text = (CLUSTER / script).read_text()
    assert text.startswith("#!/usr/bin/env bash") or script == "common.sh"
    assert not re.search(r"^[^#]*\bray stop\b", text, re.M)  # it would kill every Ray process on the machine


def test_a_worker_without_the_token_is_refused_in_one_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "RAY": str(ROOT / ".venv" / "bin" / "ray"),
           "RAY_AUTH_TOKEN_PATH": str(tmp_path / "missing")}
    out = subprocess.run(["bash", CLUSTER / "start-worker.sh", "127.0.0.1:6379"], env=env,
                         capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.startswith("error: no cluster token at")


def test_the_cluster_guide_covers_every_file_and_setting_it_names():
    guide = (ROOT / "docs" / "cluster.md").read_text()
    files = {p.name for p in CLUSTER.iterdir() if p.is_file()} - {"common.sh"}
    assert {f for f in files if f"cluster/{f}" not in guide} == set()
    code = "".join(p.read_text() for p in [*CLUSTER.glob("*.sh"), *(ROOT / "platform").rglob("*.py")])
    named = set(re.findall(r"\b(GP_[A-Z_]+)\b", guide))
    assert named and {v for v in named if v not in code} == set()
    for command in ("jobs", "logs", "stop"):
        assert f"gp {command} " in guide
    assert "storage_path" in guide and "importable on every node" in guide


def _tracking_env(tmp_path, text: str, mode: int) -> subprocess.CompletedProcess:
    """What cluster/common.sh's gp_tracking_env exports from a file of ``text`` and ``mode``."""
    file = tmp_path / "tracking.env"
    file.write_text(text)
    file.chmod(mode)
    script = f'source {CLUSTER / "common.sh"}; gp_tracking_env; env | grep ^MLFLOW_ | sort'
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "RAY": "true", "GP_TRACKING_ENV": str(file)}
    return subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, cwd=tmp_path)


def test_the_nodes_account_comes_from_an_owner_only_file_read_not_run(tmp_path):
    text = ("# the nodes' MLflow account\nMLFLOW_TRACKING_USERNAME=gp-cluster\nMLFLOW_TRACKING_PASSWORD=s3cr=t $(touch ran)\n"
            "PATH=/nowhere\nMLFLOW_TRACKING_TOKEN")
    out = _tracking_env(tmp_path, text, 0o600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["MLFLOW_TRACKING_PASSWORD=s3cr=t $(touch ran)", "MLFLOW_TRACKING_USERNAME=gp-cluster"]
    assert not (tmp_path / "ran").exists()  # read, never sourced
    refused = _tracking_env(tmp_path, text, 0o640)
    assert refused.returncode == 2 and refused.stderr.startswith("error: ") and "chmod 600" in refused.stderr
    assert refused.stdout == ""
