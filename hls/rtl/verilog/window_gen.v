/*
 * window_gen -- line buffer / sliding-window generator for io_stream convolution and pooling.
 *
 * Input (s_axis): the pixels of IN_H x IN_W images in raster order, one pixel per beat, each beat
 * carrying the C channels of that pixel, channel c at bits [c*ELEM_W +: ELEM_W]. Images follow
 * each other back to back with no separator (the module counts pixels).
 *
 * Output (m_axis): one beat per output position (oy, ox) of the KH x KW window with strides
 * STRIDE_H / STRIDE_W over the zero-padded image, positions in raster order. A beat carries the
 * whole window, KH*KW*C elements, element (ky*KW + kx)*C + c at bits [e*ELEM_W +: ELEM_W]: the
 * column order of the conv2d and pooling golden functions (golden._windows: sliding_window_view ->
 * (KH, KW, C), C order).
 * Output size OUT_H = (IN_H+PAD_T+PAD_B-KH)/STRIDE_H + 1, OUT_W likewise (floor division, as
 * Keras/hls4ml; rows and columns past the last window are consumed and dropped).
 *
 * Padding: PAD_T/PAD_B/PAD_L/PAD_R rows/columns of zeros around the image are generated here,
 * never sent on s_axis ('same' padding = the split hls4ml/Keras compute, e.g. (1,1,1,1) for a
 * 3x3 stride-1 kernel). Each pad must be smaller than the kernel in that direction.
 *
 * How it works: a scan over the padded image, one position per clock, starting at the first real
 * pixel (top and left padding cost no cycles: top-padding rows are masked to zero by row index,
 * the window register is cleared at each row start) and ending at the last position that completes
 * a window (right/bottom padding that completes windows is scanned, one position per clock, with no
 * input consumed). At a real pixel the scan consumes one s_axis beat. The KH-1 previous rows live
 * in a line buffer of IN_W entries of (KH-1)*C*ELEM_W bits, read and written at the same column
 * address (a shift "cascade": the entry for column x holds rows y-KH+1 .. y-1 of column x). The
 * window register keeps the last KW-1 columns; the column read from the line buffer plus the
 * incoming pixel completes the window, which goes to an axis_skid_buffer when the position is a
 * window's bottom-right corner with the stride phase.
 *
 *   line buffer      : (KH-1) * IN_W * C * ELEM_W bits (asynchronous read, synchronous write:
 *                      distributed RAM / registers; e.g. LeNet conv1 28x28x1, K5, 16 bit: 1,792 bits)
 *   window register  : KH * (KW-1) * C * ELEM_W bits
 *   output skid      : 2 * KH * KW * C * ELEM_W bits (registered m_axis_* and s_axis_tready)
 *
 * Throughput (consumer ready, input continuous): one scan position per clock, so
 *   cycles per image = ROWS * COLS, ROWS = max(IN_H, LAST_WIN_ROW + 1 - PAD_T),
 *                                   COLS = max(IN_W, LAST_WIN_COL + 1 - PAD_L),
 *   LAST_WIN_ROW = (OUT_H-1)*STRIDE_H + KH-1 (padded row index of the last window's bottom row).
 * Without bottom/right padding this is IN_H*IN_W: one input pixel per clock, images back to back
 * with no bubble. Latency: 1 clock from the completing pixel to m_axis_tvalid.
 * s_axis_tready depends on registers only (never combinationally on m_axis_tready).
 * Timing: the scan position's decodes are registered a cycle early, each computed from registers for the
 * four positions the scan can move to and selected by the step (the handshake reaches no counter compare),
 * and the window register is built in 64-bit chunks, each enabled by its own copy of the step's flip-flops
 * (no enable fans out to all of it).
 */

`timescale 1ns / 1ps
`default_nettype none

module window_gen #(
    // Input image height (rows), >= 1
    parameter IN_H = 28,
    // Input image width (pixels per row), >= 1
    parameter IN_W = 28,
    // Channels per pixel (elements per input beat), >= 1
    parameter C = 1,
    // Width of one element, bits, >= 1
    parameter ELEM_W = 16,
    // Kernel (window) height, >= 1
    parameter KH = 5,
    // Kernel (window) width, >= 1
    parameter KW = 5,
    // Vertical stride, >= 1
    parameter STRIDE_H = 1,
    // Horizontal stride, >= 1
    parameter STRIDE_W = 1,
    // Zero rows above the image, 0 .. KH-1
    parameter PAD_T = 0,
    // Zero rows below the image, 0 .. KH-1
    parameter PAD_B = 0,
    // Zero columns left of the image, 0 .. KW-1
    parameter PAD_L = 0,
    // Zero columns right of the image, 0 .. KW-1
    parameter PAD_R = 0
) (
    input  wire                          clk,
    input  wire                          rst,            // synchronous, active high

    input  wire [C*ELEM_W-1:0]           s_axis_tdata,   // one pixel, C elements
    input  wire                          s_axis_tvalid,
    output wire                          s_axis_tready,

    output wire [KH*KW*C*ELEM_W-1:0]     m_axis_tdata,   // one window, KH*KW*C elements
    output wire                          m_axis_tvalid,
    input  wire                          m_axis_tready
);

// one pixel and one window, bits
localparam PIX_W = C * ELEM_W;
localparam WIN_W = KH * KW * PIX_W;
// padded image and output size
localparam PAD_H = IN_H + PAD_T + PAD_B;
localparam PAD_W = IN_W + PAD_L + PAD_R;
localparam OUT_H = (PAD_H - KH) / STRIDE_H + 1;
localparam OUT_W = (PAD_W - KW) / STRIDE_W + 1;
// padded row / column index of the last window's bottom-right corner
localparam LAST_WIN_ROW = (OUT_H - 1) * STRIDE_H + KH - 1;
localparam LAST_WIN_COL = (OUT_W - 1) * STRIDE_W + KW - 1;
// scanned rows / columns per image, starting at the first real row / column
localparam ROWS = (IN_H > LAST_WIN_ROW + 1 - PAD_T) ? IN_H : LAST_WIN_ROW + 1 - PAD_T;
localparam COLS = (IN_W > LAST_WIN_COL + 1 - PAD_L) ? IN_W : LAST_WIN_COL + 1 - PAD_L;
// line buffer: IN_W entries of (KH-1) pixels, (KH-1)*IN_W*PIX_W bits (no line buffer when KH = 1)
localparam LB_ROWS = (KH > 1) ? KH - 1 : 1;
localparam LB_W = LB_ROWS * PIX_W;
localparam LB_AW = (IN_W > 1) ? $clog2(IN_W) : 1;
// window register: KW-1 columns of KH pixels (one dummy column when KW = 1)
localparam WR_COLS = (KW > 1) ? KW - 1 : 1;
localparam WR_W = KH * WR_COLS * PIX_W;
// scan counters hold 0 .. ROWS / 0 .. COLS
localparam ROW_CW = $clog2(ROWS + 1);
localparam COL_CW = $clog2(COLS + 1);
// stride-phase countdowns: rows / columns until the next window's bottom / right edge
localparam RCD_INIT = KH - 1 - PAD_T;
localparam CCD_INIT = KW - 1 - PAD_L;
localparam RCD_MAX = (RCD_INIT > STRIDE_H - 1) ? RCD_INIT : STRIDE_H - 1;
localparam CCD_MAX = (CCD_INIT > STRIDE_W - 1) ? CCD_INIT : STRIDE_W - 1;
localparam RCD_W = (RCD_MAX > 0) ? $clog2(RCD_MAX + 1) : 1;
localparam CCD_W = (CCD_MAX > 0) ? $clog2(CCD_MAX + 1) : 1;

// sized constants for comparisons and loads
localparam integer ROWS_M1 = ROWS - 1;
localparam integer COLS_M1 = COLS - 1;
localparam integer IN_H_I = IN_H;
localparam integer IN_W_M1 = IN_W - 1;
localparam integer SH_M1 = STRIDE_H - 1;
localparam integer SW_M1 = STRIDE_W - 1;
localparam integer RCD_INIT_I = RCD_INIT;
localparam integer CCD_INIT_I = CCD_INIT;
localparam [ROW_CW-1:0] ROW_LAST = ROWS_M1[ROW_CW-1:0];
localparam [COL_CW-1:0] COL_LAST = COLS_M1[COL_CW-1:0];
localparam [ROW_CW-1:0] ROW_REAL = IN_H_I[ROW_CW-1:0];
localparam [COL_CW-1:0] COL_REAL_LAST = IN_W_M1[COL_CW-1:0];
localparam [RCD_W-1:0] RCD_RELOAD = SH_M1[RCD_W-1:0];
localparam [CCD_W-1:0] CCD_RELOAD = SW_M1[CCD_W-1:0];
localparam [RCD_W-1:0] RCD_START = RCD_INIT_I[RCD_W-1:0];
localparam [CCD_W-1:0] CCD_START = CCD_INIT_I[CCD_W-1:0];
// the first position after reset is a window's corner (the kernel fits there)
localparam [0:0] EMIT_START = RCD_INIT == 0 && CCD_INIT == 0;

initial begin
    if (IN_H < 1 || IN_W < 1 || C < 1 || ELEM_W < 1) begin
        $error("window_gen: IN_H, IN_W, C, ELEM_W must be >= 1 (got %0d, %0d, %0d, %0d)", IN_H, IN_W, C, ELEM_W);
        $finish;
    end
    if (KH < 1 || KW < 1 || STRIDE_H < 1 || STRIDE_W < 1) begin
        $error("window_gen: KH, KW, STRIDE_H, STRIDE_W must be >= 1 (got %0d, %0d, %0d, %0d)", KH, KW, STRIDE_H, STRIDE_W);
        $finish;
    end
    if (PAD_T < 0 || PAD_B < 0 || PAD_L < 0 || PAD_R < 0 || PAD_T >= KH || PAD_B >= KH || PAD_L >= KW || PAD_R >= KW) begin
        $error("window_gen: padding (T %0d, B %0d, L %0d, R %0d) must be >= 0 and smaller than the kernel (%0d x %0d)",
               PAD_T, PAD_B, PAD_L, PAD_R, KH, KW);
        $finish;
    end
    if (PAD_H < KH || PAD_W < KW) begin
        $error("window_gen: kernel %0d x %0d larger than the padded image %0d x %0d", KH, KW, PAD_H, PAD_W);
        $finish;
    end
end

// ---------------------------------------------------------------------------------- scan state

reg [ROW_CW-1:0] iy_reg, iy_next;      // scanned row, 0 = first real row (padded row PAD_T)
reg [COL_CW-1:0] ix_reg, ix_next;      // scanned column, 0 = first real column (padded column PAD_L)
reg [RCD_W-1:0]  rcd_reg, rcd_next;    // rows until the next window bottom row (0: this row)
reg [CCD_W-1:0]  ccd_reg, ccd_next;    // columns until the next window right column (0: this column)
wire [WR_W-1:0]  win_reg;              // last KW-1 columns, pixel (ky, kx) at (ky*WR_COLS + kx)*PIX_W
reg [WR_W-1:0]   win_next;             // (registered in chunks: g_win_chunk)
wire [WR_W-1:0]  win_old_chunks;       // win_reg, or zeros at a row's first column

// the position decoded a cycle early from the next scan state (flip-flops, so that the step that enables the
// wide window register starts from them): an image row (else a bottom-padding row), an image column (else a
// right-padding column), a window's corner, and per window row ky < KH-1
// whether it lies above the image (top padding, or rows of the previous image still in the line buffer)
reg real_row_reg, real_col_reg, emit_reg;
reg need_in_reg;                        // real_row_reg && real_col_reg, one flip-flop: the output's valid is one LUT
reg [LB_ROWS-1:0] above_reg;

wire real_row = real_row_reg;
wire real_col = real_col_reg;
wire need_in  = need_in_reg;           // this position consumes one s_axis beat
wire emit     = emit_reg;

wire win_tready;                        // output skid buffer can take a window
wire out_ok   = !emit || win_tready;
wire step     = out_ok && (!need_in || s_axis_tvalid);

assign s_axis_tready = need_in && out_ok;

// ------------------------------------------------------------------------------- line buffer

wire [PIX_W-1:0] pixel_in = real_row ? s_axis_tdata : {PIX_W{1'b0}};   // zeros in bottom padding
wire [LB_W-1:0]  lb_rd;

generate
    if (KH > 1) begin : g_lb
        reg [LB_W-1:0] lb_mem [0:IN_W-1];
        wire [LB_AW-1:0] lb_addr = ix_reg[LB_AW-1:0];
        wire [LB_W-1:0]  lb_wr;

        assign lb_rd = lb_mem[lb_addr];
        // shift the column up by one row: slot k <- slot k+1, slot KH-2 <- the new pixel
        if (KH > 2) begin : g_shift
            assign lb_wr = {pixel_in, lb_rd[LB_W-1:PIX_W]};
        end else begin : g_noshift
            assign lb_wr = pixel_in;
        end

        always @(posedge clk) begin
            if (step && real_col) begin
                lb_mem[lb_addr] <= lb_wr;
            end
        end
    end else begin : g_nolb
        assign lb_rd = {LB_W{1'b0}};
    end
endgenerate

// ------------------------------------------------------------------------ window assembly

reg [KH*PIX_W-1:0] col;                // the new column, row ky at ky*PIX_W
reg [WIN_W-1:0]    window;             // the window completed at this position
reg [WR_W-1:0]     win_old;            // window register as seen by this position
integer ky, kx;

always @* begin
    for (ky = 0; ky < KH; ky = ky + 1) begin
        if (!real_col) begin
            col[ky*PIX_W +: PIX_W] = {PIX_W{1'b0}};                   // right padding
        end else if (ky == KH - 1) begin
            col[ky*PIX_W +: PIX_W] = pixel_in;
        end else if (above_reg[ky]) begin
            col[ky*PIX_W +: PIX_W] = {PIX_W{1'b0}};                   // above the image
        end else begin
            col[ky*PIX_W +: PIX_W] = lb_rd[ky*PIX_W +: PIX_W];
        end
    end

    // the first scanned column of a row starts from zeros (left padding, no stale columns)
    win_old = win_old_chunks;

    for (ky = 0; ky < KH; ky = ky + 1) begin
        for (kx = 0; kx < KW - 1; kx = kx + 1) begin
            window[(ky*KW + kx)*PIX_W +: PIX_W] = win_old[(ky*WR_COLS + kx)*PIX_W +: PIX_W];
        end
        window[(ky*KW + KW - 1)*PIX_W +: PIX_W] = col[ky*PIX_W +: PIX_W];
    end

    win_next = win_reg;
    if (KW > 1) begin
        for (ky = 0; ky < KH; ky = ky + 1) begin
            for (kx = 0; kx < KW - 1; kx = kx + 1) begin
                win_next[(ky*WR_COLS + kx)*PIX_W +: PIX_W] = window[(ky*KW + kx + 1)*PIX_W +: PIX_W];
            end
        end
    end
end

// ---------------------------------------------------------------------------- scan counters

// The scan moves to one of four positions: the same (no step), the next column, the next row's first column
// (col_last), or the next image's first position (col_last and row_last). Every decode of the next position is
// computed for each of the four from registers alone, then selected by the step, so that the handshake (step)
// passes one multiplexer to reach a flip-flop, never a counter's adder or compare.
reg col_last_reg, row_last_reg;        // ix_reg == COLS-1, iy_reg == ROWS-1
reg col_real_last_reg;                 // ix_reg == IN_W-1: the last image column

wire [COL_CW-1:0] ix_inc = ix_reg + 1'b1;
wire [ROW_CW-1:0] iy_inc = iy_reg + 1'b1;
wire [CCD_W-1:0]  ccd_adv = (ccd_reg == {CCD_W{1'b0}}) ? CCD_RELOAD : ccd_reg - 1'b1;
wire [RCD_W-1:0]  rcd_adv = (rcd_reg == {RCD_W{1'b0}}) ? RCD_RELOAD : rcd_reg - 1'b1;
// above_reg of the next row: slot ky of row iy is above the image while iy + ky + 1 < KH, so the next row's
// slot ky is this row's slot ky+1 (and the top slot is never above after the first row)
wire [LB_ROWS-1:0] above_inc = above_reg >> 1;

// the next position's state and decodes (first_col: its column is the row's first)
reg real_row_next, real_col_next, emit_next, first_col_next, col_last_next, row_last_next;
reg col_real_last_next;
wire need_in_next = real_row_next && real_col_next;  // the next position consumes a beat
reg [LB_ROWS-1:0] above_next;

always @* begin
    iy_next  = iy_reg;
    ix_next  = ix_reg;
    rcd_next = rcd_reg;
    ccd_next = ccd_reg;
    real_row_next  = real_row_reg;
    real_col_next  = real_col_reg;
    emit_next      = emit_reg;
    first_col_next = ix_reg == {COL_CW{1'b0}};
    col_last_next  = col_last_reg;
    row_last_next  = row_last_reg;
    col_real_last_next = col_real_last_reg;
    above_next     = above_reg;
    if (step) begin
        if (!col_last_reg) begin                                          // next column
            ix_next  = ix_inc;
            ccd_next = ccd_adv;
            real_col_next  = real_col_reg && !col_real_last_reg;
            emit_next      = rcd_reg == {RCD_W{1'b0}} && ccd_adv == {CCD_W{1'b0}};
            first_col_next = 1'b0;
            col_last_next  = ix_inc == COL_LAST;
            col_real_last_next = ix_inc == COL_REAL_LAST;
        end else begin
            ix_next  = {COL_CW{1'b0}};
            ccd_next = CCD_START;
            real_col_next  = 1'b1;
            first_col_next = 1'b1;
            col_last_next  = COLS == 1;
            col_real_last_next = IN_W == 1;
            if (!row_last_reg) begin                                      // next row
                iy_next  = iy_inc;
                rcd_next = rcd_adv;
                real_row_next = iy_inc < ROW_REAL;
                emit_next     = rcd_adv == {RCD_W{1'b0}} && CCD_START == {CCD_W{1'b0}};
                row_last_next = iy_inc == ROW_LAST;
                above_next    = above_inc;
            end else begin                                                // next image
                iy_next  = {ROW_CW{1'b0}};
                rcd_next = RCD_START;
                real_row_next = 1'b1;
                emit_next     = EMIT_START;
                row_last_next = ROWS == 1;
                above_next    = {LB_ROWS{1'b1}};
            end
        end
    end
end

always @(posedge clk) begin
    if (rst) begin
        iy_reg  <= {ROW_CW{1'b0}};
        ix_reg  <= {COL_CW{1'b0}};
        rcd_reg <= RCD_START;
        ccd_reg <= CCD_START;
        real_row_reg <= 1'b1;
        need_in_reg <= 1'b1;
        real_col_reg <= 1'b1;
        emit_reg <= EMIT_START;
        above_reg <= {LB_ROWS{1'b1}};
        col_last_reg <= COLS == 1;
        row_last_reg <= ROWS == 1;
        col_real_last_reg <= IN_W == 1;
    end else begin
        iy_reg  <= iy_next;
        ix_reg  <= ix_next;
        rcd_reg <= rcd_next;
        ccd_reg <= ccd_next;
        real_row_reg <= real_row_next;
        need_in_reg <= need_in_next;
        real_col_reg <= real_col_next;
        emit_reg <= emit_next;
        above_reg <= above_next;
        col_last_reg <= col_last_next;
        row_last_reg <= row_last_next;
        col_real_last_reg <= col_real_last_next;
    end
end

// the window register in chunks of at most CHUNK_W bits, each with its own copy of the flip-flops its
// enable (the step) and its row-start clear decode: one shared step would fan out to every bit of a wide
// window register (conv2's 960 bits) and its routing would set the clock
localparam integer CHUNK_W = 64;
localparam integer CHUNKS = (WR_W + CHUNK_W - 1) / CHUNK_W;

// per chunk: copies of {first_col, emit, need_in}
wire [CHUNKS*3-1:0] win_ctrl;

ctrl_copies #(
    .CTRL_W(3),
    .COPIES(CHUNKS),
    .RESET_VALUE({1'b1, EMIT_START, 1'b1})
)
win_ctrl_inst (
    .clk(clk),
    .rst(rst),
    .d({first_col_next, emit_next, need_in_next}),
    .q(win_ctrl)
);

genvar ch;
generate
for (ch = 0; ch < CHUNKS; ch = ch + 1) begin : g_win_chunk
    localparam integer LO = ch * CHUNK_W;
    localparam integer W = WR_W - LO < CHUNK_W ? WR_W - LO : CHUNK_W;

    wire need_in_copy_reg = win_ctrl[ch*3];
    wire emit_copy_reg = win_ctrl[ch*3+1];
    wire first_col_copy_reg = win_ctrl[ch*3+2];

    // step, decoded from the copies
    wire chunk_step = (!emit_copy_reg || win_tready) && (!need_in_copy_reg || s_axis_tvalid);
    reg [W-1:0] win_chunk_reg;

    always @(posedge clk) begin
        if (chunk_step) begin
            win_chunk_reg <= win_next[LO +: W];
        end
    end

    assign win_reg[LO +: W] = win_chunk_reg;
    assign win_old_chunks[LO +: W] = first_col_copy_reg ? {W{1'b0}} : win_chunk_reg;
end
endgenerate

// --------------------------------------------------------------------------------- output

axis_skid_buffer #(
    .DATA_W(WIN_W)
) out_reg (
    .clk(clk),
    .rst(rst),
    .s_axis_tdata(window),
    .s_axis_tvalid(emit && (!need_in || s_axis_tvalid)),
    .s_axis_tready(win_tready),
    .m_axis_tdata(m_axis_tdata),
    .m_axis_tvalid(m_axis_tvalid),
    .m_axis_tready(m_axis_tready)
);

endmodule

`resetall
