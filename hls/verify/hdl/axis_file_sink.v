/*
 * axis_file_sink -- testbench-only AXI-stream sink that writes every beat to a text file.
 *
 * The partner of axis_file_source for long runs: each accepted beat is written as
 * "<cycle> <hex word>" to +<NAME>_file=PATH, so results and their timing are read back after the
 * run with no Python per clock. +<NAME>_backpressure=P holds TREADY low in about P% of the cycles
 * (random_pause).
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module axis_file_sink #(
    // TDATA width, bits
    parameter integer DATA_W = 8,
    // plusarg prefix, e.g. "out" -> +out_file=, +out_backpressure=
    parameter NAME = "out"
) (
    input  wire              clk,
    input  wire              rst,           // synchronous, active high
    input  wire [63:0]       cycle,         // cycles since reset, written with each beat

    input  wire [DATA_W-1:0] s_axis_tdata,
    input  wire              s_axis_tvalid,
    output wire              s_axis_tready,

    output reg  [31:0]       beats_received
);

reg [8*1024-1:0] path;
reg              tready_reg;
integer          fd;
wire             pause;

initial begin
    if (DATA_W < 1) begin
        $error("axis_file_sink: DATA_W must be >= 1 (got %0d)", DATA_W);
        $finish;
    end
    if (!$value$plusargs({NAME, "_file=%s"}, path)) begin
        $error("axis_file_sink: plusarg +%0s_file=PATH missing", NAME);
        $finish;
    end
    fd = $fopen(path, "w");
    if (fd == 0) begin
        $error("axis_file_sink: cannot open %0s for writing", path);
        $finish;
    end
    tready_reg = 1'b0;
    beats_received = 0;
end

random_pause #(.PLUSARG({NAME, "_backpressure"}), .SALT(32'h9e3779b9)) backpressure (.clk(clk), .pause(pause));

always @(posedge clk) begin
    if (rst) begin
        tready_reg <= 1'b0;
    end else begin
        if (s_axis_tvalid && tready_reg) begin
            $fwrite(fd, "%0d %h\n", cycle, s_axis_tdata);
            $fflush(fd);
            beats_received <= beats_received + 1;
        end
        tready_reg <= !pause;
    end
end

assign s_axis_tready = tready_reg;

endmodule

`resetall
