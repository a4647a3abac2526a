"""The procedural shapes: shapes, ranges, labels, masks, determinism, unpaired domains, bad input;
the foreground estimate and the judges of translated shapes (gancourse.judges.shapes)."""
import pytest
import torch

from gancourse import data, metrics
from gancourse.judges import shapes as E
from gancourse.data import shapes as S


@pytest.fixture(scope="module")
def ds():
    return S.Shapes(n=600, size=32, split="train", seed=0)


def test_images_labels_masks_have_the_documented_shapes_and_ranges(ds):
    assert ds.images.shape == (600, 3, 32, 32) and ds.images.dtype == torch.float32
    assert float(ds.images.min()) >= -1 and float(ds.images.max()) <= 1
    assert ds.attributes.shape == (600, 5) and ds.attributes.dtype == torch.int64
    assert ds.masks.shape == (600, 1, 32, 32) and ds.masks.dtype == torch.bool
    for k, n in enumerate(S.N_VALUES):
        assert int(ds.attributes[:, k].min()) == 0 and int(ds.attributes[:, k].max()) == n - 1
    assert torch.equal(ds.labels, ds.attribute("shape"))
    image, label = ds[5]
    assert image.shape == (3, 32, 32) and int(label) == int(ds.attributes[5, 0])
    assert data.load_dataset("shapes", n=10).images.shape == (10, 3, 32, 32)
    assert S.Shapes(n=8, size=64).images.shape == (8, 3, 64, 64)


def test_every_attribute_value_is_common(ds):
    for k, n in enumerate(S.N_VALUES):
        share = torch.bincount(ds.attributes[:, k], minlength=n).float() / len(ds)
        assert (share > 0.5 / n).all(), f"{S.ATTRIBUTES[k]} values are not balanced: {share.tolist()}"


def test_attributes_are_what_the_pixels_show(ds):
    fg = ds.masks.expand_as(ds.images)
    mean_fg = (((ds.images + 1) / 2) * fg).sum((2, 3)) / fg.sum((2, 3))          # (N, 3) in [0, 1]
    solid = ds.attribute("fill") == 0
    colour = ds.attribute("color")
    # a solid shape has its colour (up to the jitter of +-0.06 and anti-aliased edges)
    err = (mean_fg[solid] - S.COLORS[colour[solid]]).abs().max(1).values
    assert err.max() < 0.15
    # striped shapes are darker than solid ones of the same colour: their dark bands
    for c in range(4):
        assert mean_fg[~solid & (colour == c)].mean() < mean_fg[solid & (colour == c)].mean() - 0.1
    # large shapes cover more pixels than small ones; all shapes stay off the border
    area = ds.masks.flatten(1).sum(1).float()
    assert area[ds.attribute("size") == 1].min() > area[ds.attribute("size") == 0].median()
    assert not ds.masks[:, :, 0].any() and not ds.masks[:, :, -1].any()
    # the background colour is the background label's
    corner = (ds.images[:, :, :2, :2].mean((2, 3)) + 1) / 2
    assert ((corner - S.BACKGROUNDS[ds.attribute("background")]).abs().max(1).values < 0.1).all()


def test_deterministic_prefix_stable_and_seeds_splits_streams_differ():
    a = S.make_shapes(300, seed=1)
    b = S.make_shapes(300, seed=1)
    assert all(torch.equal(x, y) for x, y in zip(a[:3], b[:3]))
    short = S.make_shapes(40, seed=1)
    assert torch.equal(short[0], a[0][:40]) and torch.equal(short[1], a[1][:40]), "image i must not depend on n"
    assert not torch.equal(S.make_shapes(40, seed=2)[1], short[1])
    assert not torch.equal(S.make_shapes(40, split="test", seed=1)[1], short[1])


def test_fixed_attributes_and_unpaired_domains():
    X, Y = S.cyclegan_domains(n=300)
    assert (X.attribute("fill") == 0).all() and (Y.attribute("fill") == 1).all()
    assert (X.labels == 0).all() and (Y.labels == 1).all()
    # unpaired: no image of X has a twin in Y (same shape, colour, size, background and position)
    keys = lambda d: torch.cat([d.attributes[:, [0, 1, 3, 4]].float(), d.params["cx"][:, None], d.params["cy"][:, None]], 1)
    kx, ky = keys(X), keys(Y)
    same_labels = (kx[:, None, :4] == ky[None, :, :4]).all(2)
    dist = (kx[:, None, 4:] - ky[None, :, 4:]).abs().sum(2)
    assert not (same_labels & (dist < 1e-3)).any()
    # ... and the other attributes are independent of the index: X[i] and Y[i] agree only by chance
    agree = (X.attribute("color") == Y.attribute("color")).float().mean()
    assert 0.1 < agree < 0.4
    # a fixed attribute by name or index gives the same images
    assert torch.equal(S.make_shapes(20, fixed={"fill": "striped"})[0], S.make_shapes(20, fixed={"fill": 1})[0])


def test_foreground_estimate_matches_the_true_masks(ds):
    iou = metrics.mask_iou(ds.masks, S.foreground_mask(ds.images))
    assert iou.mean() > 0.97 and iou.min() > 0.8


def test_mask_iou():
    a = torch.zeros(3, 1, 4, 4, dtype=torch.bool)
    b = a.clone()
    a[0, 0, :2] = True
    b[0, 0, 1:3] = True                       # 4 shared pixels of 12
    a[1, 0, 0, 0] = True                      # nothing shared
    iou = metrics.mask_iou(a, b)
    assert iou.tolist() == pytest.approx([4 / 12, 0.0, 1.0])   # two empty masks agree
    with pytest.raises(TypeError, match="bool"):
        metrics.mask_iou(a.float(), b)
    with pytest.raises(ValueError, match="same shape"):
        metrics.mask_iou(a, b[:2])


def test_outline_iou_and_color_shift_on_known_changes(ds):
    x, m = ds.images[:50], ds.masks[:50]
    assert E.outline_iou(m, x).mean() > 0.97
    shifted = torch.roll(x, shifts=4, dims=3)                 # the outline moves 4 pixels
    assert E.outline_iou(m, shifted).mean() < 0.75
    assert E.color_shift(x, x, m).max() == 0
    tinted = (x + torch.tensor([0.2, 0.0, -0.2]).view(1, 3, 1, 1)).clamp(-1, 1)
    shift = E.color_shift(x, tinted, m)                       # +0.1 and -0.1 in [0, 1] units, unless clipped
    assert 0.04 < shift.mean() <= 0.2 / 3 + 1e-6


def test_classifier_shapes_and_per_value_accuracy(ds):
    torch.manual_seed(0)
    clf = E.AttributeClassifier()
    out = clf(ds.images[:4])
    assert out.shape == (4, sum(S.N_VALUES))
    assert clf.logits(out, "color").shape == (4, 4)
    assert clf.predict(ds.images[:4]).shape == (4, 5)
    assert clf.predict(S.Shapes(n=2, size=64).images).shape == (2, 5)     # 64 px are resized
    acc = E.per_value_accuracy(clf, ds.images[:30], "fill", ds.attribute("fill")[:30])
    pred = clf.predict(ds.images[:30])[:, 2]
    for v in range(2):
        sel = ds.attribute("fill")[:30] == v
        assert acc[v].item() == pytest.approx((pred[sel] == v).float().mean().item())


def test_augment_keeps_the_range_and_the_shape(ds):
    g = torch.Generator().manual_seed(0)
    x = E.augment(ds.images[:8], g)
    assert x.shape == (8, 3, 32, 32) and float(x.min()) >= -1 and float(x.max()) <= 1
    assert not torch.equal(x, ds.images[:8])


def test_shipped_classifier_reads_test_shapes():
    clf = E.attribute_classifier()
    test = S.Shapes(n=300, split="test")
    pred = clf.predict(test.images)
    acc = (pred == test.attributes).float().mean(0)
    assert (acc > 0.97).all(), f"per-attribute accuracy {acc.tolist()}"


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(n=0), ValueError, "n: expected an int >= 1"),
    (dict(n=5, size=48), ValueError, "size: expected one of"),
    (dict(n=5, size=32.0), TypeError, "size: expected an int"),
    (dict(n=5, split="all"), ValueError, "split"),
    (dict(n=5, seed=-1), ValueError, "seed"),
    (dict(n=5, fixed={"hue": 1}), ValueError, "unknown attribute"),
    (dict(n=5, fixed={"fill": "dotted"}), ValueError, "unknown value"),
    (dict(n=5, fixed={"shape": 3}), ValueError, "index in"),
    (dict(n=5, fixed=["fill"]), TypeError, "fixed: expected a dict"),
])
def test_bad_input(kwargs, err, match):
    with pytest.raises(err, match=match):
        S.make_shapes(**kwargs)


def test_bad_input_elsewhere(ds):
    with pytest.raises(ValueError, match="target"):
        S.Shapes(n=5, target="hue")
    with pytest.raises(ValueError, match="two different values"):
        S.cyclegan_domains(n=5, values=("solid", 0))
    with pytest.raises(TypeError, match="values"):
        S.cyclegan_domains(n=5, values=("solid",))
    with pytest.raises(ValueError, match="channel"):
        S.foreground_mask(torch.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match="threshold"):
        S.foreground_mask(ds.images[:2], threshold=0)
    with pytest.raises(ValueError, match="masks and translations"):
        E.outline_iou(ds.masks[:3], ds.images[:2])
    with pytest.raises(ValueError, match="inputs, outputs, masks"):
        E.color_shift(ds.images[:3], ds.images[:2], ds.masks[:3])
    with pytest.raises(ValueError, match="targets: expected values"):
        E.per_value_accuracy(E.AttributeClassifier(), ds.images[:2], "fill", torch.tensor([0, 5]))
    with pytest.raises(TypeError, match="classifier"):
        E.attribute_accuracy(object(), ds.images[:2], "fill", torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="attribute"):
        E.AttributeClassifier.logits(torch.zeros(2, 14), "hue")
    with pytest.raises(ValueError, match="multiple of 8"):
        E.AttributeClassifier(size=20)
