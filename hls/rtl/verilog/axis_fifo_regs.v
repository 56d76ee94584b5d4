/*
 * axis_fifo_regs -- synchronous AXI-stream FIFO holding exactly DEPTH beats, its memory read straight into
 * the output register (distributed RAM or flip-flops; axis_fifo puts a read pipeline in front of block RAM).
 *
 * DEPTH may be any integer >= 1, a power of two or not: the read and write pointers wrap
 * explicitly at DEPTH-1 (no reliance on binary overflow), and fullness is tracked with an
 * occupancy counter rather than an extra pointer bit.
 *
 * Structure: a DEPTH x DATA_W memory (written synchronously, read synchronously into the output
 * register, so it maps onto block or distributed RAM) plus the output register. The output
 * register counts towards the DEPTH beats: at most DEPTH beats are accepted and not yet
 * delivered, at any time. A beat written while the memory is empty and the output register is
 * free (or being emptied) bypasses the memory: latency 1 clock from s_axis to m_axis.
 *
 * Throughput: one beat per clock in and out for DEPTH >= 2. DEPTH = 1 is a plain register
 * stage with registered ready: one beat every two clocks at best.
 * All outputs (m_axis_tdata, m_axis_tvalid, s_axis_tready) come straight from registers: no
 * combinational path between the two sides.
 *
 * Handshake: a beat moves when tvalid && tready; m_axis_tvalid never waits for m_axis_tready;
 * beats are neither lost, duplicated nor reordered under any backpressure.
 * Storage: DEPTH * DATA_W memory bits + DATA_W output register bits, in chunks of 64 bits, each with
 * its own copy of the three control flip-flops its enables decode and of the two pointers that address
 * its memory (see CHUNK_W).
 */

`timescale 1ns / 1ps
`default_nettype none

module axis_fifo_regs #(
    // Width of one beat, bits, >= 1
    parameter DATA_W = 8,
    // Capacity in beats (memory plus output register), >= 1; need not be a power of two
    parameter DEPTH = 16,
    // Copies of s_axis_tvalid the producer drives (identical flip-flops): 1, or one per chunk, so that the
    // valid reaches each chunk's enables from a flip-flop of its own (see CHUNK_W)
    parameter VALID_COPIES = 1,
    // Copies of m_axis_tready taken (identical, from the consumer's flip-flops): 1, or one per chunk (see
    // CHUNK_W); the control logic decodes the first, each chunk its own
    parameter M_READY_COPIES = 1
) (
    input  wire              clk,
    input  wire              rst,            // synchronous, active high

    input  wire [DATA_W-1:0] s_axis_tdata,
    input  wire [VALID_COPIES-1:0] s_axis_tvalid,
    output wire              s_axis_tready,

    output wire [DATA_W-1:0] m_axis_tdata,
    output wire              m_axis_tvalid,
    input  wire [M_READY_COPIES-1:0] m_axis_tready
);

// pointer width (at least 1 bit) and occupancy counter width (counts 0..DEPTH)
localparam PTR_W = (DEPTH > 1) ? $clog2(DEPTH) : 1;
localparam CNT_W = $clog2(DEPTH + 1) + 1;
localparam integer LAST = DEPTH - 1;
localparam [PTR_W-1:0] LAST_PTR = LAST[PTR_W-1:0];
localparam [CNT_W-1:0] DEPTH_CNT = DEPTH[CNT_W-1:0];
localparam integer ALMOST = DEPTH - 1;
localparam [CNT_W-1:0] ALMOST_CNT = ALMOST[CNT_W-1:0];

// the memory and the output register are built in chunks of at most CHUNK_W bits, each with its own copy
// of the control flip-flops its enables decode: one shared enable would fan out to every bit of a wide
// beat (a 1,560-bit result vector, a 1,200-bit window) and its routing would set the clock
localparam integer CHUNK_W = 64;
localparam integer CHUNKS = (DATA_W + CHUNK_W - 1) / CHUNK_W;

initial begin
    if (DATA_W < 1) begin
        $error("axis_fifo_regs: DATA_W must be >= 1 (got %0d)", DATA_W);
        $finish;
    end
    if (DEPTH < 1) begin
        $error("axis_fifo_regs: DEPTH must be >= 1 (got %0d)", DEPTH);
        $finish;
    end
    if (M_READY_COPIES != 1 && M_READY_COPIES != CHUNKS) begin
        $error("axis_fifo_regs: M_READY_COPIES must be 1 or the chunks, %0d (got %0d)", CHUNKS, M_READY_COPIES);
        $finish;
    end
    if (VALID_COPIES != 1 && VALID_COPIES != CHUNKS) begin
        $error("axis_fifo_regs: VALID_COPIES must be 1 or the chunks, %0d (got %0d)", CHUNKS, VALID_COPIES);
        $finish;
    end
end

reg [PTR_W-1:0]  wr_ptr_reg, wr_ptr_next;
reg [PTR_W-1:0]  rd_ptr_reg, rd_ptr_next;
reg [CNT_W-1:0]  mem_count_reg, mem_count_next;   // beats in the memory
reg [CNT_W-1:0]  held_reg, held_next;             // beats held: memory plus output register
reg              m_axis_tvalid_reg, m_axis_tvalid_next;
reg              s_axis_tready_reg, s_axis_tready_next;

reg mem_write, mem_read, bypass;

// beats moving in and out this cycle
// the control logic decodes the first copy of the input valid, each chunk its own (in_valid)
wire beat_in = s_axis_tvalid[0] && s_axis_tready_reg;
wire m_ready = m_axis_tready[0];
wire beat_out = m_axis_tvalid_reg && m_ready;

assign s_axis_tready = s_axis_tready_reg;
assign m_axis_tvalid = m_axis_tvalid_reg;

always @* begin
    wr_ptr_next        = wr_ptr_reg;
    rd_ptr_next        = rd_ptr_reg;
    mem_count_next     = mem_count_reg;
    m_axis_tvalid_next = m_axis_tvalid_reg;
    mem_write = 1'b0;
    mem_read  = 1'b0;
    bypass    = 1'b0;

    if (!m_axis_tvalid_reg || m_ready) begin
        // the output register is free at the end of this cycle: refill it, oldest beat first
        if (mem_count_reg != {CNT_W{1'b0}}) begin
            mem_read = 1'b1;
            m_axis_tvalid_next = 1'b1;
        end else if (beat_in) begin
            bypass = 1'b1;
            m_axis_tvalid_next = 1'b1;
        end else begin
            m_axis_tvalid_next = 1'b0;
        end
    end
    if (beat_in && !bypass) begin
        mem_write = 1'b1;
    end

    if (mem_write) begin
        wr_ptr_next = (wr_ptr_reg == LAST_PTR) ? {PTR_W{1'b0}} : wr_ptr_reg + 1'b1;
    end
    if (mem_read) begin
        rd_ptr_next = (rd_ptr_reg == LAST_PTR) ? {PTR_W{1'b0}} : rd_ptr_reg + 1'b1;
    end
    if (mem_write && !mem_read) begin
        mem_count_next = mem_count_reg + 1'b1;
    end else if (mem_read && !mem_write) begin
        mem_count_next = mem_count_reg - 1'b1;
    end

    // accept another beat next cycle only if fewer than DEPTH beats are held then: held_next < DEPTH,
    // decided from held_reg and this cycle's two handshakes (no adder on the path to the register)
    held_next = held_reg + {{(CNT_W-1){1'b0}}, beat_in} - {{(CNT_W-1){1'b0}}, beat_out};
    // (held_reg never exceeds DEPTH: below DEPTH-1 is neither DEPTH-1 nor DEPTH)
    s_axis_tready_next = (held_reg != ALMOST_CNT && held_reg != DEPTH_CNT)
        || (held_reg == ALMOST_CNT && !(beat_in && !beat_out))
        || (held_reg == DEPTH_CNT && beat_out);
end

// per chunk: copies of {rd_ptr_reg, wr_ptr_reg, mem_count_reg != 0, s_axis_tready_reg, m_axis_tvalid_reg}
localparam integer CTRL_W = 3 + 2 * PTR_W;
wire [CHUNKS*CTRL_W-1:0] ctrl;

ctrl_copies #(
    .CTRL_W(CTRL_W),
    .COPIES(CHUNKS)
)
ctrl_inst (
    .clk(clk),
    .rst(rst),
    .d({rd_ptr_next, wr_ptr_next, mem_count_next != {CNT_W{1'b0}}, s_axis_tready_next, m_axis_tvalid_next}),
    .q(ctrl)
);

genvar ch;
generate
for (ch = 0; ch < CHUNKS; ch = ch + 1) begin : g_chunk
    localparam integer LO = ch * CHUNK_W;
    localparam integer W = DATA_W - LO < CHUNK_W ? DATA_W - LO : CHUNK_W;

    wire out_valid_reg = ctrl[ch*CTRL_W];
    wire in_ready_reg = ctrl[ch*CTRL_W+1];
    wire nonempty_reg = ctrl[ch*CTRL_W+2];
    wire [PTR_W-1:0] wr_ptr_copy_reg = ctrl[ch*CTRL_W+3 +: PTR_W];
    wire [PTR_W-1:0] rd_ptr_copy_reg = ctrl[ch*CTRL_W+3+PTR_W +: PTR_W];

    // mem_read, bypass and mem_write of the always block above, decoded from the copies
    wire in_valid = s_axis_tvalid[VALID_COPIES > 1 ? ch : 0];
    wire out_ready = m_axis_tready[M_READY_COPIES > 1 ? ch : 0];
    wire out_free = !out_valid_reg || out_ready;
    // the output register reads the memory when it holds beats, else takes the input (bypass): the source
    // is selected by a flip-flop and m_axis_tready only reaches the enables (as read and bypass selects,
    // the consumer's ready went through three LUT levels to the data bits: fc1's output FIFO in the whole
    // ecp5-85k design, 100.85 MHz)
    wire chunk_in = in_valid && in_ready_reg;
    wire out_load = out_free && (nonempty_reg || chunk_in);
    wire chunk_bypass = out_free && !nonempty_reg && chunk_in;
    wire chunk_write = chunk_in && !chunk_bypass;

    reg [W-1:0] mem [0:DEPTH-1];
    reg [W-1:0] out_data_reg;

    initial begin
        out_data_reg = {W{1'b0}};  // zero from configuration, not from rst (see axis_skid_buffer)
    end

    always @(posedge clk) begin
        if (chunk_write) begin
            mem[wr_ptr_copy_reg] <= s_axis_tdata[LO +: W];
        end
        if (out_load) begin
            out_data_reg <= nonempty_reg ? mem[rd_ptr_copy_reg] : s_axis_tdata[LO +: W];
        end
    end

    assign m_axis_tdata[LO +: W] = out_data_reg;
end
endgenerate

always @(posedge clk) begin
    if (rst) begin
        wr_ptr_reg        <= {PTR_W{1'b0}};
        rd_ptr_reg        <= {PTR_W{1'b0}};
        mem_count_reg     <= {CNT_W{1'b0}};
        held_reg          <= {CNT_W{1'b0}};
        m_axis_tvalid_reg <= 1'b0;
        s_axis_tready_reg <= 1'b0;
    end else begin
        wr_ptr_reg        <= wr_ptr_next;
        rd_ptr_reg        <= rd_ptr_next;
        mem_count_reg     <= mem_count_next;
        held_reg          <= held_next;
        m_axis_tvalid_reg <= m_axis_tvalid_next;
        s_axis_tready_reg <= s_axis_tready_next;
    end
end

endmodule

`resetall
