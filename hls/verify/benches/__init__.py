"""cocotb benches the simulation runs (imported by the simulator's Python): drivers, scoreboard, probes."""
