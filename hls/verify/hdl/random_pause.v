/*
 * random_pause -- testbench-only pause pattern for the file source/sink: high in about P% of the
 * cycles, P from the plusarg +<PLUSARG>=P (default 0: never), xorshift32 seeded by +seed=S ^ SALT.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module random_pause #(
    // plusarg holding the percentage, e.g. "in_idle"
    parameter PLUSARG = "pause",
    // mixed into the seed so that source and sink patterns differ
    parameter [31:0] SALT = 32'h0
) (
    input  wire clk,
    output wire pause
);

reg [31:0] state;
integer    percent, seed;

function [31:0] xorshift32(input [31:0] x);
    reg [31:0] y;
    begin
        y = x ^ (x << 13);
        y = y ^ (y >> 17);
        xorshift32 = y ^ (y << 5);
    end
endfunction

initial begin
    if (!$value$plusargs({PLUSARG, "=%d"}, percent)) percent = 0;
    if (!$value$plusargs("seed=%d", seed)) seed = 1;
    state = (seed ^ SALT) == 0 ? 32'h1 : seed ^ SALT;
end

always @(posedge clk) state <= xorshift32(state);

assign pause = percent > 0 && (state % 100) < percent;

endmodule

`resetall
