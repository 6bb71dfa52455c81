"""Security: untrusted checkpoints cannot run code, secrets stay out of MLflow, tokens stay private."""
import ast
import os
import stat
import subprocess

import pytest
import torch

from gp import tracking
from gp.errors import GpError
from gp.train import checkpoint
from tests.helpers import ROOT, gp, one_line_error


class Exploit:
    """Unpickling this runs a shell command (what a malicious checkpoint would do)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def evil(tmp_path):
    """A checkpoint file whose unpickling would create ``marker``."""
    path, marker = tmp_path / "model.pt", tmp_path / "pwned"
    torch.save({"model": {}, "epoch": 1, "payload": Exploit(marker)}, path)
    return path, marker


def test_the_exploit_is_real_when_loaded_unsafely(evil):
    path, marker = evil
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_checkpoint_loading_refuses_code(evil):
    path, marker = evil
    with pytest.raises(GpError, match="refusing to load checkpoint"):
        checkpoint.load(str(path))
    assert not marker.exists()


def _run_with_checkpoint(path) -> str:
    c = tracking.client()
    run = c.create_run(tracking.experiment_id(c, "gp"), tags={"gp.plugin": "vae"})
    c.log_artifact(run.info.run_id, str(path), artifact_path="checkpoint")
    return run.info.run_id


def test_a_worker_resuming_from_an_untrusted_run_refuses_its_checkpoint(evil):
    from gp.train.loop import _latest_checkpoint
    from gp.train.session import LocalSession

    path, marker = evil
    run_id = _run_with_checkpoint(path)
    with pytest.raises(GpError, match="refusing to load checkpoint"):
        _latest_checkpoint({"run_id": run_id, "tracking_uri": tracking.tracking_uri()}, LocalSession())
    assert not marker.exists()


def test_gp_sample_refuses_an_untrusted_checkpoint(evil, gp_home):
    path, marker = evil
    run_id = _run_with_checkpoint(path)
    line = one_line_error(gp("sample", run_id, "--out", str(path.parent / "x.png"), env={"GP_HOME": str(gp_home)}))
    assert "refusing to load checkpoint" in line and not marker.exists()


def test_every_torch_load_in_the_code_is_weights_only():
    calls = []
    for path in [*(ROOT / "platform").rglob("*.py"), *(ROOT / "plugins").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "torch.load":
                safe = any(k.arg == "weights_only" and ast.unparse(k.value) == "True" for k in node.keywords)
                calls.append((str(path.relative_to(ROOT)), node.lineno, safe))
    assert calls and all(safe for *_, safe in calls), calls


# --- secrets never reach params or tags --------------------------------------------------

def test_secret_looking_config_keys_are_not_logged():
    flat = {"model.lr": 0.1, "data.api_key": "k-123", "x.password": "pw", "token": "t", "aws_secret": "s",
            "credentials": "c", "private_key": "p", "trainer.epochs": 3}
    assert tracking.public_params(flat) == {"model.lr": "0.1", "trainer.epochs": "3"}
    nested = {"data": {"name": "digits", "auth": {"token": "t"}, "PASSWORD": "p"}, "api-key": "k"}
    assert tracking.without_secrets(nested) == {"data": {"name": "digits", "auth": {}}}


def test_a_run_never_records_the_environments_secrets(monkeypatch):
    from gp.config import JobConfig
    from gp.plugins import Origin

    values = {"MLFLOW_TRACKING_PASSWORD": "mlflow-pw-61", "RAY_AUTH_TOKEN": "ray-token-62",
              "MLFLOW_TRACKING_TOKEN": "mlflow-token-63", "AWS_SECRET_ACCESS_KEY": "aws-64"}
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    c = tracking.client()
    run_id = tracking.start_run(c, JobConfig(plugin="vae"), Origin("vae", "gp", "0.1.0"))
    data = c.get_run(run_id).data
    text = " ".join(f"{k}={v}" for d in (data.params, data.tags) for k, v in d.items())
    assert not [v for v in values.values() if v in text]


# --- the Ray token -----------------------------------------------------------------------

def test_a_missing_ray_token_is_one_line_before_anything_starts(tmp_path, monkeypatch):
    from gp.connect import require_token

    monkeypatch.setenv("HOME", str(tmp_path))
    for k in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_AUTH_MODE"):
        monkeypatch.delenv(k, raising=False)
    with pytest.raises(GpError, match="no Ray token for http://head:8265: set RAY_AUTH_TOKEN"):
        require_token("http://head:8265")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    require_token("http://head:8265")


def test_a_token_file_others_can_read_is_flagged(tmp_path, monkeypatch, capsys):
    from gp.connect import require_token

    token = tmp_path / "token"
    token.write_text("a" * 64)
    token.chmod(0o644)
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(token))
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    assert require_token("10.0.0.1:6379") == str(token)
    assert os.environ["RAY_AUTH_MODE"] == "token"  # Ray clients send the token only in token mode
    assert "readable by others; chmod 600" in capsys.readouterr().err


def test_gp_submit_to_a_cluster_without_a_token_fails_fast(tmp_path):
    env = {"HOME": str(tmp_path), "RAY_AUTH_TOKEN_PATH": "", "RAY_AUTH_TOKEN": "", "RAY_AUTH_MODE": ""}
    for address in ("127.0.0.1:9", "http://127.0.0.1:9"):
        line = one_line_error(gp("submit", "--address", address, "plugin=vae", "data=digits", env=env, timeout=120))
        assert "no Ray token" in line, line
    c = tracking.client()
    exp = c.get_experiment_by_name("gp")
    assert exp is None or not c.search_runs([exp.experiment_id])  # no run was created


def test_token_files_gp_creates_are_owner_only(tmp_path):
    token = tmp_path / "sub" / "token"
    script = f"source {ROOT}/cluster/common.sh && gp_token"
    env = {**os.environ, "RAY": str(ROOT / ".venv" / "bin" / "ray"), "RAY_AUTH_TOKEN_PATH": str(token)}
    env.pop("RAY_AUTH_TOKEN", None)
    subprocess.run(["bash", "-c", script], env=env, check=True, capture_output=True)
    assert stat.S_IMODE(token.stat().st_mode) == 0o600 and len(token.read_text()) == 64
    int(token.read_text(), 16)
    token.chmod(0o644)
    subprocess.run(["bash", "-c", script], env=env, check=True, capture_output=True)
    assert stat.S_IMODE(token.stat().st_mode) == 0o600


def test_the_token_a_local_ray_writes_is_tightened(tmp_path, monkeypatch):
    from gp.orchestrate import _tighten_token

    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("b" * 64)
    (tmp_path / ".ray" / "auth_token").chmod(0o644)
    _tighten_token()
    assert stat.S_IMODE((tmp_path / ".ray" / "auth_token").stat().st_mode) == 0o600


# --- MLflow credentials ------------------------------------------------------------------

def test_mlflow_refusals_become_one_line_that_says_what_to_set(monkeypatch):
    from mlflow.exceptions import MlflowException

    from gp.tracking import errors

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    with pytest.raises(GpError, match=r"MLflow at http://mlflow:5000 refused the request \(HTTP 401\): set "
                                      "MLFLOW_TRACKING_USERNAME"):
        with errors():
            raise MlflowException("API request to endpoint /api/2.0/mlflow/runs/create failed with error code "
                                  "401 != 200. Response body: 'You are not authenticated.'")
    with pytest.raises(GpError, match=r"refused the request \(HTTP 401\)"):  # an artifact download's refusal
        with errors(otherwise="run x has no checkpoint"):
            raise OSError("401 Client Error: UNAUTHORIZED for url: http://mlflow:5000/api/2.0/mlflow-artifacts/x")
    with pytest.raises(GpError, match="^run x has no checkpoint$"):
        with errors(otherwise="run x has no checkpoint"):
            raise MlflowException("RESOURCE_DOES_NOT_EXIST: Run 'x' not found")


def test_remote_jobs_need_a_shared_tracking_server(monkeypatch):
    from gp.remote import shared_tracking_uri

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(GpError, match="shared tracking server: set MLFLOW_TRACKING_URI"):
        shared_tracking_uri()
