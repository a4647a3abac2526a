"""Bad input stops at the door: the arguments that the audit of issue 10 found unchecked now raise a
ValueError/TypeError that names the argument and says what was expected."""
import math
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("agg")
import numpy as np
import pytest
import torch
from torch import nn

from gancourse import checkpoint, data, divergences, metrics, pretrained, train, viz
from gancourse.data.images import random_crops


def test_gaussian_closed_forms_refuse_nan_and_non_covariances():
    with pytest.raises(ValueError, match="mean1: contains NaN"):
        divergences.kl_gaussians([math.nan], 1.0, [0.0], 1.0)
    with pytest.raises(ValueError, match="cov2: contains NaN"):
        divergences.kl_gaussians([0.0], 1.0, [0.0], math.inf)
    with pytest.raises(ValueError, match="mean2: contains NaN"):
        divergences.w2_gaussians(0.0, 1.0, math.nan, 1.0)
    with pytest.raises(ValueError, match="cov1: expected a symmetric covariance"):
        divergences.w2_gaussians([0, 0], [[1, 0.5], [0, 1]], [0, 0], np.eye(2))
    with pytest.raises(ValueError, match="cov2: expected a positive semi-definite covariance"):
        divergences.w2_gaussians([0, 0], np.eye(2), [0, 0], [[1, 2], [2, 1]])
    with pytest.raises(ValueError, match="mean1: expected at least one value"):
        divergences.w2_gaussians([], np.eye(0), [], np.eye(0))
    # singular (semi-definite) covariances stay allowed: sample covariances of features often are
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns that sqrtm of a singular matrix may be inaccurate
        assert divergences.w2_gaussians([0, 0], np.zeros((2, 2)), [3, 4], np.zeros((2, 2))) == pytest.approx(5.0)


def test_toy_distributions_refuse_nan_parameters_and_wrong_generators():
    with pytest.raises(TypeError, match="mean: expected a finite number, got nan"):
        data.Gaussian1D(math.nan)
    with pytest.raises(TypeError, match="mean: expected a finite number, got '0'"):
        data.Gaussian1D("0")
    with pytest.raises(ValueError, match="centers: contains NaN"):
        data.GaussianMixture([[0.0, math.nan]])
    for dist in (data.ring(), data.Gaussian1D(), data.SwissRoll(), data.ParallelLine()):
        with pytest.raises(TypeError, match="generator: expected a torch.Generator or None, got int"):
            dist.sample(4, generator=0)
    with pytest.raises(TypeError, match="generator: expected a torch.Generator"):
        data.ring().sample_with_labels(4, generator=np.random.default_rng(0))


def test_image_datasets_refuse_out_of_range_images_and_bad_labels():
    x = torch.zeros(3, 1, 4, 4)
    with pytest.raises(ValueError, match=r"images: expected values in \[-1, 1\].*got \[0, 255\].*x \* 2 - 1"):
        data.TensorImageDataset(x + torch.tensor(255.0) * (torch.arange(3) == 1)[:, None, None, None],
                                torch.zeros(3, dtype=torch.long), ["a"])
    with pytest.raises(ValueError, match="images: contains NaN"):
        data.TensorImageDataset(x.clone().fill_(math.nan), torch.zeros(3, dtype=torch.long), ["a"])
    with pytest.raises(TypeError, match="labels: expected a torch.Tensor of class indices, got list"):
        data.TensorImageDataset(x, [0, 0, 0], ["a"])
    with pytest.raises(TypeError, match="labels: expected integer class indices, got dtype torch.float32"):
        data.TensorImageDataset(x, torch.zeros(3), ["a"])
    with pytest.raises(TypeError, match="classes: expected a list of class names"):
        data.TensorImageDataset(x, torch.zeros(3, dtype=torch.long), "abc")
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="image: expected a NumPy array"):
        random_crops(torch.zeros(8, 8), 2, 4, rng)
    with pytest.raises(ValueError, match="n: expected an int >= 1"):
        random_crops(np.zeros((8, 8)), 0, 4, rng)
    with pytest.raises(TypeError, match="rng: expected a numpy.random.Generator"):
        random_crops(np.zeros((8, 8)), 2, 4, 0)


def test_plots_refuse_malformed_input():
    with pytest.raises(ValueError, match="padding: expected an int >= 0"):
        viz.make_grid(torch.zeros(2, 1, 4, 4), padding=-1)
    with pytest.raises(ValueError, match="images: expected at least one image"):
        viz.make_grid(torch.zeros(0, 1, 4, 4))
    with pytest.raises(ValueError, match=r"samples\['fake'\]: expected 2-D points of shape \(n, 2\), got \(5, 3\)"):
        viz.plot_samples_2d({"fake": torch.zeros(5, 3)})
    with pytest.raises(TypeError, match="samples: expected a dict"):
        viz.plot_samples_2d(torch.zeros(5, 2))
    with pytest.raises(TypeError, match="fn: expected a function"):
        viz.plot_surface_2d(torch.zeros(3))
    with pytest.raises(ValueError, match=r"fn: expected one value per point \(400 points"):
        viz.plot_surface_2d(lambda p: p, n=20)
    with pytest.raises(ValueError, match=r"densities\['p'\]: expected one value per point of x \(10\), got 9"):
        viz.plot_density_1d(np.linspace(0, 1, 10), {"p": np.ones(9)})
    with pytest.raises(ValueError, match="xlim: expected finite low < high"):
        viz.grid_points((1, -1))
    with pytest.raises(TypeError, match="history: expected a dict"):
        viz.plot_losses([1.0, 2.0])
    with pytest.raises(ValueError, match="dpi: expected an int >= 1"):
        viz.use_course_style(0)
    with pytest.raises(ValueError, match="scale: expected a finite number > 0"):
        viz.show_images(torch.zeros(1, 1, 4, 4), scale=-1)
    matplotlib.pyplot.close("all")


def test_checkpointer_refuses_what_could_not_be_resumed(tmp_path):
    model = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="directory: expected a folder path"):
        train.Checkpointer(None, {"m": model})
    with pytest.raises(TypeError, match="modules: expected a dict"):
        train.Checkpointer(tmp_path, [model])
    with pytest.raises(TypeError, match=r"optimizers\['G'\]: expected an object with state_dict"):
        train.Checkpointer(tmp_path, {"m": model}, {"G": "adam"})
    # a Path in the config would save fine and then make every checkpoint unloadable (weights_only)
    with pytest.raises(TypeError, match=r"config\['data'\]: expected a plain value .* got PosixPath"):
        train.Checkpointer(tmp_path, {"m": model}, config={"data": tmp_path})
    with pytest.raises(TypeError, match=r"config\['sizes'\]\[1\]: expected a plain value"):
        train.Checkpointer(tmp_path, {"m": model}, config={"sizes": [1, object()]})
    train.Checkpointer(tmp_path, {}, config={"lr": 1e-3, "betas": (0.5, 0.999), "name": "x", "w": None})

    ck = train.Checkpointer(tmp_path / "pool", {"m": model}, extras={"pool": Pool()}, every=2)
    with pytest.raises(checkpoint.CheckpointError, match="just written, so its content cannot be loaded"):
        train.fit(lambda i: {"l": 1.0}, 4, checkpoint=ck, progress=False)


class Pool:
    """An extra whose state holds something ``torch.load(weights_only=True)`` refuses (a Path)."""

    def state_dict(self):
        return {"images": [torch.zeros(1)], "folder": Path("/somewhere")}

    def load_state_dict(self, state):
        pass


def test_fit_and_checkpoint_functions_name_their_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match="callback: expected a function"):
        train.fit(lambda i: {}, 2, callback=3, progress=False)
    with pytest.raises(TypeError, match="checkpoint: expected a Checkpointer"):
        train.fit(lambda i: {}, 2, checkpoint=str(tmp_path), progress=False)
    with pytest.raises(TypeError, match="history: expected a History"):
        train.fit(lambda i: {}, 2, history=[], progress=False)
    with pytest.raises(TypeError, match="path: expected a file path"):
        checkpoint.load_file(None)
    with pytest.raises(TypeError, match="path: expected a file path"):
        checkpoint.save_atomic({}, 3)
    with pytest.raises(ValueError, match="step: expected an int >= 0"):
        checkpoint.collect_state(-1, {})
    with pytest.raises(TypeError, match="modules: expected a dict"):
        checkpoint.collect_state(1, nn.Linear(1, 1))
    with pytest.raises(checkpoint.CheckpointError, match="state: expected a checkpoint dict"):
        checkpoint.restore_state({"weights": 1}, {})
    with pytest.raises(TypeError, match="directory: expected a file path"):
        checkpoint.CheckpointManager(None)


def test_pretrained_save_refuses_what_the_manifest_cannot_record(tmp_path, monkeypatch):
    monkeypatch.setenv(pretrained.DATA_ENV, str(tmp_path))
    model = nn.Linear(1, 1)
    with pytest.raises(ValueError, match="name: expected a lower-case name"):
        pretrained.save("My Model", {"G": model}, command="x", description="y")
    with pytest.raises(TypeError, match="modules: expected a non-empty dict"):
        pretrained.save("m", model, command="x", description="y")
    with pytest.raises(ValueError, match="command: expected a non-empty string"):
        pretrained.save("m", {"G": model}, command="", description="y")
    with pytest.raises(ValueError, match="file: expected a file name ending in .pt"):
        pretrained.save("m", {"G": model}, command="x", description="y", file="../m.pt")
    with pytest.raises(TypeError, match="G: expected a torch.nn.Module"):
        pretrained.load_into("m", G="weights")
    assert not (tmp_path / "MANIFEST.json").exists(), "nothing written for a refused call"


def test_mode_coverage_refuses_nan_samples_and_empty_centres():
    centers = torch.zeros(2, 2)
    with pytest.raises(ValueError, match=r"samples: contains NaN or infinite values \(did training diverge\?\)"):
        metrics.mode_coverage(torch.full((3, 2), math.nan), centers, 0.1)
    with pytest.raises(ValueError, match="centers: expected at least one mode centre"):
        metrics.mode_coverage(torch.zeros(3, 2), torch.zeros(0, 2), 0.1)
    with pytest.raises(TypeError, match="centers: expected an array, list or tensor"):
        metrics.mode_coverage(torch.zeros(3, 2), "ring", 0.1)
    with pytest.raises(ValueError, match="centers: contains NaN"):
        metrics.mode_coverage(torch.zeros(3, 2), [[0.0, math.inf]], 0.1)
    # integer centres and lists still work
    assert metrics.mode_coverage(torch.zeros(3, 2), torch.zeros(1, 2, dtype=torch.long), 0.1).modes == 1
    assert metrics.mode_coverage(torch.zeros(3, 2), [[0, 0]], 0.1).modes == 1


def test_remaining_entry_points_name_their_bad_arguments(tmp_path):
    from gancourse.data import download

    with pytest.raises(checkpoint.CheckpointError, match="state: expected the dict of rng_state"):
        checkpoint.set_rng_state({"python": None})
    with pytest.raises(TypeError, match="factory: expected a class or function"):
        data.register_dataset("mine", "not a factory")
    with pytest.raises(TypeError, match="name: expected a non-empty dataset name"):
        data.register_dataset("", data.Digits)
    with pytest.raises(TypeError, match="history: expected the History that fit returned"):
        train.steps_per_second("history")
    (tmp_path / "a.zip").write_bytes(b"")
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="target: .*file is a file, not a folder"):
        download.extract_archive(tmp_path / "a.zip", tmp_path / "file")


def test_penalties_name_a_critic_that_is_not_callable():
    from gancourse import losses

    with pytest.raises(TypeError, match="critic: expected the critic network"):
        losses.gradient_penalty("critic", torch.randn(4, 2), torch.randn(4, 2))
    with pytest.raises(TypeError, match="critic: expected the critic network"):
        losses.r1_penalty(None, torch.randn(4, 2))


def test_sample_metrics_refuse_non_finite_features():
    from gancourse import metrics

    bad = torch.randn(10, 4)
    bad[3, 1] = float("nan")
    with pytest.raises(ValueError, match="fake_features: expected finite values, got 1 NaN/inf"):
        metrics.precision_recall(torch.randn(10, 4), bad)


def test_class_indices_names_the_argument_and_what_was_expected():
    from gancourse import _validate as V
    labels = torch.tensor([0, 2, 1])
    assert V.class_indices(labels, "labels", 3, ndim=1, count=3) is labels
    with pytest.raises(TypeError, match="y: expected a torch.Tensor of class indices, got list"):
        V.class_indices([0, 1], "y")
    for bad in (labels.float(), labels.bool()):
        with pytest.raises(TypeError, match="y: expected integer class indices, got dtype"):
            V.class_indices(bad, "y")
    with pytest.raises(ValueError, match=r"y: expected a tensor of rank 1 or 3, got shape \(3, 1\)"):
        V.class_indices(labels[:, None], "y", ndim=(1, 3))
    with pytest.raises(ValueError, match=r"y: expected a tensor of rank 1, 4 along the first \(one per image\)"):
        V.class_indices(labels, "y", ndim=1, count=4)
    with pytest.raises(ValueError, match=r"y: expected classes in \[0, 1\], got values from 0 to 2"):
        V.class_indices(labels, "y", 2)
    with pytest.raises(ValueError, match=r"y: expected a tensor, 3 along the first \(one per image\), got shape \(\)"):
        V.class_indices(torch.tensor(1), "y", count=3)        # a scalar has no first axis to count
    assert V.class_indices(torch.zeros(0, dtype=torch.long), "y", 2).numel() == 0
