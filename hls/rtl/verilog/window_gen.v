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
 * How it works: a scan of a ROWS x COLS grid per image, one position per clock; the image's pixels are its
 * first IN_H rows and IN_W columns, and at such a position the scan takes one s_axis beat. The KH-1 previous
 * rows live in a line buffer of IN_W entries of (KH-1)*C*ELEM_W bits, read and written at the same column
 * address (a shift "cascade": the entry for column x holds the KH-1 rows scanned before, column x). The
 * window register keeps the last KW-1 columns scanned; the column read from the line buffer plus the incoming
 * pixel completes the KH x KW block of the last scanned rows and columns. The window is that block with every
 * element outside the image masked to zero (the masks are registered a cycle early; without padding every
 * window lies in the image and there are none), and it goes to an axis_skid_buffer at a window's position:
 * what the line buffer and window register hold outside the image (the previous row's columns, the previous
 * image's rows) never needs clearing.
 *
 * Padding costs no clocks where it can be overlapped ('same' padding always can):
 *   - a row's windows whose right edge is in the right padding are emitted at the next row's first HT
 *     columns (where no window of that row ends: HT <= KW-1-PAD_L); their block is the last KW columns
 *     scanned, so they are the right ones with the newest columns masked;
 *   - an image's windows whose bottom edge is in the bottom padding are emitted over the next image's first
 *     HR rows (HR <= KH-1-PAD_T), their right-padding windows at the columns after as above.
 * Padding that cannot be overlapped so (pads larger than the kernel's margin, images narrower than the pads)
 * is scanned as extra grid columns / rows with no input taken: COLS = IN_W + E, ROWS = IN_H + ER.
 * The first position of an image after one with windows left over waits for nothing: if the next image's
 * first pixel is there it is taken; if not, the scan flushes: it walks FLUSH = HR*COLS + HT positions of the
 * grid with no input, emitting the left-over windows, and then starts the image over. So the last image of a
 * stream completes on its own, and a stream with no pause between images takes one pixel per clock.
 *
 *   line buffer      : (KH-1) * IN_W * C * ELEM_W bits (asynchronous read, synchronous write:
 *                      distributed RAM / registers; e.g. LeNet conv1 28x28x1, K5, 16 bit: 1,792 bits)
 *   window register  : KH * (KW-1) * C * ELEM_W bits
 *   output skid      : 2 * KH * KW * C * ELEM_W bits (registered m_axis_* and s_axis_tready)
 *
 * Throughput (consumer ready, input continuous): ROWS * COLS clocks per image, IN_H * IN_W unless padding
 * needs extra columns or rows. Latency: 1 clock from the completing pixel to m_axis_tvalid. The figures
 * (and the flush) are lenet5_hls.rtl.timing.window_geometry's.
 * s_axis_tready depends on registers only (never combinationally on m_axis_tready).
 * Timing: the scan position's decodes are registered a cycle early, each computed from registers for the
 * positions the scan can move to and selected by the step (the handshake reaches no counter compare),
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
    parameter PAD_R = 0,
    // Copies of m_axis_tready taken (identical, from the consumer's flip-flops): 1, or one per 64-bit chunk
    // of the output register (each chunk's enables decode their own)
    parameter M_READY_COPIES = 1
) (
    input  wire                          clk,
    input  wire                          rst,            // synchronous, active high

    input  wire [C*ELEM_W-1:0]           s_axis_tdata,   // one pixel, C elements
    input  wire                          s_axis_tvalid,
    output wire                          s_axis_tready,

    output wire [KH*KW*C*ELEM_W-1:0]     m_axis_tdata,   // one window, KH*KW*C elements
    output wire                          m_axis_tvalid,
    input  wire [M_READY_COPIES-1:0] m_axis_tready
);

// one pixel and one window, bits
localparam PIX_W = C * ELEM_W;
localparam WIN_W = KH * KW * PIX_W;
// padded image and output size
localparam PAD_H = IN_H + PAD_T + PAD_B;
localparam PAD_W = IN_W + PAD_L + PAD_R;
localparam OUT_H = (PAD_H - KH) / STRIDE_H + 1;
localparam OUT_W = (PAD_W - KW) / STRIDE_W + 1;
// image row / column of the first and the last window's bottom-right corner (past the image: padding)
localparam R0 = KH - 1 - PAD_T;
localparam C0 = KW - 1 - PAD_L;
localparam LAST_R = (OUT_H - 1) * STRIDE_H + R0;
localparam LAST_C = (OUT_W - 1) * STRIDE_W + C0;
// padding rows / columns where windows end
localparam ROWS_PAD = (LAST_R + 1 > IN_H) ? LAST_R + 1 - IN_H : 0;
localparam COLS_PAD = (LAST_C + 1 > IN_W) ? LAST_C + 1 - IN_W : 0;
// of them, overlapped with the next row's first columns / the next image's first rows (the rest is scanned)
localparam HT_C = (COLS_PAD < C0) ? COLS_PAD : C0;
localparam HT = (HT_C < IN_W) ? HT_C : IN_W;
localparam HR_R = (ROWS_PAD < R0) ? ROWS_PAD : R0;
localparam HR_H = (HT > 0) ? IN_H - 1 : IN_H;
localparam HR = (HR_R < HR_H) ? HR_R : HR_H;
// the grid scanned per image, and the flush: its positions 0 .. FLUSH-1 emit the previous image's windows
localparam ROWS = IN_H + ROWS_PAD - HR;
localparam COLS = IN_W + COLS_PAD - HT;
localparam FLUSH = HR * COLS + HT;
localparam FLUSH_ROW = (FLUSH > 0) ? (FLUSH - 1) / COLS : 0;
localparam FLUSH_COL = (FLUSH > 0) ? (FLUSH - 1) % COLS : 0;
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
localparam RCD_MAX = (R0 > STRIDE_H - 1) ? R0 : STRIDE_H - 1;
localparam CCD_MAX = (C0 > STRIDE_W - 1) ? C0 : STRIDE_W - 1;
localparam RCD_W = (RCD_MAX > 0) ? $clog2(RCD_MAX + 1) : 1;
localparam CCD_W = (CCD_MAX > 0) ? $clog2(CCD_MAX + 1) : 1;
// shift registers of the overlapped windows (one dummy bit when there are none)
localparam HT_W = (HT > 0) ? HT : 1;
localparam HR_W = (HR > 0) ? HR : 1;

// bit i: image row / column FIRST+i is where a window ends
function [31:0] window_ends(input integer first, input integer n, input integer origin, input integer last,
                            input integer stride);
    integer i;
    begin
        window_ends = 0;
        for (i = 0; i < n; i = i + 1) begin
            window_ends[i] = first + i >= origin && first + i <= last && (first + i - origin) % stride == 0;
        end
    end
endfunction

// bit j of the block ending at image row / column V (j = K-1: V itself) lies in the image (0 .. N-1)
function [31:0] in_image(input integer v, input integer k, input integer n);
    integer j;
    begin
        in_image = 0;
        for (j = 0; j < k; j = j + 1) begin
            in_image[j] = v - (k - 1) + j >= 0 && v - (k - 1) + j < n;
        end
    end
endfunction

// element ky*KW + kx: row ky and column kx both in the image
function [KH*KW-1:0] outer(input [KH-1:0] rows, input [KW-1:0] cols);
    integer r, c;
    begin
        for (r = 0; r < KH; r = r + 1) begin
            for (c = 0; c < KW; c = c + 1) begin
                outer[r*KW + c] = rows[r] && cols[c];
            end
        end
    end
endfunction

// a scan step: the output takes the window if one ends here, the input has the pixel if one is needed (the
// scan state's flip-flops, or a chunk's copies of them)
function step_of(input emit, input need_in, input out_ready, input in_valid);
    step_of = (!emit || out_ready) && (!need_in || in_valid);
endfunction

// sized constants for comparisons and loads
localparam integer ROWS_M1 = ROWS - 1;
localparam integer COLS_M1 = COLS - 1;
localparam integer IN_H_I = IN_H;
localparam integer IN_W_M1 = IN_W - 1;
localparam integer SH_M1 = STRIDE_H - 1;
localparam integer SW_M1 = STRIDE_W - 1;
localparam integer R0_I = R0;
localparam integer C0_I = C0;
localparam integer FLUSH_ROW_I = FLUSH_ROW;
localparam integer FLUSH_COL_I = FLUSH_COL;
localparam [ROW_CW-1:0] ROW_LAST = ROWS_M1[ROW_CW-1:0];
localparam [COL_CW-1:0] COL_LAST = COLS_M1[COL_CW-1:0];
localparam [ROW_CW-1:0] ROW_REAL = IN_H_I[ROW_CW-1:0];
localparam [COL_CW-1:0] COL_REAL_LAST = IN_W_M1[COL_CW-1:0];
localparam [ROW_CW-1:0] ROW_FLUSH = FLUSH_ROW_I[ROW_CW-1:0];
localparam [COL_CW-1:0] COL_FLUSH = FLUSH_COL_I[COL_CW-1:0];
localparam [RCD_W-1:0] RCD_RELOAD = SH_M1[RCD_W-1:0];
localparam [CCD_W-1:0] CCD_RELOAD = SW_M1[CCD_W-1:0];
localparam [RCD_W-1:0] RCD_START = R0_I[RCD_W-1:0];
localparam [CCD_W-1:0] CCD_START = C0_I[CCD_W-1:0];
// without padding every window lies in the image: no masks
localparam PADDED = PAD_T + PAD_B + PAD_L + PAD_R > 0;
// the first position of an image is a window's corner (the kernel fits there)
localparam [0:0] EMIT_START = R0 == 0 && C0 == 0;
// overlapped windows: which of the next image's first rows end a bottom-padding row's windows, which of a
// row's first columns end a right-padding column's
localparam [31:0] PAD_ROW_ENDS_32 = window_ends(ROWS, HR, R0, LAST_R, STRIDE_H);
localparam [31:0] TAIL_COL_ENDS_32 = window_ends(COLS, HT, C0, LAST_C, STRIDE_W);
localparam [HR_W-1:0] PAD_ROW_ENDS = PAD_ROW_ENDS_32[HR_W-1:0];
localparam [HT_W-1:0] TAIL_COL_ENDS = TAIL_COL_ENDS_32[HT_W-1:0];
// in-image masks: of an image's first row and column (its top bit only: also the bit a shift brings in), of
// the first overlapped bottom-padding row and right-padding column (each next row / column: the mask >> 1)
localparam [31:0] ROW_MASK_START_32 = in_image(0, KH, IN_H);
localparam [31:0] COL_MASK_START_32 = in_image(0, KW, IN_W);
localparam [31:0] PAD_ROW_MASK_32 = in_image(ROWS, KH, IN_H);
localparam [31:0] TAIL_COL_MASK_32 = in_image(COLS, KW, IN_W);
localparam [KH-1:0] ROW_MASK_START = ROW_MASK_START_32[KH-1:0];
localparam [KW-1:0] COL_MASK_START = COL_MASK_START_32[KW-1:0];
localparam [KH-1:0] PAD_ROW_MASK = PAD_ROW_MASK_32[KH-1:0];
localparam [KW-1:0] TAIL_COL_MASK = TAIL_COL_MASK_32[KW-1:0];

initial begin
    if (IN_H < 1 || IN_W < 1 || C < 1 || ELEM_W < 1) begin
        $error("window_gen: IN_H, IN_W, C, ELEM_W must be >= 1 (got %0d, %0d, %0d, %0d)", IN_H, IN_W, C, ELEM_W);
        $finish;
    end
    if (KH < 1 || KW < 1 || KH > 32 || KW > 32 || STRIDE_H < 1 || STRIDE_W < 1) begin
        $error("window_gen: KH, KW must be 1 .. 32 and STRIDE_H, STRIDE_W >= 1 (got %0d, %0d, %0d, %0d)",
               KH, KW, STRIDE_H, STRIDE_W);
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

reg [ROW_CW-1:0] iy_reg, iy_next;      // grid row, 0 = the image's first row
reg [COL_CW-1:0] ix_reg, ix_next;      // grid column, 0 = the image's first column
reg [RCD_W-1:0]  rcd_reg, rcd_next;    // rows until the next window bottom row (0: this row)
reg [CCD_W-1:0]  ccd_reg, ccd_next;    // columns until the next window right column (0: this column)
wire [WR_W-1:0]  win_reg;              // last KW-1 columns, pixel (ky, kx) at (ky*WR_COLS + kx)*PIX_W
reg [WR_W-1:0]   win_next;             // (registered in chunks: g_win_chunk)

// the position decoded a cycle early from the next scan state (flip-flops, so that the step that enables the
// wide window register starts from them): an image row / column, a window ends here, the input is needed
reg real_row_reg, real_col_reg, emit_reg;
reg need_in_reg;                        // an image pixel and no flush: waits for s_axis
reg decide_reg;                         // an image's first position after one with windows left over
reg flush_reg;                          // walking the grid for the previous image's windows, no input
reg flush_last_reg;                     // the flush's last position (when flushing)
reg [KH*KW-1:0] mask_reg;               // the window's elements in the image, element ky*KW + kx

wire flush_now = flush_reg || (decide_reg && !s_axis_tvalid);
wire restart   = flush_now && flush_last_reg;        // the flush is over: the image starts again

wire win_tready;                        // output skid buffer can take a window
wire out_ok   = !emit_reg || win_tready;
wire step     = step_of(emit_reg, need_in_reg, win_tready, s_axis_tvalid);

assign s_axis_tready = (need_in_reg || decide_reg) && out_ok;

wire [LB_W-1:0]  lb_rd;                 // the line buffer's column at ix (g_lb, below)

// ------------------------------------------------------------------------ window assembly

reg [KH*KW*PIX_W-1:0] block;           // the last KH rows x KW columns scanned, element (ky*KW + kx)
reg [WIN_W-1:0]       window;          // the block, elements outside the image zero
integer ky, kx;

always @* begin
    for (ky = 0; ky < KH; ky = ky + 1) begin
        for (kx = 0; kx < KW - 1; kx = kx + 1) begin
            block[(ky*KW + kx)*PIX_W +: PIX_W] = win_reg[(ky*WR_COLS + kx)*PIX_W +: PIX_W];
        end
        block[(ky*KW + KW - 1)*PIX_W +: PIX_W] = (ky == KH - 1) ? s_axis_tdata : lb_rd[ky*PIX_W +: PIX_W];
        for (kx = 0; kx < KW; kx = kx + 1) begin
            window[(ky*KW + kx)*PIX_W +: PIX_W] = block[(ky*KW + kx)*PIX_W +: PIX_W]
                                                  & {PIX_W{mask_reg[ky*KW + kx] || !PADDED}};
        end
    end

    win_next = win_reg;
    if (KW > 1) begin
        for (ky = 0; ky < KH; ky = ky + 1) begin
            for (kx = 0; kx < KW - 1; kx = kx + 1) begin
                win_next[(ky*WR_COLS + kx)*PIX_W +: PIX_W] = block[(ky*KW + kx + 1)*PIX_W +: PIX_W];
            end
        end
    end
end

// ---------------------------------------------------------------------------- scan counters

// The scan moves to the same position (no step), the next column, the next row's first column (col_last), the
// next image's first position (col_last and row_last) or, at the flush's end, the same image's first position
// again. Every decode of the next position is computed for each from registers alone, then selected by the
// step, so that the handshake (step) passes one multiplexer to reach a flip-flop, never a counter's adder or
// compare.
reg col_last_reg, row_last_reg;        // ix_reg == COLS-1, iy_reg == ROWS-1
reg col_real_last_reg;                 // ix_reg == IN_W-1: the last image column
reg row_ends_reg;                      // windows end in this row (its own, or a bottom-padding row's)
reg [KH-1:0] row_mask_reg;             // rows of the block in the image, this row's own windows
reg [KW-1:0] col_mask_reg;             // columns of the block in the image, this column's own windows
reg [HR_W-1:0] pad_ends_reg;           // bit 0: this row ends a bottom-padding row's windows, bit i: i rows on
reg [KH-1:0] pad_mask_reg;             // row mask of that bottom-padding row
reg [HT_W-1:0] tail_ends_reg;          // bit 0: this column ends a right-padding window, bit i: i columns on
reg [KH-1:0] tail_row_mask_reg;        // row mask of the previous row, whose right-padding windows end here
reg [KW-1:0] tail_col_mask_reg;        // column mask of the right-padding column ending here

wire [COL_CW-1:0] ix_inc = ix_reg + 1'b1;
wire [ROW_CW-1:0] iy_inc = iy_reg + 1'b1;
wire [CCD_W-1:0]  ccd_adv = (ccd_reg == {CCD_W{1'b0}}) ? CCD_RELOAD : ccd_reg - 1'b1;
wire [RCD_W-1:0]  rcd_adv = (rcd_reg == {RCD_W{1'b0}}) ? RCD_RELOAD : rcd_reg - 1'b1;
// the row mask of this row's windows: its own, or the bottom-padding row's it stands for
wire [KH-1:0] row_mask_ends = pad_ends_reg[0] ? pad_mask_reg : row_mask_reg;

// the next position's state and decodes
reg real_row_next, real_col_next, emit_next, col_last_next, row_last_next, col_real_last_next;
reg decide_next, flush_next, flush_last_next, row_ends_next;
reg [KH-1:0] row_mask_next, pad_mask_next, tail_row_mask_next;
reg [KW-1:0] col_mask_next, tail_col_mask_next;
reg [HR_W-1:0] pad_ends_next;
reg [HT_W-1:0] tail_ends_next;
wire need_in_next = real_row_next && real_col_next && !flush_next && !decide_next;
// the next position's window mask: a right-padding window's, or the row's own (or its bottom-padding row's)
wire [KH-1:0] win_row_mask_next = tail_ends_next[0] ? tail_row_mask_next
                                : pad_ends_next[0] ? pad_mask_next : row_mask_next;
wire [KW-1:0] win_col_mask_next = tail_ends_next[0] ? tail_col_mask_next : col_mask_next;
wire [KH*KW-1:0] mask_next = outer(win_row_mask_next, win_col_mask_next);

always @* begin
    iy_next  = iy_reg;
    ix_next  = ix_reg;
    rcd_next = rcd_reg;
    ccd_next = ccd_reg;
    real_row_next      = real_row_reg;
    real_col_next      = real_col_reg;
    emit_next          = emit_reg;
    col_last_next      = col_last_reg;
    row_last_next      = row_last_reg;
    col_real_last_next = col_real_last_reg;
    decide_next        = decide_reg;
    flush_next         = flush_reg;
    flush_last_next    = flush_last_reg;
    row_ends_next      = row_ends_reg;
    row_mask_next      = row_mask_reg;
    col_mask_next      = col_mask_reg;
    pad_ends_next      = pad_ends_reg;
    pad_mask_next      = pad_mask_reg;
    tail_ends_next     = tail_ends_reg;
    tail_row_mask_next = tail_row_mask_reg;
    tail_col_mask_next = tail_col_mask_reg;
    if (step) begin
        decide_next = 1'b0;
        flush_next  = flush_now && !flush_last_reg;
        // the next column, of this row or the next's first: right-padding windows shift along
        tail_ends_next     = tail_ends_reg >> 1;
        tail_col_mask_next = tail_col_mask_reg >> 1;
        if (!col_last_reg && !restart) begin                              // next column
            ix_next  = ix_inc;
            ccd_next = ccd_adv;
            real_col_next      = real_col_reg && !col_real_last_reg;
            col_last_next      = ix_inc == COL_LAST;
            col_real_last_next = ix_inc == COL_REAL_LAST;
            flush_last_next    = iy_reg == ROW_FLUSH && ix_inc == COL_FLUSH;
            col_mask_next      = (col_mask_reg >> 1) | ({KW{real_col_next}} & COL_MASK_START);
            emit_next          = (row_ends_reg && ccd_adv == {CCD_W{1'b0}}) || tail_ends_next[0];
        end else begin
            ix_next  = {COL_CW{1'b0}};
            ccd_next = CCD_START;
            real_col_next      = 1'b1;
            col_last_next      = COLS == 1;
            col_real_last_next = IN_W == 1;
            col_mask_next      = COL_MASK_START;
            // this row's right-padding windows end in the next row's first columns
            tail_ends_next     = TAIL_COL_ENDS & {HT_W{row_ends_reg}};
            tail_col_mask_next = TAIL_COL_MASK;
            tail_row_mask_next = row_mask_ends;
            if (!row_last_reg && !restart) begin                          // next row
                iy_next  = iy_inc;
                rcd_next = rcd_adv;
                real_row_next   = iy_inc < ROW_REAL;
                row_last_next   = iy_inc == ROW_LAST;
                flush_last_next = iy_inc == ROW_FLUSH && COL_FLUSH == 0;
                row_mask_next   = (row_mask_reg >> 1) | ({KH{real_row_next}} & ROW_MASK_START);
                pad_ends_next   = pad_ends_reg >> 1;
                pad_mask_next   = pad_mask_reg >> 1;
                row_ends_next   = rcd_adv == {RCD_W{1'b0}} || pad_ends_next[0];
            end else begin                                                // an image's first position
                iy_next  = {ROW_CW{1'b0}};
                rcd_next = RCD_START;
                real_row_next   = 1'b1;
                row_last_next   = ROWS == 1;
                flush_last_next = FLUSH == 1;
                row_mask_next   = ROW_MASK_START;
                pad_mask_next   = PAD_ROW_MASK;
                if (!restart) begin                                        // the next image: windows left over?
                    decide_next   = FLUSH > 0;
                    pad_ends_next = PAD_ROW_ENDS;
                end else begin                                            // the image again, after the flush
                    pad_ends_next      = {HR_W{1'b0}};
                    tail_ends_next     = {HT_W{1'b0}};
                end
                row_ends_next   = R0 == 0 || pad_ends_next[0];
            end
            emit_next = (row_ends_next && CCD_START == {CCD_W{1'b0}}) || tail_ends_next[0];
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
        real_col_reg <= 1'b1;
        need_in_reg <= 1'b1;
        emit_reg <= EMIT_START;
        decide_reg <= 1'b0;
        flush_reg <= 1'b0;
        flush_last_reg <= FLUSH == 1;
        col_last_reg <= COLS == 1;
        row_last_reg <= ROWS == 1;
        col_real_last_reg <= IN_W == 1;
        row_ends_reg <= R0 == 0;
        row_mask_reg <= ROW_MASK_START;
        col_mask_reg <= COL_MASK_START;
        pad_ends_reg <= {HR_W{1'b0}};
        pad_mask_reg <= PAD_ROW_MASK;
        tail_ends_reg <= {HT_W{1'b0}};
        tail_row_mask_reg <= {KH{1'b0}};
        tail_col_mask_reg <= TAIL_COL_MASK;
        mask_reg <= outer(ROW_MASK_START, COL_MASK_START);
    end else begin
        iy_reg  <= iy_next;
        ix_reg  <= ix_next;
        rcd_reg <= rcd_next;
        ccd_reg <= ccd_next;
        real_row_reg <= real_row_next;
        real_col_reg <= real_col_next;
        need_in_reg <= need_in_next;
        emit_reg <= emit_next;
        decide_reg <= decide_next;
        flush_reg <= flush_next;
        flush_last_reg <= flush_last_next;
        col_last_reg <= col_last_next;
        row_last_reg <= row_last_next;
        col_real_last_reg <= col_real_last_next;
        row_ends_reg <= row_ends_next;
        row_mask_reg <= row_mask_next;
        col_mask_reg <= col_mask_next;
        pad_ends_reg <= pad_ends_next;
        pad_mask_reg <= pad_mask_next;
        tail_ends_reg <= tail_ends_next;
        tail_row_mask_reg <= tail_row_mask_next;
        tail_col_mask_reg <= tail_col_mask_next;
        mask_reg <= mask_next;
    end
end

// ------------------------------------------------------------------------------- line buffer

// The line buffer and the window register are built in chunks of at most CHUNK_W bits, each with its own
// copies of the flip-flops its enable (the step) and, in the line buffer, its address decode: one shared
// step or address would fan out to every bit (conv2's window register: 960 bits; its line buffer: 96 LUT
// RAMs, whose one address register was the whole ecp5-85k design's critical path at 93.7 MHz, 7.6 ns of
// routing) and its routing would set the clock.
localparam integer CHUNK_W = 64;

generate
    if (KH > 1) begin : g_lb
        localparam integer LB_CHUNKS = (LB_W + CHUNK_W - 1) / CHUNK_W;
        localparam integer LB_CTRL_W = LB_AW + 3;
        wire [LB_W-1:0] lb_wr;
        // per chunk: copies of {the address (ix), real_col, emit, need_in}
        wire [LB_CHUNKS*LB_CTRL_W-1:0] lb_ctrl;

        ctrl_copies #(
            .CTRL_W(LB_CTRL_W),
            .COPIES(LB_CHUNKS),
            .RESET_VALUE({{LB_AW{1'b0}}, 1'b1, EMIT_START, 1'b1})
        )
        lb_ctrl_inst (
            .clk(clk),
            .rst(rst),
            .d({ix_next[LB_AW-1:0], real_col_next, emit_next, need_in_next}),
            .q(lb_ctrl)
        );

        // shift the column up by one row: slot k <- slot k+1, slot KH-2 <- the new pixel
        if (KH > 2) begin : g_shift
            assign lb_wr = {s_axis_tdata, lb_rd[LB_W-1:PIX_W]};
        end else begin : g_noshift
            assign lb_wr = s_axis_tdata;
        end

        genvar lc;
        for (lc = 0; lc < LB_CHUNKS; lc = lc + 1) begin : g_lb_chunk
            localparam integer LO = lc * CHUNK_W;
            localparam integer W = LB_W - LO < CHUNK_W ? LB_W - LO : CHUNK_W;

            wire need_in_copy_reg = lb_ctrl[lc*LB_CTRL_W];
            wire emit_copy_reg = lb_ctrl[lc*LB_CTRL_W+1];
            wire real_col_copy_reg = lb_ctrl[lc*LB_CTRL_W+2];
            wire [LB_AW-1:0] addr_copy_reg = lb_ctrl[lc*LB_CTRL_W+3 +: LB_AW];
            // step && real_col_reg, decoded from the copies
            wire chunk_write = real_col_copy_reg
                               && step_of(emit_copy_reg, need_in_copy_reg, win_tready, s_axis_tvalid);
            reg [W-1:0] lb_mem [0:IN_W-1];
            integer i;

            // zeros from the configuration: what is read before a row was written is never a window's but
            // reaches the output register (which takes its input whether or not it is a beat), so no X
            initial begin
                for (i = 0; i < IN_W; i = i + 1) begin
                    lb_mem[i] = {W{1'b0}};
                end
            end

            assign lb_rd[LO +: W] = lb_mem[addr_copy_reg];

            always @(posedge clk) begin
                if (chunk_write) begin
                    lb_mem[addr_copy_reg] <= lb_wr[LO +: W];
                end
            end
        end
    end else begin : g_nolb
        assign lb_rd = {LB_W{1'b0}};
    end
endgenerate

// the window register's chunks (see CHUNK_W)
localparam integer CHUNKS = (WR_W + CHUNK_W - 1) / CHUNK_W;

// per chunk: copies of {emit, need_in}
wire [CHUNKS*2-1:0] win_ctrl;

ctrl_copies #(
    .CTRL_W(2),
    .COPIES(CHUNKS),
    .RESET_VALUE({EMIT_START, 1'b1})
)
win_ctrl_inst (
    .clk(clk),
    .rst(rst),
    .d({emit_next, need_in_next}),
    .q(win_ctrl)
);

genvar ch;
generate
for (ch = 0; ch < CHUNKS; ch = ch + 1) begin : g_win_chunk
    localparam integer LO = ch * CHUNK_W;
    localparam integer W = WR_W - LO < CHUNK_W ? WR_W - LO : CHUNK_W;

    wire need_in_copy_reg = win_ctrl[ch*2];
    wire emit_copy_reg = win_ctrl[ch*2+1];

    // step, decoded from the copies
    wire chunk_step = step_of(emit_copy_reg, need_in_copy_reg, win_tready, s_axis_tvalid);
    reg [W-1:0] win_chunk_reg;

    initial win_chunk_reg = {W{1'b0}};  // as the line buffer

    always @(posedge clk) begin
        if (chunk_step) begin
            win_chunk_reg <= win_next[LO +: W];
        end
    end

    assign win_reg[LO +: W] = win_chunk_reg;
end
endgenerate

// --------------------------------------------------------------------------------- output

axis_skid_buffer #(
    .DATA_W(WIN_W),
    .M_READY_COPIES(M_READY_COPIES)
) out_reg (
    .clk(clk),
    .rst(rst),
    .s_axis_tdata(window),
    .s_axis_tvalid(emit_reg && (!need_in_reg || s_axis_tvalid)),
    .s_axis_tready(win_tready),
    .m_axis_tdata(m_axis_tdata),
    .m_axis_tvalid(m_axis_tvalid),
    .m_axis_tready(m_axis_tready)
);

endmodule

`resetall
