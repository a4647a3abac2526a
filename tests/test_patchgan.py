"""PatchGAN: the 70x70 receptive field (formula and measured by autograd), map sizes, options, bad input."""
import pytest
import torch

from gancourse.nn.patchgan import PatchDiscriminator, output_size, receptive_field


def test_the_standard_three_layer_patchgan_sees_70x70_patches():
    assert receptive_field(3) == 70
    D = PatchDiscriminator(in_channels=6, base=64, n_layers=3)
    assert receptive_field(D) == 70 and D.receptive_field == 70
    with torch.no_grad():
        scores = D(torch.randn(1, 6, 256, 256))
    assert scores.shape == (1, 1, 30, 30) and output_size(3, 256) == 30


def test_parameter_count_matches_the_reference_pix2pix_discriminator():
    # the reference code prints "[Network D] Total number of parameters : 2.769 M" for pix2pix
    D = PatchDiscriminator(in_channels=6, base=64, n_layers=3, norm="batch")
    assert round(sum(p.numel() for p in D.parameters()) / 1e6, 3) == 2.769


@pytest.mark.parametrize("n_layers, expected", [(1, 16), (2, 34), (3, 70), (4, 142)])
def test_receptive_field_formula_agrees_with_the_measured_gradient_support(n_layers, expected):
    torch.manual_seed(0)
    D = PatchDiscriminator(in_channels=1, base=4, n_layers=n_layers, norm="none")
    size = 160
    x = torch.randn(1, 1, size, size, requires_grad=True)
    scores = D(x)
    h = scores.shape[-1] // 2
    scores[0, 0, h, h].backward()
    rows = (x.grad[0, 0].abs().sum(1) > 0).nonzero()
    measured = int(rows.max() - rows.min() + 1)
    assert receptive_field(n_layers) == expected == measured


def test_receptive_field_of_any_sequence_of_convolutions():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.Conv2d(2, 2, 3, stride=2),
                              torch.nn.Conv2d(2, 1, 5))
    assert receptive_field(net) == 3 + 2 + 2 * 4       # r: 1 -> 5 -> 13 -> 15
    with pytest.raises(ValueError, match="no nn.Conv2d"):
        receptive_field(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="model_or_layers"):
        receptive_field("three")
    with pytest.raises(ValueError, match="n_layers"):
        receptive_field(0)


@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
def test_norm_choices_spectral_norm_features_and_classifier_head(norm):
    D = PatchDiscriminator(in_channels=3, base=8, n_layers=2, norm=norm, spectral_norm=norm == "none", n_classes=4)
    x = torch.randn(2, 3, 32, 32)
    scores, classes, features = D(x, return_features=True)
    assert scores.shape == (2, 1, output_size(2, 32), output_size(2, 32))
    assert classes.shape == (2, 4)
    assert len(features) == 3 and features[-1].shape[1] == 8 * 4
    assert D(x)[0].shape == scores.shape               # without features: (scores, classes)
    if norm == "none":
        assert any("parametrizations" in name for name, _ in D.named_parameters())
    plain = PatchDiscriminator(in_channels=3, base=8, n_layers=2, norm=norm)
    assert isinstance(plain(x), torch.Tensor)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="norm"):
        PatchDiscriminator(norm="layer")
    with pytest.raises(ValueError, match="n_layers"):
        PatchDiscriminator(n_layers=0)
    with pytest.raises(TypeError, match="spectral_norm"):
        PatchDiscriminator(spectral_norm="yes")
    D = PatchDiscriminator(in_channels=3, base=4, n_layers=1)
    with pytest.raises(ValueError, match="3 channel"):
        D(torch.randn(1, 4, 32, 32))
    with pytest.raises(ValueError, match="too small"):
        output_size(3, 8)
