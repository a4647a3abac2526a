"""The digit classifier: layout, input handling, augmentation, recipe registration."""
import pytest
import torch

from gancourse import judges, pretrained, recipes


def test_classifier_accepts_16_28_and_32_pixel_digits_and_returns_logits_and_features():
    net = judges.digits.DigitClassifier(size=16, width=8, features=12).eval()
    for side in (16, 28, 32):
        x = torch.rand(3, 1, side, side) * 2 - 1
        assert net(x).shape == (3, 10) and net.features(x).shape == (3, 12)
    p = net.predict(torch.zeros(5, 1, 16, 16))
    assert torch.allclose(p.sum(1), torch.ones(5))


def test_classifier_bad_sizes():
    with pytest.raises(ValueError, match="size: expected a multiple of 4"):
        judges.digits.DigitClassifier(size=18)
    with pytest.raises(ValueError, match="dropout"):
        judges.digits.DigitClassifier(dropout=1.0)
    with pytest.raises(TypeError, match="classifier: expected a DigitClassifier"):
        judges.digits.accuracy(torch.nn.Linear(2, 2), torch.zeros(1, 1, 16, 16), torch.zeros(1, dtype=torch.long))


def test_augment_keeps_shape_range_and_background():
    x = -torch.ones(4, 1, 16, 16)
    x[:, :, 6:10, 6:10] = 1.0
    y = judges.digits.augment(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and y.min() >= -1 - 1e-5 and y.max() <= 1 + 1e-5
    assert torch.allclose(y[:, :, 0, 0], -torch.ones(4, 1), atol=1e-5)  # corners stay background
    assert not torch.allclose(y, x)


def test_recipe_is_registered_and_shipped_weights_are_in_the_manifest():
    assert "digit-classifier" in recipes.RECIPES
    entry = pretrained.manifest()["digit-classifier"]
    assert entry["metrics"]["test_accuracy_16"] >= 0.97 and entry["bytes"] < 2_000_000
    assert entry["command"].startswith("python -m gancourse.train digit-classifier")
