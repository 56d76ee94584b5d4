"""Verification: cocotb builds and runs (Icarus, Verilator), whole-network simulation, vendor RTL ports."""
