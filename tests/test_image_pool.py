"""ImagePool: exactly the reference behaviour (fill, then swap with probability 1/2), state, bad input."""
import pytest
import torch

from gancourse.nn.image_pool import ImagePool


def tagged(values):
    """A batch whose image k is filled with values[k]: its identity can be read back."""
    v = torch.as_tensor(values, dtype=torch.float32)
    return v.view(-1, 1, 1, 1).expand(-1, 1, 2, 2).clone()


def tags(batch):
    return [float(x) for x in batch[:, 0, 0, 0]]


def stored(pool):
    return sorted(float(x[0, 0, 0]) for x in pool.images)


def test_while_not_full_it_stores_and_returns_the_new_fakes():
    pool = ImagePool(5, torch.Generator().manual_seed(0))
    out = pool.query(tagged([1, 2, 3]))
    assert tags(out) == [1, 2, 3] and stored(pool) == [1, 2, 3]
    # the batch that fills the pool: the first two fill it and come back, the third meets a full pool
    out = pool.query(tagged([4, 5, 6]))
    assert tags(out)[:2] == [4, 5] and len(pool) == 5


def test_once_full_each_image_comes_back_itself_or_swapped_for_a_stored_one():
    pool = ImagePool(4, torch.Generator().manual_seed(1))
    pool.query(tagged([1, 2, 3, 4]))
    new = list(range(100, 140))
    before = stored(pool)
    for value in new:
        (out,) = tags(pool.query(tagged([value])))
        after = stored(pool)
        if out == value:                       # passed through: the pool is unchanged
            assert after == before
        else:                                  # swapped: out was stored, value now is, nothing else moved
            assert out in before and value in after and out not in after
            assert sorted(after) == sorted([v for v in before if v != out] + [value])
        assert len(after) == 4
        before = after


def test_the_rule_matches_a_replay_of_its_coin_flips():
    """The reference rule, replayed with the same random stream: rand < 1/2 -> swap with slot randint(size)."""
    pool = ImagePool(3, torch.Generator().manual_seed(7))
    replay = torch.Generator().manual_seed(7)
    pool.query(tagged([0, 1, 2]))
    slots = [0.0, 1.0, 2.0]
    for value in range(10, 60):
        expected = float(value)
        if torch.rand(1, generator=replay).item() < 0.5:
            k = int(torch.randint(0, 3, (1,), generator=replay))
            expected, slots[k] = slots[k], float(value)
        assert tags(pool.query(tagged([value]))) == [expected]
        assert [float(x[0, 0, 0]) for x in pool.images] == slots


def test_half_of_the_returned_images_are_old_and_choices_are_uniform():
    size = 10
    pool = ImagePool(size, torch.Generator().manual_seed(2))
    pool.query(tagged(list(range(size))))
    n, old, swapped_slots = 6000, 0, []
    for k in range(n):
        before = [float(x[0, 0, 0]) for x in pool.images]
        value = 1000.0 + k
        (out,) = tags(pool.query(tagged([value])))
        if out != value:
            old += 1
            swapped_slots.append(before.index(out))
    assert abs(old / n - 0.5) < 0.03                      # binomial std 0.0065: about 5 sigma
    counts = torch.bincount(torch.tensor(swapped_slots), minlength=size).float()
    assert (counts / counts.sum() - 1 / size).abs().max() < 0.03


def test_size_zero_passes_everything_through():
    pool = ImagePool(0)
    x = tagged([1, 2, 3])
    assert torch.equal(pool.query(x), x) and len(pool) == 0


def test_outputs_are_detached_and_stored_images_are_copies():
    pool = ImagePool(2, torch.Generator().manual_seed(0))
    x = tagged([1, 2]).requires_grad_(True)
    out = pool.query(x * 1)
    assert not out.requires_grad
    x.data.fill_(9)
    assert stored(pool) == [1, 2]


def test_state_dict_round_trip_continues_identically():
    a = ImagePool(5, torch.Generator().manual_seed(3))
    a.query(tagged(list(range(7))))
    state = a.state_dict()
    b = ImagePool(5, torch.Generator().manual_seed(99))
    b.load_state_dict(state)
    assert stored(b) == stored(a)
    for k in range(20):
        batch = tagged([100 + 2 * k, 101 + 2 * k])
        assert torch.equal(a.query(batch), b.query(batch))
    empty = ImagePool(5).state_dict()
    c = ImagePool(5)
    c.load_state_dict(empty)
    assert len(c) == 0


def test_a_checkpoint_keeps_the_pool(tmp_path):
    from gancourse.train import Checkpointer
    pool = ImagePool(4, torch.Generator().manual_seed(0))
    pool.query(tagged([1, 2, 3]))
    ck = Checkpointer(tmp_path, modules={"m": torch.nn.Linear(1, 1)}, extras={"pool": pool})
    ck.save(1)
    fresh = ImagePool(4, torch.Generator().manual_seed(5))
    ck2 = Checkpointer(tmp_path, modules={"m": torch.nn.Linear(1, 1)}, extras={"pool": fresh})
    ck2.restore_latest()
    assert stored(fresh) == [1, 2, 3]


def test_bad_input():
    with pytest.raises(ValueError, match="size"):
        ImagePool(-1)
    with pytest.raises(TypeError, match="size"):
        ImagePool(2.5)
    with pytest.raises(TypeError, match="generator"):
        ImagePool(3, generator=0)
    pool = ImagePool(3)
    with pytest.raises(ValueError, match="dimensions"):
        pool.query(torch.zeros(3, 2, 2))
    pool.query(tagged([1]))
    with pytest.raises(ValueError, match="shape"):
        pool.query(torch.zeros(1, 3, 2, 2))
    with pytest.raises(ValueError, match="holds up to"):
        ImagePool(4).load_state_dict(pool.state_dict())
    with pytest.raises(ValueError, match="state"):
        pool.load_state_dict({"images": 1})
