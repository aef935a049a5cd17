"""The MLP's own AdamW: the same update as torch.optim.AdamW, without its 1.2 s import of torch._dynamo."""

import subprocess
import sys

import pytest


def test_our_adamw_takes_the_same_steps_as_torchs():
    torch = pytest.importorskip("torch")
    from assay.models.mlp import AdamW, _network

    arch = {"n_in": 5, "n_out": 3, "hidden": 16, "layers": 2, "dropout": 0.0}
    torch.manual_seed(0)
    ours = _network(arch)
    theirs = _network(arch)
    theirs.load_state_dict(ours.state_dict())
    opts = [
        AdamW(ours.parameters(), lr=3e-3, weight_decay=1e-2),
        torch.optim.AdamW(theirs.parameters(), lr=3e-3, weight_decay=1e-2),
    ]
    x, y = torch.randn(64, 5), torch.randint(0, 3, (64,))
    for _ in range(25):
        for net, opt in zip((ours, theirs), opts, strict=True):
            opt.zero_grad()
            torch.nn.CrossEntropyLoss()(net(x), y).backward()
            opt.step()
    for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert torch.allclose(a, b, rtol=1e-6, atol=1e-7)


def test_warming_the_mlp_does_not_import_dynamo():
    pytest.importorskip("torch")
    code = "import sys; from assay.models.mlp import _warm_torch; _warm_torch(); print('torch._dynamo' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "False"
