"""RepViT-SAM's structural re-parameterisation (models/repvit.py `fuse`) on random weights.

The parity test checks the fused encoder against the official outputs on one image; this one checks the fold
itself on weights where every BatchNorm does something (the constructors leave BN as the identity and zero the
residual-closing BN weights, which would make most of the fold trivially right).
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from models.repvit import build_repvit_m23_encoder

# Any side divisible by 16 works (stride-16 output, global-mean squeeze-excitation); 128 keeps this fast and still
# leaves an 8x8 map, so the 3x3 kernels see borders and interiors.
SIDE = 128
TOLERANCE = 1e-4  # relative: max abs difference / max abs reference, as in tests/test_parity.py


def randomise_batchnorms(model: nn.Module, seed: int = 0) -> None:
    """Random affine parameters and running statistics, with gains of order 1 so that 54 blocks stay finite.

    Variances go down to 1e-3 so that BatchNorm's eps (1e-5) visibly matters: a fold that forgot it fails.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
            n = bn.num_features
            var = 10.0 ** (-3 * torch.rand(n, generator=gen))
            bn.running_var.copy_(var)
            bn.weight.copy_(var.sqrt() * (0.5 + torch.rand(n, generator=gen)))  # gain weight/std in [0.5, 1.5)
            bn.bias.copy_(0.1 * torch.randn(n, generator=gen))
            bn.running_mean.copy_(0.1 * torch.randn(n, generator=gen))


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # A 128x128 forward gains nothing from threads, and on a busy shared CPU two OpenMP threads waiting on each
    # other made it 10-50x slower (0.3 s -> 4-17 s).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def encoders():
    torch.manual_seed(0)
    encoder = build_repvit_m23_encoder()
    randomise_batchnorms(encoder)
    encoder.eval()
    return encoder, encoder.fuse()


def test_fused_encoder_computes_the_same(encoders):
    encoder, fused = encoders
    x = torch.randn(1, 3, SIDE, SIDE, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        expected, got = encoder(x), fused(x)
    assert got.shape == expected.shape == (1, 256, SIDE // 16, SIDE // 16)
    error = ((got - expected).abs().max() / expected.abs().max()).item()
    assert error <= TOLERANCE, error


def test_fused_encoder_has_no_batchnorm_and_fewer_tensors(encoders):
    encoder, fused = encoders
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in encoder.modules())  # fuse returned a copy
    assert len(list(fused.parameters())) < len(list(encoder.parameters()))
    assert len(fused.state_dict()) < len(encoder.state_dict())
    assert fused.img_size == encoder.img_size == 1024
    # The neck is not re-parameterised: its LayerNorm2d normalises with statistics of the input.
    assert fused.neck.state_dict().keys() == encoder.neck.state_dict().keys()


def test_fusing_twice_changes_nothing(encoders):
    _, fused = encoders
    again = fused.fuse()
    assert again.state_dict().keys() == fused.state_dict().keys()
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(), fused.state_dict().values()))
