/*
 * ctrl_copies: COPIES registered copies of a control word, one for each chunk of a wide register.
 *
 * A wide register (a 2,048-bit vector, a 1,200-bit window) whose enables all decode one control flip-flop
 * makes that flip-flop fan out to every bit, and its routing sets the clock. Built in chunks of at most
 * 64 bits, each decoding its enables from its own copy of the control state, the fan-out is one chunk.
 * Synthesis would merge identical flip-flops back into one, hence (* keep *) on each copy's register and on
 * its process (Yosys's opt_merge folds kept registers of identical processes). Each copy is a register of
 * its own: copies in one vector are one signal repeated, which Yosys's wreduce narrows to a single word as if
 * it were a sign extension (keep does not stop it). Each copy also starts at RESET_VALUE from its initial
 * value: Yosys's memory_dff takes a flip-flop without one that addresses a memory's read port into the
 * memory, and for distributed RAM extracts it again as one new flip-flop per memory, all alike and merged
 * into one (fc1's output FIFO: one pointer copy drove the read addresses of all 390 LUT RAMs, 8.1 ns of
 * routing); with an initial value the copy stays where it is.
 *
 * With LEVELS 2 the copies are a tree: GROUPS = ceil(COPIES / PER) registered copies of d (PER =
 * ceil(sqrt(COPIES))), each driving the copies of PER chunks, so that d, often a decision made this clock,
 * is routed to a few flip-flops beside its logic and not across every chunk of the wide register (dense_unit's
 * issue logic to fc1's 32 chunks: the whole design's critical path at 94.8 MHz, 9.3 ns of routing). Only
 * the first level takes rst; the copies take its reset value a clock later, so rst, like d, reaches a few
 * flip-flops and not every chunk (rst to fc1's copies: the critical path of one placement, 10.2 ns in one net).
 *
 *   q[c*CTRL_W +: CTRL_W] = d LEVELS cycles later, for c = 0 .. COPIES-1; RESET_VALUE while rst is high
 *   (LEVELS 2: from a reset's second clock on, and for one clock after it)
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module ctrl_copies #(
    // Bits of the control word, >= 1
    parameter integer CTRL_W = 1,
    // Copies of it, >= 1
    parameter integer COPIES = 1,
    // The word's value while in reset
    parameter [CTRL_W-1:0] RESET_VALUE = {CTRL_W{1'b0}},
    // Register levels between d and q: 1, or 2 (a tree of copies)
    parameter integer LEVELS = 1
) (
    input  wire                     clk,
    input  wire                     rst,            // synchronous, active high

    input  wire [CTRL_W-1:0]        d,
    output wire [COPIES*CTRL_W-1:0] q
);

// the smallest r with r*r >= n
function integer ceil_sqrt;
    input integer n;
    integer r;
    begin
        r = 1;
        while (r * r < n) begin
            r = r + 1;
        end
        ceil_sqrt = r;
    end
endfunction

// copies per first-level copy, and first-level copies (LEVELS 1: d is the one group)
localparam integer PER = LEVELS > 1 ? ceil_sqrt(COPIES) : COPIES;
localparam integer GROUPS = (COPIES + PER - 1) / PER;

initial begin
    if (CTRL_W < 1 || COPIES < 1) begin
        $error("ctrl_copies: CTRL_W and COPIES must be >= 1 (got %0d, %0d)", CTRL_W, COPIES);
        $finish;
    end
    if (LEVELS < 1 || LEVELS > 2) begin
        $error("ctrl_copies: LEVELS must be 1 or 2 (got %0d)", LEVELS);
        $finish;
    end
end

// the registers: with LEVELS 2 first the GROUPS first-level copies (from d), then the COPIES copies (each
// from its group's first-level copy); with LEVELS 1 only the copies (from d)
localparam integer FIRST = LEVELS > 1 ? GROUPS : 0;

wire [(FIRST+COPIES)*CTRL_W-1:0] regs;

assign q = regs[FIRST*CTRL_W +: COPIES*CTRL_W];

genvar r;
generate
    for (r = 0; r < FIRST + COPIES; r = r + 1) begin : g_reg
        wire [CTRL_W-1:0] src;
        // the registers d drives take rst; a second-level copy its group's reset value a clock later
        localparam RESETS = r < FIRST || LEVELS == 1;

        if (RESETS) begin : g_from_d
            assign src = d;
        end else begin : g_from_group
            assign src = regs[((r - FIRST) / PER)*CTRL_W +: CTRL_W];
        end

        (* keep *)
        reg [CTRL_W-1:0] q_reg;

        initial begin
            q_reg = RESET_VALUE;
        end

        (* keep *)
        always @(posedge clk) begin
            if (rst && RESETS) begin
                q_reg <= RESET_VALUE;
            end else begin
                q_reg <= src;
            end
        end

        assign regs[r*CTRL_W +: CTRL_W] = q_reg;
    end
endgenerate

endmodule

`resetall
