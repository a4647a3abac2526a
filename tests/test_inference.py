"""Running a network over a set: batches, modes, the inputs' order, bad input; index batches."""
import pytest
import torch
from torch import nn

from gancourse import inference, recipes
from gancourse.data import index_batches


def test_in_batches_equals_one_pass_and_restores_the_mode():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4)).train()
    x = torch.randn(10, 3, 8, 8)
    out = inference.in_batches(net, x, batch_size=3, eval_mode=True)
    assert net.training, "eval_mode puts the network back as it was"
    with torch.no_grad():
        assert torch.allclose(out, net.eval()(x), atol=1e-6)
    assert inference.in_batches(net, x, batch_size=4, read=lambda y: y.mean((1, 2, 3))).shape == (10,)


def test_batch_statistics_keep_the_inputs_order_and_leave_the_network_alone():
    torch.manual_seed(0)
    x = torch.randn(12, 3, 8, 8)
    rowwise = nn.Conv2d(3, 4, 3, padding=1)              # each row's output depends on that row only
    out = inference.in_batches_with_batch_stats(rowwise, x, batch_size=4, seed=1)
    with torch.no_grad():
        assert torch.allclose(out, rowwise(x), atol=1e-6), "the shuffle must be undone"
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4)).eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    batch_stats = inference.in_batches_with_batch_stats(net, x, batch_size=4, seed=1)
    with torch.no_grad():
        assert not torch.allclose(batch_stats, net(x), atol=1e-3), "batch statistics, not the running ones"
    assert not net.training and all(torch.equal(v, net.state_dict()[k]) for k, v in before.items())


def test_bad_input_is_named():
    net = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="net"):
        inference.in_batches(lambda x: x, torch.zeros(2, 2))
    with pytest.raises(ValueError, match="same number of rows"):
        inference.in_batches(nn.Bilinear(2, 2, 2), torch.zeros(2, 2), torch.zeros(3, 2))
    with pytest.raises(ValueError, match="at least one row"):
        inference.in_batches(net, torch.zeros(0, 2))
    with pytest.raises(TypeError, match="inputs"):
        inference.in_batches_with_batch_stats(net, [1, 2])
    with pytest.raises(ValueError, match="batch_size"):
        inference.in_batches_with_batch_stats(net, torch.zeros(4, 2), batch_size=1)


def test_index_batches_cover_every_row_once_per_epoch():
    stream = index_batches(12, 4, generator=torch.Generator().manual_seed(0))
    epoch = torch.cat([next(stream)[1] for _ in range(3)])
    assert sorted(epoch.tolist()) == list(range(12))
    with pytest.raises(ValueError, match="n"):
        index_batches(0, 4)


def test_the_toy_benchmark_refuses_a_device_it_does_not_use(tmp_path):
    with pytest.raises(SystemExit, match="--device does not apply"):
        recipes.main(["toy-modes", "--device", "cuda", "--steps", "1", "--out", str(tmp_path)])
