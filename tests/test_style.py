"""Style transfer in miniature: Gram matrices, the frozen random network, the pixel optimisation, bad input."""
import pytest
import torch

from gancourse import style


def test_gram_matrix_matches_its_definition_and_ignores_positions():
    g = torch.Generator().manual_seed(0)
    f = torch.randn(2, 3, 4, 5, generator=g)
    want = torch.einsum("nchw,ndhw->ncd", f, f) / 20
    assert torch.allclose(style.gram_matrix(f), want, atol=1e-6)
    perm = torch.randperm(20, generator=g)
    shuffled = f.reshape(2, 3, 20)[:, :, perm].reshape(2, 3, 4, 5)
    assert torch.allclose(style.gram_matrix(shuffled), style.gram_matrix(f), atol=1e-6)
    assert torch.allclose(style.gram_matrix(f), style.gram_matrix(f).transpose(1, 2))


def test_random_features_are_frozen_and_fixed_by_the_seed():
    a, b, c = style.RandomFeatures(seed=1), style.RandomFeatures(seed=1), style.RandomFeatures(seed=2)
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    fa, fb, fc = a(x), b(x), c(x)
    assert [f.shape for f in fa] == [(2, 32, 8, 8), (2, 64, 4, 4), (2, 128, 4, 4)]
    assert all(torch.equal(p, q) for p, q in zip(fa, fb)) and not torch.equal(fa[0], fc[0])
    assert not any(p.requires_grad for p in a.parameters())


def test_style_transfer_lowers_the_style_loss_and_stays_in_range():
    g = torch.Generator().manual_seed(0)
    content = torch.rand(2, 3, 16, 16, generator=g) * 0.2 - 0.1          # flat grey
    stripes = torch.arange(16).float().view(1, 1, 1, 16).expand(1, 3, 16, 16)
    style_img = torch.where(stripes % 4 < 2, 0.9, -0.9)
    x, history = style.style_transfer(content, style_img, steps=40, net=style.RandomFeatures(widths=(8, 16)))
    assert x.shape == content.shape and float(x.abs().max()) <= 1
    assert history["style"][-1] < 0.5 * history["style"][0]
    assert len(history["content"]) == 40


def test_bad_input():
    x = torch.zeros(2, 3, 8, 8)
    with pytest.raises(ValueError, match="dimensions"):
        style.gram_matrix(torch.zeros(3, 8, 8))
    with pytest.raises(TypeError, match="widths"):
        style.RandomFeatures(widths=8)
    with pytest.raises(ValueError, match="style: expected 1 or 2 images"):
        style.style_transfer(x, torch.zeros(3, 3, 8, 8), steps=1)
    with pytest.raises(ValueError, match="steps"):
        style.style_transfer(x, x, steps=0)
    with pytest.raises(TypeError, match="net"):
        style.style_transfer(x, x, steps=1, net=torch.nn.Identity())
