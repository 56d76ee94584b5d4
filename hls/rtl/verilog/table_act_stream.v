/*
 * table_act_stream: element-wise lookup-table activation (hls4ml's sigmoid / tanh, and the unary_lut of
 * HGQ2's QUnaryFunctionLUT) on a valid/ready stream, N elements per beat.
 *
 * For every element x (raw r, IN_FRAC fractional bits) of an input beat, the table index is, by INDEX_MODE:
 *   0 (scaled, sigmoid / tanh in nnet_activation_stream.h and lenet5_hls.kinds.table_activation):
 *     data_round = int(x * TABLE_SIZE / 2^DIV_LOG2)   -- ap_fixed division, then int: both toward zero
 *     index      = clamp(data_round + TABLE_SIZE/2, 0, TABLE_SIZE-1)
 *     TABLE_SIZE is a power of two, so the scaling is two shifts that round toward zero (no divider):
 *     first by log2(TABLE_SIZE) - DIV_LOG2 (the quotient keeps IN_FRAC fractional bits), then by IN_FRAC.
 *   1 (raw, get_index_unary_lut in nnet_activation.h and lenet5_hls.kinds.unary_lut):
 *     index      = the IN_W bits of r read as an unsigned number (TABLE_SIZE >= 2^IN_W)
 * and then
 *   y = cast_out(table[index])                        -- table_t -> output type (fxp_requant)
 * The table (TABLE_SIZE words of TABLE_W bits, raw table_t values) is read from TABLE_FILE with
 * $readmemh, one word per line, entry i on line i.
 *
 * The result goes through an axis_skid_buffer (two registers): one beat per clock in steady state under
 * any backpressure, m_axis_* and s_axis_tready straight from registers. Latency: 1 cycle (as relu_stream).
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module table_act_stream #
(
    // Elements per stream beat
    parameter integer N = 4,
    // How the input indexes the table: 0 scaled (sigmoid / tanh), 1 the raw input bits (unary_lut)
    parameter integer INDEX_MODE = 0,
    // Table entries (hls4ml's table_size): INDEX_MODE 0 a power of two >= 2, INDEX_MODE 1 >= 2^IN_W
    parameter integer TABLE_SIZE = 1024,
    // INDEX_MODE 0: log2 of the divisor of hls4ml's index, 4 for sigmoid (x * table_size / 16), 3 for tanh (/ 8)
    parameter integer DIV_LOG2 = 4,
    // Input element width in bits
    parameter integer IN_W = 16,
    // Input element fractional bits (may be negative or exceed IN_W)
    parameter integer IN_FRAC = 10,
    // 1: input elements are two's complement (ap_fixed), 0: unsigned (ap_ufixed)
    parameter integer IN_SIGNED = 1,
    // Table entry (table_t) width in bits
    parameter integer TABLE_W = 18,
    // Table entry fractional bits
    parameter integer TABLE_FRAC = 10,
    // 1: table entries are two's complement, 0: unsigned
    parameter integer TABLE_SIGNED = 1,
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
    // $readmemh file with the TABLE_SIZE table entries
    parameter TABLE_FILE = "table.mem",
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

// index bits (INDEX_MODE 0: exactly log2(TABLE_SIZE); INDEX_MODE 1: >= IN_W)
localparam integer SIZE_LOG2 = $clog2(TABLE_SIZE);
// first shift: x * TABLE_SIZE / 2^DIV_LOG2 (> 0: left, < 0: right toward zero)
localparam integer SCALE_SHIFT = SIZE_LOG2 - DIV_LOG2;
// width of every intermediate signed value: input, both left shifts, the index offset and spare bits
localparam integer VW = IN_W + 3 + (SCALE_SHIFT > 0 ? SCALE_SHIFT : 0) + (IN_FRAC < 0 ? -IN_FRAC : 0) + SIZE_LOG2;

localparam signed [VW-1:0] ONE_V = 1;
// TABLE_SIZE/2 (hls4ml: 8 * table_size / 16, 4 * table_size / 8) and the last index, as VW-bit values
localparam signed [VW-1:0] HALF_V = ONE_V <<< (SIZE_LOG2 - 1);
localparam signed [VW-1:0] LAST_V = (ONE_V <<< SIZE_LOG2) - ONE_V;

initial begin
    if (N < 1) begin
        $error("Error: table_act_stream N must be >= 1, got %0d (instance %m)", N);
        $finish;
    end
    if (INDEX_MODE != 0 && INDEX_MODE != 1) begin
        $error("Error: table_act_stream INDEX_MODE must be 0 or 1, got %0d (instance %m)", INDEX_MODE);
        $finish;
    end
    if (INDEX_MODE == 0 && (TABLE_SIZE < 2 || (1 << SIZE_LOG2) != TABLE_SIZE)) begin
        $error("Error: table_act_stream TABLE_SIZE must be a power of two >= 2, got %0d (instance %m)", TABLE_SIZE);
        $finish;
    end
    if (INDEX_MODE == 1 && (IN_W > 30 || TABLE_SIZE < (1 << IN_W))) begin
        $error("Error: table_act_stream with INDEX_MODE 1 needs IN_W <= 30 and TABLE_SIZE >= 2^IN_W, got %0d and %0d (instance %m)",
               IN_W, TABLE_SIZE);
        $finish;
    end
    if (DIV_LOG2 < 0) begin
        $error("Error: table_act_stream DIV_LOG2 must be >= 0, got %0d (instance %m)", DIV_LOG2);
        $finish;
    end
    if (IN_W < 1 || TABLE_W < 1 || OUT_W < 1) begin
        $error("Error: table_act_stream IN_W, TABLE_W and OUT_W must be >= 1 (instance %m)");
        $finish;
    end
end

// v * 2^-k rounded toward zero (k > 0), v * 2^-k exactly (k <= 0), as C and ap_fixed's division do
function automatic signed [VW-1:0] shift_trunc(input signed [VW-1:0] v, input integer k);
    begin
        if (k > 0)
            shift_trunc = v[VW-1] ? -((-v) >>> k) : v >>> k;
        else
            shift_trunc = v <<< -k;
    end
endfunction

reg [TABLE_W-1:0] table_rom [0:TABLE_SIZE-1];

initial begin
    $readmemh(TABLE_FILE, table_rom);
end

// lookup and cast of every element of the incoming beat (combinational)
wire [N*OUT_W-1:0] act_data;

genvar i;
generate
for (i = 0; i < N; i = i + 1) begin : g_elem
    wire [IN_W-1:0] x = s_axis_tdata[i*IN_W +: IN_W];
    wire [SIZE_LOG2-1:0] index;

    if (INDEX_MODE == 1 && SIZE_LOG2 > IN_W) begin : g_raw_narrow
        assign index = {{(SIZE_LOG2-IN_W){1'b0}}, x};  // an input narrower than the table reads its start
    end else if (INDEX_MODE == 1) begin : g_raw
        assign index = x;
    end else begin : g_scaled
        wire signed [VW-1:0] x_v = $signed({{(VW-IN_W){IN_SIGNED != 0 && x[IN_W-1]}}, x});
        wire signed [VW-1:0] data_round = shift_trunc(shift_trunc(x_v, -SCALE_SHIFT), IN_FRAC);
        wire signed [VW-1:0] offset = data_round + HALF_V;
        /* verilator lint_off UNUSEDSIGNAL */ // the clamp keeps only the low SIZE_LOG2 bits of an in-range offset
        wire signed [VW-1:0] index_v = offset < 0 ? {VW{1'b0}} : offset > LAST_V ? LAST_V : offset;
        /* verilator lint_on UNUSEDSIGNAL */
        assign index = index_v[SIZE_LOG2-1:0];
    end

    fxp_requant #(
        .IN_W(TABLE_W),
        .IN_FRAC(TABLE_FRAC),
        .IN_SIGNED(TABLE_SIGNED),
        .OUT_W(OUT_W),
        .OUT_FRAC(OUT_FRAC),
        .OUT_SIGNED(OUT_SIGNED),
        .ROUNDING(ROUNDING),
        .OVERFLOW(OVERFLOW)
    )
    cast_inst (
        .in_data(table_rom[index]),
        .out_data(act_data[i*OUT_W +: OUT_W])
    );
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
