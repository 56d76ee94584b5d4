/*
 * stream_flatten -- width up-converter: BEATS input beats of C elements -> one output beat of
 * N = BEATS*C elements (the conv -> dense boundary of an hls4ml io_stream pipeline: the dense layer
 * reads IN_H*IN_W beats of C channels and then works on the whole vector).
 *
 * Element order = golden.flatten (reshape in C order of (H, W, C)): input beat k (pixel k in raster
 * order), element c lands at output element k*C + c, bits [(k*C + c)*ELEM_W +: ELEM_W]. With
 * BEATS = IN_H*IN_W this is exactly the flattened image; any BEATS >= 1 works (generic converter).
 *
 * Structure: one N*ELEM_W-bit shift register that is also the output register (beats enter at the
 * top and move down by C elements, so after BEATS beats beat k sits at element k*C). While a full
 * vector waits on m_axis nothing is accepted; in the cycle the consumer takes it the first beat of
 * the next vector is already accepted, so vectors stream back to back:
 *   s_axis_tready = !m_axis_tvalid || m_axis_tready   (one combinational path from m_axis_tready)
 * Throughput: one input beat per clock, BEATS clocks per output vector; latency 1 clock.
 * Storage: N*ELEM_W register bits (the output word itself; no second buffer), in 64-bit chunks each with
 * its own copy of m_axis_tvalid_reg and, given them (S_VALID_COPIES, M_READY_COPIES), of the input's valid and
 * the output's ready. The register starts at zero (its initial value), so m_axis_tdata never shows X.
 */

`timescale 1ns / 1ps
`default_nettype none

module stream_flatten #(
    // Width of one element, bits, >= 1
    parameter ELEM_W = 16,
    // Elements per input beat (channels of a pixel), >= 1
    parameter C = 16,
    // Input beats per output beat (IN_H*IN_W pixels of an image), >= 1
    parameter BEATS = 25,
    // Copies of m_axis_tready taken (identical, from the consumer's flip-flops): 1, or one per chunk (see
    // CHUNK_W); the control logic decodes the first, each chunk its own
    parameter M_READY_COPIES = 1,
    // Copies of s_axis_tvalid taken (identical, from the producer's flip-flops): 1, or one per chunk; the
    // control logic decodes the first, each chunk its own
    parameter S_VALID_COPIES = 1
) (
    input  wire                        clk,
    input  wire                        rst,            // synchronous, active high

    input  wire [C*ELEM_W-1:0]         s_axis_tdata,   // one pixel, C elements
    input  wire [S_VALID_COPIES-1:0]   s_axis_tvalid,
    output wire                        s_axis_tready,

    output wire [BEATS*C*ELEM_W-1:0]   m_axis_tdata,   // the whole vector, BEATS*C elements
    output wire                        m_axis_tvalid,
    input  wire [M_READY_COPIES-1:0]   m_axis_tready
);

// one input beat and one output beat, bits
localparam IN_DW = C * ELEM_W;
localparam OUT_DW = BEATS * IN_DW;
// beat counter 0 .. BEATS-1
localparam CNT_W = (BEATS > 1) ? $clog2(BEATS) : 1;
localparam integer BEATS_M1 = BEATS - 1;
localparam [CNT_W-1:0] CNT_LAST = BEATS_M1[CNT_W-1:0];

// the register in chunks of at most CHUNK_W bits, each loading on its own copy of m_axis_tvalid_reg: one
// enable for every bit of fc1's 2,048-bit vector set its clock
localparam integer CHUNK_W = 64;
localparam integer CHUNKS = (OUT_DW + CHUNK_W - 1) / CHUNK_W;

initial begin
    if (ELEM_W < 1 || C < 1 || BEATS < 1) begin
        $error("stream_flatten: ELEM_W, C, BEATS must be >= 1 (got %0d, %0d, %0d)", ELEM_W, C, BEATS);
        $finish;
    end
    if (M_READY_COPIES != 1 && M_READY_COPIES != CHUNKS) begin
        $error("stream_flatten: M_READY_COPIES must be 1 or the chunks, %0d (got %0d)", CHUNKS, M_READY_COPIES);
        $finish;
    end
    if (S_VALID_COPIES != 1 && S_VALID_COPIES != CHUNKS) begin
        $error("stream_flatten: S_VALID_COPIES must be 1 or the chunks, %0d (got %0d)", CHUNKS, S_VALID_COPIES);
        $finish;
    end
end

wire [OUT_DW-1:0] data;
wire [CHUNKS-1:0] valid_copy;  // m_axis_tvalid_reg, one copy per chunk
reg               m_axis_tvalid_reg, m_axis_tvalid_next;
reg [CNT_W-1:0]   cnt_reg, cnt_next;

wire s_valid = s_axis_tvalid[0];
wire accept = s_valid && s_axis_tready;

// the register after shifting in the accepted beat at the top
wire [OUT_DW-1:0] shifted;
generate
    if (BEATS > 1) begin : g_shift
        assign shifted = {s_axis_tdata, data[OUT_DW-1:IN_DW]};
    end else begin : g_load
        assign shifted = s_axis_tdata;
    end
endgenerate

wire m_ready = m_axis_tready[0];
assign s_axis_tready = !m_axis_tvalid_reg || m_ready;
assign m_axis_tdata  = data;
assign m_axis_tvalid = m_axis_tvalid_reg;

always @* begin
    cnt_next = cnt_reg;
    m_axis_tvalid_next = m_axis_tvalid_reg && !m_ready;
    if (accept) begin
        if (cnt_reg == CNT_LAST) begin
            cnt_next = {CNT_W{1'b0}};
            m_axis_tvalid_next = 1'b1;
        end else begin
            cnt_next = cnt_reg + 1'b1;
        end
    end
end

ctrl_copies #(
    .CTRL_W(1),
    .COPIES(CHUNKS)
)
valid_copies_inst (
    .clk(clk),
    .rst(rst),
    .d(m_axis_tvalid_next),
    .q(valid_copy)
);

genvar ch;
generate
    for (ch = 0; ch < CHUNKS; ch = ch + 1) begin : g_chunk
        localparam integer LO = ch * CHUNK_W;
        localparam integer W = OUT_DW - LO < CHUNK_W ? OUT_DW - LO : CHUNK_W;
        reg [W-1:0] data_reg;

        initial begin
            data_reg = {W{1'b0}};  // zero from configuration, not from rst (see axis_skid_buffer)
        end

        wire in_valid = s_axis_tvalid[S_VALID_COPIES > 1 ? ch : 0];
        wire out_ready = m_axis_tready[M_READY_COPIES > 1 ? ch : 0];

        always @(posedge clk) begin
            if (in_valid && (!valid_copy[ch] || out_ready)) begin
                data_reg <= shifted[LO +: W];
            end
        end

        assign data[LO +: W] = data_reg;
    end
endgenerate

always @(posedge clk) begin
    if (rst) begin
        m_axis_tvalid_reg <= 1'b0;
        cnt_reg <= {CNT_W{1'b0}};
    end else begin
        m_axis_tvalid_reg <= m_axis_tvalid_next;
        cnt_reg <= cnt_next;
    end
end

endmodule

`resetall
