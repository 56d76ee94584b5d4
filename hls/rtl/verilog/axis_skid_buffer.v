/*
 * axis_skid_buffer -- full-throughput AXI-stream register slice (skid buffer).
 *
 * Cuts every combinational path between the two sides: m_axis_tvalid, m_axis_tdata and
 * s_axis_tready are all driven straight from registers, and a beat can still move on every
 * clock in both directions (no bubbles). Two DATA_W-bit registers: the output register and
 * a temporary ("skid") register that catches the beat accepted in the cycle in which the
 * consumer deasserts m_axis_tready (the same structure as verilog-axis axis_register,
 * REG_TYPE = 2).
 *
 * Handshake: a beat moves when tvalid && tready; m_axis_tvalid never waits for
 * m_axis_tready; beats are neither lost, duplicated nor reordered under any backpressure.
 * Latency: 1 clock. Storage: 2 * DATA_W flip-flops. Data registers start at zero (their initial
 * value, the FPGA's configuration); rst clears only the control flip-flops, as verilog-axis does, since
 * a reset fanning out to every data bit of a wide beat set the clock (conv2's window generator placed
 * alone on the ECP5: 82.0 MHz, the reset's route to the data registers the critical path). A data
 * register not holding a beat takes s_axis_tdata whether or not a beat is offered, so its enable never
 * decodes s_axis_tvalid: where that is a wide module's decode (window_gen's window valid), its fan-out to
 * every chunk's enable set the clock (conv2's window generator alone: 96.9 MHz; 122.5 without it). So
 * m_axis_tdata is s_axis_tdata of earlier clocks while m_axis_tvalid is low: no X as long as the upstream's
 * data has none (the library's modules start their data registers and memories at zero). Wide beats are
 * registered in chunks of 64 bits, each with its own copy of two control flip-flops (see CHUNK_W).
 */

`timescale 1ns / 1ps
`default_nettype none

module axis_skid_buffer #(
    // Width of one beat (s_axis_tdata / m_axis_tdata), bits, >= 1
    parameter DATA_W = 8,
    // Copies of s_axis_tready driven (identical flip-flops), >= 1: one per 64-bit chunk of the producer's
    // output register, so that each chunk's enables see a ready flip-flop of its own
    parameter S_READY_COPIES = 1,
    // Copies of m_axis_tready taken (identical, from the consumer's flip-flops): 1, or one per chunk (see
    // CHUNK_W); the control logic decodes the first, each chunk its own
    parameter M_READY_COPIES = 1,
    // Copies of m_axis_tvalid driven (identical flip-flops), >= 1: one per chunk of a wide register the
    // consumer loads from this stream, so that each chunk's enables see a valid flip-flop of its own
    parameter M_VALID_COPIES = 1
) (
    input  wire              clk,
    input  wire              rst,            // synchronous, active high

    input  wire [DATA_W-1:0] s_axis_tdata,
    input  wire              s_axis_tvalid,
    output wire [S_READY_COPIES-1:0] s_axis_tready,

    output wire [DATA_W-1:0] m_axis_tdata,
    output wire [M_VALID_COPIES-1:0] m_axis_tvalid,
    input  wire [M_READY_COPIES-1:0] m_axis_tready
);

// the data registers are updated in chunks of at most CHUNK_W bits, each with its own copy of the control
// state its enables are decoded from: one shared enable would fan out to all DATA_W flip-flops of a wide
// beat (a window of 1,200 bits) and its routing would set the clock
localparam integer CHUNK_W = 64;
localparam integer CHUNKS = (DATA_W + CHUNK_W - 1) / CHUNK_W;

initial begin
    if (DATA_W < 1) begin
        $error("axis_skid_buffer: DATA_W must be >= 1 (got %0d)", DATA_W);
        $finish;
    end
    if (S_READY_COPIES < 1 || (M_READY_COPIES != 1 && M_READY_COPIES != CHUNKS)) begin
        $error("axis_skid_buffer: S_READY_COPIES must be >= 1 (got %0d), M_READY_COPIES 1 or the chunks, %0d (got %0d)",
               S_READY_COPIES, CHUNKS, M_READY_COPIES);
        $finish;
    end
    if (M_VALID_COPIES < 1) begin
        $error("axis_skid_buffer: M_VALID_COPIES must be >= 1 (got %0d)", M_VALID_COPIES);
        $finish;
    end
end

reg              m_axis_tvalid_reg,           m_axis_tvalid_next;
reg              temp_tvalid_reg,           temp_tvalid_next;
reg              s_axis_tready_reg;

// ready for the next cycle: the output register is empty, or it will stay so / drain, and the
// temporary register cannot be filled by a beat accepted this cycle
wire m_ready = m_axis_tready[0];
wire s_axis_tready_early = m_ready || (!temp_tvalid_reg && (!m_axis_tvalid_reg || !s_axis_tvalid));

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

// the valid the consumer sees: m_axis_tvalid_reg, or M_VALID_COPIES flip-flops alike (the same next state and
// reset); one valid flip-flop routed to every chunk of the consumer's wide register set the clock (pool2's output
// to the flatten's 2,048-bit vector in the whole ecp5-85k design: 7.9 ns in one net)
generate
    if (M_VALID_COPIES > 1) begin : g_valid_copies
        ctrl_copies #(
            .CTRL_W(1),
            .COPIES(M_VALID_COPIES)
        )
        valid_copies_inst (
            .clk(clk),
            .rst(rst),
            .d(m_axis_tvalid_next),
            .q(m_axis_tvalid)
        );
    end else begin : g_valid
        assign m_axis_tvalid = m_axis_tvalid_reg;
    end
endgenerate

always @* begin
    m_axis_tvalid_next = m_axis_tvalid_reg;
    temp_tvalid_next   = temp_tvalid_reg;

    if (s_axis_tready_reg) begin
        // input side is open: the accepted beat goes to the output register or the skid register
        if (m_ready || !m_axis_tvalid_reg) begin
            m_axis_tvalid_next = s_axis_tvalid;
        end else begin
            temp_tvalid_next   = s_axis_tvalid;
        end
    end else if (m_ready) begin
        // input side closed: the consumer takes the output, the skid register refills it
        m_axis_tvalid_next = temp_tvalid_reg;
        temp_tvalid_next   = 1'b0;
    end
end

always @(posedge clk) begin
    if (rst) begin
        m_axis_tvalid_reg <= 1'b0;
        temp_tvalid_reg   <= 1'b0;
        s_axis_tready_reg <= 1'b0;
    end else begin
        m_axis_tvalid_reg <= m_axis_tvalid_next;
        temp_tvalid_reg   <= temp_tvalid_next;
        s_axis_tready_reg <= s_axis_tready_early;
    end
end

// per chunk: copies of {s_axis_tready_reg, m_axis_tvalid_reg}
wire [CHUNKS*2-1:0] ctrl;

ctrl_copies #(
    .CTRL_W(2),
    .COPIES(CHUNKS)
)
ctrl_inst (
    .clk(clk),
    .rst(rst),
    .d({s_axis_tready_early, m_axis_tvalid_next}),
    .q(ctrl)
);

genvar ch;
generate
for (ch = 0; ch < CHUNKS; ch = ch + 1) begin : g_chunk
    localparam integer LO = ch * CHUNK_W;
    localparam integer W = DATA_W - LO < CHUNK_W ? DATA_W - LO : CHUNK_W;

    wire out_valid_reg = ctrl[ch*2];
    wire in_ready_reg = ctrl[ch*2+1];
    reg [W-1:0] out_data_reg;
    reg [W-1:0] temp_data_reg;

    // zero from configuration, not from rst: a reset would fan out to every data bit (verilog-axis does the same)
    initial begin
        out_data_reg = {W{1'b0}};
        temp_data_reg = {W{1'b0}};
    end

    // the data moves as in the always block above: input -> output or skid register, skid -> output
    // the registers take the input whether or not it is a beat (a register not holding one is free): the
    // enables then decode three flip-flop outputs, never s_axis_tvalid
    wire out_ready = m_axis_tready[M_READY_COPIES > 1 ? ch : 0];
    wire out_free = out_ready || !out_valid_reg;
    // the output register takes the input (ready) or the temporary register (not ready): the source is
    // selected by a flip-flop and m_axis_tready only reaches the enables, one LUT from the clock-enable pins
    // (as two selects, the consumer's ready went through two LUT levels to every data bit: fc2's ReLU in
    // the whole ecp5-85k design, 98.2 MHz)
    wire out_load = in_ready_reg ? out_free : out_ready;
    wire in_to_temp = in_ready_reg && !out_free;

    always @(posedge clk) begin
        if (out_load) begin
            out_data_reg <= in_ready_reg ? s_axis_tdata[LO +: W] : temp_data_reg;
        end
        if (in_to_temp) begin
            temp_data_reg <= s_axis_tdata[LO +: W];
        end
    end

    assign m_axis_tdata[LO +: W] = out_data_reg;
end
endgenerate

endmodule

`resetall
