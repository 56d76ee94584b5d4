/*
 * Simulation model of the Lattice ECP5 MULT18X18D (sysDSP 18x18 multiplier) in the configurations
 * mult_bank instantiates: A, B and output registers each on CLK0 or absent ("NONE"), no pipeline
 * register, CE0/RST0 as clock enable and synchronous reset of the registers, operands from the A/B
 * pins (SOURCEA = SOURCEB = 0), signedness from SIGNEDA/SIGNEDB:
 *
 *   P = A * B (36 bits), each operand two's complement when its SIGNED pin is high, unsigned otherwise
 *
 * Yosys ships the primitive only as a black box, so simulations of mult_bank TARGET 1 (compiled
 * with LENET5_PRIMITIVE_MODELS defined) use this model; configurations it does not model stop the
 * simulation rather than run wrongly.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module MULT18X18D #(
    parameter REG_INPUTA_CLK = "NONE",
    parameter REG_INPUTA_CE = "CE0",
    parameter REG_INPUTA_RST = "RST0",
    parameter REG_INPUTB_CLK = "NONE",
    parameter REG_INPUTB_CE = "CE0",
    parameter REG_INPUTB_RST = "RST0",
    parameter REG_PIPELINE_CLK = "NONE",
    parameter REG_OUTPUT_CLK = "NONE",
    parameter REG_OUTPUT_CE = "CE0",
    parameter REG_OUTPUT_RST = "RST0",
    parameter GSR = "ENABLED",
    parameter RESETMODE = "SYNC",
    parameter MULT_BYPASS = "DISABLED"
) (
    input  wire A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0,
    input  wire B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0,
    input  wire C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0,
    input  wire SIGNEDA, SIGNEDB, SOURCEA, SOURCEB,
    input  wire CLK0, CLK1, CLK2, CLK3,
    input  wire CE0, CE1, CE2, CE3,
    input  wire RST0, RST1, RST2, RST3,
    output wire P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18,
    output wire P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0
);

initial begin
    if ((REG_INPUTA_CLK != "NONE" && REG_INPUTA_CLK != "CLK0") || (REG_INPUTB_CLK != "NONE" && REG_INPUTB_CLK != "CLK0")
        || (REG_OUTPUT_CLK != "NONE" && REG_OUTPUT_CLK != "CLK0") || REG_PIPELINE_CLK != "NONE"
        || REG_INPUTA_CE != "CE0" || REG_INPUTB_CE != "CE0" || REG_OUTPUT_CE != "CE0"
        || REG_INPUTA_RST != "RST0" || REG_INPUTB_RST != "RST0" || REG_OUTPUT_RST != "RST0"
        || RESETMODE != "SYNC" || MULT_BYPASS != "DISABLED") begin
        $error("MULT18X18D model: configuration not modelled (instance %m)");
        $finish;
    end
end

wire [17:0] a = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
wire [17:0] b = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};

reg [17:0] a_reg = 18'd0, b_reg = 18'd0;
reg [35:0] p_reg = 36'd0;

wire [17:0] a_op = REG_INPUTA_CLK == "CLK0" ? a_reg : a;
wire [17:0] b_op = REG_INPUTB_CLK == "CLK0" ? b_reg : b;
wire signed [18:0] a_ext = {SIGNEDA & a_op[17], a_op};
wire signed [18:0] b_ext = {SIGNEDB & b_op[17], b_op};
wire signed [37:0] product = a_ext * b_ext;
wire [35:0] p = REG_OUTPUT_CLK == "CLK0" ? p_reg : product[35:0];

always @(posedge CLK0) begin
    if (RST0) begin
        a_reg <= 18'd0;
        b_reg <= 18'd0;
        p_reg <= 36'd0;
    end else if (CE0) begin
        a_reg <= a;
        b_reg <= b;
        p_reg <= product[35:0];
    end
end

always @(posedge CLK0) begin
    if (SOURCEA !== 1'b0 || SOURCEB !== 1'b0) begin
        $error("MULT18X18D model: SOURCEA/SOURCEB (shift-chain operands) not modelled (instance %m)");
        $finish;
    end
end

assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18,
        P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = p;

endmodule

`resetall
