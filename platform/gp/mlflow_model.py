"""The trained model as an MLflow pyfunc model: ``predict([{"n": 16, "seed": 0}])`` returns samples.

Load it anywhere gp and the plugin are installed:
``mlflow.pyfunc.load_model(f"runs:/{run_id}/model").predict([{"n": 16}])``
returns an array (n, *data shape) in data space.
"""
from __future__ import annotations

import logging

import mlflow.pyfunc


class Sampler(mlflow.pyfunc.PythonModel):
    """Rebuilds the model from its checkpoint (safely) and samples from it."""

    def load_context(self, context):
        from gp.plugins import load_registry
        from gp.train import checkpoint

        payload = checkpoint.load(context.artifacts["checkpoint"])
        self.model = checkpoint.build_model(payload, load_registry())

    def predict(self, context, model_input: list[dict[str, int]], params=None):
        import torch

        row = model_input[0] if isinstance(model_input, list) else model_input.iloc[0].to_dict()
        n, seed = int(row["n"]), row.get("seed")
        if seed is not None:
            torch.manual_seed(int(seed))
        return self.model.sample(n).cpu().numpy()


def log_sampler(run_id: str, ckpt_path: str) -> None:
    """Log the sampler under the run's ``model`` artifact path."""
    import mlflow

    from gp.tracking import tracking_uri

    mlflow.set_tracking_uri(tracking_uri())
    # The sampler holds no state: the cloudpickle warning is moot; weights load safely.
    logging.getLogger("mlflow.pyfunc").setLevel(logging.ERROR)
    with mlflow.start_run(run_id=run_id, nested=mlflow.active_run() is not None):
        mlflow.pyfunc.log_model(
            name="model",
            python_model=Sampler(),
            artifacts={"checkpoint": ckpt_path},
            pip_requirements=["gp", "torch", "mlflow"],
        )
