/*
 * softmax_stream: hls4ml's io_stream softmax (nnet_activation_stream.h), one vector per stream beat of N
 * elements, implementations stable, latency and argmax; bit-exact to lenet5_hls.kinds.softmax.
 *
 * stable / latency, per vector x (one element per cycle, one exp ROM, one multiplier):
 *   MAX  (stable, N cycles)  m = max(x)
 *   EXP  (N+1 cycles)        index_j = top EXP_LOG2 bits of x_j (latency) or of (inp_norm_t)(m - x_j)
 *                            (stable); e_j = (accum_t)exp_rom[index_j]  (registered ROM read)
 *   SUM  (1 cycle)           s = (inv_inp_t)reduce(e) with nnet::reduce's tree, each sum cast to accum_t;
 *                            inv = inv_rom[top INV_LOG2 bits of s]  (registered ROM read)
 *   MUL  (N+1 cycles)        y_j = (res_T)(e_j * inv)  (registered exact product, then the cast)
 * argmax: MAX only (the first maximum: `x_j > m` replaces it), y = (res_T)1 there and 0 elsewhere.
 * DONE: the vector moves to the output register once that is free (empty, or taken in this cycle).
 *
 * nnet::reduce(N) splits at the largest power of two below N: the elements form perfect pairwise trees
 * over blocks sized by N's binary digits (largest first), folded from the right: for N = 11,
 * op(tree8(e0..e7), op(tree2(e8, e9), e10)). The tree below builds exactly that, combinationally.
 *
 * Handshake: s_axis_tready is high in IDLE only (a register); the output register holds one vector and
 * m_axis_tvalid never waits for m_axis_tready. Cycles: a vector accepted in cycle a reaches DONE in cycle
 * a + 1 + B (B = 3N+3 stable, 2N+3 latency, N argmax) or when the previous output is taken, if later;
 * it is offered the cycle after DONE, and the next vector is accepted from then on (B + 2 cycles per
 * vector when nothing waits). lenet5_hls.rtl.timing models exactly this.
 * ROM files: $readmemh, one raw table entry per line, entry i on line i (unused by argmax).
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module softmax_stream #
(
    // Elements per vector (= per stream beat)
    parameter integer N = 10,
    // hls4ml's softmax_implementation code: 0 latency, 2 stable, 3 argmax (1, legacy, is not built)
    parameter integer IMPL = 2,
    // exp table entries: a power of two >= 2, at most 2^IN_W (latency) or 2^NORM_W (stable)
    parameter integer EXP_SIZE = 1024,
    // inverse table entries: a power of two >= 2, at most 2^INVIN_W
    parameter integer INV_SIZE = 1024,
    // Input element width in bits
    parameter integer IN_W = 16,
    // Input element fractional bits (may be negative or exceed IN_W)
    parameter integer IN_FRAC = 10,
    // 1: input elements are two's complement (ap_fixed), 0: unsigned (ap_ufixed)
    parameter integer IN_SIGNED = 1,
    // inp_norm_t (stable: max - x is cast to it, its top bits index the exp table) width in bits
    parameter integer NORM_W = 15,
    // inp_norm_t fractional bits
    parameter integer NORM_FRAC = 10,
    // 1: inp_norm_t is two's complement, 0: unsigned
    parameter integer NORM_SIGNED = 0,
    // inp_norm_t rounding code: 0 TRN, 1 TRN_ZERO, 2 RND, 3 RND_ZERO, 4 RND_MIN_INF, 5 RND_INF, 6 RND_CONV
    parameter integer NORM_ROUNDING = 0,
    // inp_norm_t overflow code: 0 WRAP, 1 SAT, 2 SAT_ZERO, 3 SAT_SYM
    parameter integer NORM_OVERFLOW = 0,
    // exp table entry (exp_table_t) width in bits
    parameter integer EXP_W = 18,
    // exp table entry fractional bits
    parameter integer EXP_FRAC = 10,
    // 1: exp table entries are two's complement, 0: unsigned
    parameter integer EXP_SIGNED = 1,
    // accum_t (the exp values and their sums) width in bits
    parameter integer ACC_W = 18,
    // accum_t fractional bits
    parameter integer ACC_FRAC = 10,
    // 1: accum_t is two's complement, 0: unsigned
    parameter integer ACC_SIGNED = 1,
    // accum_t rounding code, as NORM_ROUNDING
    parameter integer ACC_ROUNDING = 2,
    // accum_t overflow code, as NORM_OVERFLOW
    parameter integer ACC_OVERFLOW = 1,
    // inv_inp_t (the sum is cast to it, its top bits index the inverse table) width in bits
    parameter integer INVIN_W = 18,
    // inv_inp_t fractional bits
    parameter integer INVIN_FRAC = 10,
    // 1: inv_inp_t is two's complement, 0: unsigned
    parameter integer INVIN_SIGNED = 1,
    // inv_inp_t rounding code, as NORM_ROUNDING
    parameter integer INVIN_ROUNDING = 2,
    // inv_inp_t overflow code, as NORM_OVERFLOW
    parameter integer INVIN_OVERFLOW = 1,
    // inverse table entry (inv_table_t) width in bits
    parameter integer INV_W = 18,
    // inverse table entry fractional bits
    parameter integer INV_FRAC = 10,
    // 1: inverse table entries are two's complement, 0: unsigned
    parameter integer INV_SIGNED = 1,
    // Output element width in bits
    parameter integer OUT_W = 16,
    // Output element fractional bits (may be negative or exceed OUT_W)
    parameter integer OUT_FRAC = 10,
    // 1: output elements are two's complement (ap_fixed), 0: unsigned (ap_ufixed)
    parameter integer OUT_SIGNED = 1,
    // Output rounding code, as NORM_ROUNDING
    parameter integer OUT_ROUNDING = 0,
    // Output overflow code, as NORM_OVERFLOW
    parameter integer OUT_OVERFLOW = 0,
    // $readmemh file with the EXP_SIZE exp table entries
    parameter EXP_FILE = "exp_table.mem",
    // $readmemh file with the INV_SIZE inverse table entries
    parameter INV_FILE = "inv_table.mem"
)
(
    input  wire                   clk,
    input  wire                   rst,

    /*
     * Input stream: one vector of N elements of IN_W bits, element i at [i*IN_W +: IN_W]
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

localparam integer IMPL_LATENCY = 0;
localparam integer IMPL_STABLE = 2;
localparam integer IMPL_ARGMAX = 3;
// the implementation needs the tables, and the MAX phase
localparam integer TABLES = IMPL != IMPL_ARGMAX ? 1 : 0;
localparam integer HAS_MAX = IMPL != IMPL_LATENCY ? 1 : 0;
// index bits of the tables
localparam integer EXP_LOG2 = $clog2(EXP_SIZE);
localparam integer INV_LOG2 = $clog2(INV_SIZE);
// the type the exp index is cut from: inp_norm_t (stable) or the input
localparam integer IDX_W = IMPL == IMPL_STABLE ? NORM_W : IN_W;
// counter: 0..N
localparam integer CNT_W = $clog2(N + 1) + 1;
// levels of the pairwise trees: a block of 2^LEVELS elements at most
localparam integer LEVELS = $clog2(N + 1);
// exact max - x: both extended by one bit, one more for the difference
localparam integer DIFF_W = IN_W + 2;
// accumulator sum before its overflow cast
localparam integer SUM_W = ACC_W + 2;
// exact product: both operands extended by one bit
localparam integer PROD_W = ACC_W + INV_W + 2;
localparam integer PROD_FRAC = ACC_FRAC + INV_FRAC;

localparam [2:0] STATE_IDLE = 3'd0;
localparam [2:0] STATE_MAX = 3'd1;
localparam [2:0] STATE_EXP = 3'd2;
localparam [2:0] STATE_SUM = 3'd3;
localparam [2:0] STATE_MUL = 3'd4;
localparam [2:0] STATE_DONE = 3'd5;

localparam [CNT_W-1:0] CNT_ZERO = {CNT_W{1'b0}};
localparam [CNT_W-1:0] CNT_ONE = {{(CNT_W-1){1'b0}}, 1'b1};
localparam integer N_M1 = N - 1;
localparam integer N_I = N;
localparam [CNT_W-1:0] CNT_LAST = N_M1[CNT_W-1:0];
localparam [CNT_W-1:0] CNT_END = N_I[CNT_W-1:0];

initial begin
    if (N < 1) begin
        $error("Error: softmax_stream N must be >= 1, got %0d (instance %m)", N);
        $finish;
    end
    if (IMPL != IMPL_LATENCY && IMPL != IMPL_STABLE && IMPL != IMPL_ARGMAX) begin
        $error("Error: softmax_stream IMPL must be 0 (latency), 2 (stable) or 3 (argmax), got %0d (instance %m)", IMPL);
        $finish;
    end
    if (TABLES != 0 && (EXP_SIZE < 2 || (1 << EXP_LOG2) != EXP_SIZE || INV_SIZE < 2 || (1 << INV_LOG2) != INV_SIZE)) begin
        $error("Error: softmax_stream EXP_SIZE=%0d and INV_SIZE=%0d must be powers of two >= 2 (instance %m)", EXP_SIZE, INV_SIZE);
        $finish;
    end
    if (TABLES != 0 && (EXP_LOG2 > IDX_W || INV_LOG2 > INVIN_W)) begin
        $error("Error: softmax_stream table index wider than the type it is cut from (instance %m)");
        $finish;
    end
    if (IN_W < 1 || NORM_W < 1 || EXP_W < 1 || ACC_W < 1 || INVIN_W < 1 || INV_W < 1 || OUT_W < 1) begin
        $error("Error: softmax_stream widths must be >= 1 (instance %m)");
        $finish;
    end
end

reg [2:0]          state_reg, state_next;
reg [CNT_W-1:0]    cnt_reg, cnt_next;
reg [N*IN_W-1:0]   vec_reg, vec_next;
reg [IN_W-1:0]     max_reg, max_next;
reg [CNT_W-1:0]    arg_reg, arg_next;
reg [N*OUT_W-1:0]  m_data_reg, m_data_next;
reg                m_valid_reg, m_valid_next;

assign s_axis_tready = state_reg == STATE_IDLE;
assign m_axis_tdata = m_data_reg;
assign m_axis_tvalid = m_valid_reg;

// the element the MAX and EXP phases look at in this cycle (0 past the end)
wire [CNT_W-1:0] sel = cnt_reg < CNT_END ? cnt_reg : CNT_ZERO;
wire [IN_W-1:0] x = vec_reg[sel*IN_W +: IN_W];
wire signed [IN_W:0] x_ext = {IN_SIGNED != 0 && x[IN_W-1], x};
wire signed [IN_W:0] max_ext = {IN_SIGNED != 0 && max_reg[IN_W-1], max_reg};

// the vector's output in DONE: the products (tables) or the one-hot at the first maximum
wire [N*OUT_W-1:0] result;
// the output of the output register is free in this cycle
wire out_free = !m_valid_reg || m_axis_tready;

always @* begin
    state_next = state_reg;
    cnt_next = cnt_reg;
    vec_next = vec_reg;
    max_next = max_reg;
    arg_next = arg_reg;
    m_data_next = m_data_reg;
    m_valid_next = m_valid_reg && !m_axis_tready;
    case (state_reg)
        STATE_IDLE: begin
            if (s_axis_tvalid) begin
                vec_next = s_axis_tdata;
                cnt_next = CNT_ZERO;
                state_next = HAS_MAX != 0 ? STATE_MAX : STATE_EXP;
            end
        end
        STATE_MAX: begin
            if (cnt_reg == CNT_ZERO || x_ext > max_ext) begin
                max_next = x;
                arg_next = cnt_reg;
            end
            cnt_next = cnt_reg + CNT_ONE;
            if (cnt_reg == CNT_LAST) begin
                cnt_next = CNT_ZERO;
                state_next = TABLES != 0 ? STATE_EXP : STATE_DONE;
            end
        end
        STATE_EXP: begin
            cnt_next = cnt_reg + CNT_ONE;
            if (cnt_reg == CNT_END) begin
                cnt_next = CNT_ZERO;
                state_next = STATE_SUM;
            end
        end
        STATE_SUM: begin
            state_next = STATE_MUL;
        end
        STATE_MUL: begin
            cnt_next = cnt_reg + CNT_ONE;
            if (cnt_reg == CNT_END) begin
                cnt_next = CNT_ZERO;
                state_next = STATE_DONE;
            end
        end
        default: begin // STATE_DONE
            if (out_free) begin
                m_data_next = result;
                m_valid_next = 1'b1;
                state_next = STATE_IDLE;
            end
        end
    endcase
end

always @(posedge clk) begin
    if (rst) begin
        state_reg <= STATE_IDLE;
        cnt_reg <= CNT_ZERO;
        vec_reg <= {N*IN_W{1'b0}};
        max_reg <= {IN_W{1'b0}};
        arg_reg <= CNT_ZERO;
        m_data_reg <= {N*OUT_W{1'b0}};
        m_valid_reg <= 1'b0;
    end else begin
        state_reg <= state_next;
        cnt_reg <= cnt_next;
        vec_reg <= vec_next;
        max_reg <= max_next;
        arg_reg <= arg_next;
        m_data_reg <= m_data_next;
        m_valid_reg <= m_valid_next;
    end
end

genvar j, l, b;
generate
if (TABLES == 0) begin : g_argmax
    // (res_T)1: the integer 1 cast to the output type; 0 casts to 0 in every mode
    wire [OUT_W-1:0] one;

    fxp_requant #(
        .IN_W(2), .IN_FRAC(0), .IN_SIGNED(0),
        .OUT_W(OUT_W), .OUT_FRAC(OUT_FRAC), .OUT_SIGNED(OUT_SIGNED),
        .ROUNDING(OUT_ROUNDING), .OVERFLOW(OUT_OVERFLOW)
    )
    one_cast_inst (
        .in_data(2'b01),
        .out_data(one)
    );

    for (j = 0; j < N; j = j + 1) begin : g_hot
        localparam integer J = j;
        localparam [CNT_W-1:0] POS = J[CNT_W-1:0];
        assign result[j*OUT_W +: OUT_W] = arg_reg == POS ? one : {OUT_W{1'b0}};
    end
end else begin : g_tables
    reg [EXP_W-1:0] exp_rom [0:EXP_SIZE-1];
    reg [INV_W-1:0] inv_rom [0:INV_SIZE-1];

    initial begin
        $readmemh(EXP_FILE, exp_rom);
        $readmemh(INV_FILE, inv_rom);
    end

    // registered ROM outputs
    reg [EXP_W-1:0] exp_q;
    reg [INV_W-1:0] inv_q;
    // e_j as accum_t, and the registered product of the MUL phase
    reg [N*ACC_W-1:0] e_reg;
    reg signed [PROD_W-1:0] prod_reg;
    reg [N*OUT_W-1:0] y_reg;

    // exp index of the current element
    /* verilator lint_off UNUSEDSIGNAL */ // only its top EXP_LOG2 bits index the table
    wire [IDX_W-1:0] idx_src;
    /* verilator lint_on UNUSEDSIGNAL */
    if (IMPL == IMPL_STABLE) begin : g_norm
        wire signed [DIFF_W-1:0] diff = {max_ext[IN_W], max_ext} - {x_ext[IN_W], x_ext};

        fxp_requant #(
            .IN_W(DIFF_W), .IN_FRAC(IN_FRAC), .IN_SIGNED(1),
            .OUT_W(NORM_W), .OUT_FRAC(NORM_FRAC), .OUT_SIGNED(NORM_SIGNED),
            .ROUNDING(NORM_ROUNDING), .OVERFLOW(NORM_OVERFLOW)
        )
        norm_cast_inst (
            .in_data(diff),
            .out_data(idx_src)
        );
    end else begin : g_raw
        assign idx_src = x;
    end
    wire [EXP_LOG2-1:0] exp_addr = idx_src[IDX_W-1 -: EXP_LOG2];

    wire [ACC_W-1:0] e_new;

    fxp_requant #(
        .IN_W(EXP_W), .IN_FRAC(EXP_FRAC), .IN_SIGNED(EXP_SIGNED),
        .OUT_W(ACC_W), .OUT_FRAC(ACC_FRAC), .OUT_SIGNED(ACC_SIGNED),
        .ROUNDING(ACC_ROUNDING), .OVERFLOW(ACC_OVERFLOW)
    )
    exp_cast_inst (
        .in_data(exp_q),
        .out_data(e_new)
    );

    // node (l, k) of the pairwise trees, covering e[k*2^l +: 2^l], at [(l*N + k)*ACC_W +: ACC_W]
    // (zero where no such node exists)
    /* verilator lint_off UNUSEDSIGNAL */ // nodes past a block's root and the zero padding are not read
    wire [(LEVELS+1)*N*ACC_W-1:0] node;
    // fold[b]: the reduction of the blocks of size <= 2^b (zero when there are none)
    wire [(LEVELS+1)*ACC_W-1:0] fold;
    /* verilator lint_on UNUSEDSIGNAL */

    for (l = 0; l <= LEVELS; l = l + 1) begin : g_level
        for (j = 0; j < N; j = j + 1) begin : g_node
            if (l == 0) begin : g_leaf
                assign node[j*ACC_W +: ACC_W] = e_reg[j*ACC_W +: ACC_W];
            end else if ((j + 1) * (1 << l) <= N) begin : g_add
                wire [ACC_W-1:0] a = node[((l-1)*N + 2*j)*ACC_W +: ACC_W];
                wire [ACC_W-1:0] c = node[((l-1)*N + 2*j+1)*ACC_W +: ACC_W];
                wire [SUM_W-1:0] sum = {{2{ACC_SIGNED != 0 && a[ACC_W-1]}}, a} + {{2{ACC_SIGNED != 0 && c[ACC_W-1]}}, c};

                fxp_requant #(
                    .IN_W(SUM_W), .IN_FRAC(ACC_FRAC), .IN_SIGNED(1),
                    .OUT_W(ACC_W), .OUT_FRAC(ACC_FRAC), .OUT_SIGNED(ACC_SIGNED),
                    .ROUNDING(ACC_ROUNDING), .OVERFLOW(ACC_OVERFLOW)
                )
                sum_cast_inst (
                    .in_data(sum),
                    .out_data(node[(l*N + j)*ACC_W +: ACC_W])
                );
            end else begin : g_none
                assign node[(l*N + j)*ACC_W +: ACC_W] = {ACC_W{1'b0}};
            end
        end
    end

    for (b = 0; b <= LEVELS; b = b + 1) begin : g_fold
        // bit b of N set: a block of 2^b elements, rooted at node (b, k) with k = (N >> b) & ~1
        if (((N >> b) & 1) == 0) begin : g_skip
            if (b == 0) begin : g_empty
                assign fold[ACC_W-1:0] = {ACC_W{1'b0}};
            end else begin : g_pass
                assign fold[b*ACC_W +: ACC_W] = fold[(b-1)*ACC_W +: ACC_W];
            end
        end else if (b == 0 || N % (1 << b) == 0) begin : g_first
            assign fold[b*ACC_W +: ACC_W] = node[(b*N + ((N >> b) & ~1))*ACC_W +: ACC_W];
        end else begin : g_join
            wire [ACC_W-1:0] root = node[(b*N + ((N >> b) & ~1))*ACC_W +: ACC_W];
            wire [ACC_W-1:0] c = fold[(b-1)*ACC_W +: ACC_W];
            wire [SUM_W-1:0] sum = {{2{ACC_SIGNED != 0 && root[ACC_W-1]}}, root} + {{2{ACC_SIGNED != 0 && c[ACC_W-1]}}, c};

            fxp_requant #(
                .IN_W(SUM_W), .IN_FRAC(ACC_FRAC), .IN_SIGNED(1),
                .OUT_W(ACC_W), .OUT_FRAC(ACC_FRAC), .OUT_SIGNED(ACC_SIGNED),
                .ROUNDING(ACC_ROUNDING), .OVERFLOW(ACC_OVERFLOW)
            )
            join_cast_inst (
                .in_data(sum),
                .out_data(fold[b*ACC_W +: ACC_W])
            );
        end
    end

    /* verilator lint_off UNUSEDSIGNAL */ // only its top INV_LOG2 bits index the table
    wire [INVIN_W-1:0] total;
    /* verilator lint_on UNUSEDSIGNAL */

    fxp_requant #(
        .IN_W(ACC_W), .IN_FRAC(ACC_FRAC), .IN_SIGNED(ACC_SIGNED),
        .OUT_W(INVIN_W), .OUT_FRAC(INVIN_FRAC), .OUT_SIGNED(INVIN_SIGNED),
        .ROUNDING(INVIN_ROUNDING), .OVERFLOW(INVIN_OVERFLOW)
    )
    total_cast_inst (
        .in_data(fold[LEVELS*ACC_W +: ACC_W]),
        .out_data(total)
    );
    wire [INV_LOG2-1:0] inv_addr = total[INVIN_W-1 -: INV_LOG2];

    // the MUL phase's operand e_j and its product, extended by one bit each
    wire [ACC_W-1:0] e_sel = e_reg[sel*ACC_W +: ACC_W];
    wire signed [PROD_W-1:0] e_ext = {{(PROD_W-ACC_W){ACC_SIGNED != 0 && e_sel[ACC_W-1]}}, e_sel};
    wire signed [PROD_W-1:0] inv_ext = {{(PROD_W-INV_W){INV_SIGNED != 0 && inv_q[INV_W-1]}}, inv_q};
    wire [OUT_W-1:0] y_new;

    fxp_requant #(
        .IN_W(PROD_W), .IN_FRAC(PROD_FRAC), .IN_SIGNED(1),
        .OUT_W(OUT_W), .OUT_FRAC(OUT_FRAC), .OUT_SIGNED(OUT_SIGNED),
        .ROUNDING(OUT_ROUNDING), .OVERFLOW(OUT_OVERFLOW)
    )
    out_cast_inst (
        .in_data(prod_reg),
        .out_data(y_new)
    );

    always @(posedge clk) begin
        exp_q <= exp_rom[exp_addr];
        if (state_reg == STATE_SUM)
            inv_q <= inv_rom[inv_addr];
        if (state_reg == STATE_MUL)
            prod_reg <= e_ext * inv_ext;
    end

    // e_j is written in EXP cycle j+1 (the ROM read of cycle j), y_j in MUL cycle j+1
    integer i;
    always @(posedge clk) begin
        for (i = 0; i < N; i = i + 1) begin
            if (rst) begin
                e_reg[i*ACC_W +: ACC_W] <= {ACC_W{1'b0}};
                y_reg[i*OUT_W +: OUT_W] <= {OUT_W{1'b0}};
            end else begin
                if (state_reg == STATE_EXP && cnt_reg == i[CNT_W-1:0] + CNT_ONE)
                    e_reg[i*ACC_W +: ACC_W] <= e_new;
                if (state_reg == STATE_MUL && cnt_reg == i[CNT_W-1:0] + CNT_ONE)
                    y_reg[i*OUT_W +: OUT_W] <= y_new;
            end
        end
    end

    assign result = y_reg;
end
endgenerate

endmodule

`resetall
