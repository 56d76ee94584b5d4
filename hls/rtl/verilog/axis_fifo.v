/*
 * axis_fifo -- synchronous AXI-stream FIFO holding exactly DEPTH beats, its memory (block RAM) read through a
 * pipeline of registers so that neither the memory's clock-to-output nor m_axis_tready sets the clock.
 *
 * The same handshakes, cycle for cycle, as axis_fifo_regs of the same DEPTH (the timing model's Buffer):
 * at most DEPTH beats held; s_axis_tready exactly while fewer than DEPTH beats are held; m_axis_tvalid exactly
 * while a beat accepted in an earlier clock is held (latency 1 clock when empty); one beat per clock in and out.
 * DEPTH <= 16 (one distributed RAM deep): it is axis_fifo_regs.
 *
 * Why: a block RAM read straight into the output register puts the RAM's clock-to-output (5.8 ns on an ECP5,
 * whose DP16KD output register Yosys does not infer) and a bypass multiplexer on one path, and makes
 * m_axis_tready an enable of every RAM (conv2's 1,200-bit window FIFO, 36 of them: 75 MHz). Here:
 *   - the memory is read on registered state only: a read is issued while the memory holds a beat and the
 *     output queue has a slot not promised to a read in flight (a credit);
 *   - the word read goes into a register of its own, loaded every clock (no enable, no multiplexer);
 *   - an axis_fifo_regs of PREFETCH beats (the output queue) takes that register's beat, or the input beat
 *     directly while the memory and the read pipeline are empty, and drives m_axis.
 * The credit loop (credit register, memory, read register, queue) takes four clocks, so a queue of PREFETCH = 4
 * beats is refilled before it runs dry while the memory holds beats: no bubble the plain FIFO would not have.
 * Storage: DEPTH x DATA_W block RAM (its read port register included), the DATA_W-bit read register and the
 * queue (3 x DATA_W distributed RAM plus its DATA_W-bit output register).
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module axis_fifo #(
    // Width of one beat, bits, >= 1
    parameter DATA_W = 8,
    // Capacity in beats (memory, read pipeline and output queue), >= 1; need not be a power of two
    parameter DEPTH = 16
) (
    input  wire              clk,
    input  wire              rst,            // synchronous, active high

    input  wire [DATA_W-1:0] s_axis_tdata,
    input  wire              s_axis_tvalid,
    output wire              s_axis_tready,

    output wire [DATA_W-1:0] m_axis_tdata,
    output wire              m_axis_tvalid,
    input  wire              m_axis_tready
);

// beats of the output queue: the four clocks of the credit loop
localparam integer PREFETCH = 4;
// up to one 16-word distributed RAM deep, axis_fifo_regs; deeper, block RAM (left to itself, Yosys built
// conv2's 34 x 1,200 bits from LUTs) behind the read pipeline
localparam integer REGS_MAX_DEPTH = 16;

initial begin
    if (DATA_W < 1) begin
        $error("axis_fifo: DATA_W must be >= 1 (got %0d)", DATA_W);
        $finish;
    end
    if (DEPTH < 1) begin
        $error("axis_fifo: DEPTH must be >= 1 (got %0d)", DEPTH);
        $finish;
    end
end

generate
if (DEPTH <= REGS_MAX_DEPTH) begin : g_regs

    axis_fifo_regs #(
        .DATA_W(DATA_W),
        .DEPTH(DEPTH)
    )
    fifo_inst (
        .clk(clk),
        .rst(rst),
        .s_axis_tdata(s_axis_tdata),
        .s_axis_tvalid(s_axis_tvalid),
        .s_axis_tready(s_axis_tready),
        .m_axis_tdata(m_axis_tdata),
        .m_axis_tvalid(m_axis_tvalid),
        .m_axis_tready(m_axis_tready)
    );

end else begin : g_pipelined

    // memory pointers (the memory never holds more than the DEPTH beats held), beat counters, credits
    localparam integer PTR_W = $clog2(DEPTH);
    localparam integer CNT_W = $clog2(DEPTH + 1) + 1;
    localparam integer CRED_W = $clog2(PREFETCH + 1);
    localparam integer LAST = DEPTH - 1;
    localparam [PTR_W-1:0] LAST_PTR = LAST[PTR_W-1:0];
    localparam [CNT_W-1:0] DEPTH_CNT = DEPTH[CNT_W-1:0];
    localparam integer ALMOST = DEPTH - 1;
    localparam [CNT_W-1:0] ALMOST_CNT = ALMOST[CNT_W-1:0];
    localparam [CRED_W-1:0] PREFETCH_CRED = PREFETCH[CRED_W-1:0];
    localparam [CNT_W-1:0] ONE_CNT = {{(CNT_W-1){1'b0}}, 1'b1};
    // the memory and its read register in chunks of at most CHUNK_W bits, each decoding its enables from its
    // own copy of the control state (ctrl_copies): one flip-flop would fan out to every bit and RAM
    localparam integer CHUNK_W = 64;
    localparam integer CHUNKS = (DATA_W + CHUNK_W - 1) / CHUNK_W;

    reg [PTR_W-1:0]  wr_ptr_reg, wr_ptr_next;
    reg [PTR_W-1:0]  rd_ptr_reg, rd_ptr_next;
    reg [CNT_W-1:0]  mem_count_reg, mem_count_next;   // beats in the memory, not yet read
    reg [CNT_W-1:0]  held_reg, held_next;             // beats held: memory, read pipeline and queue
    reg [CRED_W-1:0] credit_reg, credit_next;         // queue slots not holding or promised to a beat
    reg              read_reg, read_next;             // a read is issued this clock
    reg              bypass_ok_reg, bypass_ok_next;   // an input beat this clock goes straight to the queue
    reg              rd_valid_reg;                    // the memory's read port holds the beat read last clock
    reg              pipe_valid_reg;                  // the read register holds a beat for the queue
    reg              s_axis_tready_reg, s_axis_tready_next;

    wire             queue_ready_unused;              // the credits keep a slot free for every beat pushed
    wire [DATA_W-1:0] queue_tdata;

    wire beat_in = s_axis_tvalid && s_axis_tready_reg;
    wire beat_out = m_axis_tvalid && m_axis_tready;
    wire bypass = beat_in && bypass_ok_reg;
    wire write = beat_in && !bypass_ok_reg;
    // mem_count_next == 0 decided from compares of the register, not from the adder's sum: the memory is empty
    // and stays so, or holds one beat that this clock reads (the read and bypass decisions are on this path)
    wire mem_empty_next = (mem_count_reg == {CNT_W{1'b0}} && write == read_reg)
        || (mem_count_reg == ONE_CNT && !write && read_reg);

    assign s_axis_tready = s_axis_tready_reg;

    always @* begin
        wr_ptr_next = write ? ((wr_ptr_reg == LAST_PTR) ? {PTR_W{1'b0}} : wr_ptr_reg + 1'b1) : wr_ptr_reg;
        rd_ptr_next = read_reg ? ((rd_ptr_reg == LAST_PTR) ? {PTR_W{1'b0}} : rd_ptr_reg + 1'b1) : rd_ptr_reg;
        mem_count_next = mem_count_reg + {{(CNT_W-1){1'b0}}, write} - {{(CNT_W-1){1'b0}}, read_reg};
        credit_next = credit_reg - {{(CRED_W-1){1'b0}}, read_reg} - {{(CRED_W-1){1'b0}}, bypass}
            + {{(CRED_W-1){1'b0}}, beat_out};
        read_next = !mem_empty_next && credit_next != {CRED_W{1'b0}};
        // nothing in the memory or in flight next clock (this clock's read and the one in the read port)
        bypass_ok_next = mem_empty_next && !read_reg && !rd_valid_reg
            && credit_next != {CRED_W{1'b0}};

        // accept another beat next clock only if fewer than DEPTH beats are held then (as axis_fifo_regs)
        held_next = held_reg + {{(CNT_W-1){1'b0}}, beat_in} - {{(CNT_W-1){1'b0}}, beat_out};
        s_axis_tready_next = (held_reg != ALMOST_CNT && held_reg != DEPTH_CNT)
            || (held_reg == ALMOST_CNT && !(beat_in && !beat_out))
            || (held_reg == DEPTH_CNT && beat_out);
    end

    // per chunk: copies of {rd_ptr, wr_ptr, read, bypass_ok, s_axis_tready, pipe_valid} for next clock
    localparam integer CTRL_W = 4 + 2 * PTR_W;
    wire [CHUNKS*CTRL_W-1:0] ctrl;

    ctrl_copies #(
        .CTRL_W(CTRL_W),
        .COPIES(CHUNKS)
    )
    ctrl_inst (
        .clk(clk),
        .rst(rst),
        .d({rd_ptr_next, wr_ptr_next, read_next, bypass_ok_next, s_axis_tready_next, rd_valid_reg}),
        .q(ctrl)
    );

    genvar ch;
    for (ch = 0; ch < CHUNKS; ch = ch + 1) begin : g_chunk
        localparam integer LO = ch * CHUNK_W;
        localparam integer W = DATA_W - LO < CHUNK_W ? DATA_W - LO : CHUNK_W;

        wire pipe_valid_copy = ctrl[ch*CTRL_W];
        wire in_ready_copy = ctrl[ch*CTRL_W+1];
        wire bypass_ok_copy = ctrl[ch*CTRL_W+2];
        wire read_copy = ctrl[ch*CTRL_W+3];
        wire [PTR_W-1:0] wr_ptr_copy = ctrl[ch*CTRL_W+4 +: PTR_W];
        wire [PTR_W-1:0] rd_ptr_copy = ctrl[ch*CTRL_W+4+PTR_W +: PTR_W];

        (* ram_style = "block" *)
        reg [W-1:0] mem [0:DEPTH-1];
        reg [W-1:0] rd_data_reg;     // the memory's read port
        reg [W-1:0] pipe_data_reg;   // the read register: loaded every clock

        always @(posedge clk) begin
            if (s_axis_tvalid && in_ready_copy && !bypass_ok_copy) begin
                mem[wr_ptr_copy] <= s_axis_tdata[LO +: W];
            end
            if (read_copy) begin
                rd_data_reg <= mem[rd_ptr_copy];
            end
            pipe_data_reg <= rd_data_reg;
        end

        // the queue takes the read register's beat, else the input beat (bypass)
        assign queue_tdata[LO +: W] = pipe_valid_copy ? pipe_data_reg : s_axis_tdata[LO +: W];
    end

    axis_fifo_regs #(
        .DATA_W(DATA_W),
        .DEPTH(PREFETCH)
    )
    queue_inst (
        .clk(clk),
        .rst(rst),
        .s_axis_tdata(queue_tdata),
        .s_axis_tvalid(pipe_valid_reg || bypass),
        .s_axis_tready(queue_ready_unused),
        .m_axis_tdata(m_axis_tdata),
        .m_axis_tvalid(m_axis_tvalid),
        .m_axis_tready(m_axis_tready)
    );

    always @(posedge clk) begin
        if (rst) begin
            wr_ptr_reg        <= {PTR_W{1'b0}};
            rd_ptr_reg        <= {PTR_W{1'b0}};
            mem_count_reg     <= {CNT_W{1'b0}};
            held_reg          <= {CNT_W{1'b0}};
            credit_reg        <= PREFETCH_CRED;
            read_reg          <= 1'b0;
            bypass_ok_reg     <= 1'b0;
            rd_valid_reg      <= 1'b0;
            pipe_valid_reg    <= 1'b0;
            s_axis_tready_reg <= 1'b0;
        end else begin
            wr_ptr_reg        <= wr_ptr_next;
            rd_ptr_reg        <= rd_ptr_next;
            mem_count_reg     <= mem_count_next;
            held_reg          <= held_next;
            credit_reg        <= credit_next;
            read_reg          <= read_next;
            bypass_ok_reg     <= bypass_ok_next;
            rd_valid_reg      <= read_reg;
            pipe_valid_reg    <= rd_valid_reg;
            s_axis_tready_reg <= s_axis_tready_next;
        end
    end

end
endgenerate

endmodule

`resetall
