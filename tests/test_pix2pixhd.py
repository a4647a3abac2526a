"""pix2pixHD's coarse-to-fine generator: shapes, how G1 and G2 are joined, the training schedule
(G1 fixed in stage 2, trained in stage 3), the boundary channel, and the input checks."""
import pytest
import torch

from gancourse.data import scenes
from gancourse.models import pix2pixhd as hd


def _small(**kw):
    return hd.Pix2PixHDConfig(size=32, ngf=8, ndf=8, n_down=1, n_blocks=1, local_blocks=1, num_D=1, batch_size=4, **kw)


def test_shapes_and_the_sum_of_features():
    cfg = _small()
    G1 = hd.GlobalGenerator(cfg.in_channels, 3, cfg.ngf, cfg.n_down, cfg.n_blocks)
    G = hd.CoarseToFineGenerator(G1, cfg.local_blocks)
    m = torch.rand(2, 5, 32, 32)
    assert G(m).shape == (2, 3, 32, 32) and G(m).abs().max() <= 1
    assert G.coarse(m).shape == (2, 3, 16, 16)
    # G2's front-end output and G1's features have one shape, and G's output is G2's back-end of their sum
    f1, f2 = G1.features(hd.downsample(m)), G.G2.front(m)
    assert f1.shape == f2.shape == (2, cfg.ngf, 16, 16)
    assert torch.allclose(G(m), G.G2.back(f1 + f2))
    # G1 really contributes: changing G1's weights changes G's output
    before = G(m)
    with torch.no_grad():
        G1.body[0][-1].weight.add_(0.5)
    assert not torch.allclose(before, G(m))


def test_schedule_keeps_G1_fixed_in_stage_2_and_trains_it_in_stage_3():
    maps, images = scenes.make_scenes(16, 32, "train", seed=0)
    x = hd.generator_inputs(maps)
    cfg = _small(global_steps=3, local_steps=3, joint_steps=0)
    torch.manual_seed(0)
    G, hist = hd.train(cfg, x, images, progress=False)
    assert set(hist) == {"global", "local", "joint"}
    # rerun the same seed to stage 1 only: G1 must be what stage 1 left, untouched by stage 2
    G1_only, _ = hd.train(hd.Pix2PixHDConfig(**{**cfg.__dict__, "local_steps": 0}), x, images, progress=False)
    for a, b in zip(G.G1.state_dict().values(), G1_only.G1.state_dict().values()):
        assert torch.equal(a, b)
    G_joint, _ = hd.train(hd.Pix2PixHDConfig(**{**cfg.__dict__, "joint_steps": 2}), x, images, progress=False)
    assert any(not torch.equal(a, b) for a, b in zip(G_joint.G1.state_dict().values(), G1_only.G1.state_dict().values()))
    assert not G.training and all(p.requires_grad for p in G.parameters())


def test_single_generator_ablation_and_synthesize():
    maps, images = scenes.make_scenes(8, 32, "train", seed=0)
    cfg = _small(global_steps=1, local_steps=1, joint_steps=1)
    G, hist = hd.train(cfg, hd.generator_inputs(maps), images, stages=("single",), progress=False)
    assert isinstance(G, hd.GlobalGenerator) and list(hist) == ["single"] and len(hist["single"]["step"]) >= 1
    assert hd.synthesize(G, hd.generator_inputs(maps[:3])).shape == (3, 3, 32, 32)


def test_boundary_channel():
    labels, instances = scenes.make_instances(6, 32, "train", seed=0)
    x = hd.generator_inputs(labels, instances)
    assert x.shape == (6, 6, 32, 32)
    assert torch.equal(x[:, 5:], scenes.boundary_map(instances))
    assert hd.Pix2PixHDConfig(boundary=True).in_channels == 6
    with pytest.raises(ValueError, match="instances: expected one instance map per label map"):
        hd.generator_inputs(labels, instances[:3])


def test_bad_input():
    with pytest.raises(ValueError, match="size: expected a multiple of 2\\^\\(n_down \\+ 1\\) = 8"):
        hd.Pix2PixHDConfig(size=36)
    with pytest.raises(ValueError, match="ngf: expected an even width"):
        hd.Pix2PixHDConfig(ngf=15)
    with pytest.raises(TypeError, match="boundary: expected True or False"):
        hd.Pix2PixHDConfig(boundary="yes")
    with pytest.raises(TypeError, match="cfg: expected a Pix2PixHDConfig"):
        hd.train({}, torch.zeros(2, 5, 64, 64), torch.zeros(2, 3, 64, 64))
    with pytest.raises(ValueError, match="inputs and images: expected N pairs of 64x64"):
        hd.train(hd.Pix2PixHDConfig(), torch.zeros(2, 5, 32, 32), torch.zeros(2, 3, 32, 32))
    with pytest.raises(ValueError, match="stages: expected"):
        hd.train(hd.Pix2PixHDConfig(), torch.zeros(2, 5, 64, 64), torch.zeros(2, 3, 64, 64), stages=("local",))
    with pytest.raises(ValueError, match="m: expected 5 channel"):
        hd.CoarseToFineGenerator(hd.GlobalGenerator(5)).forward(torch.zeros(1, 3, 64, 64))
    with pytest.raises(TypeError, match="G1: expected a GlobalGenerator"):
        hd.CoarseToFineGenerator(torch.nn.Conv2d(5, 3, 1))
    with pytest.raises(TypeError, match="G: expected a GlobalGenerator or a CoarseToFineGenerator"):
        hd.synthesize(torch.nn.Conv2d(5, 3, 1), torch.zeros(1, 5, 8, 8))
    model = hd.Pix2PixHDModel(hd.GlobalGenerator(5), hd.Pix2PixHDConfig())
    with pytest.raises(ValueError, match="maps: expected 5 channel"):
        model.set_input(torch.zeros(2, 3, 32, 32), torch.zeros(2, 3, 32, 32))
    with pytest.raises(ValueError, match="maps and images: expected pairs of the same batch and image size"):
        model.set_input(torch.zeros(2, 5, 32, 32), torch.zeros(3, 3, 32, 32))
    with pytest.raises(TypeError, match="cfg: expected a Pix2PixHDConfig"):
        hd.Pix2PixHDModel(hd.GlobalGenerator(5), {})


def test_stages_in_two_calls_and_their_checks():
    maps, images = scenes.make_scenes(8, 32, "train", seed=0)
    x = hd.generator_inputs(maps)
    cfg = _small(global_steps=2, local_steps=1, joint_steps=1)
    G1, hist = hd.train(cfg, x, images, stages=("global",), progress=False)
    assert isinstance(G1, hd.GlobalGenerator) and list(hist) == ["global"]
    G, hist = hd.train(cfg, x, images, stages=("local", "joint"), G1=G1, progress=False)
    assert isinstance(G, hd.CoarseToFineGenerator) and G.G1 is G1 and list(hist) == ["local", "joint"]
    with pytest.raises(ValueError, match="G1: expected a trained GlobalGenerator exactly when"):
        hd.train(cfg, x, images, stages=("local", "joint"), progress=False)
    with pytest.raises(ValueError, match="G1: expected a trained GlobalGenerator exactly when"):
        hd.train(cfg, x, images, G1=G1, progress=False)
    with pytest.raises(TypeError, match="G1: expected a GlobalGenerator"):
        hd.train(cfg, x, images, stages=("local", "joint"), G1=torch.nn.Conv2d(5, 3, 1), progress=False)
