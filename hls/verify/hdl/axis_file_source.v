/*
 * axis_file_source -- testbench-only AXI-stream source that reads its beats from a text file.
 *
 * Long whole-network runs (thousands of images) cannot afford a Python coroutine per clock; this
 * source keeps stimulus in the simulator. One hex word per line; the file is named at run time by
 * the plusarg +<NAME>_file=PATH, so one build serves every image set. +<NAME>_idle=P holds TVALID
 * low in about P% of the cycles (random_pause). The cycle of every
 * +<NAME>_frame=B'th accepted beat (the first beat of each image) goes to +<NAME>_log=PATH.
 * A reset drops the beat on the port (stimulus is not rewound).
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module axis_file_source #(
    // TDATA width, bits
    parameter integer DATA_W = 8,
    // plusarg prefix, e.g. "in" -> +in_file=, +in_idle=, +in_frame=, +in_log=
    parameter NAME = "in"
) (
    input  wire              clk,
    input  wire              rst,           // synchronous, active high
    input  wire [63:0]       cycle,         // cycles since reset, for the log

    output wire [DATA_W-1:0] m_axis_tdata,
    output wire              m_axis_tvalid,
    input  wire              m_axis_tready,

    output reg  [31:0]       beats_sent     // accepted beats, for diagnostics
);

reg [8*1024-1:0] path;
reg [DATA_W-1:0] word;          // next beat from the file
reg              have_word;
reg [DATA_W-1:0] tdata_reg;
reg              tvalid_reg;
integer          fd, log_fd, n, frame;
wire             pause;

initial begin
    if (DATA_W < 1) begin
        $error("axis_file_source: DATA_W must be >= 1 (got %0d)", DATA_W);
        $finish;
    end
    if (!$value$plusargs({NAME, "_file=%s"}, path)) begin
        $error("axis_file_source: plusarg +%0s_file=PATH missing", NAME);
        $finish;
    end
    fd = $fopen(path, "r");
    if (fd == 0) begin
        $error("axis_file_source: cannot open %0s", path);
        $finish;
    end
    if (!$value$plusargs({NAME, "_frame=%d"}, frame)) frame = 1;
    log_fd = 0;
    if ($value$plusargs({NAME, "_log=%s"}, path)) log_fd = $fopen(path, "w");
    n = $fscanf(fd, "%h\n", word);
    have_word = n == 1;
    tdata_reg = {DATA_W{1'b0}};
    tvalid_reg = 1'b0;
    beats_sent = 0;
end

random_pause #(.PLUSARG({NAME, "_idle"}), .SALT(32'h0)) idle (.clk(clk), .pause(pause));

always @(posedge clk) begin
    if (rst) begin
        tvalid_reg <= 1'b0;
    end else if (!tvalid_reg || m_axis_tready) begin
        if (tvalid_reg) begin
            if (log_fd != 0 && beats_sent % frame == 0) begin
                $fwrite(log_fd, "%0d\n", cycle);
                $fflush(log_fd);
            end
            beats_sent <= beats_sent + 1;
        end
        tvalid_reg <= have_word && !pause;
        if (have_word && !pause) begin
            tdata_reg <= word;  // the word read before this clock; $fscanf below overwrites it at once
            have_word <= $fscanf(fd, "%h\n", word) == 1;
        end
    end
end

assign m_axis_tdata = tdata_reg;
assign m_axis_tvalid = tvalid_reg;

endmodule

`resetall
