"""Cocotb-side stream primitives shared by the network benches and the module testbenches: beat
packing (element i at bits [i*W +: W]), random pause patterns for cocotbext-axi, time and cycle checks."""

from __future__ import annotations

import random
import re

CLOCK_NS = 10
_UNRESOLVED = re.compile('[^01LH]')


def resolvable(value) -> bool:
    """A signal value (Logic or LogicArray) without X, Z, U, W or -: what `.is_resolvable` tells, from the value's
    bit string. cocotb 2.1's LogicArray.is_resolvable makes a Logic object per bit: on a 200-bit m_axis_tdata
    read every clock, three quarters of a module bench's time."""
    return not _UNRESOLVED.search(str(value))


def level(value) -> int | None:
    """1 or 0 when every bit of a handshake signal is: a stream's ready may be copies, identical flip-flops (one
    per 64-bit chunk of the beat, lenet5_hls.rtl.generator.copy_handshakes); None while unknown."""
    bits = set(str(value))
    return int(bits.pop()) if len(bits) == 1 and bits <= {'0', '1'} else None


def sim_ns(steps: int) -> float:
    """Simulator time steps (e.g. cocotbext-axi's frame.sim_time_start) -> ns."""
    from cocotb.utils import get_time_from_sim_steps

    return get_time_from_sim_steps(steps, 'ns')


def random_pauses(rng: random.Random, probability: float, max_burst: int = 4):
    """Endless pause pattern for cocotbext-axi: True (pause) with `probability`, in bursts of 1..max_burst cycles."""
    while True:
        if rng.random() < probability:
            for _ in range(rng.randint(1, max_burst)):
                yield True
        else:
            yield False


def pack(elements, width: int) -> int:
    """Element i (raw integer, two's complement if negative) at bits [i*width +: width]."""
    mask = (1 << width) - 1
    word = 0
    for i, v in enumerate(elements):
        word |= (int(v) & mask) << (i * width)
    return word


def unpack(word: int, n: int, width: int, signed: bool) -> list[int]:
    mask = (1 << width) - 1
    out = []
    for i in range(n):
        v = (word >> (i * width)) & mask
        if signed and v >> (width - 1):
            v -= 1 << width
        out.append(v)
    return out


def assert_cycles(measured: int, estimate: int, what: str, tolerance: float = 0.02) -> None:
    """FINN-style check of a simulated cycle count against the analytical estimate."""
    assert abs(measured - estimate) <= tolerance * estimate, (
        f'{what}: simulated {measured} cycles, analytical estimate {estimate} (tolerance {tolerance:.0%})'
    )
