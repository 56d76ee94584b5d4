/*
 * relu_stream: element-wise ReLU on a valid/ready stream, N elements per beat.
 *
 * For every element x of an input beat: y = cast_out(x > 0 ? x : 0), the cast being an ap_fixed
 * assignment to the output type (fxp_requant), exactly as hls4ml's nnet::relu and the golden model
 * lenet5_hls.kinds.relu's golden function do. Element i of a beat sits at bits [i*W +: W] on both sides.
 *
 * The result goes through a skid-buffer register stage (two entries, as verilog-axis' axis_register
 * with REG_TYPE=2): one beat per clock in steady state under any backpressure, and both
 * m_axis_* and s_axis_tready come straight from registers (no combinational path through the
 * module). Latency: 1 cycle. A beat moves when valid && ready; beats are never lost, duplicated or
 * reordered.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module relu_stream #
(
    // Elements per stream beat
    parameter integer N = 4,
    // Input element width in bits
    parameter integer IN_W = 8,
    // Input element fractional bits (may be negative or exceed IN_W)
    parameter integer IN_FRAC = 4,
    // 1: input elements are two's complement (ap_fixed), 0: unsigned (ap_ufixed)
    parameter integer IN_SIGNED = 1,
    // Output element width in bits
    parameter integer OUT_W = 8,
    // Output element fractional bits (may be negative or exceed OUT_W)
    parameter integer OUT_FRAC = 4,
    // 1: output elements are two's complement (ap_fixed), 0: unsigned (ap_ufixed)
    parameter integer OUT_SIGNED = 0,
    // Output rounding mode code: 0 TRN, 1 TRN_ZERO, 2 RND, 3 RND_ZERO, 4 RND_MIN_INF, 5 RND_INF, 6 RND_CONV
    parameter integer ROUNDING = 0,
    // Output overflow mode code: 0 WRAP, 1 SAT, 2 SAT_ZERO, 3 SAT_SYM
    parameter integer OVERFLOW = 0
)
(
    input  wire                   clk,
    input  wire                   rst,

    /*
     * Input stream: N elements of IN_W bits, element i at [i*IN_W +: IN_W]
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

// packed width of an output beat
localparam integer OUT_BEAT_W = N * OUT_W;

initial begin
    if (N < 1) begin
        $error("Error: relu_stream N must be >= 1, got %0d (instance %m)", N);
        $finish;
    end
    if (IN_W < 1 || OUT_W < 1) begin
        $error("Error: relu_stream IN_W and OUT_W must be >= 1 (instance %m)");
        $finish;
    end
end

// ReLU and cast of every element of the incoming beat (combinational)
wire [OUT_BEAT_W-1:0] relu_data;

genvar i;
generate
for (i = 0; i < N; i = i + 1) begin : g_elem
    wire [IN_W-1:0] x = s_axis_tdata[i*IN_W +: IN_W];
    // x > 0: nonzero and, when signed, sign bit clear
    wire positive = (x != {IN_W{1'b0}}) && !(IN_SIGNED != 0 && x[IN_W-1]);
    wire [IN_W-1:0] x_relu = positive ? x : {IN_W{1'b0}};

    fxp_requant #(
        .IN_W(IN_W),
        .IN_FRAC(IN_FRAC),
        .IN_SIGNED(IN_SIGNED),
        .OUT_W(OUT_W),
        .OUT_FRAC(OUT_FRAC),
        .OUT_SIGNED(OUT_SIGNED),
        .ROUNDING(ROUNDING),
        .OVERFLOW(OVERFLOW)
    )
    cast_inst (
        .in_data(x_relu),
        .out_data(relu_data[i*OUT_W +: OUT_W])
    );
end
endgenerate

// skid-buffer register stage (output register + temporary register)
// (reset, not initial values: the state is defined once rst has been high for a cycle)
reg                  s_axis_tready_reg;

reg [OUT_BEAT_W-1:0] m_axis_tdata_reg;
reg                  m_axis_tvalid_reg, m_axis_tvalid_next;

reg [OUT_BEAT_W-1:0] temp_tdata_reg;
reg                  temp_tvalid_reg, temp_tvalid_next;

// datapath control
reg store_input_to_output;
reg store_input_to_temp;
reg store_temp_to_output;

assign s_axis_tready = s_axis_tready_reg;

assign m_axis_tdata = m_axis_tdata_reg;
assign m_axis_tvalid = m_axis_tvalid_reg;

// ready next cycle if the output is consumed now, or the temp register is empty and stays empty
// (no incoming beat, or the incoming beat goes straight to an empty output register)
wire s_axis_tready_early = m_axis_tready || (!temp_tvalid_reg && (!m_axis_tvalid_reg || !s_axis_tvalid));

always @* begin
    m_axis_tvalid_next = m_axis_tvalid_reg;
    temp_tvalid_next = temp_tvalid_reg;

    store_input_to_output = 1'b0;
    store_input_to_temp = 1'b0;
    store_temp_to_output = 1'b0;

    if (s_axis_tready_reg) begin
        // input is ready (temp register is empty)
        if (m_axis_tready || !m_axis_tvalid_reg) begin
            // output is ready or currently not valid: transfer input to output
            m_axis_tvalid_next = s_axis_tvalid;
            store_input_to_output = 1'b1;
        end else begin
            // output is stalled: park the input in the temp register
            temp_tvalid_next = s_axis_tvalid;
            store_input_to_temp = 1'b1;
        end
    end else if (m_axis_tready) begin
        // input is not ready (temp register full), output is ready: temp to output
        m_axis_tvalid_next = temp_tvalid_reg;
        temp_tvalid_next = 1'b0;
        store_temp_to_output = 1'b1;
    end
end

always @(posedge clk) begin
    m_axis_tvalid_reg <= m_axis_tvalid_next;
    s_axis_tready_reg <= s_axis_tready_early;
    temp_tvalid_reg <= temp_tvalid_next;

    // datapath
    if (store_input_to_output) begin
        m_axis_tdata_reg <= relu_data;
    end else if (store_temp_to_output) begin
        m_axis_tdata_reg <= temp_tdata_reg;
    end

    if (store_input_to_temp) begin
        temp_tdata_reg <= relu_data;
    end

    if (rst) begin
        s_axis_tready_reg <= 1'b0;
        m_axis_tvalid_reg <= 1'b0;
        temp_tvalid_reg <= 1'b0;
        m_axis_tdata_reg <= {OUT_BEAT_W{1'b0}};
    end
end

endmodule

`resetall
