"""lenet5-hls: quantized Keras CNN -> hls4ml -> open Verilog pipeline, verified bit-exact with cocotb.

One subpackage per stage, imports pointing only to earlier ones (tests/test_layout.py checks it):
core (fixed point, pipeline spec) -> model (datasets, Keras models, training) -> frontend (hls4ml) ->
golden -> rtl (generator + Verilog library) -> verify (simulation, cocotb benches) -> reports -> flow, cli.
"""
