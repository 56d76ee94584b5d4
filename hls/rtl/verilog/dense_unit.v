/*
 * dense_unit: folded, pipelined matrix-vector unit (hls4ml dense / the MAC core of conv2d), bit-exact to
 * the dense and conv2d kinds' golden function (lenet5_hls.kinds.mac):
 *
 *   for each output j:  acc = cast_acc(b[j])
 *                       for k = 0 .. N_IN-1:  acc = cast_acc(acc + cast_acc(x[k] * w[k][j]))
 *                       y[j] = cast_out(acc)
 *
 * where cast_acc is an ap_fixed assignment to the accumulator type (ACC_ROUNDING, ACC_OVERFLOW) and
 * cast_out one to the output type (OUT_ROUNDING, OUT_OVERFLOW), all done by fxp_requant.
 *
 * Streams: one input beat = one vector of N_IN elements (element k at s_axis_tdata[k*IN_W +: IN_W]);
 * one output beat = N_OUT results (element j at m_axis_tdata[j*OUT_W +: OUT_W]).
 *
 * Folding: MULTS multipliers work in parallel (hls4ml's reuse factor is N_IN*N_OUT/MULTS). MULTS must
 * divide N_IN*N_OUT. They are split as PO = gcd(MULTS, N_OUT) outputs in parallel times
 * PI = MULTS/PO consecutive inputs per output and step (PI always divides N_IN).
 * Schedule: for group g = 0..N_OUT/PO-1 (outputs g*PO .. g*PO+PO-1), for block kb = 0..N_IN/PI-1
 * (inputs kb*PI .. kb*PI+PI-1): one step, ROM address a = g*(N_IN/PI) + kb; STEPS = N_IN*N_OUT/MULTS
 * steps per vector, issued on consecutive cycles.
 *
 * Pipeline (stage k = k cycles after the issue logic issues a step; every stage is a register, so no path
 * holds more than one of: ROM read, multiplier, cast, ADD_LEVELS adder levels, accumulator add):
 *   1  the vector registers take the step (they run a clock behind the issue logic, below), the step's ROM
 *      address registered
 *   2  weight ROM read (block RAM read register), input block register
 *   (2+1  only with a block-RAM ROM, ROM_STAGES = 1: the banks' words registered, input block delayed;
 *      the block RAM's slow clock-to-output (ECP5: 5.83 ns) ends here, in a flip-flop beside it, not in
 *      the bank multiplexer (fc1 placed alone 96.3 MHz without this stage, its critical path that
 *      multiplexer) nor after a route across the part (conv2's one bank: the whole ecp5-85k design's
 *      critical path at 84.2 MHz, 6.1 ns of routing to the weight word register))
 *   3  weight word register (the step's bank selected), input block delayed, a copy per output beside
 *      its multipliers; the routes from the block RAMs end here, not at the multipliers (fc1 on the
 *      ECP5: 83 MHz without this stage)
 *   4  the multipliers' operand registers: each multiplier's weight and its own copy of its input element
 *   5  product register (exact x*w); stages 4 and 5 are mult_bank's (MULT_TARGET 1: inside the
 *      ECP5's DSP blocks)
 *   6  products cast to the accumulator type
 *   6+s  adder tree stage s = 1..TREE_STAGES (ADD_LEVELS levels each) over the PI cast products
 *   ACC_STAGE = 6+ROM_STAGES+TREE_STAGES  accumulator add: acc = (first block ? cast_acc(b) : acc) + sum
 *   ACC_STAGE+1  output cast of a group's last accumulator value into the result vector
 *   ACC_STAGE+2  the complete result vector written into the output FIFO
 * (stages 3 to 6+TREE_STAGES come ROM_STAGES cycles later than their numbers)
 * A WRAP accumulator (ACC_OVERFLOW 0) sums the PI products of a step with a balanced tree: each cast
 * after an addition keeps the low ACC_W bits and addition modulo 2^ACC_W is associative, so the result
 * equals the golden model's chain. A saturating accumulator is order dependent: its PI products are
 * added one by one in input order, a cast after each, inside the accumulator stage (TREE_STAGES = 0).
 *
 * Flow control without a combinational path from m_axis_tready into the datapath: the pipeline never
 * stalls. A vector starts only while fewer than CREDITS vectors are started and not yet taken from the
 * output FIFO (CREDITS beats deep), so every started vector has a FIFO slot when it completes. CREDITS
 * covers the pipeline's round trip, so a ready sink never holds the unit back.
 * Input: the next vector is accepted into a skid register while the current one is computed, and
 * starts on the cycle after the current one's last step (or when a credit frees up).
 * The vector registers (skid and current, in 64-bit chunks) do what the issue logic decided a clock
 * later, from the input beat registered once: their control copies are a two-level tree, so no decision
 * made from the handshakes this clock is routed to every chunk of a wide vector before the next edge.
 * Cycle counts (ready sink): one vector per STEPS cycles in steady state; latency (input handshake to
 * output handshake) STEPS + ACC_STAGE + 3 cycles. lenet5_hls.rtl.timing models this cycle by cycle,
 * lenet5_hls.rtl.params.dense_pipeline computes ACC_STAGE and CREDITS as the localparams below.
 *
 * ROM files ($readmemh, hex, one word per line, written by lenet5_hls.rtl.params):
 *   WEIGHT_FILE: step a = g*(N_IN/PI) + kb uses the MULTS*W_W-bit step word that holds, for po < PO and
 *                pi < PI, the raw weight w[kb*PI + pi][g*PO + po] (W_W-bit two's complement or
 *                unsigned) at bits [(po*PI + pi)*W_W +: W_W]. The file has ROM_DEPTH words of ROM_BANKS
 *                step words: word r holds step k*ROM_DEPTH + r at bits [k*MULTS*W_W +: MULTS*W_W] for
 *                bank k < ROM_BANKS (zero past the last step). ROM_BANKS = ceil(STEPS/ROM_BANK_DEPTH)
 *                for a ROM deeper than ROM_BANK_DEPTH words, else 1 (then the file is the step words).
 *   BIAS_FILE:   N_OUT/PO words of PO*B_W bits; word g holds raw bias b[g*PO + po] at [po*B_W +: B_W].
 * Both ROMs are read synchronously from registered addresses. Conv2d weights (kh, kw, cin, cout) are
 * used as an (kh*kw*cin) x cout matrix, input index (ky*KW + kx)*C + c.
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
    // Multipliers, as mult_bank's TARGET: 0 generic (flip-flops and *, any tool), 1 ECP5 (MULT18X18D with
    // its registers; operands of at most 18 bits as two's complement)
    parameter integer MULT_TARGET = 0,
    // Adder-tree levels between two pipeline registers (>= 1; fewer: shorter paths, more stages)
    parameter integer ADD_LEVELS = 2,
    // $readmemh file of the weight ROM (layout above); give an absolute path
    parameter WEIGHT_FILE = "weights.mem",
    // $readmemh file of the bias ROM (layout above); give an absolute path
    parameter BIAS_FILE = "biases.mem",
    // Copies of s_axis_tready driven (identical flip-flops), >= 1: one per 64-bit chunk of the producer's
    // output register, so that each chunk's enables see a ready flip-flop of its own
    parameter integer S_READY_COPIES = 1,
    // Copies of m_axis_tready taken (identical, from the consumer's flip-flops): 1, or one per 64-bit chunk
    // of the output vector (the output FIFO's chunks each decode their own)
    parameter integer M_READY_COPIES = 1
)
(
    input  wire                   clk,
    input  wire                   rst,

    /*
     * Input vectors: N_IN elements of IN_W bits, element k at [k*IN_W +: IN_W]
     */
    input  wire [N_IN*IN_W-1:0]   s_axis_tdata,
    input  wire                   s_axis_tvalid,
    output wire [S_READY_COPIES-1:0] s_axis_tready,

    /*
     * Output vectors: N_OUT elements of OUT_W bits, element j at [j*OUT_W +: OUT_W]
     */
    output wire [N_OUT*OUT_W-1:0] m_axis_tdata,
    output wire                   m_axis_tvalid,
    input  wire [M_READY_COPIES-1:0] m_axis_tready
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

// partial sums at adder-tree level lv: ceil(PI / 2^lv)
function integer tree_width;
    input integer lv;
    begin
        tree_width = (PI + (1 << lv) - 1) >> lv;
    end
endfunction

// outputs computed in parallel
localparam integer PO = gcd(MULTS, N_OUT);
// consecutive inputs per output and step
localparam integer PI = PO > 0 && MULTS % PO == 0 ? MULTS / PO : 1;
// steps per output group
localparam integer KB = N_IN / PI;
// output groups
localparam integer G = N_OUT / PO;
// steps per vector (= N_IN*N_OUT/MULTS)
localparam integer STEPS = KB * G;
// weight ROM: LUTs up to ROM_LUT_DEPTH words, else block RAM. A ROM deeper than ROM_BANK_DEPTH (one ECP5
// block RAM at its widest, 512 x 36) is ROM_BANKS banks side by side in one ROM_DEPTH-deep word, so no
// block RAM is cascaded in depth: synthesis would select the cascade's outputs with a multiplexer right
// after the block RAM's clock-to-output; here the banks' words are registered first (ROM_STAGES, after every
// block-RAM ROM, one bank or more).
localparam integer ROM_LUT_DEPTH = 16;
localparam integer ROM_BANK_DEPTH = 512;
localparam integer ROM_BANKS = STEPS > ROM_BANK_DEPTH ? (STEPS + ROM_BANK_DEPTH - 1) / ROM_BANK_DEPTH : 1;
localparam integer ROM_DEPTH = (STEPS + ROM_BANKS - 1) / ROM_BANKS;
localparam integer ROM_STAGES = STEPS > ROM_LUT_DEPTH ? 1 : 0;
// adder-tree levels over a step's PI products (WRAP accumulators only) and their register stages
localparam integer TREE_LEVELS = ACC_OVERFLOW == 0 && PI > 1 ? $clog2(PI) : 0;
localparam integer TREE_STAGES = ADD_LEVELS > 0 ? (TREE_LEVELS + ADD_LEVELS - 1) / ADD_LEVELS : 0;
// pipeline stage of the accumulator add (cycles after a step's issue)
localparam integer ACC_STAGE = 6 + ROM_STAGES + TREE_STAGES;
// vectors started and not yet taken from the output FIFO, at most (= FIFO depth): covers the round trip
// from a vector's last step through the FIFO and back into the start condition (a clock later: vector_taken)
localparam integer CREDITS = 1 + (ACC_STAGE + 4 + STEPS - 1) / STEPS;
// counter widths
localparam integer KBW = KB > 1 ? $clog2(KB) : 1;
localparam integer GW = G > 1 ? $clog2(G) : 1;
localparam integer AW = ROM_DEPTH > 1 ? $clog2(ROM_DEPTH) : 1;
localparam integer BKW = ROM_BANKS > 1 ? $clog2(ROM_BANKS) : 1;
localparam integer ADDR_LAST_INT = ROM_DEPTH - 1;
localparam [AW-1:0] ADDR_LAST = ADDR_LAST_INT[AW-1:0];
localparam integer CW = $clog2(CREDITS + 1);
// one before the last block / group, and credit (the block and group counters' last values are decoded from
// these: kb_last_next, g_last_next; the first two unused when there is one block / group)
localparam integer KB_PENULT_INT = KB > 1 ? KB - 2 : 0;
localparam integer G_PENULT_INT = G > 1 ? G - 2 : 0;
localparam integer CREDITS_M1 = CREDITS - 1;
localparam [KBW-1:0] KB_PENULT = KB_PENULT_INT[KBW-1:0];
localparam [GW-1:0] G_PENULT = G_PENULT_INT[GW-1:0];
localparam [CW-1:0] CREDITS_M1_CNT = CREDITS_M1[CW-1:0];
// packed vector widths
localparam integer IN_VEC_W = N_IN * IN_W;
localparam integer BLOCK_W = PI * IN_W;
localparam integer OUT_VEC_W = N_OUT * OUT_W;
localparam integer GROUP_W = PO * OUT_W;
// ROM word widths
localparam integer WWORD_W = MULTS * W_W;
localparam integer ROM_WORD_W = ROM_BANKS * WWORD_W;
localparam integer BWORD_W = PO * B_W;
// exact product: both operands sign/zero-extended by one bit, product of the extended widths
localparam integer PROD_W = IN_W + W_W + 2;
localparam integer PROD_FRAC = IN_FRAC + W_FRAC;
// accumulator sum before its overflow cast
localparam integer SUM_W = ACC_W + 2;
// step tag carried down the pipeline: {group, last step of the vector, last block, first block, valid}
localparam integer TAG_W = GW + 4;

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
    if (ADD_LEVELS < 1) begin
        $error("Error: dense_unit ADD_LEVELS=%0d must be >= 1 (instance %m)", ADD_LEVELS);
        $finish;
    end
end

/*
 * Issue: input skid register, current vector, schedule counters, credits
 */
reg                 s_axis_tready_reg;
reg                 skid_valid_reg, skid_valid_next;
// the current-vector register holds a vector next clock (registered only as the flags below derive it)
reg                 cur_valid_next;
// the current vector, rotated by PI elements per step so that its block kb sits at the bottom; it and the
// skid register (the next vector) are built in chunks (g_vec_chunk below)
wire [IN_VEC_W-1:0] x_vec;

reg [KBW-1:0]       kb_reg, kb_next;
reg [GW-1:0]        g_reg, g_next;
// the step's weight ROM word: address within a bank, bank; the address registered again for the ROM
// read, which comes in stage 1, when the vector registers take the step
reg [AW-1:0]        addr_reg, addr_next, rom_addr_reg;
reg [BKW-1:0]       bank_reg, bank_next;
reg [CW-1:0]        credit_cnt_reg, credit_cnt_next;
// decoded a cycle early from the next state, so that the issue decisions (which select the wide vector
// registers) are flip-flops: the counters are at a block's/group's first or last value, a vector's
// start, a step is issued, the current-vector register can take a new vector
reg                 kb_first_reg, kb_last_reg, g_last_reg, addr_last_reg, vector_start_reg;
reg                 step_reg, cur_free_reg;
reg                 vector_start_next, step_next, cur_free_next;
// and the decodes of those decodes: the next values of the last-block/group and credits-used flags come
// from flip-flops through one multiplexer, no counter adder, since step_next and cur_free_next drive a copy
// in every chunk of the vector registers, spread over the part (the whole design placed by nextpnr's static
// placer: kb_reg's adder, its compare and the route to fc1's chunks, 13.6 ns)
reg                 kb_penult_reg, g_penult_reg, credit_m1_reg, credit_full_reg;
reg                 kb_last_next, g_last_next, credit_full_next;
// and step_next / cur_free_next themselves two multiplexers from flip-flops: everything they need but the
// input valid and the output handshake is registered a clock early (a Shannon expansion on those two):
// the input register takes s_axis_tvalid this clock (else cur_valid_next is cv_keep), a step may issue
// when no vector / a vector leaves the output FIFO, the current vector's last step would be this one
// (the whole design routed at 81.9 MHz: the logits MAC's five LUT levels from cur_free_reg to a copy)
reg                 load_in_reg, cv_keep_reg, go_idle_reg, go_taken_reg, last_reg;
reg                 load_in_next, cv_keep_next, go_idle_next, go_taken_next, last_next;
reg                 vector_start_after, kb_last_after, g_last_after, credit_start_after;

// a vector left the output FIFO last clock: its credit returns a clock after the handshake, so the
// consumer's ready (a flip-flop anywhere on the part) ends in a flip-flop here, not four LUT levels deep in
// the credit logic (the whole ecp5-85k design, 99.3 MHz: the logits' output port through its FIFO's valid,
// 5.6 ns of routing, to the credit counter)
reg vector_taken_reg;
wire vector_taken = vector_taken_reg;
// a step is issued (a vector's first step waits for a credit: a free output FIFO slot)
wire step = step_reg;
// last step of the current vector
wire cur_done = step && kb_last_reg && g_last_reg;
// the current-vector register can take a new vector this cycle (it is empty or in its last step)
wire cur_free = cur_free_reg;
// ready next cycle unless the skid register is (or becomes) full while the current vector is busy
wire s_axis_tready_early = cur_free || (!skid_valid_reg && !s_axis_tvalid);

// the ready the producer sees: S_READY_COPIES copies of s_axis_tready_reg (with one, a second flip-flop)
ctrl_copies #(
    .CTRL_W(1),
    .COPIES(S_READY_COPIES)
)
ready_copies_inst (
    .clk(clk),
    .rst(rst),
    .d(s_axis_tready_early),
    .q(s_axis_tready)
);

// a step may issue this clock, the output handshake aside (go_*_reg, below)
wire go = vector_taken ? go_taken_reg : go_idle_reg;

always @* begin
    skid_valid_next = skid_valid_reg;

    // the vectors move as g_vec_chunk moves their data: with the skid register empty (s_axis_tready_reg) the
    // input goes to the current-vector register if it is free, else to the skid register; a skid register
    // holding the next vector empties into a free current-vector register. cur_valid_next: the same moves,
    // from flags registered a clock early (load_in_reg = s_axis_tready_reg && cur_free, cv_keep_reg)
    if (s_axis_tready_reg && !cur_free) begin
        skid_valid_next = s_axis_tvalid;
    end else if (!s_axis_tready_reg && cur_free) begin
        skid_valid_next = 1'b0;
    end
    cur_valid_next = load_in_reg ? s_axis_tvalid : cv_keep_reg;

    kb_next = kb_reg;
    g_next = g_reg;
    addr_next = addr_reg;
    bank_next = bank_reg;
    if (step) begin
        kb_next = kb_last_reg ? {KBW{1'b0}} : kb_reg + 1'b1;
        if (kb_last_reg) begin
            g_next = g_last_reg ? {GW{1'b0}} : g_reg + 1'b1;
        end
        if (kb_last_reg && g_last_reg) begin
            addr_next = {AW{1'b0}};
            bank_next = {BKW{1'b0}};
        end else if (addr_last_reg) begin
            addr_next = {AW{1'b0}};
            bank_next = bank_reg + 1'b1;
        end else begin
            addr_next = addr_reg + 1'b1;
        end
    end
    credit_cnt_next = credit_cnt_reg + {{(CW-1){1'b0}}, step && vector_start_reg} - {{(CW-1){1'b0}}, vector_taken};

    // kb_next == KB-1, g_next == G-1, kb_next and g_next zero, credit_cnt_next == CREDITS
    kb_last_next = step ? (kb_last_reg ? KB == 1 : kb_penult_reg) : kb_last_reg;
    g_last_next = step && kb_last_reg ? (g_last_reg ? G == 1 : g_penult_reg) : g_last_reg;
    vector_start_next = step ? kb_last_reg && g_last_reg : vector_start_reg;
    if (step && vector_start_reg && !vector_taken) begin
        credit_full_next = credit_m1_reg;
    end else if (vector_taken && !(step && vector_start_reg)) begin
        credit_full_next = 1'b0;
    end else begin
        credit_full_next = credit_full_reg;
    end
    step_next = cur_valid_next && go;
    cur_free_next = !cur_valid_next || (go && last_reg);

    // the same decodes on the next state: vector_start_next, kb_last_next and g_last_next one clock on, and
    // whether the next clock's step starts a vector (it takes a credit)
    vector_start_after = step_next ? kb_last_next && g_last_next : vector_start_next;
    kb_last_after = step_next ? (kb_last_next ? KB == 1 : kb_next == KB_PENULT) : kb_last_next;
    g_last_after = step_next && kb_last_next ? (g_last_next ? G == 1 : g_next == G_PENULT) : g_last_next;
    credit_start_after = step_next && vector_start_next;
    load_in_next = s_axis_tready_early && cur_free_next;
    cv_keep_next = !s_axis_tready_early && cur_free_next ? skid_valid_next : cur_valid_next;
    go_idle_next = !vector_start_after || !(credit_start_after ? credit_cnt_next == CREDITS_M1_CNT : credit_full_next);
    go_taken_next = !vector_start_after || !(credit_start_after && credit_full_next);
    last_next = kb_last_after && g_last_after;
end

/*
 * The vector registers in chunks of at most CHUNK_W bits, each with its own copy of the three issue
 * flip-flops its selects decode: one shared select would fan out to every bit of a wide vector (fc1's
 * 2,048 bits) and its routing would set the clock. The copies are a tree of two register levels
 * (ctrl_copies LEVELS 2): one level routed the issue logic's decision (from the output handshake, 3 LUT
 * levels) to fc1's 32 chunks in one clock, the whole design's critical path at 94.8 MHz, 9.3 of its 10.5 ns
 * routing. So the vector registers act a clock after the issue logic, on the input beat registered once
 * (in_data_reg).
 */
localparam integer CHUNK_W = 64;
localparam integer CHUNKS = (IN_VEC_W + CHUNK_W - 1) / CHUNK_W;

// per chunk: copies of {step_reg, cur_free_reg, s_axis_tready_reg}, two clocks on
wire [CHUNKS*3-1:0] vec_ctrl;
reg [IN_VEC_W-1:0] in_data_reg;

ctrl_copies #(
    .CTRL_W(3),
    .COPIES(CHUNKS),
    .RESET_VALUE(3'b010),
    .LEVELS(2)
)
vec_ctrl_inst (
    .clk(clk),
    .rst(rst),
    .d({step_next, cur_free_next, s_axis_tready_early}),
    .q(vec_ctrl)
);

always @(posedge clk) begin
    in_data_reg <= s_axis_tdata;
end

genvar ch;
generate
for (ch = 0; ch < CHUNKS; ch = ch + 1) begin : g_vec_chunk
    localparam integer LO = ch * CHUNK_W;
    localparam integer W = IN_VEC_W - LO < CHUNK_W ? IN_VEC_W - LO : CHUNK_W;

    wire in_ready_reg = vec_ctrl[ch*3];
    wire free_reg = vec_ctrl[ch*3+1];
    wire step_copy_reg = vec_ctrl[ch*3+2];

    reg [W-1:0] skid_reg;
    reg [W-1:0] x_reg;

    always @(posedge clk) begin
        if (in_ready_reg && !free_reg) begin
            skid_reg <= in_data_reg[LO +: W];
        end
        if (in_ready_reg && free_reg) begin
            x_reg <= in_data_reg[LO +: W];
        end else if (free_reg) begin
            x_reg <= skid_reg;
        end else if (step_copy_reg) begin
            x_reg <= x_rot[LO +: W];
        end
    end

    assign x_vec[LO +: W] = x_reg;
end
endgenerate

/*
 * Pipeline registers; tag_pipe[(k-1)*TAG_W +: TAG_W] is the tag of the step in stage k (issued k cycles ago)
 */
reg [BWORD_W-1:0] bias_rom [0:G-1];

initial begin
    $readmemh(BIAS_FILE, bias_rom);
end

// The weight ROM is marked for block RAM when deeper than a LUT4's 16 words: a deeper ROM built of LUTs
// stacks multiplexers on every bit and fans the address out to all of them (conv2 of the ecp5-85k design,
// 40 words of 424 bits: 6 LUT levels, the whole design's critical path at 73.4 MHz; placed alone 116.4 MHz
// in 12 DP16KD, 109.9 in 1,409 more LUT4)
wire [ROM_WORD_W-1:0] weight_word;  // weight_rom[rom_addr_reg]

generate
    if (STEPS > ROM_LUT_DEPTH) begin : g_rom_block
        (* rom_style = "block" *) reg [ROM_WORD_W-1:0] weight_rom [0:ROM_DEPTH-1];
        initial $readmemh(WEIGHT_FILE, weight_rom);
        assign weight_word = weight_rom[rom_addr_reg];
    end else begin : g_rom_lut
        reg [ROM_WORD_W-1:0] weight_rom [0:ROM_DEPTH-1];
        initial $readmemh(WEIGHT_FILE, weight_rom);
        assign weight_word = weight_rom[rom_addr_reg];
    end
endgenerate

reg [(ACC_STAGE+1)*TAG_W-1:0] tag_pipe;
integer t;
// stage 2: ROM read register (every bank), input block; with ROM_STAGES, both again (g_rom_stage);
// stage 3: the step's weight word, input block; stages 4 to 6 are in each output's g_out block
reg [ROM_WORD_W-1:0] weight_rd_reg;
reg [BLOCK_W-1:0] x1_reg;
// the step's bank word and input block one stage later (ROM_STAGES 1) or not; stage 3's input block is
// in each output's g_out block
wire [WWORD_W-1:0] weight_sel;
wire [BLOCK_W-1:0] x_sel;
reg [WWORD_W-1:0] weight_reg;
// bias word read two stages before the accumulator, cast one stage before
reg [BWORD_W-1:0] bias_rd_reg;
reg [PO*ACC_W-1:0] bias_acc_reg;
// accumulator stage output, result vector (groups shifted in from the top; g_res_chunk)
reg [PO*ACC_W-1:0] acc_reg;
wire [OUT_VEC_W-1:0] res_vec;

wire [TAG_W-1:0] issue_tag = {g_reg, cur_done, kb_last_reg, kb_first_reg, step};
// the step in the accumulator stage: valid, first block; in the output-cast stage: valid, last step of the
// vector; two stages before the output-cast stage: valid and last block (the result chunks' load, below)
wire acc_valid = tag_pipe[(ACC_STAGE-1)*TAG_W];
wire acc_first = tag_pipe[(ACC_STAGE-1)*TAG_W+1];
wire out_valid = tag_pipe[ACC_STAGE*TAG_W];
wire out_vlast = tag_pipe[ACC_STAGE*TAG_W+3];
wire res_load_early = tag_pipe[(ACC_STAGE-2)*TAG_W] && tag_pipe[(ACC_STAGE-2)*TAG_W+2];
// the group of the step in stage ACC_STAGE-2 addresses the bias ROM
wire [GW-1:0] bias_g = tag_pipe[(ACC_STAGE-3)*TAG_W+4 +: GW];
wire [BWORD_W-1:0] bias_word = bias_rom[bias_g];

wire [PO*ACC_W-1:0] bias_acc;
wire [PO*ACC_W-1:0] acc_new;
wire [GROUP_W-1:0] group_out;
wire [OUT_VEC_W-1:0] res_shifted;
// x_vec rotated by one block of PI elements
wire [IN_VEC_W-1:0] x_rot;

generate
if (ROM_STAGES > 0) begin : g_rom_stage
    // the step's bank in stages 1, 2 and 2+1
    reg [BKW-1:0] bank1_reg;
    reg [BKW-1:0] bank2_reg;
    reg [BKW-1:0] bank3_reg;
    reg [ROM_WORD_W-1:0] weight_banks_reg;
    reg [BLOCK_W-1:0] xb_reg;

    always @(posedge clk) begin
        bank1_reg <= bank_reg;
        bank2_reg <= bank1_reg;
        weight_banks_reg <= weight_rd_reg;
        bank3_reg <= bank2_reg;
        xb_reg <= x1_reg;
    end

    assign weight_sel = weight_banks_reg[bank3_reg*WWORD_W +: WWORD_W];
    assign x_sel = xb_reg;
end else begin : g_no_rom_stage
    assign weight_sel = weight_rd_reg;
    assign x_sel = x1_reg;
end

if (KB > 1) begin : g_rotate
    assign x_rot = {x_vec[BLOCK_W-1:0], x_vec[IN_VEC_W-1:BLOCK_W]};
end else begin : g_no_rotate
    assign x_rot = x_vec;
end

if (G > 1) begin : g_shift
    assign res_shifted = {group_out, res_vec[OUT_VEC_W-1:GROUP_W]};
end else begin : g_no_shift
    assign res_shifted = group_out;
end
endgenerate

genvar po, pi, lv;
generate
for (po = 0; po < PO; po = po + 1) begin : g_out
    fxp_requant #(
        .IN_W(B_W), .IN_FRAC(B_FRAC), .IN_SIGNED(B_SIGNED),
        .OUT_W(ACC_W), .OUT_FRAC(ACC_FRAC), .OUT_SIGNED(ACC_SIGNED),
        .ROUNDING(ACC_ROUNDING), .OVERFLOW(ACC_OVERFLOW)
    )
    bias_cast_inst (
        .in_data(bias_rd_reg[po*B_W +: B_W]),
        .out_data(bias_acc[po*ACC_W +: ACC_W])
    );

    // stages 4 and 5: this output's PI multipliers (mult_bank: registered operands, registered exact
    // products with PROD_FRAC fractional bits), each with its own copy of its input element, next to
    // it, where a shared one would fan out to PO multipliers across the device; stage 6: the products
    // cast to the accumulator type. Element pi at [pi*width +: width].
    wire [PI*PROD_W-1:0] prods;
    wire [PI*ACC_W-1:0] cprods;
    reg [PI*ACC_W-1:0] cprod_reg;
    // stage 3: this output's copy of the input block, so that no flip-flop drives the multipliers of
    // every output: the ECP5's DSP blocks of one layer span the device, and one shared register routed
    // to conv1's six outputs was the whole design's critical path at 95.5 MHz (9.9 ns in one net).
    // Kept: synthesis would merge the PO identical registers into one.
    (* keep *) reg [BLOCK_W-1:0] x2_reg;

    (* keep *)
    always @(posedge clk) begin
        x2_reg <= x_sel;
    end

    mult_bank #(
        .N(PI),
        .A_W(IN_W),
        .A_SIGNED(IN_SIGNED),
        .B_W(W_W),
        .B_SIGNED(W_SIGNED),
        .TARGET(MULT_TARGET)
    )
    mult_inst (
        .clk(clk),
        .a(x2_reg),
        .b(weight_reg[po*PI*W_W +: PI*W_W]),
        .p(prods)
    );

    always @(posedge clk) begin
        cprod_reg <= cprods;
    end

    for (pi = 0; pi < PI; pi = pi + 1) begin : g_in
        fxp_requant #(
            .IN_W(PROD_W), .IN_FRAC(PROD_FRAC), .IN_SIGNED(1),
            .OUT_W(ACC_W), .OUT_FRAC(ACC_FRAC), .OUT_SIGNED(ACC_SIGNED),
            .ROUNDING(ACC_ROUNDING), .OVERFLOW(ACC_OVERFLOW)
        )
        prod_cast_inst (
            .in_data(prods[pi*PROD_W +: PROD_W]),
            .out_data(cprods[pi*ACC_W +: ACC_W])
        );
    end

    // the accumulator value a step starts from: the bias at a group's first block
    wire [ACC_W-1:0] acc_start = acc_first ? bias_acc_reg[po*ACC_W +: ACC_W] : acc_reg[po*ACC_W +: ACC_W];

    if (ACC_OVERFLOW == 0) begin : g_wrap_tree
        // level lv holds ceil(PI / 2^lv) partial sums modulo 2^ACC_W (level 0: the cast products); a level
        // is registered every ADD_LEVELS levels and at the root
        for (lv = 0; lv <= TREE_LEVELS; lv = lv + 1) begin : g_level
            localparam integer N_HERE = tree_width(lv);
            wire [N_HERE*ACC_W-1:0] val;
            if (lv == 0) begin : g_leaves
                assign val = cprod_reg;
            end else begin : g_sums
                localparam integer N_PREV = tree_width(lv - 1);
                wire [N_PREV*ACC_W-1:0] prev = g_level[lv-1].val;
                // pairs summed, an odd last one passed on (one process a level, not one a node)
                reg [N_HERE*ACC_W-1:0] sum;
                integer k;
                always @* begin
                    for (k = 0; k < N_HERE; k = k + 1) begin
                        sum[k*ACC_W +: ACC_W] = 2 * k + 1 < N_PREV
                            ? prev[2*k*ACC_W +: ACC_W] + prev[(2*k+1)*ACC_W +: ACC_W] : prev[2*k*ACC_W +: ACC_W];
                    end
                end
                if (lv % ADD_LEVELS == 0 || lv == TREE_LEVELS) begin : g_registered
                    reg [N_HERE*ACC_W-1:0] sum_reg;
                    always @(posedge clk) begin
                        sum_reg <= sum;
                    end
                    assign val = sum_reg;
                end else begin : g_comb
                    assign val = sum;
                end
            end
        end
        assign acc_new[po*ACC_W +: ACC_W] = acc_start + g_level[TREE_LEVELS].val[ACC_W-1:0];
    end else begin : g_sat_chain
        // saturating accumulators: in input order, a cast after every addition (as the golden model);
        // chain[k] is the accumulator after the first k products of the step
        wire [(PI+1)*ACC_W-1:0] chain;
        assign chain[ACC_W-1:0] = acc_start;
        assign acc_new[po*ACC_W +: ACC_W] = chain[PI*ACC_W +: ACC_W];
        for (pi = 0; pi < PI; pi = pi + 1) begin : g_add
            wire [ACC_W-1:0] acc_in = chain[pi*ACC_W +: ACC_W];
            wire [ACC_W-1:0] prod_acc = cprod_reg[pi*ACC_W +: ACC_W];
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

    fxp_requant #(
        .IN_W(ACC_W), .IN_FRAC(ACC_FRAC), .IN_SIGNED(ACC_SIGNED),
        .OUT_W(OUT_W), .OUT_FRAC(OUT_FRAC), .OUT_SIGNED(OUT_SIGNED),
        .ROUNDING(OUT_ROUNDING), .OVERFLOW(OUT_OVERFLOW)
    )
    out_cast_inst (
        .in_data(acc_reg[po*ACC_W +: ACC_W]),
        .out_data(group_out[po*OUT_W +: OUT_W])
    );
end
endgenerate

/*
 * The result vector in chunks of at most CHUNK_W bits, each loaded (a group's last block in the output-cast
 * stage) by its own copy of the load flag, a tree of two levels from the tag two stages earlier: one enable
 * to every bit (fc2's 672) was the whole design's critical path with seed 2, 86.3 MHz, 8.0 ns of routing
 */
localparam integer RES_CHUNKS = (OUT_VEC_W + CHUNK_W - 1) / CHUNK_W;

wire [RES_CHUNKS-1:0] res_load;

ctrl_copies #(
    .CTRL_W(1),
    .COPIES(RES_CHUNKS),
    .LEVELS(2)
)
res_load_inst (
    .clk(clk),
    .rst(rst),
    .d(res_load_early),
    .q(res_load)
);

generate
for (ch = 0; ch < RES_CHUNKS; ch = ch + 1) begin : g_res_chunk
    localparam integer LO = ch * CHUNK_W;
    localparam integer W = OUT_VEC_W - LO < CHUNK_W ? OUT_VEC_W - LO : CHUNK_W;

    reg [W-1:0] res_reg;

    always @(posedge clk) begin
        if (res_load[ch]) begin
            res_reg <= res_shifted[LO +: W];
        end
    end

    assign res_vec[LO +: W] = res_reg;
end
endgenerate

/*
 * Output FIFO: a started vector always finds a slot (credits), so its s_axis_tready is not needed. The
 * result vector's completion flag (the output-cast stage's last step) comes as a copy per FIFO chunk (its
 * chunks are the result's): one flag to every chunk's enables was the whole ecp5-85k design's critical path
 * at 95.8 MHz (fc1, 6.8 ns of routing)
 */
wire fifo_in_ready_unused;
wire [RES_CHUNKS-1:0] res_valid;

ctrl_copies #(
    .CTRL_W(1),
    .COPIES(RES_CHUNKS)
)
res_valid_inst (
    .clk(clk),
    .rst(rst),
    .d(out_valid && out_vlast),
    .q(res_valid)
);

axis_fifo_regs #(
    .DATA_W(OUT_VEC_W),
    .DEPTH(CREDITS),
    .VALID_COPIES(RES_CHUNKS),
    .M_READY_COPIES(M_READY_COPIES)
)
out_fifo_inst (
    .clk(clk),
    .rst(rst),
    .s_axis_tdata(res_vec),
    .s_axis_tvalid(res_valid),
    .s_axis_tready(fifo_in_ready_unused),
    .m_axis_tdata(m_axis_tdata),
    .m_axis_tvalid(m_axis_tvalid),
    .m_axis_tready(m_axis_tready)
);

always @(posedge clk) begin
    s_axis_tready_reg <= s_axis_tready_early;
    skid_valid_reg <= skid_valid_next;
    kb_reg <= kb_next;
    g_reg <= g_next;
    addr_reg <= addr_next;
    bank_reg <= bank_next;
    rom_addr_reg <= addr_reg;
    addr_last_reg <= addr_next == ADDR_LAST;
    credit_cnt_reg <= credit_cnt_next;
    vector_taken_reg <= m_axis_tvalid && m_axis_tready[0];
    kb_first_reg <= kb_next == {KBW{1'b0}};
    kb_last_reg <= kb_last_next;
    g_last_reg <= g_last_next;
    kb_penult_reg <= kb_next == KB_PENULT;
    g_penult_reg <= g_next == G_PENULT;
    credit_m1_reg <= credit_cnt_next == CREDITS_M1_CNT;
    credit_full_reg <= credit_full_next;
    vector_start_reg <= vector_start_next;
    step_reg <= step_next;
    cur_free_reg <= cur_free_next;
    load_in_reg <= load_in_next;
    cv_keep_reg <= cv_keep_next;
    go_idle_reg <= go_idle_next;
    go_taken_reg <= go_taken_next;
    last_reg <= last_next;

    tag_pipe <= {tag_pipe[ACC_STAGE*TAG_W-1:0], issue_tag};
    weight_rd_reg <= weight_word;
    x1_reg <= x_vec[BLOCK_W-1:0];
    weight_reg <= weight_sel;
    bias_rd_reg <= bias_word;
    bias_acc_reg <= bias_acc;

    if (acc_valid) begin
        acc_reg <= acc_new;
    end

    if (rst) begin
        s_axis_tready_reg <= 1'b0;
        skid_valid_reg <= 1'b0;
        kb_reg <= {KBW{1'b0}};
        g_reg <= {GW{1'b0}};
        addr_reg <= {AW{1'b0}};
        bank_reg <= {BKW{1'b0}};
        addr_last_reg <= ROM_DEPTH == 1;
        credit_cnt_reg <= {CW{1'b0}};
        vector_taken_reg <= 1'b0;
        kb_first_reg <= 1'b1;
        kb_last_reg <= KB == 1;
        g_last_reg <= G == 1;
        kb_penult_reg <= KB == 2;
        g_penult_reg <= G == 2;
        credit_m1_reg <= CREDITS == 1;
        credit_full_reg <= 1'b0;
        vector_start_reg <= 1'b1;
        step_reg <= 1'b0;
        cur_free_reg <= 1'b1;
        load_in_reg <= 1'b0;
        cv_keep_reg <= 1'b0;
        go_idle_reg <= 1'b1;
        go_taken_reg <= 1'b1;
        last_reg <= KB == 1 && G == 1;
        for (t = 0; t <= ACC_STAGE; t = t + 1) begin
            tag_pipe[t*TAG_W] <= 1'b0;  // the valid bits: a tag's other fields count only with its valid
        end
    end
end

endmodule

`resetall
