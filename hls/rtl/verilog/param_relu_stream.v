/*
 * param_relu_stream: element-wise parametrized ReLU (hls4ml's leaky_relu and thresholded_relu) on a
 * valid/ready stream, N elements per beat.
 *
 * For every element x of an input beat, as nnet_activation_stream.h computes it (and the golden function
 * in lenet5_hls.kinds.parametrized_relu):
 *   y = x > THETA ? cast_out(x) : cast_out(x * ALPHA)
 * THETA and ALPHA are raw values of the parameter type ap_[u]fixed<P_W, P_W-P_FRAC> (leaky_relu: THETA = 0,
 * ALPHA = alpha; thresholded_relu: THETA = theta, ALPHA = 0). The comparison is exact (both sides aligned
 * to the finer scale); the product is exact, with IN_FRAC + P_FRAC fractional bits, as ap_fixed's
 * multiplication; each branch is assigned to the output type by fxp_requant.
 *
 * The result goes through an axis_skid_buffer (two registers): one beat per clock in steady state under
 * any backpressure, m_axis_* and s_axis_tready straight from registers. Latency: 1 cycle (as relu_stream).
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module param_relu_stream #
(
    // Elements per stream beat
    parameter integer N = 4,
    // Input element width in bits
    parameter integer IN_W = 8,
    // Input element fractional bits (may be negative or exceed IN_W)
    parameter integer IN_FRAC = 4,
    // 1: input elements are two's complement (ap_fixed), 0: unsigned (ap_ufixed)
    parameter integer IN_SIGNED = 1,
    // Parameter type (hls4ml's param_t) width in bits, 1..31
    parameter integer P_W = 8,
    // Parameter type fractional bits (may be negative or exceed P_W)
    parameter integer P_FRAC = 8,
    // 1: the parameter type is two's complement, 0: unsigned
    parameter integer P_SIGNED = 0,
    // Threshold, raw at the parameter type: elements above it pass, the others are multiplied by ALPHA
    parameter integer THETA = 0,
    // Slope below the threshold, raw at the parameter type
    parameter integer ALPHA = 0,
    // Output element width in bits
    parameter integer OUT_W = 8,
    // Output element fractional bits (may be negative or exceed OUT_W)
    parameter integer OUT_FRAC = 4,
    // 1: output elements are two's complement (ap_fixed), 0: unsigned (ap_ufixed)
    parameter integer OUT_SIGNED = 1,
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

// the comparison's common scale and the left shift of each side onto it
localparam integer CMP_FRAC = IN_FRAC > P_FRAC ? IN_FRAC : P_FRAC;
localparam integer X_SHIFT = CMP_FRAC - IN_FRAC;
localparam integer T_SHIFT = CMP_FRAC - P_FRAC;
// comparison width: either side sign-extended by one bit, shifted, plus a spare bit
localparam integer CW = (IN_W + X_SHIFT > P_W + T_SHIFT ? IN_W + X_SHIFT : P_W + T_SHIFT) + 2;
// exact product width: both factors as signed words (one extra bit each)
localparam integer PW = IN_W + P_W + 2;

localparam [P_W-1:0] THETA_P = THETA[P_W-1:0];
localparam [P_W-1:0] ALPHA_P = ALPHA[P_W-1:0];
// THETA on the comparison scale
localparam signed [CW-1:0] THETA_C = $signed({{(CW-P_W){P_SIGNED != 0 && THETA_P[P_W-1]}}, THETA_P}) <<< T_SHIFT;
// ALPHA as a signed factor
localparam signed [P_W:0] ALPHA_S = $signed({P_SIGNED != 0 && ALPHA_P[P_W-1], ALPHA_P});

initial begin
    if (N < 1) begin
        $error("Error: param_relu_stream N must be >= 1, got %0d (instance %m)", N);
        $finish;
    end
    if (IN_W < 1 || OUT_W < 1 || P_W < 1 || P_W > 31) begin
        $error("Error: param_relu_stream IN_W, OUT_W must be >= 1 and P_W in 1..31 (instance %m)");
        $finish;
    end
    if (P_SIGNED != 0 ? THETA < -(1 << (P_W - 1)) || THETA >= (1 << (P_W - 1)) || ALPHA < -(1 << (P_W - 1))
            || ALPHA >= (1 << (P_W - 1)) : THETA < 0 || THETA >= (1 << P_W) || ALPHA < 0 || ALPHA >= (1 << P_W)) begin
        $error("Error: param_relu_stream THETA=%0d or ALPHA=%0d outside the parameter type (instance %m)", THETA, ALPHA);
        $finish;
    end
end

// comparison, product and cast of every element of the incoming beat (combinational)
wire [N*OUT_W-1:0] act_data;

genvar i;
generate
for (i = 0; i < N; i = i + 1) begin : g_elem
    wire [IN_W-1:0] x = s_axis_tdata[i*IN_W +: IN_W];
    wire x_neg = IN_SIGNED != 0 && x[IN_W-1];
    wire signed [CW-1:0] x_c = $signed({{(CW-IN_W){x_neg}}, x}) <<< X_SHIFT;
    wire above = x_c > THETA_C;
    wire signed [PW-1:0] product = $signed({{(PW-IN_W){x_neg}}, x}) * ALPHA_S;
    wire [OUT_W-1:0] y_pass, y_scaled;

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
    pass_cast (
        .in_data(x),
        .out_data(y_pass)
    );

    fxp_requant #(
        .IN_W(PW),
        .IN_FRAC(IN_FRAC + P_FRAC),
        .IN_SIGNED(1),
        .OUT_W(OUT_W),
        .OUT_FRAC(OUT_FRAC),
        .OUT_SIGNED(OUT_SIGNED),
        .ROUNDING(ROUNDING),
        .OVERFLOW(OVERFLOW)
    )
    scaled_cast (
        .in_data(product),
        .out_data(y_scaled)
    );

    assign act_data[i*OUT_W +: OUT_W] = above ? y_pass : y_scaled;
end
endgenerate

axis_skid_buffer #(
    .DATA_W(N * OUT_W),
    .S_READY_COPIES(S_READY_COPIES),
    .M_READY_COPIES(M_READY_COPIES)
)
out_reg (
    .clk(clk),
    .rst(rst),
    .s_axis_tdata(act_data),
    .s_axis_tvalid(s_axis_tvalid),
    .s_axis_tready(s_axis_tready),
    .m_axis_tdata(m_axis_tdata),
    .m_axis_tvalid(m_axis_tvalid),
    .m_axis_tready(m_axis_tready)
);

endmodule

`resetall
