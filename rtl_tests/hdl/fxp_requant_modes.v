/*
 * Test wrapper for fxp_requant (testbench only, not part of the RTL library): one fxp_requant
 * instance per (rounding, overflow) mode pair for the same input and output types, so that a
 * single build checks all 7 x 4 ap_fixed modes. Output of the pair (ROUNDING=r, OVERFLOW=o) is
 * at out_data[(r*4 + o)*OUT_W +: OUT_W].
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module fxp_requant_modes #
(
    // Input word width in bits
    parameter integer IN_W = 8,
    // Input fractional bits
    parameter integer IN_FRAC = 4,
    // 1: signed input, 0: unsigned
    parameter integer IN_SIGNED = 1,
    // Output word width in bits
    parameter integer OUT_W = 6,
    // Output fractional bits
    parameter integer OUT_FRAC = 2,
    // 1: signed output, 0: unsigned
    parameter integer OUT_SIGNED = 1
)
(
    input  wire [IN_W-1:0]       in_data,
    output wire [28*OUT_W-1:0]   out_data
);

genvar r, o;
generate
for (r = 0; r < 7; r = r + 1) begin : g_rounding
    for (o = 0; o < 4; o = o + 1) begin : g_overflow
        fxp_requant #(
            .IN_W(IN_W), .IN_FRAC(IN_FRAC), .IN_SIGNED(IN_SIGNED),
            .OUT_W(OUT_W), .OUT_FRAC(OUT_FRAC), .OUT_SIGNED(OUT_SIGNED),
            .ROUNDING(r), .OVERFLOW(o)
        )
        dut_inst (
            .in_data(in_data),
            .out_data(out_data[(r*4 + o)*OUT_W +: OUT_W])
        );
    end
end
endgenerate

endmodule

`resetall
