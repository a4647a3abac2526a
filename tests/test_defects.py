"""The procedural defects dataset and the defect classifier (the judge and the downstream model)."""
import pytest
import torch

from gancourse.data.defects import CLASSES, Defects, make_defects
from gancourse.judges.defects import DefectClassifier, accuracy, augment, per_class_accuracy, train_classifier


@pytest.fixture(scope="module")
def small():
    return Defects(n_per_class=12, size=32, split="train", seed=0)


def test_shapes_ranges_and_label_order(small):
    assert len(small) == 48 and small.images.shape == (48, 1, 32, 32)
    assert small.images.min() >= -1 and small.images.max() <= 1
    assert torch.equal(small.labels, torch.arange(48) % 4)
    assert small.masks.min() >= 0 and small.masks.max() <= 1
    assert CLASSES == ("normal", "scratch", "spot", "crack")
    assert small.of_class("crack").shape == (12, 1, 32, 32)
    assert torch.equal(small.index_of_class("spot"), torch.arange(2, 48, 4))


def test_normal_samples_have_no_mask_and_equal_their_clean_crop(small):
    normal = small.labels == 0
    assert small.masks[normal].abs().max() == 0
    assert torch.equal(small.images[normal], small.clean[normal])


def test_every_defect_has_a_mask_and_changes_only_the_masked_pixels(small):
    defects = small.labels != 0
    area = small.masks[defects].flatten(1).gt(0.5).float().mean(1)
    assert (area > 0.003).all() and (area < 0.3).all(), "each defect covers some, not most, of the crop"
    outside = (small.masks == 0).expand_as(small.images)
    assert torch.equal(small.images[outside], small.clean[outside])
    inside = small.masks[defects] > 0.5
    assert (small.images[defects] - small.clean[defects]).abs()[inside].mean() > 0.2


def test_defect_classes_look_different_in_the_expected_direction(small):
    delta = {}
    for k, name in enumerate(CLASSES[1:], start=1):
        idx = small.labels == k
        inside = small.masks[idx] > 0.5
        delta[name] = float((small.images[idx] - small.clean[idx])[inside].mean())
    assert delta["scratch"] > 0.2, "scratches are lighter than the surface"
    assert delta["spot"] < -0.2 and delta["crack"] < -0.2, "spots and cracks are darker"


def test_deterministic_and_splits_differ():
    a = make_defects(4, 16, "train", seed=3)
    b = make_defects(4, 16, "train", seed=3)
    c = make_defects(4, 16, "test", seed=3)
    d = make_defects(4, 16, "train", seed=4)
    assert torch.equal(a["images"], b["images"]) and torch.equal(a["masks"], b["masks"])
    assert not torch.equal(a["images"], c["images"]) and not torch.equal(a["images"], d["images"])


@pytest.mark.parametrize("kwargs, error", [
    (dict(n_per_class=0), ValueError), (dict(size=30), ValueError), (dict(size=32.0), TypeError),
    (dict(split="val"), ValueError), (dict(seed=-1), ValueError),
])
def test_bad_arguments(kwargs, error):
    with pytest.raises(error):
        Defects(**({"n_per_class": 2} | kwargs))
    with pytest.raises(ValueError, match="name"):
        Defects(2, 16).of_class("dent")


def test_classifier_shapes_augment_and_bad_input():
    net = DefectClassifier(width=4)
    x = torch.rand(5, 1, 32, 32) * 2 - 1
    assert net(x).shape == (5, 4) and net.predict(x).shape == (5,)
    assert net(torch.rand(2, 1, 16, 16)).shape == (2, 4), "global pooling: any side >= 8"
    y = augment(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and y.abs().max() <= 1
    with pytest.raises(ValueError, match="8x8"):
        net(torch.rand(1, 1, 4, 4))
    with pytest.raises(ValueError, match="labels"):
        train_classifier(x, torch.zeros(4, dtype=torch.long), steps=1, progress=False)
    with pytest.raises(TypeError, match="augmentation"):
        train_classifier(x, torch.zeros(5, dtype=torch.long), steps=1, progress=False, augmentation="yes")
    a, _ = train_classifier(x, torch.arange(5) % 4, steps=2, progress=False, augmentation=False, width=4)
    assert a.predict(x).shape == (5,)
    with pytest.raises(ValueError, match="classes"):
        accuracy(net, x, torch.full((5,), 7))
    with pytest.raises(TypeError, match="classifier"):
        accuracy(torch.nn.Identity(), x, torch.zeros(5, dtype=torch.long))


def test_a_short_training_learns_the_easy_classes_and_per_class_accuracy_agrees(small):
    net, history = train_classifier(small.images, small.labels, steps=60, batch_size=32, width=8, seed=0,
                                    progress=False)
    assert history["cross_entropy"][-1] < history["cross_entropy"][0]
    acc = accuracy(net, small.images, small.labels)
    per = per_class_accuracy(net, small.images, small.labels)
    assert acc > 0.4
    assert float(per.mean()) == pytest.approx(acc, abs=1e-6), "balanced classes: mean of per-class = overall"


def test_paint_draws_new_defects_of_a_class_on_given_crops():
    from gancourse.data.defects import paint

    clean = Defects(4, 32, "test").clean[:4]
    a, ma = paint(clean, 3, seed=1)
    b, mb = paint(clean, 3, seed=2)
    assert a.shape == clean.shape and ma.shape == clean.shape and a.min() >= -1 and a.max() <= 1
    assert torch.equal(a, paint(clean, 3, seed=1)[0])                      # a seed, the same defects
    assert not torch.equal(ma, mb)                                          # another seed, others
    outside = (ma == 0).expand_as(a)
    assert torch.equal(a[outside], clean[outside])                          # only the defect's pixels move
    with pytest.raises(ValueError, match="kind"):
        paint(clean, 0)
