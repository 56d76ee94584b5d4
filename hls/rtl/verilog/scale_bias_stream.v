/*
 * scale_bias_stream: per-channel scale and bias (hls4ml's BatchNormalization) on a valid/ready stream,
 * N elements per beat.
 *
 * For every element x of an input beat, as nnet_batchnorm_stream.h computes it (and the golden function
 * in lenet5_hls.kinds.batchnorm):
 *   y = cast_out(x * s + b)
 * x * s is exact (IN_FRAC + S_FRAC fractional bits, as ap_fixed's multiplication), the sum with the bias
 * is exact too (both terms shifted onto the finer scale), and fxp_requant assigns it to the output type.
 * Element i of the k-th beat after reset takes s and b from word k % DEPTH of SCALE_FILE and BIAS_FILE
 * ($readmemh, DEPTH words of N entries, entry i at [i*W +: W]): the generator writes the words so that they
 * follow the channels in stream order (an (H, W, C) tensor with C elements per beat, or a Dense output in
 * one beat: DEPTH 1; a 1-D tensor over several beats, as a hand-written spec may have: one word per beat
 * until the pattern repeats).
 *
 * Two pipeline stages, each an axis_skid_buffer (two registers): the exact x * s + b (the multiplier's
 * product registered), then its cast. One beat per clock in steady state under any backpressure, m_axis_*
 * and s_axis_tready straight from registers. Latency: 2 cycles.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module scale_bias_stream #
(
    // Elements per stream beat
    parameter integer N = 4,
    // Words in SCALE_FILE and BIAS_FILE: beat k after reset uses word k % DEPTH
    parameter integer DEPTH = 1,
    // Input element width in bits
    parameter integer IN_W = 16,
    // Input element fractional bits (may be negative or exceed IN_W)
    parameter integer IN_FRAC = 10,
    // 1: input elements are two's complement (ap_fixed), 0: unsigned (ap_ufixed)
    parameter integer IN_SIGNED = 1,
    // Scale (hls4ml's scale_t) width in bits
    parameter integer S_W = 16,
    // Scale fractional bits (may be negative or exceed S_W)
    parameter integer S_FRAC = 10,
    // 1: scales are two's complement, 0: unsigned
    parameter integer S_SIGNED = 1,
    // Bias (hls4ml's bias_t) width in bits
    parameter integer B_W = 16,
    // Bias fractional bits (may be negative or exceed B_W)
    parameter integer B_FRAC = 10,
    // 1: biases are two's complement, 0: unsigned
    parameter integer B_SIGNED = 1,
    // Output element width in bits
    parameter integer OUT_W = 16,
    // Output element fractional bits (may be negative or exceed OUT_W)
    parameter integer OUT_FRAC = 10,
    // 1: output elements are two's complement (ap_fixed), 0: unsigned (ap_ufixed)
    parameter integer OUT_SIGNED = 1,
    // Output rounding mode code: 0 TRN, 1 TRN_ZERO, 2 RND, 3 RND_ZERO, 4 RND_MIN_INF, 5 RND_INF, 6 RND_CONV
    parameter integer ROUNDING = 0,
    // Output overflow mode code: 0 WRAP, 1 SAT, 2 SAT_ZERO, 3 SAT_SYM
    parameter integer OVERFLOW = 0,
    // $readmemh file with DEPTH words of N scales (S_W bits each)
    parameter SCALE_FILE = "scale.mem",
    // $readmemh file with DEPTH words of N biases (B_W bits each)
    parameter BIAS_FILE = "bias.mem"
)
(
    input  wire                   clk,
    input  wire                   rst,

    /*
     * Input stream: N elements of IN_W bits, element i at [i*IN_W +: IN_W]
     */
    input  wire [N*IN_W-1:0]      s_axis_tdata,
    input  wire                   s_axis_tvalid,
    output wire                   s_axis_tready,

    /*
     * Output stream: N elements of OUT_W bits, element i at [i*OUT_W +: OUT_W]
     */
    output wire [N*OUT_W-1:0]     m_axis_tdata,
    output wire                   m_axis_tvalid,
    input  wire                   m_axis_tready
);

// fractional bits of the product and of the exact sum, and the left shift of each term onto the sum's scale
localparam integer PROD_FRAC = IN_FRAC + S_FRAC;
localparam integer SUM_FRAC = PROD_FRAC > B_FRAC ? PROD_FRAC : B_FRAC;
localparam integer P_SHIFT = SUM_FRAC - PROD_FRAC;
localparam integer B_SHIFT = SUM_FRAC - B_FRAC;
// exact product width: both factors as signed words (one extra bit each)
localparam integer PW = IN_W + S_W + 2;
// exact sum width: the wider shifted term plus a carry bit (lenet5_hls.kinds.batchnorm._sum_width)
localparam integer SUM_W = (PW + P_SHIFT > B_W + 1 + B_SHIFT ? PW + P_SHIFT : B_W + 1 + B_SHIFT) + 1;
// word address width
localparam integer AW = DEPTH > 1 ? $clog2(DEPTH) : 1;
localparam [AW-1:0] LAST_WORD = DEPTH[AW-1:0] - 1'b1;

initial begin
    if (N < 1 || DEPTH < 1) begin
        $error("Error: scale_bias_stream N and DEPTH must be >= 1, got %0d and %0d (instance %m)", N, DEPTH);
        $finish;
    end
    if (IN_W < 1 || S_W < 1 || B_W < 1 || OUT_W < 1) begin
        $error("Error: scale_bias_stream IN_W, S_W, B_W and OUT_W must be >= 1 (instance %m)");
        $finish;
    end
    if (SUM_W > 64) begin
        $error("Error: scale_bias_stream x * s + b needs %0d bits, more than 64 (instance %m)", SUM_W);
        $finish;
    end
end

reg [N*S_W-1:0] scale_rom [0:DEPTH-1];
reg [N*B_W-1:0] bias_rom [0:DEPTH-1];

initial begin
    $readmemh(SCALE_FILE, scale_rom);
    $readmemh(BIAS_FILE, bias_rom);
end

// the word of the next input beat: counts accepted beats modulo DEPTH
reg [AW-1:0] word_reg, word_next;

wire in_fire = s_axis_tvalid && s_axis_tready;

always @* begin
    word_next = word_reg;
    if (in_fire) begin
        word_next = word_reg == LAST_WORD ? {AW{1'b0}} : word_reg + 1'b1;
    end
end

always @(posedge clk) begin
    if (rst) begin
        word_reg <= {AW{1'b0}};
    end else begin
        word_reg <= word_next;
    end
end

wire [N*S_W-1:0] scale_word = scale_rom[word_reg];
wire [N*B_W-1:0] bias_word = bias_rom[word_reg];

// stage 1: x * s + b of every element of the incoming beat, exact (combinational, registered below)
wire [N*SUM_W-1:0] sum_data;

genvar i;
generate
for (i = 0; i < N; i = i + 1) begin : g_sum
    wire [IN_W-1:0] x = s_axis_tdata[i*IN_W +: IN_W];
    wire [S_W-1:0] s = scale_word[i*S_W +: S_W];
    wire [B_W-1:0] b = bias_word[i*B_W +: B_W];
    wire signed [IN_W:0] x_s = $signed({IN_SIGNED != 0 && x[IN_W-1], x});
    wire signed [S_W:0] s_s = $signed({S_SIGNED != 0 && s[S_W-1], s});
    wire signed [PW-1:0] product = x_s * s_s;
    wire signed [SUM_W-1:0] prod_aligned = $signed({{(SUM_W-PW){product[PW-1]}}, product}) <<< P_SHIFT;
    wire signed [SUM_W-1:0] bias_aligned = $signed({{(SUM_W-B_W){B_SIGNED != 0 && b[B_W-1]}}, b}) <<< B_SHIFT;

    assign sum_data[i*SUM_W +: SUM_W] = prod_aligned + bias_aligned;
end
endgenerate

wire [N*SUM_W-1:0] sum_tdata;
wire sum_tvalid, sum_tready;

axis_skid_buffer #(
    .DATA_W(N * SUM_W)
)
sum_reg (
    .clk(clk),
    .rst(rst),
    .s_axis_tdata(sum_data),
    .s_axis_tvalid(s_axis_tvalid),
    .s_axis_tready(s_axis_tready),
    .m_axis_tdata(sum_tdata),
    .m_axis_tvalid(sum_tvalid),
    .m_axis_tready(sum_tready)
);

// stage 2: the cast of every sum to the output type (combinational, registered below)
wire [N*OUT_W-1:0] out_data;

generate
for (i = 0; i < N; i = i + 1) begin : g_cast
    fxp_requant #(
        .IN_W(SUM_W),
        .IN_FRAC(SUM_FRAC),
        .IN_SIGNED(1),
        .OUT_W(OUT_W),
        .OUT_FRAC(OUT_FRAC),
        .OUT_SIGNED(OUT_SIGNED),
        .ROUNDING(ROUNDING),
        .OVERFLOW(OVERFLOW)
    )
    cast_inst (
        .in_data(sum_tdata[i*SUM_W +: SUM_W]),
        .out_data(out_data[i*OUT_W +: OUT_W])
    );
end
endgenerate

axis_skid_buffer #(
    .DATA_W(N * OUT_W)
)
out_reg (
    .clk(clk),
    .rst(rst),
    .s_axis_tdata(out_data),
    .s_axis_tvalid(sum_tvalid),
    .s_axis_tready(sum_tready),
    .m_axis_tdata(m_axis_tdata),
    .m_axis_tvalid(m_axis_tvalid),
    .m_axis_tready(m_axis_tready)
);

endmodule

`resetall
