/*
 * fxp_requant: combinational fixed-point cast with Xilinx ap_fixed semantics.
 *
 * Assigns a value of type ap_[u]fixed<IN_W, IN_W-IN_FRAC> to ap_[u]fixed<OUT_W, OUT_W-OUT_FRAC, Q, O>,
 * bit-exactly as lenet5_hls.model.fixed_point.cast() (and ap_fixed_base.h) do:
 *   1. quantization: when the input has more fractional bits than the output (SHIFT = IN_FRAC -
 *      OUT_FRAC > 0) the SHIFT dropped bits are rounded with mode ROUNDING; when it has fewer
 *      (SHIFT < 0) zeros are appended;
 *   2. overflow: the quantized value is fitted into OUT_W bits with mode OVERFLOW.
 * Words are raw two's-complement (signed) or plain binary (unsigned) integers; the real value of a
 * word is raw * 2^-FRAC. FRAC may be negative or larger than the width (integer bits outside the
 * word), shifts in both directions and of any size are handled. Purely combinational, no clock.
 *
 * Rounding codes (ap_q_mode): 0 TRN, 1 TRN_ZERO, 2 RND, 3 RND_ZERO, 4 RND_MIN_INF, 5 RND_INF, 6 RND_CONV.
 * Overflow codes (ap_o_mode): 0 WRAP, 1 SAT, 2 SAT_ZERO, 3 SAT_SYM.
 * (lenet5_hls.hls.rtl_params holds the same code maps and builds the parameters from two FixedTypes.)
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module fxp_requant #
(
    // Input word width in bits
    parameter integer IN_W = 16,
    // Input fractional bits (ap_fixed width minus integer bits; may be negative or exceed IN_W)
    parameter integer IN_FRAC = 8,
    // 1: input is two's complement (ap_fixed), 0: unsigned (ap_ufixed)
    parameter integer IN_SIGNED = 1,
    // Output word width in bits
    parameter integer OUT_W = 8,
    // Output fractional bits (may be negative or exceed OUT_W)
    parameter integer OUT_FRAC = 4,
    // 1: output is two's complement (ap_fixed), 0: unsigned (ap_ufixed)
    parameter integer OUT_SIGNED = 1,
    // Output rounding mode code: 0 TRN, 1 TRN_ZERO, 2 RND, 3 RND_ZERO, 4 RND_MIN_INF, 5 RND_INF, 6 RND_CONV
    parameter integer ROUNDING = 0,
    // Output overflow mode code: 0 WRAP, 1 SAT, 2 SAT_ZERO, 3 SAT_SYM
    parameter integer OVERFLOW = 0
)
(
    input  wire [IN_W-1:0]  in_data,
    output wire [OUT_W-1:0] out_data
);

// bits dropped (> 0, rounded) or appended (< 0, zeros) to align the binary points
localparam integer SHIFT = IN_FRAC - OUT_FRAC;
// input as a signed word: one extra (sign or zero) bit on top
localparam integer XW = IN_W + 1;
// width of the rounded quotient: room for the sign, the shifted-out bits and the +1 of rounding
localparam integer RW = (XW > SHIFT + 1 ? XW : SHIFT + 1) + 1;
// width of the aligned (quantized) value before overflow handling
localparam integer VW = SHIFT > 0 ? RW : XW - SHIFT;
// comparison width: holds the aligned value and every output limit, plus one spare bit
localparam integer CW = (VW > OUT_W + 1 ? VW : OUT_W + 1) + 1;

// output limits as CW-bit signed constants
localparam [CW-1:0] ONE_C = 1;
localparam signed [CW-1:0] OUT_MAX = OUT_SIGNED != 0 ? (ONE_C << (OUT_W - 1)) - ONE_C : (ONE_C << OUT_W) - ONE_C;
localparam signed [CW-1:0] OUT_MIN = OUT_SIGNED != 0 ? ~((ONE_C << (OUT_W - 1)) - ONE_C) : {CW{1'b0}};
// SAT_SYM: a signed output never takes its most negative code
localparam signed [CW-1:0] OUT_MIN_SYM = OUT_SIGNED != 0 ? OUT_MIN + ONE_C : OUT_MIN;

initial begin
    if (IN_W < 1 || OUT_W < 1) begin
        $error("Error: fxp_requant widths must be >= 1 (IN_W=%0d, OUT_W=%0d) (instance %m)", IN_W, OUT_W);
        $finish;
    end
    if (IN_SIGNED != 0 && IN_SIGNED != 1 || OUT_SIGNED != 0 && OUT_SIGNED != 1) begin
        $error("Error: fxp_requant IN_SIGNED/OUT_SIGNED must be 0 or 1 (instance %m)");
        $finish;
    end
    if (ROUNDING < 0 || ROUNDING > 6) begin
        $error("Error: fxp_requant ROUNDING code %0d out of range 0..6 (instance %m)", ROUNDING);
        $finish;
    end
    if (OVERFLOW < 0 || OVERFLOW > 3) begin
        $error("Error: fxp_requant OVERFLOW code %0d out of range 0..3 (instance %m)", OVERFLOW);
        $finish;
    end
end

// input as a signed (IN_W+1)-bit value
wire signed [XW-1:0] in_s = {IN_SIGNED != 0 ? in_data[IN_W-1] : 1'b0, in_data};

// value aligned to OUT_FRAC fractional bits, quantized
wire signed [VW-1:0] aligned;

generate
if (SHIFT > 0) begin : g_round
    // floor(in / 2^SHIFT) and the dropped bits (in = quot * 2^SHIFT + rem, 0 <= rem < 2^SHIFT)
    wire signed [RW-1:0] in_ext = {{(RW-XW){in_s[XW-1]}}, in_s};
    wire signed [RW-1:0] quot = in_ext >>> SHIFT;

    if (ROUNDING == 0) begin : g_trn
        // TRN: floor, the dropped bits are simply discarded
        assign aligned = quot;
    end else begin : g_rnd
        wire [SHIFT-1:0] rem = in_ext[SHIFT-1:0];
        localparam [SHIFT-1:0] ONE_R = 1;
        // half an output LSB, in dropped-bit units
        localparam [SHIFT-1:0] HALF = ONE_R << (SHIFT - 1);
        wire neg = in_s[XW-1];
        wire nonzero = rem != {SHIFT{1'b0}};
        wire tie = rem == HALF;
        // rem > HALF, written so that it is not a constant comparison when SHIFT == 1
        wire above = rem[SHIFT-1] && !tie;
        reg inc;

        always @* begin
            case (ROUNDING)
                1: inc = neg && nonzero;                // TRN_ZERO: toward zero
                2: inc = above || tie;                  // RND: ties toward +inf
                3: inc = above || (tie && neg);         // RND_ZERO: ties toward zero
                4: inc = above;                         // RND_MIN_INF: ties toward -inf
                5: inc = above || (tie && !neg);        // RND_INF: ties away from zero
                6: inc = above || (tie && quot[0]);     // RND_CONV: ties to even
                default: inc = 1'b0;                    // not reached: TRN is g_trn
            endcase
        end

        assign aligned = quot + {{(RW-1){1'b0}}, inc};
    end
end else if (SHIFT < 0) begin : g_extend
    assign aligned = {in_s, {(-SHIFT){1'b0}}};
end else begin : g_same
    assign aligned = in_s;
end
endgenerate

// overflow handling on the aligned value
/* verilator lint_off UNUSEDSIGNAL */ // WRAP keeps only the low OUT_W bits of val, by definition
wire signed [CW-1:0] val = {{(CW-VW){aligned[VW-1]}}, aligned};
/* verilator lint_on UNUSEDSIGNAL */

generate
if (OVERFLOW == 0) begin : g_wrap
    // WRAP: keep the low OUT_W bits (a plain wire: no comparators, cheap for event-driven simulators)
    assign out_data = val[OUT_W-1:0];
end else begin : g_sat
    wire over_max = val > OUT_MAX;
    wire under_min = val < OUT_MIN;
    wire under_min_sym = val < OUT_MIN_SYM;
    reg [OUT_W-1:0] result;

    always @* begin
        case (OVERFLOW)
            1: result = over_max ? OUT_MAX[OUT_W-1:0] : under_min ? OUT_MIN[OUT_W-1:0] : val[OUT_W-1:0];
            2: result = (over_max || under_min) ? {OUT_W{1'b0}} : val[OUT_W-1:0];
            default: result = over_max ? OUT_MAX[OUT_W-1:0] : under_min_sym ? OUT_MIN_SYM[OUT_W-1:0] : val[OUT_W-1:0];
        endcase
    end

    assign out_data = result;
end
endgenerate


endmodule

`resetall
