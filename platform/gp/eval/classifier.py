"""Reference classifier: a two-convolution CNN that gp trains on a dataset's training split.

The Fashion-MNIST benchmark (Xiao et al. 2017, "Fashion-MNIST: a Novel Image Dataset for
Benchmarking Machine Learning Algorithms") lists 0.92-0.93 test accuracy for two
convolutional layers. The penultimate layer is the feature map of every sample-based
metric, so every run must be scored by the same network: the weights and the training
config are hashed, cached under ``$GP_HOME/classifiers/`` and logged to the MLflow
experiment ``gp-classifiers`` (tag ``gp.classifier.hash``), where other machines find it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time

import torch
import torch.nn.functional as F
from torch import nn

EXPERIMENT = "gp-classifiers"


@dataclasses.dataclass(frozen=True)
class ClassifierConfig:
    """How the reference classifier is built and trained (part of its version hash)."""

    arch: str = "conv2-v1"  # bump when RefNet or fit change, so caches and MLflow keys change too
    channels: tuple[int, int] = (32, 64)
    hidden: int = 128
    epochs: int = 5
    min_steps: int = 600  # small datasets (digits) train for more epochs
    batch_size: int = 128
    lr: float = 3e-3
    seed: int = 0


class RefNet(nn.Module):
    """conv-BN-ReLU-maxpool, strided conv-BN-ReLU, a hidden layer (the features), a linear head."""

    def __init__(self, shape: tuple[int, ...], classes: int, cfg: ClassifierConfig):
        super().__init__()
        c1, c2 = cfg.channels
        self.conv = nn.Sequential(
            nn.Conv2d(shape[0], c1, 3, padding=1), nn.BatchNorm2d(c1), nn.ReLU(), nn.MaxPool2d(2),  # (B, c1, H/2, W/2)
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.BatchNorm2d(c2), nn.ReLU(), nn.Flatten(),  # (B, c2*H/4*W/4)
        )
        with torch.no_grad():
            flat = self.conv(torch.zeros(2, *shape)).shape[1]
        self.hidden = nn.Sequential(nn.Linear(flat, cfg.hidden), nn.ReLU())  # (B, hidden)
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(cfg.hidden, classes))  # (B, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [0, 1] -> penultimate activations (B, hidden)."""
        return self.hidden(self.conv(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (B, classes) logits


def schedule(n: int, cfg: ClassifierConfig) -> tuple[int, int]:
    """(epochs, steps per epoch) of training on ``n`` examples."""
    per_epoch = max(1, n // cfg.batch_size)
    return max(cfg.epochs, math.ceil(cfg.min_steps / per_epoch)), per_epoch


def fit(x: torch.Tensor, y: torch.Tensor, classes: int, cfg: ClassifierConfig, progress=None) -> RefNet:
    """Train a RefNet on (x, y) with whole-tensor batches (no DataLoader) and one-cycle Adam;
    ``progress`` (a tqdm bar, optional) advances once per step."""
    torch.manual_seed(cfg.seed)
    g = torch.Generator().manual_seed(cfg.seed)
    net = RefNet(tuple(x.shape[1:]), classes, cfg).to(memory_format=torch.channels_last)  # faster on a CPU
    epochs, per_epoch = schedule(len(x), cfg)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=epochs * per_epoch)
    net.train()
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        for i in range(per_epoch):
            idx = perm[i * cfg.batch_size:(i + 1) * cfg.batch_size]
            loss = F.cross_entropy(net(x[idx].contiguous(memory_format=torch.channels_last)), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if progress is not None:
                progress.update()
    return net.eval()


@torch.no_grad()
def accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 2000) -> float:
    """Share of ``x`` that ``net`` labels as ``y``."""
    right = sum((net(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item() for i in range(0, len(x), batch))
    return right / max(len(x), 1)


def weights_hash(net: nn.Module, cfg: ClassifierConfig) -> str:
    """Version of a trained classifier: sha256 of its weights and training config (12 hex)."""
    h = hashlib.sha256(json.dumps(dataclasses.asdict(cfg), sort_keys=True).encode())
    for name, tensor in net.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:12]


def config_key(data_id: dict, cfg: ClassifierConfig) -> str:
    """Cache key of (dataset identity, training config), known before training (12 hex)."""
    blob = json.dumps({"data": data_id, "cfg": dataclasses.asdict(cfg)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def train_reference(train, test, cfg: ClassifierConfig, say=None) -> dict:
    """Train on the training split; return the payload that is cached and logged.

    ``say`` (a print function, optional) gets one line saying what is trained, and a
    progress bar with the time left is drawn where stderr is a terminal."""
    from tqdm import tqdm

    t0 = time.time()
    epochs, per_epoch = schedule(len(train.x), cfg)
    if say:
        say(f"gp eval: training the reference classifier once ({len(train.x)} examples, {epochs} epochs, "
            f"{epochs * per_epoch} steps); later evaluations reuse it")
    with tqdm(total=epochs * per_epoch, desc="reference classifier", unit="step", disable=None if say else True,
              leave=False) as bar:
        net = fit(train.x, train.y, train.spec.num_classes, cfg, bar)
    seconds = time.time() - t0
    return {
        "state": net.state_dict(), "config": dataclasses.asdict(cfg), "shape": list(train.spec.shape),
        "classes": train.spec.num_classes, "hash": weights_hash(net, cfg),
        "accuracy": accuracy(net, test.x, test.y), "seconds": seconds,
    }


def build(payload: dict) -> RefNet:
    """The network of a payload, in eval mode."""
    cfg = config_from(payload)
    net = RefNet(tuple(payload["shape"]), payload["classes"], cfg)
    net.load_state_dict(payload["state"])
    return net.eval()


def config_from(payload: dict) -> ClassifierConfig:
    raw = dict(payload["config"])
    raw["channels"] = tuple(raw["channels"])
    return ClassifierConfig(**raw)
