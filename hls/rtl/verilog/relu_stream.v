/*
 * relu_stream: element-wise ReLU on a valid/ready stream, N elements per beat.
 *
 * For every element x of an input beat: y = cast_out(x > 0 ? x : 0), the cast being an ap_fixed
 * assignment to the output type (fxp_requant), exactly as hls4ml's nnet::relu and the golden model
 * lenet5_hls.kinds.relu's golden function do. Element i of a beat sits at bits [i*W +: W] on both sides.
 *
 * The result goes through an axis_skid_buffer (two registers, as verilog-axis' axis_register with
 * REG_TYPE=2, in 64-bit chunks with their own control copies: fc2's 1,344-bit beat had one control
 * flip-flop fan out to every bit): one beat per clock in steady state under any backpressure, and both
 * m_axis_* and s_axis_tready come straight from registers (no combinational path through the
 * module). Latency: 1 cycle. A beat moves when valid && ready; beats are never lost, duplicated or
 * reordered.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module relu_stream #
(
    // Elements per stream beat
    parameter integer N = 4,
    // Input element width in bits
    parameter integer IN_W = 8,
    // Input element fractional bits (may be negative or exceed IN_W)
    parameter integer IN_FRAC = 4,
    // 1: input elements are two's complement (ap_fixed), 0: unsigned (ap_ufixed)
    parameter integer IN_SIGNED = 1,
    // Output element width in bits
    parameter integer OUT_W = 8,
    // Output element fractional bits (may be negative or exceed OUT_W)
    parameter integer OUT_FRAC = 4,
    // 1: output elements are two's complement (ap_fixed), 0: unsigned (ap_ufixed)
    parameter integer OUT_SIGNED = 0,
    // Output rounding mode code: 0 TRN, 1 TRN_ZERO, 2 RND, 3 RND_ZERO, 4 RND_MIN_INF, 5 RND_INF, 6 RND_CONV
    parameter integer ROUNDING = 0,
    // Output overflow mode code: 0 WRAP, 1 SAT, 2 SAT_ZERO, 3 SAT_SYM
    parameter integer OVERFLOW = 0,
    // Copies of s_axis_tready driven (identical flip-flops), >= 1: one per 64-bit chunk of the producer's
    // output register, so that each chunk's enables see a ready flip-flop of its own
    parameter S_READY_COPIES = 1,
    // Copies of m_axis_tready taken (identical, from the consumer's flip-flops): 1, or one per 64-bit chunk
    // of the output register (each chunk's enables decode their own)
    parameter M_READY_COPIES = 1
)
(
    input  wire                   clk,
    input  wire                   rst,

    /*
     * Input stream: N elements of IN_W bits, element i at [i*IN_W +: IN_W]
     */
    input  wire [N*IN_W-1:0]      s_axis_tdata,
    input  wire                   s_axis_tvalid,
    output wire [S_READY_COPIES-1:0] s_axis_tready,

    /*
     * Output stream: N elements of OUT_W bits, element i at [i*OUT_W +: OUT_W]
     */
    output wire [N*OUT_W-1:0]     m_axis_tdata,
    output wire                   m_axis_tvalid,
    input  wire [M_READY_COPIES-1:0] m_axis_tready
);

// packed width of an output beat
localparam integer OUT_BEAT_W = N * OUT_W;

initial begin
    if (N < 1) begin
        $error("Error: relu_stream N must be >= 1, got %0d (instance %m)", N);
        $finish;
    end
    if (IN_W < 1 || OUT_W < 1) begin
        $error("Error: relu_stream IN_W and OUT_W must be >= 1 (instance %m)");
        $finish;
    end
end

// ReLU and cast of every element of the incoming beat (combinational)
wire [OUT_BEAT_W-1:0] relu_data;

genvar i;
generate
for (i = 0; i < N; i = i + 1) begin : g_elem
    wire [IN_W-1:0] x = s_axis_tdata[i*IN_W +: IN_W];
    // x > 0: nonzero and, when signed, sign bit clear
    wire positive = (x != {IN_W{1'b0}}) && !(IN_SIGNED != 0 && x[IN_W-1]);
    wire [IN_W-1:0] x_relu = positive ? x : {IN_W{1'b0}};

    fxp_requant #(
        .IN_W(IN_W),
        .IN_FRAC(IN_FRAC),
        .IN_SIGNED(IN_SIGNED),
        .OUT_W(OUT_W),
        .OUT_FRAC(OUT_FRAC),
        .OUT_SIGNED(OUT_SIGNED),
        .ROUNDING(ROUNDING),
        .OVERFLOW(OVERFLOW)
    )
    cast_inst (
        .in_data(x_relu),
        .out_data(relu_data[i*OUT_W +: OUT_W])
    );
end
endgenerate

axis_skid_buffer #(
    .DATA_W(OUT_BEAT_W),
    .S_READY_COPIES(S_READY_COPIES),
    .M_READY_COPIES(M_READY_COPIES)
)
out_reg (
    .clk(clk),
    .rst(rst),
    .s_axis_tdata(relu_data),
    .s_axis_tvalid(s_axis_tvalid),
    .s_axis_tready(s_axis_tready),
    .m_axis_tdata(m_axis_tdata),
    .m_axis_tvalid(m_axis_tvalid),
    .m_axis_tready(m_axis_tready)
);

endmodule

`resetall
