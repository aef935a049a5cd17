"""A plain PyTorch MLP on the dense encoding (quantile-normalised numbers, one-hot categories).

Neural nets are seldom the best single model on tables, but they are smooth where trees are
piecewise-constant, so they diversify the ensemble. Training is AdamW (our own few lines, see
`AdamW`) with early stopping on the validation loss, keeping the best epoch's weights; the
deadline is checked after every batch.
Torch is imported inside methods only, so assay imports without it. Seeding torch and the
shuffling generator makes the same seed give the same predictions (on CPU).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from assay.models.base import Model
from assay.models.sklearn_io import load_skops, save_skops
from assay.preprocess.dense import dense_encoder, dense_frame
from assay.search.space import Choice, Float, Int

_PATIENCE = 10  # epochs without a better validation loss before stopping


class MLPModel(Model):
    family = "mlp"
    rounds_param = "max_epochs"
    requires = ("torch",)
    uses_gpu = True

    @classmethod
    def search_space(cls, task, n_rows, n_cols):
        return {
            "hidden": Int(32, 512, 128, log=True),
            "layers": Int(1, 4, 2),
            "dropout": Float(0.0, 0.5, 0.1),
            "lr": Float(1e-4, 1e-2, 1e-3, log=True),
            "weight_decay": Float(1e-6, 1e-2, 1e-5, log=True),
            "batch_size": Choice((64, 128, 256, 512), 256),
        }

    @classmethod
    def load_libraries(cls) -> None:
        _warm_torch()

    def _fit(self, X, y, X_val, y_val, deadline):
        import torch

        torch.manual_seed(self.seed)
        torch.set_num_threads(self.threads())
        self._torch_device = "cuda" if self.device == "cuda" else "cpu"
        p = self.params
        self.encoder_ = dense_encoder(X, "quantile", y, continuous=not self.task.is_classification, seed=self.seed)
        # fit_transform, not fit then transform: only it cross-fits the target encoding
        train_matrix = self.encoder_.fit_transform(dense_frame(X), y)
        if self.task.is_classification:
            self.target_ = (0.0, 1.0)
            loss_fn = torch.nn.CrossEntropyLoss()
        else:
            self.target_ = (float(np.mean(y)), float(np.std(y)) or 1.0)
            loss_fn = torch.nn.MSELoss()
        xs, ys = self._tensors(X, y, train_matrix)
        self.arch_ = {
            "n_in": int(xs.shape[1]),
            "n_out": self.task.n_classes if self.task.is_classification else 1,
            "hidden": int(p.get("hidden", 128)),
            "layers": int(p.get("layers", 2)),
            "dropout": float(p.get("dropout", 0.1)),
            "target": list(self.target_),
        }
        self.net_ = _network(self.arch_).to(self._torch_device)
        opt = AdamW(
            self.net_.parameters(), lr=float(p.get("lr", 1e-3)), weight_decay=float(p.get("weight_decay", 1e-5))
        )
        val = self._tensors(X_val, y_val) if X_val is not None else None
        batch = int(p.get("batch_size", 256))
        gen = torch.Generator().manual_seed(self.seed)
        best_loss, best_state, best_epoch, stale, epochs = np.inf, None, 0, 0, 0
        for epoch in range(int(p.get("max_epochs", 200))):
            self.net_.train()
            order = torch.randperm(len(xs), generator=gen).to(self._torch_device)
            for start in range(0, len(xs), batch):
                idx = order[start : start + batch]
                opt.zero_grad()
                loss_fn(self._forward(xs[idx]), ys[idx]).backward()
                opt.step()
                if deadline.expired():
                    break
            else:  # the epoch finished before the deadline: score it, then go on or stop
                epochs = epoch + 1
                if val is not None:
                    with torch.no_grad():
                        self.net_.eval()
                        loss = float(loss_fn(self._forward(val[0]), val[1]))
                    if loss < best_loss:
                        best_loss, best_epoch, stale = loss, epochs, 0
                        best_state = {k: v.detach().clone() for k, v in self.net_.state_dict().items()}
                    else:
                        stale += 1
                if stale < _PATIENCE and not deadline.expired():
                    continue
            break  # deadline mid-epoch, patience used up, or deadline after the epoch
        if best_state is not None:
            self.net_.load_state_dict(best_state)
        self.best_iteration_ = best_epoch if best_state is not None else max(epochs, 1)
        self.net_.eval()

    def _tensors(self, X, y, matrix=None):
        import torch

        matrix = self.encoder_.transform(dense_frame(X)) if matrix is None else matrix
        xs = torch.as_tensor(matrix, dtype=torch.float32)
        if y is None:
            return xs.to(self._torch_device)
        if self.task.is_classification:
            ys = torch.as_tensor(np.asarray(y), dtype=torch.long)
        else:
            ys = torch.as_tensor((np.asarray(y, dtype=float) - self.target_[0]) / self.target_[1], dtype=torch.float32)
        return xs.to(self._torch_device), ys.to(self._torch_device)

    def _forward(self, xs):
        out = self.net_(xs)
        return out if self.task.is_classification else out[:, 0]

    def _predict_raw(self, X):
        import torch

        with torch.no_grad():
            self.net_.eval()
            out = self._forward(self._tensors(X, None)).cpu().double()
        if self.task.is_classification:
            return torch.softmax(out, dim=1).numpy()
        return out.numpy() * self.target_[1] + self.target_[0]

    def _save(self, directory: Path):
        import torch

        save_skops(self.encoder_, directory / "encoder.skops")
        (directory / "network.json").write_text(json.dumps(self.arch_, indent=2))
        torch.save({k: v.cpu() for k, v in self.net_.state_dict().items()}, directory / "network.pt")

    def _load(self, directory: Path):
        import torch

        self._torch_device = "cuda" if self.device == "cuda" else "cpu"
        self.encoder_ = load_skops(directory / "encoder.skops")
        self.arch_ = json.loads((directory / "network.json").read_text())
        self.target_ = tuple(self.arch_["target"])
        self.net_ = _network(self.arch_)
        self.net_.load_state_dict(torch.load(directory / "network.pt", weights_only=True, map_location="cpu"))
        self.net_.to(self._torch_device).eval()


@functools.cache
def _warm_torch() -> None:
    """Import torch and take one tiny AdamW step, once per process: torch initialises its kernels
    lazily, which a short fold's deadline would otherwise pay (see Model.load_libraries)."""
    import torch

    net = _network({"n_in": 4, "n_out": 2, "hidden": 8, "layers": 1, "dropout": 0.1})
    opt = AdamW(net.parameters(), lr=1e-3, weight_decay=1e-5)
    x = torch.zeros(8, 4)
    loss = torch.nn.CrossEntropyLoss()(net(x), torch.zeros(8, dtype=torch.long))
    (loss + torch.nn.MSELoss()(net(x)[:, 0], torch.zeros(8))).backward()
    opt.step()
    with torch.no_grad():
        net.eval()
        torch.softmax(net(x), dim=1)


class AdamW:
    """torch.optim.AdamW's update (Loshchilov & Hutter), step for step as torch computes it on CPU.

    Why not torch.optim: constructing any of its optimisers imports torch._dynamo, 1.2 s once
    per process, an eighth of a 10 s fit for a handful of tensor operations per step."""

    def __init__(self, params, lr: float = 1e-3, weight_decay: float = 1e-2, betas=(0.9, 0.999), eps: float = 1e-8):
        import torch

        self.params = [p for p in params if p.requires_grad]
        self.lr, self.weight_decay, self.betas, self.eps = lr, weight_decay, betas, eps
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.steps = 0

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        import torch

        beta1, beta2 = self.betas
        self.steps += 1
        step_size = self.lr / (1 - beta1**self.steps)
        bias_correction2_sqrt = (1 - beta2**self.steps) ** 0.5
        with torch.no_grad():
            for p, exp_avg, exp_avg_sq in zip(self.params, self.exp_avg, self.exp_avg_sq, strict=True):
                if p.grad is None:
                    continue
                p.mul_(1 - self.lr * self.weight_decay)
                exp_avg.lerp_(p.grad, 1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                p.addcdiv_(exp_avg, (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(self.eps), value=-step_size)


def _network(arch: dict):
    import torch.nn as nn

    layers, width = [], arch["n_in"]
    for _ in range(arch["layers"]):
        layers += [nn.Linear(width, arch["hidden"]), nn.ReLU(), nn.Dropout(arch["dropout"])]
        width = arch["hidden"]
    layers.append(nn.Linear(width, arch["n_out"]))
    return nn.Sequential(*layers)
