"""RTL back end: folding plan, cycle model and Verilog generation over the library in verilog/."""
