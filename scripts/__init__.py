"""lenet5-hls: quantized LeNet-5 -> hls4ml -> open Verilog pipeline, verified bit-exact with cocotb."""
