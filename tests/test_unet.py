"""U-Net: depth from the image size, shapes, skip connections, the reference size, bad input."""
import pytest
import torch

from gancourse.nn.norm import norm_layer
from gancourse.nn.unet import UNet, unet_depth


@pytest.mark.parametrize("size", [8, 16, 32, 64])
def test_depth_follows_the_image_size_and_output_matches_input(size):
    G = UNet(in_channels=5, out_channels=3, size=size, base=4, norm="instance" if size > 8 else "batch")
    assert G.depth == unet_depth(size) == {8: 3, 16: 4, 32: 5, 64: 6}[size]
    y = G(torch.randn(2, 5, size, size))
    assert y.shape == (2, 3, size, size) and y.abs().max() <= 1      # tanh output


def test_the_paper_size_has_eight_downsamplings_and_the_reference_parameter_count():
    G = UNet(3, 3, size=256, base=64)
    assert G.depth == 8
    # the reference code prints "[Network G] Total number of parameters : 54.414 M" for unet_256
    assert round(sum(p.numel() for p in G.parameters()) / 1e6, 3) == 54.414


def test_widths_double_up_to_the_cap():
    widths = lambda G: [down[0].out_channels for down in G.down]
    assert widths(UNet(3, 3, size=64, base=8)) == [8, 16, 32, 64, 64, 64]
    assert widths(UNet(3, 3, size=64, base=8, max_mult=2)) == [8, 16, 16, 16, 16, 16]


def test_skip_connections_carry_the_input_around_the_bottleneck():
    """With the bottleneck's output zeroed, a U-Net still depends on its input (through the skips)."""
    torch.manual_seed(0)
    G = UNet(1, 1, size=16, base=4, norm="none", dropout=0.0).eval()
    G.up[0][0].weight.data.zero_()          # the innermost decoder layer now ignores the bottleneck
    G.up[0][0].bias.data.zero_() if G.up[0][0].bias is not None else None
    x = torch.randn(1, 1, 16, 16, requires_grad=True)
    G(x).sum().backward()
    assert x.grad.abs().sum() > 0


def test_dropout_on_the_innermost_decoder_layers_only():
    G = UNet(3, 3, size=32, base=4, dropout=0.5, n_dropout=3)
    with_dropout = [k for k, up in enumerate(G.up) if any(isinstance(m, torch.nn.Dropout) for m in up)]
    assert with_dropout == [0, 1, 2]
    assert not any(isinstance(m, torch.nn.Dropout) for m in UNet(3, 3, size=32, base=4, dropout=0.0).modules())


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="power of 2"):
        UNet(size=48)
    with pytest.raises(ValueError, match="depth"):
        UNet(size=32, depth=6)
    with pytest.raises(ValueError, match="dropout"):
        UNet(size=32, dropout=1.5)
    with pytest.raises(ValueError, match="norm"):
        norm_layer("group", 4)
    G = UNet(3, 3, size=32, base=4)
    with pytest.raises(ValueError, match="3 channel"):
        G(torch.randn(1, 1, 32, 32))
    with pytest.raises(ValueError, match="divisible"):
        G(torch.randn(1, 3, 40, 40))
