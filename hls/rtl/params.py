"""Verilog parameters and ROM files for the modules in rtl/verilog/ (fxp_requant, relu_stream, dense_unit,
table_act_stream, param_relu_stream, scale_bias_stream).

The RTL takes fixed-point types as (W, FRAC, SIGNED) plus integer codes for the ap_fixed rounding and
overflow modes; FRAC = width - integer bits (ap_fixed counts the sign among the integer bits).
dense_unit reads its weights and biases from $readmemh files; `write_mem_files` writes them for a
dense or conv2d spec Layer in the layout documented at the top of dense_unit.v, `dense_params` passes
their paths as given (the generator: relative to the RTL directory, see rtl/description.py).
"""

from __future__ import annotations

import math
from os import PathLike
from pathlib import Path

import numpy as np

from lenet5_hls.core.fixed_point import OVERFLOW_MODES, ROUNDING_MODES, FixedType
from lenet5_hls.core.spec import Layer

# ap_q_mode / ap_o_mode name -> the integer code the Verilog modules take (ROUNDING / OVERFLOW parameters)
ROUNDING_CODES: dict[str, int] = {name: code for code, name in enumerate(ROUNDING_MODES)}
OVERFLOW_CODES: dict[str, int] = {name: code for code, name in enumerate(OVERFLOW_MODES)}
DENSE_FILE_PARAMS = ('WEIGHT_FILE', 'BIAS_FILE')  # dense_unit's parameters that name $readmemh files
TABLE_FILE_PARAMS = ('TABLE_FILE',)  # table_act_stream's parameter that names its $readmemh file
SCALE_BIAS_FILE_PARAMS = ('SCALE_FILE', 'BIAS_FILE')  # scale_bias_stream's $readmemh files


def type_params(prefix: str, t: FixedType, modes: bool = False) -> dict[str, int]:
    """{PREFIX_W, PREFIX_FRAC, PREFIX_SIGNED} (+ PREFIX_ROUNDING, PREFIX_OVERFLOW with modes=True)."""
    params = {f'{prefix}_W': t.width, f'{prefix}_FRAC': t.frac, f'{prefix}_SIGNED': int(t.signed)}
    if modes:
        params[f'{prefix}_ROUNDING'] = ROUNDING_CODES[t.rounding]
        params[f'{prefix}_OVERFLOW'] = OVERFLOW_CODES[t.overflow]
    return params


def requant_params(t_in: FixedType, t_out: FixedType) -> dict[str, int]:
    """Parameters of fxp_requant (and relu_stream's cast) for the assignment t_in -> t_out."""
    return {
        **type_params('IN', t_in),
        **type_params('OUT', t_out),
        'ROUNDING': ROUNDING_CODES[t_out.rounding],
        'OVERFLOW': OVERFLOW_CODES[t_out.overflow],
    }


def dense_folding(n_in: int, n_out: int, mults: int) -> tuple[int, int, int]:
    """(PO, PI, STEPS) of dense_unit: outputs and inputs per cycle, compute cycles per vector."""
    if mults < 1 or (n_in * n_out) % mults:
        raise ValueError(f'MULTS={mults} must be >= 1 and divide N_IN*N_OUT={n_in * n_out}')
    po = math.gcd(mults, n_out)
    pi = mults // po
    assert n_in % pi == 0  # mults | n_in*n_out  =>  mults/gcd(mults, n_out) | n_in
    return po, pi, n_in * n_out // mults


# dense_unit's adder-tree levels between pipeline registers, unless the device says otherwise
# (rtl.device.Device.add_levels): two ~20-bit carry chains fit 10 ns on an ECP5 at speed grade 6 when the
# products lie close together (conv1's MAC placed alone: >= 100 MHz, rtl_tests/test_pnr_mac_stage.py)
ADD_LEVELS = 2
# dense_unit's MULT_TARGET codes (mult_bank's TARGET): where the multipliers go
MULT_TARGETS = {'generic': 0, 'ecp5': 1}
# dense_unit's weight ROM deeper than this is block RAM, its read registered again (its ROM_LUT_DEPTH)
ROM_LUT_DEPTH = 16
# dense_unit's weight ROM deeper than this is banks side by side (its ROM_BANK_DEPTH: one ECP5 block RAM
# at its widest, 512 x 36)
ROM_BANK_DEPTH = 512


def dense_rom_banks(steps: int) -> tuple[int, int]:
    """(ROM_BANKS, ROM_DEPTH) of dense_unit's weight ROM for STEPS step words, as its localparams."""
    banks = -(-steps // ROM_BANK_DEPTH) if steps > ROM_BANK_DEPTH else 1
    return banks, -(-steps // banks)


def dense_pipeline(p: dict) -> tuple[int, int]:
    """(ACC_STAGE, CREDITS) of dense_unit for its parameters, as its localparams: the accumulator add's
    pipeline stage and the output FIFO's depth."""
    _, pi, steps = dense_folding(p['N_IN'], p['N_OUT'], p['MULTS'])
    tree_levels = (pi - 1).bit_length() if p.get('ACC_OVERFLOW', 0) == 0 and pi > 1 else 0
    rom_stages = 1 if steps > ROM_LUT_DEPTH else 0
    acc_stage = 6 + rom_stages + -(-tree_levels // p.get('ADD_LEVELS', ADD_LEVELS))
    return acc_stage, 1 + -(-(acc_stage + 4) // steps)


def weight_matrix(layer: Layer) -> np.ndarray:
    """The (n_in, n_out) weight matrix: dense as is, conv2d (kh, kw, cin, cout) -> (kh*kw*cin, cout)."""
    if layer.kind not in ('dense', 'conv2d'):
        raise ValueError(f'layer {layer.name}: {layer.kind} has no weight matrix (dense or conv2d only)')
    w = np.asarray(layer.arrays['weight'], dtype=np.int64)
    return w.reshape(-1, w.shape[-1])  # row index (ky*KW + kx)*C + c for conv2d


def _hex_words(words: list[list[int]], bits: int) -> str:
    """One line per word: element i of a word at [i*bits +: bits], two's complement, as hex."""
    mask = (1 << bits) - 1
    digits = -(-len(words[0]) * bits // 4)
    lines = []
    for word in words:
        value = 0
        for i, v in enumerate(word):
            value |= (int(v) & mask) << (i * bits)
        lines.append(f'{value:0{digits}x}')
    return '\n'.join(lines) + '\n'


def write_mem_files(
    layer: Layer, mults: int, weight_path: str | PathLike, bias_path: str | PathLike
) -> tuple[Path, Path]:
    """Write dense_unit's WEIGHT_FILE and BIAS_FILE ($readmemh) for a dense or conv2d layer."""
    w = weight_matrix(layer)
    b = np.asarray(layer.arrays['bias'], dtype=np.int64)
    n_in, n_out = w.shape
    po, pi, steps = dense_folding(n_in, n_out, mults)
    kb_count, groups = n_in // pi, n_out // po
    # step word g*KB + kb, element po*PI + pi = w[kb*PI + pi, g*PO + po]
    blocks = w.reshape(kb_count, pi, groups, po).transpose(2, 0, 3, 1).reshape(steps, mults)
    # file word r: the step words k*depth + r of the banks k side by side, zero past the last step
    banks, depth = dense_rom_banks(steps)
    padded = np.zeros((banks * depth, mults), dtype=np.int64)
    padded[:steps] = blocks
    words = padded.reshape(banks, depth, mults).transpose(1, 0, 2).reshape(depth, banks * mults)
    weight_path, bias_path = Path(weight_path), Path(bias_path)
    weight_path.write_text(_hex_words(words.tolist(), layer.types['weight'].width))
    bias_path.write_text(_hex_words(b.reshape(groups, po).tolist(), layer.types['bias'].width))
    return weight_path, bias_path


def dense_params(layer: Layer, mults: int, weight_file: str | PathLike, bias_file: str | PathLike) -> dict:
    """Parameters of dense_unit for a dense or conv2d layer (ROM files written by write_mem_files)."""
    n_in, n_out = weight_matrix(layer).shape
    dense_folding(n_in, n_out, mults)
    t = layer.types
    return {
        'N_IN': n_in,
        'N_OUT': n_out,
        'MULTS': mults,
        **type_params('IN', t['input']),
        **type_params('W', t['weight']),
        **type_params('B', t['bias']),
        **type_params('ACC', t['accum'], modes=True),
        **type_params('OUT', t['output'], modes=True),
        'ADD_LEVELS': ADD_LEVELS,
        'WEIGHT_FILE': f'"{Path(weight_file).as_posix()}"',
        'BIAS_FILE': f'"{Path(bias_file).as_posix()}"',
    }


def write_table_file(layer: Layer, path: str | PathLike) -> Path:
    """Write table_act_stream's TABLE_FILE ($readmemh, one table_t entry per line) for a sigmoid, tanh or
    unary_lut layer."""
    path = Path(path)
    path.write_text(_hex_words([[v] for v in layer.arrays['table'].tolist()], layer.types['table'].width))
    return path


def table_act_params(layer: Layer, n: int, div_log2: int | None, table_file: str | PathLike) -> dict:
    """Parameters of table_act_stream for a sigmoid, tanh or unary_lut layer: n elements per beat, div_log2 =
    log2 of the divisor in hls4ml's sigmoid / tanh index (16 for sigmoid, 8 for tanh; None: the raw input
    bits index the table, as in unary_lut), the table file written by write_table_file."""
    t = layer.types
    return {
        'N': n,
        'INDEX_MODE': 1 if div_log2 is None else 0,
        'TABLE_SIZE': layer.attrs['table_size'],
        'DIV_LOG2': div_log2 or 0,
        **type_params('IN', t['input']),
        **type_params('TABLE', t['table']),
        **type_params('OUT', t['output']),
        'ROUNDING': ROUNDING_CODES[t['output'].rounding],
        'OVERFLOW': OVERFLOW_CODES[t['output'].overflow],
        'TABLE_FILE': f'"{Path(table_file).as_posix()}"',
    }


def param_relu_params(layer: Layer, n: int, t_param: FixedType, theta: int, alpha: int) -> dict:
    """Parameters of param_relu_stream for a leaky_relu, thresholded_relu or linear layer: n elements per
    beat, theta and alpha raw at t_param."""
    t = layer.types
    return {
        'N': n,
        **type_params('IN', t['input']),
        **type_params('P', t_param),
        'THETA': theta,
        'ALPHA': alpha,
        **type_params('OUT', t['output']),
        'ROUNDING': ROUNDING_CODES[t['output'].rounding],
        'OVERFLOW': OVERFLOW_CODES[t['output'].overflow],
    }


SOFTMAX_FILE_PARAMS = ('EXP_FILE', 'INV_FILE')  # softmax_stream's parameters that name $readmemh files
SOFTMAX_IMPL_CODES = {'latency': 0, 'stable': 2, 'argmax': 3}  # hls4ml's softmax_implementation enum


def write_softmax_files(layer: Layer, exp_path: str | PathLike, inv_path: str | PathLike) -> tuple[Path, Path]:
    """Write softmax_stream's EXP_FILE and INV_FILE ($readmemh, one raw table entry per line)."""
    paths = Path(exp_path), Path(inv_path)
    for table, path in zip(('exp_table', 'inv_table'), paths):
        path.write_text(_hex_words([[v] for v in layer.arrays[table].tolist()], layer.types[table].width))
    return paths


def softmax_params(layer: Layer, exp_file: str | PathLike = '', inv_file: str | PathLike = '') -> dict:
    """Parameters of softmax_stream for a softmax layer (one vector per beat of in_elements_per_beat); the
    table files (written by write_softmax_files) and table types only for stable and latency."""
    t, impl = layer.types, layer.attrs['implementation']
    params = {'N': layer.in_elements_per_beat, 'IMPL': SOFTMAX_IMPL_CODES[impl], **type_params('IN', t['input'])}
    if impl != 'argmax':
        params |= {'EXP_SIZE': layer.attrs['exp_table_size'], 'INV_SIZE': layer.attrs['inv_table_size']}
        if impl == 'stable':
            params |= type_params('NORM', t['inp_norm'], modes=True)
        params |= {
            **type_params('EXP', t['exp_table']),
            **type_params('ACC', t['accum'], modes=True),
            **type_params('INVIN', t['inv_inp'], modes=True),
            **type_params('INV', t['inv_table']),
            'EXP_FILE': f'"{Path(exp_file).as_posix()}"',
            'INV_FILE': f'"{Path(inv_file).as_posix()}"',
        }
    return params | type_params('OUT', t['output'], modes=True)


def scale_bias_words(entries: np.ndarray, n: int) -> np.ndarray:
    """A batchnorm's per-entry values (element e of an image uses entry e % C) as the words scale_bias_stream
    reads, one per beat of n elements: DEPTH = lcm(C, n) / n words, element j of word k = entry (k*n + j) % C."""
    entries = np.asarray(entries, dtype=np.int64)
    depth = math.lcm(entries.size, n) // n
    return entries[np.arange(depth * n) % entries.size].reshape(depth, n)


def write_scale_bias_files(layer: Layer, n: int, scale_path: str | PathLike, bias_path: str | PathLike) -> int:
    """Write scale_bias_stream's SCALE_FILE and BIAS_FILE ($readmemh, one word of n entries per beat of the
    repeating pattern) for a batchnorm layer with n elements per beat; returns DEPTH, the words per file."""
    for key, path in (('scale', scale_path), ('bias', bias_path)):
        words = scale_bias_words(layer.arrays[key], n)
        Path(path).write_text(_hex_words(words.tolist(), layer.types[key].width))
    return len(words)


def scale_bias_params(layer: Layer, n: int, depth: int, scale_file: str | PathLike, bias_file: str | PathLike) -> dict:
    """Parameters of scale_bias_stream for a batchnorm layer: n elements per beat, DEPTH words in the files
    written by write_scale_bias_files."""
    t = layer.types
    return {
        'N': n,
        'DEPTH': depth,
        **type_params('IN', t['input']),
        **type_params('S', t['scale']),
        **type_params('B', t['bias']),
        **type_params('OUT', t['output']),
        'ROUNDING': ROUNDING_CODES[t['output'].rounding],
        'OVERFLOW': OVERFLOW_CODES[t['output'].overflow],
        'SCALE_FILE': f'"{Path(scale_file).as_posix()}"',
        'BIAS_FILE': f'"{Path(bias_file).as_posix()}"',
    }
