import matplotlib

matplotlib.use("agg")
import pytest
import torch

from gancourse import data, viz


def test_make_grid_layout_and_range():
    imgs = torch.stack([torch.full((1, 4, 4), v) for v in (-1.0, 0.0, 1.0)])
    grid = viz.make_grid(imgs, nrow=2, padding=1)
    assert grid.shape == (2 * 5 + 1, 2 * 5 + 1, 1)
    assert grid[1, 1, 0] == 0.0 and grid[1, 6, 0] == 0.5 and grid[6, 1, 0] == 1.0


def test_plots_draw_without_error():
    viz.use_course_style()
    ring = data.ring()
    viz.plot_samples_2d({"data": ring.sample(100)}, density=ring)
    viz.plot_surface_2d(lambda x: x.sum(1), samples={"s": ring.sample(10)})
    viz.plot_density_1d(torch.linspace(-1, 1, 10), {"d": torch.ones(10)}, samples={"s": torch.randn(100)})
    ax = viz.plot_losses({"step": [1, 2, 3], "loss": [1.0, 0.5, 0.2]})
    assert len(ax.lines) == 1
    viz.show_images(torch.rand(5, 3, 8, 8) * 2 - 1, nrow=3)
    matplotlib.pyplot.close("all")


def test_bad_input():
    with pytest.raises(ValueError, match="images: expected a tensor with 4 dimensions"):
        viz.make_grid(torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match="1 or 3 channels"):
        viz.make_grid(torch.zeros(2, 2, 8, 8))


def _draw(fig):
    import io
    fig.savefig(io.BytesIO(), format="png", bbox_inches="tight")  # as the notebook's inline backend does


def test_image_grids_report_images_shown_too_small(capsys):
    viz.use_course_style()
    images = torch.rand(16, 1, 16, 16) * 2 - 1
    ax = viz.show_images(images, nrow=8, title="default size")  # 1 inch per image at 96 dpi
    _draw(ax.figure)
    assert "below the course's minimum" not in capsys.readouterr().out
    fig, axes = matplotlib.pyplot.subplots(1, 2, figsize=(6, 2))  # 16 images in 2.4 inches: about 25 px each
    viz.show_images(images, nrow=8, ax=axes[0], title="cramped")
    _draw(fig)
    _draw(fig)
    out = capsys.readouterr().out
    assert out.count("'cramped' shows its images at") == 1 and f"minimum of {viz.MIN_IMAGE_PIXELS} px" in out
    shown = float(out.split("shows its images at ")[1].split(" px")[0])
    assert 10 < shown < 40
    matplotlib.pyplot.close("all")


def test_image_grids_count_the_shrinking_of_wide_figures(capsys):
    viz.use_course_style()
    images = torch.rand(20, 1, 16, 16) * 2 - 1
    ax = viz.show_images(images, nrow=20, scale=1.0)  # 1,440 px wide: a page shows it at 1000/1440 of that
    _draw(ax.figure)
    assert "below the course's minimum" in capsys.readouterr().out
    matplotlib.pyplot.close("all")


def test_stacked_image_grids_keep_every_image_large_enough(capsys):
    viz.use_course_style()
    axes = viz.show_image_grids({"ten": torch.rand(20, 1, 16, 16) * 2 - 1, "three": torch.rand(3, 3, 32, 32) * 2 - 1},
                                nrow=10)
    assert [ax.get_title() for ax in axes] == ["ten", "three"]
    _draw(axes[0].figure)
    assert "below the course's minimum" not in capsys.readouterr().out
    with pytest.raises(TypeError, match="grids: expected a non-empty dict"):
        viz.show_image_grids([])
    matplotlib.pyplot.close("all")


def test_labelled_rows(capsys):
    viz.use_course_style()
    x = torch.rand(6, 3, 16, 16) * 2 - 1
    ax = viz.show_labelled_rows({"input": x, "grey": x[:, :1], "output": -x}, title="t")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["input", "grey", "output"]
    _draw(ax.figure)
    assert "below the course's minimum" not in capsys.readouterr().out
    with pytest.raises(ValueError, match="same number and size of images in every row"):
        viz.show_labelled_rows({"a": x, "b": x[:3]})
    matplotlib.pyplot.close("all")


def test_sample_legend_sits_outside_the_axes_and_hides_no_mode():
    """A legend inside the square covered the modes at its corners (ring, grid): it goes below."""
    import matplotlib.pyplot as plt
    ring = data.ring()
    ax = viz.plot_samples_2d({"G(z)": ring.sample(200)}, centers=ring.centers, lim=1.5, s=1)
    _draw(ax.figure)
    legend = ax.get_legend().get_window_extent()
    assert legend.y1 <= ax.get_window_extent().y0 + 1, "the legend must not overlap the plotting area"
    assert len(ax.get_legend().get_texts()) == 2
    plt.close("all")
