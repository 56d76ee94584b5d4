/*
 * mult_bank: N multipliers, each with registered operands and a registered exact product:
 *
 *   p[n] = a[n] * b[n], two cycles after a[n] and b[n] are presented
 *
 * (a[n] at a[n*A_W +: A_W], b[n] at b[n*B_W +: B_W], p[n] at p[n*P_W +: P_W] with P_W = A_W + B_W + 2,
 * two's complement; each operand two's complement or unsigned as A_SIGNED / B_SIGNED say).
 *
 * TARGET 0 (generic): flip-flops around the * operator, for any tool; the A registers are kept, so that
 *   synthesis does not merge them with identical registers of another bank (the operands are copies
 *   placed next to their multipliers).
 * TARGET 1 (ecp5): one Lattice ECP5 MULT18X18D per multiplier with its A, B and output registers enabled,
 *   so the multiply runs between registers inside the DSP block. (Yosys maps a * b to a MULT18X18D
 *   without its registers; nextpnr then times fabric flip-flop -> route -> multiplier -> route -> fabric
 *   flip-flop, and the routes to and from the DSP rows set the clock.) The primitive is instantiated
 *   under synthesis (SYNTHESIS defined, as by Yosys) or when LENET5_PRIMITIVE_MODELS is defined (a
 *   simulation with a model of the primitive: lenet5_hls/verify/hdl/ecp5_mult18x18d.v); every other
 *   simulation runs the generic path, with the same cycles and results.
 *   Each operand must fit 18 bits as two's complement (A_W <= 18 signed, <= 17 unsigned; so B).
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

// the primitive path: synthesis, or a simulation with the primitives' models
`ifdef SYNTHESIS
`define LENET5_MULT_BANK_PRIMITIVES
`endif
`ifdef LENET5_PRIMITIVE_MODELS
`define LENET5_MULT_BANK_PRIMITIVES
`endif

module mult_bank #(
    // Multipliers, >= 1
    parameter integer N = 1,
    // Width of an A operand, bits, >= 1
    parameter integer A_W = 8,
    // 1: A operands are two's complement, 0: unsigned
    parameter integer A_SIGNED = 1,
    // Width of a B operand, bits, >= 1
    parameter integer B_W = 8,
    // 1: B operands are two's complement, 0: unsigned
    parameter integer B_SIGNED = 1,
    // 0: generic, 1: ECP5 MULT18X18D (see above)
    parameter integer TARGET = 0
) (
    input  wire                        clk,

    input  wire [N*A_W-1:0]            a,
    input  wire [N*B_W-1:0]            b,
    output wire [N*(A_W+B_W+2)-1:0]    p
);

// product width: both operands sign/zero-extended by one bit, product of the extended widths
localparam integer P_W = A_W + B_W + 2;
// operand widths as two's complement
localparam integer A_TC_W = A_W + (A_SIGNED != 0 ? 0 : 1);
localparam integer B_TC_W = B_W + (B_SIGNED != 0 ? 0 : 1);
localparam ECP5 = TARGET == 1;
`ifdef LENET5_MULT_BANK_PRIMITIVES
localparam PRIMITIVES = 1;
`else
localparam PRIMITIVES = 0;
`endif

initial begin
    if (N < 1 || A_W < 1 || B_W < 1) begin
        $error("mult_bank: N, A_W, B_W must be >= 1 (got %0d, %0d, %0d)", N, A_W, B_W);
        $finish;
    end
    if (TARGET != 0 && TARGET != 1) begin
        $error("mult_bank: TARGET must be 0 (generic) or 1 (ecp5), got %0d", TARGET);
        $finish;
    end
    if (ECP5 && (A_TC_W > 18 || B_TC_W > 18)) begin
        $error("mult_bank: TARGET 1 (ecp5) needs operands of at most 18 bits as two's complement (A %0d, B %0d)",
               A_TC_W, B_TC_W);
        $finish;
    end
end

genvar n;
generate
if (ECP5 && PRIMITIVES) begin : g_ecp5
    for (n = 0; n < N; n = n + 1) begin : g_dsp
        wire [A_W-1:0] a_n = a[n*A_W +: A_W];
        wire [B_W-1:0] b_n = b[n*B_W +: B_W];
        // operands sign/zero-extended to the DSP's 18 bits, multiplied as two's complement
        wire [17:0] a18 = {{(18-A_W){A_SIGNED != 0 ? a_n[A_W-1] : 1'b0}}, a_n};
        wire [17:0] b18 = {{(18-B_W){B_SIGNED != 0 ? b_n[B_W-1] : 1'b0}}, b_n};
        wire [35:0] p36;

`ifdef LENET5_MULT_BANK_PRIMITIVES
        // CLK1-3, CE1-3 and RST0-3 stay unconnected: nextpnr ties unconnected control pins off in the
        // block, while a constant on them is routed from a LUT (1,650 routes for conv1's 150 DSPs)
        /* verilator lint_off PINMISSING */ // the unused control pins above, on purpose
        MULT18X18D #(
            .REG_INPUTA_CLK("CLK0"),
            .REG_INPUTB_CLK("CLK0"),
            .REG_PIPELINE_CLK("NONE"),
            .REG_OUTPUT_CLK("CLK0"),
            .GSR("DISABLED"),
            .RESETMODE("SYNC")
        ) dsp (
            .A0(a18[0]), .A1(a18[1]), .A2(a18[2]), .A3(a18[3]), .A4(a18[4]), .A5(a18[5]),
            .A6(a18[6]), .A7(a18[7]), .A8(a18[8]), .A9(a18[9]), .A10(a18[10]), .A11(a18[11]),
            .A12(a18[12]), .A13(a18[13]), .A14(a18[14]), .A15(a18[15]), .A16(a18[16]), .A17(a18[17]),
            .B0(b18[0]), .B1(b18[1]), .B2(b18[2]), .B3(b18[3]), .B4(b18[4]), .B5(b18[5]),
            .B6(b18[6]), .B7(b18[7]), .B8(b18[8]), .B9(b18[9]), .B10(b18[10]), .B11(b18[11]),
            .B12(b18[12]), .B13(b18[13]), .B14(b18[14]), .B15(b18[15]), .B16(b18[16]), .B17(b18[17]),
            .C0(1'b0), .C1(1'b0), .C2(1'b0), .C3(1'b0), .C4(1'b0), .C5(1'b0),
            .C6(1'b0), .C7(1'b0), .C8(1'b0), .C9(1'b0), .C10(1'b0), .C11(1'b0),
            .C12(1'b0), .C13(1'b0), .C14(1'b0), .C15(1'b0), .C16(1'b0), .C17(1'b0),
            .SIGNEDA(1'b1), .SIGNEDB(1'b1), .SOURCEA(1'b0), .SOURCEB(1'b0),
            .CLK0(clk), .CE0(1'b1),
            .P0(p36[0]), .P1(p36[1]), .P2(p36[2]), .P3(p36[3]), .P4(p36[4]), .P5(p36[5]),
            .P6(p36[6]), .P7(p36[7]), .P8(p36[8]), .P9(p36[9]), .P10(p36[10]), .P11(p36[11]),
            .P12(p36[12]), .P13(p36[13]), .P14(p36[14]), .P15(p36[15]), .P16(p36[16]), .P17(p36[17]),
            .P18(p36[18]), .P19(p36[19]), .P20(p36[20]), .P21(p36[21]), .P22(p36[22]), .P23(p36[23]),
            .P24(p36[24]), .P25(p36[25]), .P26(p36[26]), .P27(p36[27]), .P28(p36[28]), .P29(p36[29]),
            .P30(p36[30]), .P31(p36[31]), .P32(p36[32]), .P33(p36[33]), .P34(p36[34]), .P35(p36[35])
        );
        /* verilator lint_on PINMISSING */
`endif

        // |a*b| < 2^(A_W+B_W): the 36-bit product holds it; extend or cut to P_W bits
        if (P_W > 36) begin : g_extend
            assign p[n*P_W +: P_W] = {{(P_W-36){p36[35]}}, p36};
        end else begin : g_cut
            assign p[n*P_W +: P_W] = p36[P_W-1:0];
        end
    end
end else begin : g_generic
    reg [N*A_W-1:0] a_reg;
    reg [N*B_W-1:0] b_reg;
    reg [N*P_W-1:0] p_reg;
    // all products in one process: a simulator evaluates it once a clock (a continuous assignment per
    // product into one wide net costs Icarus a whole-net update per product)
    reg [N*P_W-1:0] prods;
    integer i;

    always @* begin
        for (i = 0; i < N; i = i + 1) begin
            // operands sign/zero-extended to P_W bits: the low P_W bits of their product are a*b exactly
            prods[i*P_W +: P_W] =
                $signed({{(P_W-A_W){A_SIGNED != 0 ? a_reg[i*A_W+A_W-1] : 1'b0}}, a_reg[i*A_W +: A_W]})
                * $signed({{(P_W-B_W){B_SIGNED != 0 ? b_reg[i*B_W+B_W-1] : 1'b0}}, b_reg[i*B_W +: B_W]});
        end
    end

    // keep: synthesis must not merge these operand copies with another bank's
    (* keep *)
    always @(posedge clk) begin
        a_reg <= a;
    end

    always @(posedge clk) begin
        b_reg <= b;
        p_reg <= prods;
    end

    assign p = p_reg;
end
endgenerate

endmodule

`resetall
