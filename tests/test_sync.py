"""gp's data parallelism (gp.train.sync): two gloo processes on this machine. Averaged
gradients of two half-batches equal the full batch's gradient, the broadcast gives every
rank rank 0's weights, and an update averages only its own optimizer's parameters; also
for channels-last convolutions (gp.train.layout), whose gradients are not contiguous."""
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from gp.model import DataSpec
from gp.train.sync import GradSync

SPEC = DataSpec((1, 8, 8), 10, "image")


class TinyConv(nn.Module):
    """Deterministic convolutions (no noise, no batch statistics), in channels-last format."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Tanh(), nn.Conv2d(4, 4, 3, padding=1), nn.Tanh(),
                                 nn.Conv2d(4, 1, 1))
        self.to(memory_format=torch.channels_last)

    def forward(self, batch):  # x (B, 1, 8, 8)
        return {"loss": ((self.net(batch["x"]) - batch["x"]) ** 2).mean()}

    def configure_optimizers(self):
        return {"model": torch.optim.SGD(self.parameters(), lr=0.1)}


def build(seed: int, kind: str = "linear"):
    from gp_models.linear_ae import LinearAE

    torch.manual_seed(seed)
    if kind == "conv":
        return TinyConv()
    return LinearAE(LinearAE.Config(latent_dim=3, center=False), SPEC)  # deterministic: no noise, no running mean


def batch() -> torch.Tensor:
    return torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(1))  # (16, 1, 8, 8)


def _worker(rank: int, store: str, out: str, kind: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", store=dist.FileStore(store, 2), rank=rank, world_size=2)
    try:
        model, sync = build(seed=rank, kind=kind), GradSync(2)  # rank 1 starts from other weights
        sync.broadcast(model)
        opt = model.configure_optimizers()["model"]
        model({"x": batch()[rank::2]})["loss"].backward()  # this rank's half (8 examples)
        frozen = torch.nn.Parameter(torch.ones(3))
        frozen.grad = torch.full((3,), float(rank))  # not in the optimizer: must stay as it is
        sync(opt)
        grads = {n: p.grad for n, p in model.named_parameters()}
        torch.save({"weights": model.state_dict(), "grads": grads, "frozen": frozen.grad}, f"{out}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_averaged_half_batch_gradients_equal_the_full_batch_gradient(tmp_path, kind):
    mp.start_processes(_worker, args=(str(tmp_path / "store"), str(tmp_path), kind), nprocs=2, start_method="spawn")
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    reference = build(seed=0, kind=kind)
    reference({"x": batch()})["loss"].backward()  # one worker, the whole batch
    for name, p in reference.named_parameters():
        for r in ranks:
            torch.testing.assert_close(r["grads"][name], p.grad, rtol=1e-5, atol=1e-7)
            torch.testing.assert_close(r["weights"][name], p.detach())  # rank 0's initial weights
    assert [float(r["frozen"][0]) for r in ranks] == [0.0, 1.0]
    other = next(build(seed=1, kind=kind).parameters())
    assert not torch.equal(other, next(reference.parameters()))  # so the broadcast did something
    if kind == "conv":
        grad = ranks[0]["grads"]["net.2.weight"]  # (4, 4, 3, 3)
        assert grad.is_contiguous(memory_format=torch.channels_last) and not grad.is_contiguous()
