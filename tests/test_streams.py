"""The cocotb-side stream helpers that need no simulator."""

import random

import pytest
from cocotb.types import Logic, LogicArray

from lenet5_hls.verify.benches.streams import pack, resolvable, unpack

LOGIC_CHARS = '01XZUWLH-'


@pytest.mark.parametrize('width', [1, 7, 200])
def test_resolvable_agrees_with_is_resolvable(width):
    rng = random.Random(width)
    for _ in range(300):
        # mostly resolvable values, some with one or a few unresolved bits anywhere
        bits = [rng.choice('01LH') for _ in range(width)]
        for _ in range(rng.choice([0, 0, 1, 3])):
            bits[rng.randrange(width)] = rng.choice(LOGIC_CHARS)
        value = LogicArray(''.join(bits))
        assert resolvable(value) == value.is_resolvable, value


@pytest.mark.parametrize('char', LOGIC_CHARS)
def test_resolvable_single_bit(char):
    assert resolvable(Logic(char)) == Logic(char).is_resolvable == (char in '01LH')


def test_pack_unpack_round_trip():
    values = [-4, 3, 0, -1, 2]
    assert unpack(pack(values, 3), len(values), 3, signed=True) == values
