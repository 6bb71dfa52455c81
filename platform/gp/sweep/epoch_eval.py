"""A ``gp eval`` metric at each epoch end, inside the trial's rank-0 worker.

The cheapest honest score: the same metric functions, features and cached real-data
statistics as ``gp eval`` (:mod:`gp.eval.scores`), on ``n`` samples (default 2,000) drawn
in-process from the live model, so no checkpoint round trip and no extra Ray tasks. FD is
biased in n (Heusel et al. 2017), so a sweep's ``eval/fid`` compares trials with each other,
not with ``gp eval``'s figure at 10,000 samples.
"""
from __future__ import annotations

import dataclasses

import torch


@dataclasses.dataclass
class EpochEval:
    """Picklable (it travels in the loop's config); builds its data and features on first call."""

    metric: str  # a gp eval metric name, e.g. "fid"
    data: dict  # the job's DataConfig as a dict
    n: int = 2000
    seed: int = 0

    def __call__(self, model) -> dict[str, float]:
        """``{"eval/KEY": value}`` for the model as it is now; training RNG left untouched."""
        from gp.eval.scores import SCORES

        ctx = self._context(model)
        was_training = model.training
        model.eval()
        try:
            with torch.random.fork_rng(), torch.no_grad():
                torch.manual_seed(self.seed)
                ctx.draw = self._draw(model, ctx)
                values = SCORES[self.metric](ctx)
        finally:
            model.train(was_training)
        return {f"eval/{k}": float(v) for k, v in values.items()}

    def _context(self, model):
        if getattr(self, "_ctx", None) is None:
            self._ctx = self._build(model)
        self._ctx.model = model
        return self._ctx

    def _build(self, model):
        """Splits, features (the reference classifier for images) and the cache key gp eval uses."""
        from gp.config import DataConfig
        from gp.eval import reference
        from gp.eval.features import Extractor
        from gp.eval.scores import Context
        from gp.plugins import load_registry

        registry, data_cfg = load_registry(), DataConfig(**self.data)
        train, test = reference.splits(registry, data_cfg)
        classifier = reference.reference(registry, data_cfg, log=False) if model.data.kind == "image" else None
        self._extract = Extractor(classifier)
        n = min(self.n, len(train))
        key = {"data": reference.data_identity(data_cfg), "features": self._extract.name, "n": n, "seed": self.seed}
        return Context(model, {}, None, train, test, n, self.seed, self._extract, key, classifier=classifier)

    def _draw(self, model, ctx):
        """n samples (class-balanced labels for a conditional model) with their features."""
        from gp.eval.conditional import balanced_labels
        from gp.eval.sampling import Draw

        y = balanced_labels(ctx.n, model.data.num_classes) if model.is_conditional else None
        chunks = [(i, min(i + 1000, ctx.n)) for i in range(0, ctx.n, 1000)]
        x = torch.cat([model.sample(b - a, None if y is None else y[a:b].to(model.device)).cpu() for a, b in chunks])
        features, probs = self._extract(x)
        return Draw(x, y, features, probs)

    def __getstate__(self):  # only the settings travel
        return {k: v for k, v in self.__dict__.items() if k in ("metric", "data", "n", "seed")}
