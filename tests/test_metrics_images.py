"""Image metrics on constructed cases whose answer is known."""
import numpy as np
import pytest
import torch

from gancourse import judges, metrics
from gancourse.data import Digits


# ---- Fréchet distance ------------------------------------------------------------------------

def test_frechet_distance_of_a_set_with_itself_is_zero():
    x = torch.randn(500, 8, generator=torch.Generator().manual_seed(0))
    assert metrics.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_matches_the_gaussian_closed_form():
    g = torch.Generator().manual_seed(1)
    a = torch.randn(20000, 4, generator=g)
    b = 2.0 * torch.randn(20000, 4, generator=g) + torch.tensor([1.0, 0.0, 0.0, 0.0])
    # ||mu||^2 + tr(I + 4I - 2 * 2I) = 1 + 4 * (1 + 4 - 4) = 5
    assert metrics.frechet_distance(a, b) == pytest.approx(5.0, rel=0.03)


def test_frechet_distance_bad_input():
    with pytest.raises(ValueError, match="same feature dimension"):
        metrics.frechet_distance(torch.zeros(5, 3), torch.zeros(5, 2))
    with pytest.raises(ValueError, match="at least 2"):
        metrics.frechet_distance(torch.zeros(1, 3), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="NaN"):
        metrics.frechet_distance(torch.full((4, 2), float("nan")), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="2 dimensions"):
        metrics.frechet_distance(torch.zeros(4, 2, 2), torch.zeros(4, 2))


# ---- precision and recall (k-NN manifolds) ----------------------------------------------------

def test_identical_sets_have_precision_and_recall_one():
    x = torch.randn(300, 5, generator=torch.Generator().manual_seed(2))
    pr = metrics.precision_recall(x, x.clone(), k=3)
    assert pr.precision == 1.0 and pr.recall == 1.0


def test_far_away_samples_have_precision_and_recall_zero():
    x = torch.randn(300, 5, generator=torch.Generator().manual_seed(3))
    pr = metrics.precision_recall(x, x + 100.0, k=3)
    assert pr.precision == 0.0 and pr.recall == 0.0


def test_a_collapsed_generator_is_precise_but_recalls_little():
    g = torch.Generator().manual_seed(4)
    real = torch.randn(400, 2, generator=g)
    fake = real[0] + 1e-3 * torch.randn(400, 2, generator=g)  # all samples on one real point
    pr = metrics.precision_recall(real, fake, k=3)
    assert pr.precision == 1.0 and pr.recall < 0.05


def test_precision_recall_of_two_samples_of_one_distribution_is_high():
    g = torch.Generator().manual_seed(5)
    pr = metrics.precision_recall(torch.randn(1000, 3, generator=g), torch.randn(1000, 3, generator=g))
    assert pr.precision > 0.9 and pr.recall > 0.9


def test_precision_recall_bad_input():
    with pytest.raises(ValueError, match="k: expected fewer than 3"):
        metrics.precision_recall(torch.zeros(3, 2), torch.zeros(10, 2), k=3)
    with pytest.raises(ValueError, match="same dimension"):
        metrics.precision_recall(torch.zeros(10, 2), torch.zeros(10, 3))
    with pytest.raises(TypeError, match="real_features: expected a torch.Tensor"):
        metrics.precision_recall(np.zeros((10, 2)), torch.zeros(10, 2))


# ---- nearest neighbours (memorisation) --------------------------------------------------------

def test_copies_of_training_images_have_distance_zero_to_their_source():
    train = Digits(16, "train").images
    idx = torch.tensor([5, 900, 17, 1200])
    nn = metrics.nearest_neighbours(train[idx], train, k=2)
    assert torch.equal(nn.indices[:, 0], idx) and torch.all(nn.distances[:, 0] < 1e-3)
    assert torch.all(nn.distances[:, 1] >= nn.distances[:, 0]) and torch.all(nn.distances[:, 1] > 0.5)


def test_nearest_neighbours_bad_input():
    with pytest.raises(ValueError, match="k: expected at most 4"):
        metrics.nearest_neighbours(torch.zeros(2, 3), torch.zeros(4, 3), k=5)
    with pytest.raises(ValueError, match="same size per row"):
        metrics.nearest_neighbours(torch.zeros(2, 1, 4, 4), torch.zeros(4, 1, 8, 8))


# ---- the digit classifier and the scores built on it ------------------------------------------

@pytest.fixture(scope="module")
def clf():
    return judges.digit_classifier()


def test_shipped_classifier_reaches_97_percent_on_held_out_digits_at_both_sizes(clf):
    for size in (16, 32):
        test = Digits(size, "test")
        assert judges.digits.accuracy(clf, test.images, test.labels) >= 0.97
    assert not clf.training and not any(p.requires_grad for p in clf.parameters())


def test_real_held_out_digits_score_near_the_best_values(clf):
    test = Digits(16, "test")
    s = metrics.class_scores(test.images, clf)
    assert s.classes_covered == 10 and s.confident_fraction > 0.9 and s.tv_to_uniform < 0.05
    f_train = metrics.classifier_features(Digits(16, "train").images, clf)
    f_test = metrics.classifier_features(test.images, clf)
    assert f_test.shape == (359, clf.feature_dim)
    fd_real = metrics.frechet_distance(f_test, f_train)
    ones = Digits(16, "train").images[Digits(16, "train").labels == 1]
    fd_collapsed = metrics.frechet_distance(metrics.classifier_features(ones, clf), f_train)
    assert fd_real < 0.1 * fd_collapsed


def test_a_generator_of_one_class_covers_one_class(clf):
    train = Digits(32, "train")
    threes = train.images[train.labels == 3]
    s = metrics.class_scores(threes, clf)
    assert s.classes_covered == 1 and float(s.class_fractions[3]) > 0.95 and s.tv_to_uniform > 0.8
    assert str(s).startswith("1/10 classes covered")


def test_image_report_flags_a_copier_and_reports_every_number(clf):
    train = Digits(16, "train").images
    test = Digits(16, "test").images
    report = metrics.image_report(train[:500], test, clf, train=train)
    assert report["median NN distance to train"] == 0.0 and report["classes covered"] == 10
    assert set(report) >= {"confident %", "Fréchet distance", "precision", "recall"}


def test_classifier_scores_bad_input(clf):
    with pytest.raises(ValueError, match="threshold"):
        metrics.class_scores(torch.zeros(2, 1, 16, 16), clf, threshold=1.5)
    with pytest.raises(ValueError, match="1 channel"):
        metrics.class_scores(torch.zeros(2, 3, 16, 16), clf)
    with pytest.raises(TypeError, match="classifier: expected a torch.nn.Module"):
        metrics.class_scores(torch.zeros(2, 1, 16, 16), classifier="digits")
    with pytest.raises(ValueError, match="at least 8x8"):
        clf(torch.zeros(2, 1, 4, 4))


def test_inception_features_load_user_weights_and_return_2048_features(tmp_path):
    from torchvision.models import Inception3

    path = tmp_path / "inception.pt"
    torch.save(Inception3(aux_logits=True, init_weights=False).state_dict(), path)
    f = metrics.inception_features(torch.zeros(2, 1, 16, 16), path)
    assert f.shape == (2, 2048) and torch.isfinite(f).all()
    with pytest.raises(FileNotFoundError, match="weights: .* does not exist"):
        metrics.inception_features(torch.zeros(2, 1, 16, 16), tmp_path / "missing.pt")
    with pytest.raises(TypeError, match="weights: expected the path"):
        metrics.inception_features(torch.zeros(2, 1, 16, 16), None)
