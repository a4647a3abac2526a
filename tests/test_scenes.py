"""The procedural scenes: shapes, ranges, determinism, splits, class content, helpers, bad input."""
import time

import pytest
import torch

from gancourse import data
from gancourse.data import scenes


@pytest.fixture(scope="module")
def small():
    return scenes.Scenes(n=200, size=32, split="train", seed=0)


def test_maps_and_images_have_the_documented_shapes_and_ranges(small):
    assert small.maps.shape == (200, 32, 32) and small.maps.dtype == torch.int64
    assert small.images.shape == (200, 3, 32, 32) and small.images.dtype == torch.float32
    assert int(small.maps.min()) >= 0 and int(small.maps.max()) < len(scenes.CLASSES)
    assert float(small.images.min()) >= -1 and float(small.images.max()) <= 1
    label_map, image = small[3]
    assert label_map.shape == (32, 32) and image.shape == (3, 32, 32)


def test_same_seed_same_scenes_other_seed_or_split_other_scenes():
    a_maps, a_img = scenes.make_scenes(50, 32, "train", seed=1)
    b_maps, b_img = scenes.make_scenes(50, 32, "train", seed=1)
    assert torch.equal(a_maps, b_maps) and torch.equal(a_img, b_img)
    c_maps, _ = scenes.make_scenes(50, 32, "train", seed=2)
    d_maps, _ = scenes.make_scenes(50, 32, "test", seed=1)
    assert not torch.equal(a_maps, c_maps) and not torch.equal(a_maps, d_maps)


def test_every_class_is_common_and_sky_sits_above_ground(small):
    freq = scenes.class_frequencies(small.maps)
    assert freq.sum().item() == pytest.approx(1.0, abs=1e-5)
    assert (freq > 0.02).all(), f"every class should cover at least 2% of the pixels, got {freq.tolist()}"
    present = torch.stack([(small.maps == k).flatten(1).any(1) for k in range(5)], 1).float().mean(0)
    assert (present > 0.3).all(), f"every class should appear in many scenes, got {present.tolist()}"
    sky_rows = (small.maps == scenes.SKY).float().mean((0, 2))
    assert sky_rows[0] > 0.9 and sky_rows[-1] == 0, "the top rows are sky, the bottom row never is"


def test_the_64_and_32_pixel_scenes_are_the_same_scenes():
    m64, x64 = scenes.make_scenes(20, 64, seed=3)
    m32, x32 = scenes.make_scenes(20, 32, seed=3)
    assert torch.allclose(torch.nn.functional.avg_pool2d(x64, 2), x32, atol=1e-6)
    agree = (m64[:, ::2, ::2] == m32).float().mean()     # label maps rasterised at each size
    assert agree > 0.9


def test_a_map_does_not_fix_its_image():
    """The renderer has its own randomness: the same layout class by class gets different colours,
    textures and noise, so pixels of one class vary a lot across images."""
    maps, images = scenes.make_scenes(300, 32, seed=0)
    ground = (maps == scenes.GROUND).unsqueeze(1).expand_as(images)
    per_image_mean = (images * ground).sum((2, 3)) / ground.sum((2, 3)).clamp(min=1)   # (N, 3)
    assert per_image_mean.std(0).min() > 0.05, "the ground colour should vary between scenes"
    # and within one image the ground is textured, not flat
    gray = images.mean(1)
    inside = maps == scenes.GROUND
    assert gray[inside].std() > 0.1


def test_render_variants_share_the_map_and_differ_in_the_image():
    maps, images = scenes.make_scenes(30, 32, seed=4)
    v_maps, variants = scenes.render_variants(30, 3, 32, seed=4)
    assert variants.shape == (3, 30, 3, 32, 32)
    assert torch.equal(v_maps, maps) and torch.equal(variants[0], images)
    assert (variants[1] - variants[0]).abs().mean() > 0.05
    with pytest.raises(ValueError, match="k"):
        scenes.render_variants(5, 0)


def test_textures_of_train_and_test_come_from_different_rows():
    train = scenes._textures("train")
    test = scenes._textures("test")
    for name in train:
        assert train[name].shape[0] == 3 * (train[name].shape[0] + test[name].shape[0]) // 4


def test_one_hot_and_colorize():
    maps = torch.tensor([[[0, 1], [4, 2]]])
    oh = scenes.one_hot(maps)
    assert oh.shape == (1, 5, 2, 2) and torch.equal(oh.sum(1), torch.ones(1, 2, 2))
    assert torch.equal(oh.argmax(1), maps)
    rgb = scenes.colorize(maps)
    assert rgb.shape == (1, 3, 2, 2) and float(rgb.min()) >= -1 and float(rgb.max()) <= 1
    assert torch.allclose((rgb[0, :, 0, 0] + 1) / 2, scenes.PALETTE[0])


def test_registered_with_load_dataset():
    ds = data.load_dataset("scenes", n=10, size=16)
    assert isinstance(ds, scenes.Scenes) and ds.maps.shape == (10, 16, 16)
    assert "scenes" in data.dataset_names()


def test_thousands_of_scenes_in_seconds():
    t0 = time.process_time()
    scenes.make_scenes(1000, 32)
    assert time.process_time() - t0 < 10, "1,000 scenes should take a few seconds of CPU time"


def test_batches_give_map_image_pairs(small):
    maps, images = next(data.batches(small, 8))
    assert maps.shape == (8, 32, 32) and images.shape == (8, 3, 32, 32)


@pytest.mark.parametrize("kwargs, error", [
    ({"n": 0}, ValueError), ({"n": 2.5}, TypeError), ({"size": 48}, ValueError), ({"size": "32"}, TypeError),
    ({"split": "valid"}, ValueError), ({"seed": -1}, ValueError),
])
def test_bad_arguments_are_refused(kwargs, error):
    args = {"n": 4, "size": 32, "split": "train", "seed": 0} | kwargs
    with pytest.raises(error, match=next(iter(kwargs))):
        scenes.make_scenes(**args)


def test_helpers_refuse_bad_maps():
    with pytest.raises(TypeError, match="maps"):
        scenes.one_hot(torch.zeros(2, 4, 4))            # float, not class indices
    with pytest.raises(ValueError, match="maps"):
        scenes.one_hot(torch.zeros(4, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="maps"):
        scenes.one_hot(torch.full((1, 4, 4), 7))
    with pytest.raises(ValueError, match="maps"):
        scenes.colorize(torch.full((1, 2, 2), -1))


def test_instances_and_boundary_map():
    labels, inst = scenes.make_instances(64, 32, "test", seed=0)
    assert torch.equal(labels, scenes.make_scenes(64, 32, "test", seed=0)[0])
    assert inst.min() >= 0 and inst.max() <= 7
    b = scenes.boundary_map(torch.tensor([[[1, 1, 2], [1, 1, 2], [3, 3, 3]]]))
    assert b.shape == (1, 1, 3, 3)
    assert b[0, 0].tolist() == [[0, 1, 1], [1, 1, 1], [1, 1, 1]]
    assert scenes.boundary_map(torch.zeros(2, 5, 5, dtype=torch.long)).sum() == 0
    with pytest.raises(ValueError, match="instances"):
        scenes.boundary_map(torch.zeros(5, 5, dtype=torch.long))
