"""PixelRNN (van den Oord, Kalchbrenner, Kavukcuoglu 2016, "Pixel Recurrent Neural Networks", ICML).

A 7x7 mask-A convolution, then residual LSTM layers, then two 1x1 layers.
``variant=row``: Row LSTM, rows top to bottom; the input-to-state map is a 3x1 mask-B
convolution along the row, the state-to-state map a 3x1 convolution of the row above.
``variant=diagonal``: Diagonal BiLSTM; each row is skewed one column right of the one above,
and an LSTM runs along the skewed columns (the diagonals) with a 2x1 state-to-state
convolution (the pixel above and the pixel to the left), once left to right and once right
to left; the right-to-left output is shifted down one row so the model stays causal.
Output and discretisation (``output=softmax`` on 8-bit data or ``output=bernoulli`` on data
binarised at 0.5) are described in :mod:`gp_models.autoregressive`.
"""
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from gp import hookimpl
from gp.recipes import Recipe
from gp_models.autoregressive import Autoregressive, AutoregressiveConfig
from gp_models.masked import MaskedConv2d, output_head, shift_down

FIRST_KERNEL = 7


class PixelRNNConfig(AutoregressiveConfig):
    variant: str = Field("row", pattern="^(row|diagonal)$", description="row (Row LSTM) or diagonal (Diagonal BiLSTM)")
    hidden: int = Field(32, ge=3, description="feature channels and LSTM units of every layer")
    layers: int = Field(2, ge=1, description="residual LSTM layers")


def lstm_update(gates, c, dim: int = 1):
    """LSTM cell from pre-activations (chunks i, f, o, g along ``dim``) and the cell c."""
    i, f, o, g = gates.chunk(4, dim)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def skew(x):
    """Shift row i right by i: (B, C, H, W) -> (B, C, H, W + H - 1)."""
    b, c, h, w = x.shape
    return F.pad(x, (0, h)).flatten(2)[..., : h * (w + h - 1)].view(b, c, h, w + h - 1)


def unskew(x, w: int):
    """Inverse of :func:`skew`: (B, C, H, W + H - 1) -> (B, C, H, W)."""
    b, c, h, _ = x.shape
    return F.pad(x.flatten(2), (0, h)).view(b, c, h, w + h)[..., :w]


class RowLSTM(nn.Module):
    """Row LSTM layer with a residual connection, (B, h, H, W) -> (B, h, H, W)."""

    def __init__(self, h, colours):
        super().__init__()
        self.i2s = MaskedConv2d(h, 4 * h, (1, 3), "B", colours, out_chunks=4)
        self.s2s = nn.Conv1d(h, 4 * h, 3, padding=1)
        self.out = MaskedConv2d(h, h, 1, "B", colours)

    def cell(self, gates, state):
        """LSTM update of one row from its input-to-state gates (B, 4h, W) and the state-to-state
        term and cell of the row above (None at the top); returns the hidden row and the next state."""
        if state is None:
            state = self.s2s(torch.zeros_like(gates[:, ::4])), torch.zeros_like(gates[:, ::4])
        hid, cell = lstm_update(gates + state[0], state[1])
        return hid, (self.s2s(hid), cell)

    def forward(self, x):
        state, rows = None, []
        for gates in self.i2s(x).unbind(2):  # (B, 4h, W) per row
            hid, state = self.cell(gates, state)
            rows.append(hid)
        return x + self.out(torch.stack(rows, 2))

    def step(self, x, state):
        """The same layer on one row x (B, h, 1, W) (for sampling); returns it and the next state."""
        hid, state = self.cell(self.i2s(x)[:, :, 0], state)
        return x + self.out(hid[:, :, None]), state

    def crop(self, state, left, right):
        return tuple(s[..., left:right] for s in state)


class DiagonalBiLSTM(nn.Module):
    """Diagonal BiLSTM layer with a residual connection, (B, h, H, W) -> (B, h, H, W). Both
    directions run in one scan: channels [left-to-right | right-to-left (mirrored input)]."""

    def __init__(self, h, colours):
        super().__init__()
        self.i2s = MaskedConv2d(h, 8 * h, 1, "B", colours, out_chunks=8)
        self.s2s = nn.Conv1d(2 * h, 8 * h, 2, groups=2)  # per direction: rows r-1 and r
        self.out = MaskedConv2d(h, h, 1, "B", colours)

    def scan(self, gates, above=None, state=None):
        """LSTMs along the columns of a skewed map: gates (B, 2*4h, H, T) -> hidden (B, 2h, H, T)
        and the last (hidden, cell) (B, 2h, H). ``above`` (B, 2h, 1, T): the hidden states of the
        row above the first one (default: zero padding); ``state``: the (hidden, cell) to start from."""
        hid, cell = state if state is not None else (torch.zeros_like(gates[:, ::4, :, 0]),) * 2
        above = above if above is not None else torch.zeros_like(gates[:, ::4, :1])  # (B, 2h, 1, T)
        cols = []  # unbind, not indexing: its backward is one stack, not one full-size tensor per column
        for g, a in zip(gates.unbind(3), above.unbind(3)):  # row r sees rows r-1 and r of the previous column
            rows = self.s2s(torch.cat([a, hid], 2))  # (B, 8h, H): the row above the top one is ``a``
            pre = (g + rows).unflatten(1, (2, -1))  # (B, 2, 4h, H)
            hid, cell = (s.flatten(1, 2) for s in lstm_update(pre, cell.unflatten(1, (2, -1)), dim=2))
            cols.append(hid)
        return torch.stack(cols, 3), (hid, cell)

    def forward(self, x):
        w = x.shape[3]
        fwd, bwd = self.i2s(x).chunk(2, 1)  # each (B, 4h, H, W)
        left, right = unskew(self.scan(skew(torch.cat([fwd, bwd.flip(3)], 1)))[0], w).chunk(2, 1)
        return x + self.out(left + shift_down(right.flip(3)))

    def step(self, x, state):
        """The same layer one row at a time (for sampling): row r, x (B, h, 1, W), from the states
        of row r-1 (None at the top): both directions' hidden rows (B, h, W) and the state of the
        skewed map's padding left of row r, (hidden, cell) (B, 2h, 1), which depends on r only."""
        fwd, bwd = self.i2s(x).chunk(2, 1)  # (B, 4h, 1, W)
        if state is None:
            zero = torch.zeros_like(fwd[:, ::4, 0])  # (B, h, W)
            state = zero, zero, (torch.zeros_like(fwd[:, ::2, :, 0]),) * 2
        left, right, pad = state
        above = torch.cat([left, right.flip(2)], 1)[:, :, None]  # (B, 2h, 1, W), in scan order
        hid = self.scan(torch.cat([fwd, bwd.flip(3)], 1), above, pad)[0][:, :, 0]  # (B, 2h, W)
        new_left, new_right = hid.chunk(2, 1)
        next_pad = self.scan(fwd.new_zeros(len(x), 8 * left.shape[1], 1, 1), pad[0][..., None], pad)[1]
        return x + self.out((new_left + right)[:, :, None]), (new_left, new_right.flip(2), next_pad)

    def crop(self, state, left, right):
        return state[0][..., left:right], state[1][..., left:right], state[2]


class PixelRNN(Autoregressive):
    name, Config = "pixelrnn", PixelRNNConfig
    tiny = {"hidden": 8, "layers": 1, "conditional": True}

    def __init__(self, config: PixelRNNConfig, data):
        super().__init__(config, data)
        c, h = data.shape[0], config.hidden
        layer = RowLSTM if config.variant == "row" else DiagonalBiLSTM
        self.first = MaskedConv2d(c, h, FIRST_KERNEL, "A", c)
        self.stack = nn.ModuleList(layer(h, c) for _ in range(config.layers))
        self.bias = self.label_embedding(h)
        self.head = output_head(h, c, self.k)

    def trunk(self, v, labels):  # (B, C, H, W) in [-1, 1] -> (B, h, H, W)
        x = self.first(v) + self.bias(labels)[:, :, None, None]
        for layer in self.stack:
            x = layer(x)
        return x

    def logits_at(self, v, labels, i, j, cache):
        """Keep every layer's state after the completed rows; per pixel recompute row i only, on
        the columns the pixel depends on: a few to the left for the Row LSTM (whose state-to-state
        terms come whole from the cache), all to the left for the Diagonal BiLSTM's scan."""
        while cache.get("done", 0) < i:
            cache["state"] = self.row(v, labels, cache.get("done", 0), cache.get("state"))[1]
            cache["done"] = cache.get("done", 0) + 1
        left = max(0, j - FIRST_KERNEL // 2 - len(self.stack)) if self.config.variant == "row" else 0
        right = j + FIRST_KERNEL // 2 + 1  # the first layer sees the rows above to the right
        states = [layer.crop(s, left, right) for layer, s in zip(self.stack, cache["state"])] if i else None
        x = self.row(v[..., left:right], labels, i, states)[0]  # (B, h, 1, cols)
        return self.split(self.head(x[..., j - left:j - left + 1]))[..., 0, 0]

    def row(self, v, labels, r, states):
        """Trunk features of row r (B, h, 1, W) and each layer's state after it, given those after row r-1."""
        top = max(0, r - FIRST_KERNEL // 2)
        x = self.first(v[:, :, top:r + 1])[:, :, -1:] + self.bias(labels)[:, :, None, None]
        new = []
        for layer, state in zip(self.stack, states or [None] * len(self.stack)):
            x, state = layer.step(x, state)
            new.append(state)
        return x, new

    recipes = {
        "paper": Recipe(
            "van den Oord et al. 2016a, the Diagonal BiLSTM on binarised MNIST (values recalled, not checked against "
            "the paper), on Fashion-MNIST binarised at 0.5; the paper trains with RMSProp, gp with Adam", {
                "model.variant": ("diagonal", "table 4: the Diagonal BiLSTM"),
                "model.layers": (7, "table 4: 7 layers"), "model.hidden": (16, "table 4: h = 16"),
                "model.output": ("bernoulli", "binarised MNIST: one sigmoid output per pixel"),
                "trainer.batch_size": (16, "training details: batches of 16 images for MNIST and CIFAR-10"),
                "model.lr": (1e-3, "not the paper's (RMSProp, rates set per dataset): gp's Adam rate"),
                "trainer.epochs": (10, "not stated; 10 epochs, a budget choice"),
                "data.name": ("fashion-mnist", "gp's dataset; the paper's MNIST is data=mnist data.root=DIR"),
            }),
        "cpu": Recipe("fits a 2-core CPU in a few minutes: 200 steps of a 1-layer Row LSTM; not a paper setting", {
            "model.variant": ("row", "2-core CPU budget: the Row LSTM runs a row at a time"),
            "model.hidden": (16, "2-core CPU budget"), "model.layers": (1, "2-core CPU budget"),
            "model.output": ("bernoulli", "2-core CPU budget: one logit per pixel instead of 256"),
            "trainer.batch_size": (32, "2-core CPU budget"), "trainer.epochs": (2, "2-core CPU budget"),
            "trainer.steps_per_epoch": (100, "200 steps in all"), "trainer.samples": (16, "pixel-by-pixel sampling"),
        }),
    }


@hookimpl
def register_models(register):
    register(PixelRNN)
