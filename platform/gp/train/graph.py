"""The whole training step in one CUDA graph (PyTorch's "whole-network capture",
https://pytorch.org/docs/stable/notes/cuda.html#cuda-graphs).

A small model's step on a GPU is bound by kernel launches: every update's forward,
backward and optimizer step is hundreds of tiny kernels, each costing more to launch than
to run. :class:`GraphStepper` records every update of one step (zero_grad, forward,
backward, clipping, each optimizer's step) once into a CUDA graph and then replays it for
every batch: one launch per step. Batches are copied into static input buffers (one per
input slot: a GAN with k "fresh" discriminator batches copies k batches per step); the
optimizers are made capturable (their step counters live on the GPU) and Adam uses its
fused kernel. Nothing is asked of the plugin author.

It falls back to the eager :class:`~gp.train.step.Stepper`, logging the reason, when the
step cannot be captured: not on CUDA, DDP-wrapped models, a model that sets
``cuda_graph = False``, a step that synchronises with the host (``.item()``, boolean
masks, CPU tensors moved to the GPU: detected during warm-up), or a failed capture. A
batch whose shapes differ from the captured one runs eagerly.
"""
from __future__ import annotations

import contextlib
import logging
import warnings

import torch
from torch.utils._pytree import tree_flatten, tree_leaves, tree_map

from gp.errors import first_line
from gp.train.step import Stepper

log = logging.getLogger("gp.train")

#: Eager steps (real training steps) before capture: lazy state (optimizer moments,
#: cuDNN/cuBLAS handles, the allocator) is created outside the graph.
WARMUP = 3
#: Optimizer options changed for capture, restored in checkpoints.
FLAGS = ("capturable", "fused", "foreach")


def build_stepper(wrapped, model, optimizers: dict, trainer, device, sync=None) -> "GraphStepper":
    """The loop's stepper: captured in a CUDA graph where ``trainer.cuda_graph`` and the
    model allow, else eager; Adam's fused kernel either way; TF32 matrix products on a GPU
    (as cuDNN's convolutions already use)."""
    mode = getattr(trainer, "cuda_graph", False)
    if torch.device(device).type == "cuda":
        torch.set_float32_matmul_precision("high")
    stepper = GraphStepper(wrapped, model, optimizers, trainer.precision, trainer.grad_clip, mode=mode, sync=sync)
    if stepper.reason:
        (log.warning if mode is True else log.info)("gp: CUDA graph off: %s", stepper.reason)
    return stepper


def why_not(mode, wrapped, model, device: torch.device, sync=None) -> str | None:
    """Why the step cannot be captured (before trying), or None."""
    if mode is False:
        return "trainer.cuda_graph=false"
    if device.type != "cuda":
        return f"the device is {device.type}, not cuda"
    if wrapped is not model or sync is not None:
        return "gradients are averaged across workers (world size > 1)"
    if not getattr(model, "cuda_graph", True):
        return f"{model.name} sets cuda_graph = False"
    return None


class GraphStepper(Stepper):
    """A :class:`Stepper` that captures the whole step in a CUDA graph after warm-up."""

    def __init__(self, wrapped, model, optimizers: dict, precision: str = "fp32",
                 grad_clip: float | None = None, warmup: int = WARMUP, mode: bool | str = "auto", sync=None):
        self.warmup, self.mode, self.reason, self.graph, self.side = warmup, mode, None, None, None
        self._shape_warned = False
        super().__init__(wrapped, model, optimizers, precision, grad_clip, sync)

    @property
    def captured(self) -> bool:
        return self.graph is not None

    def use(self, optimizers: dict) -> None:
        """New optimizers (a phase change): capture again after a new warm-up."""
        super().use(optimizers)
        self.graph, self.static, self.flat, self.keys, self.warm = None, None, None, [], 0
        for opt in optimizers.values():
            fuse(opt)
        if self.reason is None:
            self.reason = why_not(self.mode, self.wrapped, self.model, self.model.device, self.sync)
        if self.reason is None:
            for opt in optimizers.values():
                make_capturable(opt)

    def give_up(self, reason: str) -> None:
        """Run eagerly from now on (capturable optimizers are slower outside a graph)."""
        self.reason, self.graph = reason, None
        for opt in self.optimizers.values():
            uncapturable(opt)
        log.warning("gp: CUDA graph off: %s", reason)

    def _context(self, device):
        if not self.autocast or self.reason is not None:
            return super()._context(device)
        # The autocast weight cache must be off inside a graph.
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16, cache_enabled=False)

    def __call__(self, batch: dict) -> dict[str, torch.Tensor]:
        if self.reason is not None:
            return super().__call__(batch)
        if self.graph is not None:
            return self._replay(batch) if self._fits(batch) else self._eager_odd(batch)
        if self.warm < self.warmup:
            self.warm += 1
            return self._warm_step(batch)
        return self._capture(batch)

    def _warm_step(self, batch: dict) -> dict[str, torch.Tensor]:
        """One real eager step on a side stream, watching for host synchronisations."""
        stream = self.side = self.side or torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream), host_syncs() as syncs:
            out = super().__call__(batch)
        torch.cuda.current_stream().wait_stream(stream)
        if syncs:
            self.give_up(f"the step synchronises with the host: {syncs[0]}")
        return out

    def _capture(self, batch: dict) -> dict[str, torch.Tensor]:
        """Record the step on static copies of ``batch``, then replay it once (this step)."""
        self.static = tree_map(lambda v: v.clone() if torch.is_tensor(v) else v, batch)  # every slot's batch
        self._clear_grads()  # every gradient is then allocated in the graph's memory pool
        graph, stream = torch.cuda.CUDAGraph(), torch.cuda.current_stream()
        try:
            with torch.cuda.graph(graph, capture_error_mode="thread_local"):
                out = Stepper.__call__(self, self.static)
                flat = torch.stack(list(out.values()))  # (K,): one copy out per step
        except Exception as exc:  # nothing ran: retry this step eagerly
            torch.cuda.set_stream(stream)  # a failed capture_end leaves the capture stream current
            self._clear_grads()
            self.give_up(f"capture failed: {first_line(exc)}")
            return super().__call__(batch)
        self.graph, self.flat, self.keys = graph, flat, list(out)
        graph.replay()
        return self._outputs()

    def _replay(self, batch: dict) -> dict[str, torch.Tensor]:
        for static, v in zip(tree_leaves(self.static), tree_leaves(batch)):
            if torch.is_tensor(v):
                static.copy_(v, non_blocking=True)
        self.graph.replay()
        return self._outputs()

    def _outputs(self) -> dict[str, torch.Tensor]:
        return dict(zip(self.keys, self.flat.clone().unbind()))

    def _fits(self, batch: dict) -> bool:
        (mine, spec), (theirs, other) = tree_flatten(self.static), tree_flatten(batch)
        return spec == other and all(same(v, w) for v, w in zip(theirs, mine))

    def _eager_odd(self, batch: dict) -> dict[str, torch.Tensor]:
        """A batch unlike the captured one (another shape) runs eagerly."""
        if not self._shape_warned:
            self._shape_warned = True
            log.warning("gp: a batch of another shape than the captured step's ran eagerly")
        return Stepper.__call__(self, batch)

    def _clear_grads(self) -> None:
        for p in self.model.parameters():
            p.grad = None


def fuse(opt: torch.optim.Optimizer) -> None:
    """Adam and AdamW use their fused kernel where torch has one for the parameters'
    device: the same update in one pass (one launch on a GPU; less CPU time per step for
    MLPs on a CPU)."""
    _remember(opt)
    if not isinstance(opt, (torch.optim.Adam, torch.optim.AdamW)):
        return
    devices = _fused_devices()
    for group in opt.param_groups:
        params = group["params"]
        if group.get("fused") is False or group.get("differentiable"):  # the plugin's own choice
            continue
        if all(p.device.type in devices and p.is_floating_point() for p in params):
            group["fused"], group["foreach"] = True, None
            for p in params:  # the fused kernel keeps its step counters on the device
                if torch.is_tensor(opt.state.get(p, {}).get("step")):
                    opt.state[p]["step"] = opt.state[p]["step"].to(p.device)


def _fused_devices() -> set[str]:
    try:
        from torch.utils._foreach_utils import _get_fused_kernels_supported_devices
    except ImportError:
        return {"cuda"}
    return set(_get_fused_kernels_supported_devices())


def make_capturable(opt: torch.optim.Optimizer) -> None:
    """Let ``opt``'s step be captured: ``capturable`` (step counters on the device), fused."""
    fuse(opt)
    for group in opt.param_groups:
        if "capturable" in group:
            group["capturable"] = True
    for p, state in opt.state.items():
        if torch.is_tensor(state.get("step")):
            state["step"] = state["step"].to(p.device)


def uncapturable(opt: torch.optim.Optimizer) -> None:
    """Undo ``capturable`` (slower outside a graph); keep the fused kernel."""
    for group, flags in zip(opt.param_groups, getattr(opt, "_gp_flags", [])):
        if "capturable" in group:
            group["capturable"] = bool(flags["capturable"])
        for p in group["params"]:
            state = opt.state.get(p, {})
            if torch.is_tensor(state.get("step")) and not group.get("fused"):
                state["step"] = state["step"].cpu()


def _remember(opt: torch.optim.Optimizer) -> None:
    """Keep the optimizer's own options: its checkpoints carry them, so they resume anywhere."""
    if hasattr(opt, "_gp_flags"):
        return
    opt._gp_flags = [{k: g.get(k) for k in FLAGS} for g in opt.param_groups]
    opt.register_state_dict_post_hook(_with_own_flags)


def _with_own_flags(opt, state_dict: dict) -> dict:
    for group, flags in zip(state_dict["param_groups"], opt._gp_flags):
        group.update({k: v for k, v in flags.items() if k in group})
    return state_dict


@contextlib.contextmanager
def host_syncs():
    """Collect the messages of CUDA host synchronisations inside the block."""
    found: list[str] = []
    previous = torch.cuda.get_sync_debug_mode()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            yield found
        finally:
            torch.cuda.set_sync_debug_mode(previous)
    syncs = [w for w in caught if "synchroniz" in str(w.message) and "prototype feature" not in str(w.message)]
    found += [first_line(w.message) for w in syncs]
    for w in caught:  # pass the others on
        if "synchroniz" not in str(w.message) and "capturable=True" not in str(w.message):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def same(a, b) -> bool:
    """Same shape, dtype and device (tensors), or the same object (anything else)."""
    if torch.is_tensor(a) and torch.is_tensor(b):
        return a.shape == b.shape and a.dtype == b.dtype and a.device == b.device
    return a is b
