"""lenet5-hls: quantized Keras CNN -> hls4ml -> open Verilog pipeline, verified bit-exact with cocotb.

One subpackage per stage, imports pointing only to earlier ones (tests/test_layout.py checks it):
core (fixed point, pipeline spec, layer-kind registry) -> model (datasets, Keras models, training) ->
frontend (hls4ml) -> golden -> rtl (generator + Verilog library) -> kinds (one module per layer kind) ->
verify (simulation, cocotb benches) -> reports -> flow, cli.
"""

# The earlier stages look layer kinds up in core's registry; importing the kinds here fills it for every user.
import lenet5_hls.kinds  # noqa: F401
