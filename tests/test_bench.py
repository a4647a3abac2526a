"""The benchmark runs for every model of the course and writes its JSON and markdown table."""
import json

import pytest
import torch

from gancourse import bench


def test_benchmark_runs_every_model_and_writes_the_table(tmp_path, capsys):
    out_json, out_md = tmp_path / "bench.json", tmp_path / "bench.md"
    assert bench.main(["--config", "small", "--steps", "1", "--reps", "1", "--warmup", "0", "--device", "cpu",
                       "--json", str(out_json), "--markdown", str(out_md)]) == 0
    report = json.loads(out_json.read_text())
    assert report["environment"]["device"] == "cpu"
    results = report["results"]
    assert [r["model"] for r in results] == bench.MODELS
    assert set(bench.MODELS) >= {"dcgan", "wgan-gp", "cgan", "acgan", "pix2pix", "cyclegan", "stargan", "spade",
                                 "defectgan", "deepi2i"}
    for r in results:
        assert r["steps_per_s"] > 0 and r["plain_steps_per_s"] > 0
        assert r["images_per_s"] == pytest.approx(r["steps_per_s"] * r["batch"], rel=0.01)
        assert r["speedup"] == pytest.approx(r["steps_per_s"] / r["plain_steps_per_s"], rel=0.01)
        assert r["fast_paths"] == {}            # automatic fast paths are all off on a CPU
    table = out_md.read_text()
    assert table.count("\n| ") == len(results) + 1 and "course / reference" in table
    plain = {r["model"] for r in results if r["plain"] == "hand-written step"}
    assert plain == {"dcgan", "pix2pix", "cyclegan", "stargan", "spade"}, plain   # the papers' steps, written plainly
    assert table in capsys.readouterr().out


def test_every_model_has_a_small_and_a_standard_configuration():
    configs = {(c.model, c.config) for c in bench.CASES}
    assert all((m, k) in configs for m in bench.MODELS for k in ("small", "standard"))


def test_bad_arguments_are_refused(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--models", "biggan"])
    assert "--models: unknown ['biggan']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--reps", "0"])
    with pytest.raises(SystemExit):
        bench.main(["--threads", "0"])


def test_standard_configurations_build_and_take_one_step():
    """The papers' sizes (256x256 CycleGAN with 9 blocks, 128x128 StarGAN, ...) run one step on a
    CPU, so the benchmark's standard table cannot fail on a shape error halfway through. Shapes do
    not depend on the batch size, so the step runs on batches of at most 2 (the papers' batches
    took over two minutes here)."""
    for case in bench.CASES:
        if case.config == "standard":
            case = case.rebatch(min(case.batch, 2))
            step = case.build("cpu", bench.FastPaths.off())
            out = step()
            assert isinstance(out, dict) and out, f"{case.model}: the step returned no losses"
            for name, value in out.items():
                assert torch.isfinite(torch.as_tensor(value)).all(), f"{case.model} standard: {name} = {value}"
            if case.plain is not None:               # the plain reference step runs at that size too
                case.plain("cpu")()
