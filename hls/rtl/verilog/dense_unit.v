/*
 * dense_unit: folded matrix-vector unit (hls4ml dense / the MAC core of conv2d), bit-exact to
 * lenet5_hls.model.golden._mac:
 *
 *   for each output j:  acc = cast_acc(b[j])
 *                       for k = 0 .. N_IN-1:  acc = cast_acc(acc + cast_acc(x[k] * w[k][j]))
 *                       y[j] = cast_out(acc)
 *
 * where cast_acc is an ap_fixed assignment to the accumulator type (ACC_ROUNDING, ACC_OVERFLOW) and
 * cast_out one to the output type (OUT_ROUNDING, OUT_OVERFLOW), all done by fxp_requant. The additions
 * run in input order k = 0..N_IN-1 for every output with a cast after each one, so saturating
 * accumulators behave exactly as in the golden model (for WRAP accumulators any order gives the same
 * result anyway).
 *
 * Streams: one input beat = one vector of N_IN elements (element k at s_axis_tdata[k*IN_W +: IN_W]);
 * one output beat = N_OUT results (element j at m_axis_tdata[j*OUT_W +: OUT_W]).
 *
 * Folding: MULTS multipliers work in parallel (hls4ml's reuse factor is N_IN*N_OUT/MULTS). MULTS must
 * divide N_IN*N_OUT. They are split as PO = gcd(MULTS, N_OUT) outputs in parallel times
 * PI = MULTS/PO consecutive inputs per output and cycle (PI always divides N_IN); a cycle adds the PI
 * products of one output into its accumulator in input order (a chain of PI casts; for a WRAP
 * accumulator, where the order cannot matter, one sum of the PI cast products).
 * Cycle count: every vector takes exactly STEPS = N_IN*N_OUT/MULTS compute cycles
 * (= ceil(N_IN*N_OUT/MULTS), the divisibility being required), and back-to-back vectors are
 * processed at one vector per STEPS cycles in steady state: the next input vector is accepted into
 * a skid register while the current one is computed and starts on the cycle after the current one's
 * last step; the finished result vector waits in its own register for the output stream. Latency
 * (input handshake to output handshake, ready sink): STEPS + 2 cycles. Under backpressure the unit
 * stalls only when a finished group would overwrite a result vector still waiting for m_axis.
 * Schedule: for group g = 0..N_OUT/PO-1 (outputs g*PO .. g*PO+PO-1), for block kb = 0..N_IN/PI-1
 * (inputs kb*PI .. kb*PI+PI-1): one cycle, ROM address a = g*(N_IN/PI) + kb.
 *
 * ROM files ($readmemh, hex, one word per line, written by lenet5_hls.hls.rtl_params):
 *   WEIGHT_FILE: STEPS words of MULTS*W_W bits; word a = g*(N_IN/PI) + kb holds, for po < PO and
 *                pi < PI, the raw weight w[kb*PI + pi][g*PO + po] (W_W-bit two's complement or
 *                unsigned) at bits [(po*PI + pi)*W_W +: W_W].
 *   BIAS_FILE:   N_OUT/PO words of PO*B_W bits; word g holds raw bias b[g*PO + po] at [po*B_W +: B_W].
 * Both ROMs are read synchronously (block-RAM friendly). Conv2d weights (kh, kw, cin, cout) are used
 * as an (kh*kw*cin) x cout matrix, input index (ky*KW + kx)*C + c.
 *
 * Timing note: the per-cycle datapath (multiply, cast, PI-input sum or chained add+cast, output cast) is one
 * combinational stage; large PI makes it long.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module dense_unit #
(
    // Input vector length (elements per input beat)
    parameter integer N_IN = 8,
    // Output vector length (elements per output beat)
    parameter integer N_OUT = 4,
    // Parallel multipliers; must divide N_IN*N_OUT
    parameter integer MULTS = 4,
    // Input element width in bits
    parameter integer IN_W = 8,
    // Input element fractional bits (may be negative or exceed IN_W)
    parameter integer IN_FRAC = 4,
    // 1: input elements are two's complement, 0: unsigned
    parameter integer IN_SIGNED = 1,
    // Weight width in bits
    parameter integer W_W = 8,
    // Weight fractional bits
    parameter integer W_FRAC = 6,
    // 1: weights are two's complement, 0: unsigned
    parameter integer W_SIGNED = 1,
    // Bias width in bits
    parameter integer B_W = 8,
    // Bias fractional bits
    parameter integer B_FRAC = 6,
    // 1: biases are two's complement, 0: unsigned
    parameter integer B_SIGNED = 1,
    // Accumulator width in bits
    parameter integer ACC_W = 24,
    // Accumulator fractional bits
    parameter integer ACC_FRAC = 10,
    // 1: accumulator is two's complement, 0: unsigned
    parameter integer ACC_SIGNED = 1,
    // Accumulator rounding code (product and bias casts): 0 TRN .. 6 RND_CONV, as fxp_requant
    parameter integer ACC_ROUNDING = 0,
    // Accumulator overflow code (every cast and addition): 0 WRAP, 1 SAT, 2 SAT_ZERO, 3 SAT_SYM
    parameter integer ACC_OVERFLOW = 0,
    // Output element width in bits
    parameter integer OUT_W = 16,
    // Output element fractional bits
    parameter integer OUT_FRAC = 8,
    // 1: output elements are two's complement, 0: unsigned
    parameter integer OUT_SIGNED = 1,
    // Output rounding code: 0 TRN .. 6 RND_CONV, as fxp_requant
    parameter integer OUT_ROUNDING = 0,
    // Output overflow code: 0 WRAP, 1 SAT, 2 SAT_ZERO, 3 SAT_SYM
    parameter integer OUT_OVERFLOW = 0,
    // $readmemh file of the weight ROM (layout above); give an absolute path
    parameter WEIGHT_FILE = "weights.mem",
    // $readmemh file of the bias ROM (layout above); give an absolute path
    parameter BIAS_FILE = "biases.mem"
)
(
    input  wire                   clk,
    input  wire                   rst,

    /*
     * Input vectors: N_IN elements of IN_W bits, element k at [k*IN_W +: IN_W]
     */
    input  wire [N_IN*IN_W-1:0]   s_axis_tdata,
    input  wire                   s_axis_tvalid,
    output wire                   s_axis_tready,

    /*
     * Output vectors: N_OUT elements of OUT_W bits, element j at [j*OUT_W +: OUT_W]
     */
    output wire [N_OUT*OUT_W-1:0] m_axis_tdata,
    output wire                   m_axis_tvalid,
    input  wire                   m_axis_tready
);

function integer gcd;
    input integer a;
    input integer b;
    integer x, y, t;
    begin
        x = a;
        y = b;
        while (y != 0) begin
            t = x % y;
            x = y;
            y = t;
        end
        gcd = x;
    end
endfunction

// outputs computed in parallel
localparam integer PO = gcd(MULTS, N_OUT);
// consecutive inputs per output and cycle
localparam integer PI = PO > 0 && MULTS % PO == 0 ? MULTS / PO : 1;
// cycles per output group
localparam integer KB = N_IN / PI;
// output groups
localparam integer G = N_OUT / PO;
// compute cycles per vector (= N_IN*N_OUT/MULTS)
localparam integer STEPS = KB * G;
// counter widths
localparam integer KBW = KB > 1 ? $clog2(KB) : 1;
localparam integer GW = G > 1 ? $clog2(G) : 1;
localparam integer AW = STEPS > 1 ? $clog2(STEPS) : 1;
// last values of the block and group counters
localparam integer KB_LAST_INT = KB - 1;
localparam integer G_LAST_INT = G - 1;
localparam [KBW-1:0] KB_LAST = KB_LAST_INT[KBW-1:0];
localparam [GW-1:0] G_LAST = G_LAST_INT[GW-1:0];
// packed vector widths
localparam integer IN_VEC_W = N_IN * IN_W;
localparam integer OUT_VEC_W = N_OUT * OUT_W;
localparam integer GROUP_W = PO * OUT_W;
// ROM word widths
localparam integer WWORD_W = MULTS * W_W;
localparam integer BWORD_W = PO * B_W;
// exact product: both operands sign/zero-extended by one bit, product of the extended widths
localparam integer PROD_W = IN_W + W_W + 2;
localparam integer PROD_FRAC = IN_FRAC + W_FRAC;
// accumulator sum before its overflow cast
localparam integer SUM_W = ACC_W + 2;

initial begin
    if (N_IN < 1 || N_OUT < 1 || MULTS < 1) begin
        $error("Error: dense_unit N_IN, N_OUT, MULTS must be >= 1 (N_IN=%0d N_OUT=%0d MULTS=%0d) (instance %m)", N_IN, N_OUT, MULTS);
        $finish;
    end
    if ((N_IN * N_OUT) % MULTS != 0) begin
        $error("Error: dense_unit MULTS=%0d must divide N_IN*N_OUT=%0d (instance %m)", MULTS, N_IN * N_OUT);
        $finish;
    end
    if (IN_W < 1 || W_W < 1 || B_W < 1 || ACC_W < 1 || OUT_W < 1) begin
        $error("Error: dense_unit widths must be >= 1 (instance %m)");
        $finish;
    end
    if (ACC_ROUNDING < 0 || ACC_ROUNDING > 6 || OUT_ROUNDING < 0 || OUT_ROUNDING > 6) begin
        $error("Error: dense_unit rounding codes must be 0..6 (instance %m)");
        $finish;
    end
    if (ACC_OVERFLOW < 0 || ACC_OVERFLOW > 3 || OUT_OVERFLOW < 0 || OUT_OVERFLOW > 3) begin
        $error("Error: dense_unit overflow codes must be 0..3 (instance %m)");
        $finish;
    end
end

/*
 * Weight and bias ROMs, synchronous read: *_word_reg holds the word of the current step
 */
reg [WWORD_W-1:0] weight_rom [0:STEPS-1];
reg [BWORD_W-1:0] bias_rom [0:G-1];

initial begin
    $readmemh(WEIGHT_FILE, weight_rom);
    $readmemh(BIAS_FILE, bias_rom);
end

reg [WWORD_W-1:0] weight_word_reg;
reg [BWORD_W-1:0] bias_word_reg;

/*
 * State
 */
// input skid register (next vector, accepted while the current one is computed)
reg                 s_axis_tready_reg;
reg [IN_VEC_W-1:0]  skid_data_reg;
reg                 skid_valid_reg, skid_valid_next;

// current vector, rotated by PI elements per step so that its block kb sits at the bottom
reg [IN_VEC_W-1:0]  x_reg;
reg                 cur_valid_reg, cur_valid_next;

// schedule counters
reg [KBW-1:0]       kb_reg, kb_next;
reg [GW-1:0]        g_reg, g_next;
reg [AW-1:0]        addr_reg, addr_next;

// PO accumulators
reg [PO*ACC_W-1:0]  acc_reg;

// result vector being assembled (groups shifted in from the top), full when complete
reg [OUT_VEC_W-1:0] res_reg;
reg                 res_full_reg, res_full_next;

// output register
reg [OUT_VEC_W-1:0] m_axis_tdata_reg;
reg                 m_axis_tvalid_reg, m_axis_tvalid_next;

assign s_axis_tready = s_axis_tready_reg;
assign m_axis_tdata = m_axis_tdata_reg;
assign m_axis_tvalid = m_axis_tvalid_reg;

/*
 * Control
 */
wire kb_last = kb_reg == KB_LAST;
wire g_last = g_reg == G_LAST;
// the finished result vector moves to the output register
wire res_xfer = res_full_reg && (!m_axis_tvalid_reg || m_axis_tready);
// a compute step: stalls only at a group end while the result register still waits for the output
wire step = cur_valid_reg && !(kb_last && res_full_reg && !res_xfer);
// last step of the current vector
wire cur_done = step && kb_last && g_last;
// the current-vector register can take a new vector this cycle
wire cur_free = !cur_valid_reg || cur_done;
// ready next cycle unless the skid register is (or becomes) full while the current vector is busy
wire s_axis_tready_early = cur_free || (!skid_valid_reg && !s_axis_tvalid);

reg load_x_from_input;
reg load_x_from_skid;
reg store_input_to_skid;

always @* begin
    cur_valid_next = cur_valid_reg;
    skid_valid_next = skid_valid_reg;
    load_x_from_input = 1'b0;
    load_x_from_skid = 1'b0;
    store_input_to_skid = 1'b0;

    if (s_axis_tready_reg) begin
        // skid register is empty
        if (cur_free) begin
            cur_valid_next = s_axis_tvalid;
            load_x_from_input = 1'b1;
        end else begin
            skid_valid_next = s_axis_tvalid;
            store_input_to_skid = 1'b1;
        end
    end else if (cur_free) begin
        // skid register holds the next vector
        cur_valid_next = skid_valid_reg;
        skid_valid_next = 1'b0;
        load_x_from_skid = 1'b1;
    end

    kb_next = kb_reg;
    g_next = g_reg;
    addr_next = addr_reg;
    if (step) begin
        kb_next = kb_last ? {KBW{1'b0}} : kb_reg + 1'b1;
        if (kb_last) begin
            g_next = g_last ? {GW{1'b0}} : g_reg + 1'b1;
        end
        addr_next = (kb_last && g_last) ? {AW{1'b0}} : addr_reg + 1'b1;
    end

    res_full_next = res_full_reg;
    m_axis_tvalid_next = m_axis_tvalid_reg;
    if (res_xfer) begin
        res_full_next = 1'b0;
        m_axis_tvalid_next = 1'b1;
    end else if (m_axis_tready) begin
        m_axis_tvalid_next = 1'b0;
    end
    if (cur_done) begin
        res_full_next = 1'b1;
    end
end

/*
 * Datapath
 */
// x_reg rotated by one block of PI elements
wire [IN_VEC_W-1:0] x_rot;
// results of the group finishing this cycle, and res_reg with them shifted in
wire [GROUP_W-1:0] group_out;
wire [OUT_VEC_W-1:0] res_shifted;
// new accumulator values
wire [PO*ACC_W-1:0] acc_new;

generate
if (KB > 1) begin : g_rotate
    assign x_rot = {x_reg[PI*IN_W-1:0], x_reg[IN_VEC_W-1:PI*IN_W]};
end else begin : g_no_rotate
    assign x_rot = x_reg;
end

if (G > 1) begin : g_shift
    assign res_shifted = {group_out, res_reg[OUT_VEC_W-1:GROUP_W]};
end else begin : g_no_shift
    assign res_shifted = group_out;
end
endgenerate

genvar po, pi;
generate
for (po = 0; po < PO; po = po + 1) begin : g_out
    // bias of output g*PO + po, cast to the accumulator type
    wire [ACC_W-1:0] bias_acc;

    fxp_requant #(
        .IN_W(B_W), .IN_FRAC(B_FRAC), .IN_SIGNED(B_SIGNED),
        .OUT_W(ACC_W), .OUT_FRAC(ACC_FRAC), .OUT_SIGNED(ACC_SIGNED),
        .ROUNDING(ACC_ROUNDING), .OVERFLOW(ACC_OVERFLOW)
    )
    bias_cast_inst (
        .in_data(bias_word_reg[po*B_W +: B_W]),
        .out_data(bias_acc)
    );

    // accumulator value this cycle starts from: the bias at a group's first block
    wire [ACC_W-1:0] acc_start = kb_reg == {KBW{1'b0}} ? bias_acc : acc_reg[po*ACC_W +: ACC_W];
    // the PI products of this cycle, each cast to the accumulator type
    wire [PI*ACC_W-1:0] prods;
    // accumulator after all PI products of this cycle
    wire [ACC_W-1:0] acc_total;

    for (pi = 0; pi < PI; pi = pi + 1) begin : g_in
        wire [IN_W-1:0] x = x_reg[pi*IN_W +: IN_W];
        wire [W_W-1:0] w = weight_word_reg[(po*PI + pi)*W_W +: W_W];
        wire signed [PROD_W-1:0] x_ext = {{(PROD_W-IN_W){IN_SIGNED != 0 ? x[IN_W-1] : 1'b0}}, x};
        wire signed [PROD_W-1:0] w_ext = {{(PROD_W-W_W){W_SIGNED != 0 ? w[W_W-1] : 1'b0}}, w};
        // exact product (|x*w| < 2^(IN_W+W_W)), PROD_FRAC fractional bits
        wire signed [PROD_W-1:0] prod = x_ext * w_ext;

        fxp_requant #(
            .IN_W(PROD_W), .IN_FRAC(PROD_FRAC), .IN_SIGNED(1),
            .OUT_W(ACC_W), .OUT_FRAC(ACC_FRAC), .OUT_SIGNED(ACC_SIGNED),
            .ROUNDING(ACC_ROUNDING), .OVERFLOW(ACC_OVERFLOW)
        )
        prod_cast_inst (
            .in_data(prod),
            .out_data(prods[pi*ACC_W +: ACC_W])
        );
    end

    if (ACC_OVERFLOW == 0) begin : g_wrap_sum
        // WRAP: each cast after an addition keeps the low ACC_W bits, and addition modulo 2^ACC_W
        // is associative, so the cycle's products are one sum (an adder tree for synthesis, a single
        // evaluation per cycle for event-driven simulators) with the same result as the chain.
        reg [ACC_W-1:0] total;
        integer i;
        always @* begin
            total = acc_start;
            for (i = 0; i < PI; i = i + 1) begin
                total = total + prods[i*ACC_W +: ACC_W];
            end
        end
        assign acc_total = total;
    end else begin : g_sat_chain
        // saturating accumulators: in input order, a cast after every addition (as golden._mac);
        // chain[i] is the accumulator after the first i products of this cycle
        wire [(PI+1)*ACC_W-1:0] chain;
        assign chain[ACC_W-1:0] = acc_start;
        assign acc_total = chain[PI*ACC_W +: ACC_W];
        for (pi = 0; pi < PI; pi = pi + 1) begin : g_add
            wire [ACC_W-1:0] acc_in = chain[pi*ACC_W +: ACC_W];
            wire [ACC_W-1:0] prod_acc = prods[pi*ACC_W +: ACC_W];
            wire acc_sign = ACC_SIGNED != 0 && acc_in[ACC_W-1];
            wire prod_sign = ACC_SIGNED != 0 && prod_acc[ACC_W-1];
            // exact sum of two accumulator values
            wire [SUM_W-1:0] sum = {{2{acc_sign}}, acc_in} + {{2{prod_sign}}, prod_acc};

            fxp_requant #(
                .IN_W(SUM_W), .IN_FRAC(ACC_FRAC), .IN_SIGNED(1),
                .OUT_W(ACC_W), .OUT_FRAC(ACC_FRAC), .OUT_SIGNED(ACC_SIGNED),
                .ROUNDING(ACC_ROUNDING), .OVERFLOW(ACC_OVERFLOW)
            )
            sum_cast_inst (
                .in_data(sum),
                .out_data(chain[(pi+1)*ACC_W +: ACC_W])
            );
        end
    end

    assign acc_new[po*ACC_W +: ACC_W] = acc_total;

    fxp_requant #(
        .IN_W(ACC_W), .IN_FRAC(ACC_FRAC), .IN_SIGNED(ACC_SIGNED),
        .OUT_W(OUT_W), .OUT_FRAC(OUT_FRAC), .OUT_SIGNED(OUT_SIGNED),
        .ROUNDING(OUT_ROUNDING), .OVERFLOW(OUT_OVERFLOW)
    )
    out_cast_inst (
        .in_data(acc_total),
        .out_data(group_out[po*OUT_W +: OUT_W])
    );
end
endgenerate

// ROM read addresses: the next step's word (step 0 during reset)
wire [AW-1:0] weight_addr = rst ? {AW{1'b0}} : addr_next;
wire [GW-1:0] bias_addr = rst ? {GW{1'b0}} : g_next;

always @(posedge clk) begin
    weight_word_reg <= weight_rom[weight_addr];
    bias_word_reg <= bias_rom[bias_addr];
end

always @(posedge clk) begin
    s_axis_tready_reg <= s_axis_tready_early;
    skid_valid_reg <= skid_valid_next;
    cur_valid_reg <= cur_valid_next;
    kb_reg <= kb_next;
    g_reg <= g_next;
    addr_reg <= addr_next;
    res_full_reg <= res_full_next;
    m_axis_tvalid_reg <= m_axis_tvalid_next;

    if (store_input_to_skid) begin
        skid_data_reg <= s_axis_tdata;
    end

    if (load_x_from_input) begin
        x_reg <= s_axis_tdata;
    end else if (load_x_from_skid) begin
        x_reg <= skid_data_reg;
    end else if (step) begin
        x_reg <= x_rot;
    end

    if (step) begin
        acc_reg <= acc_new;
    end

    if (step && kb_last) begin
        res_reg <= res_shifted;
    end

    if (res_xfer) begin
        m_axis_tdata_reg <= res_reg;
    end

    if (rst) begin
        s_axis_tready_reg <= 1'b0;
        skid_valid_reg <= 1'b0;
        cur_valid_reg <= 1'b0;
        kb_reg <= {KBW{1'b0}};
        g_reg <= {GW{1'b0}};
        addr_reg <= {AW{1'b0}};
        res_full_reg <= 1'b0;
        m_axis_tvalid_reg <= 1'b0;
        m_axis_tdata_reg <= {OUT_VEC_W{1'b0}};
    end
end

endmodule

`resetall
