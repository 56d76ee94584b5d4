/*
 * ap_ctrl_stream -- the Vitis HLS block-level handshake (ap_ctrl_hs) of a free-running streaming
 * top (hls4ml io_stream with #pragma HLS DATAFLOW), derived from the input and output beats.
 *
 * One "invocation" of the HLS top function is one image: IN_BEATS input beats, OUT_BEATS output
 * beats. The input stream is accepted only while ap_start is high (gate_tvalid / gate_tready, as an
 * un-started HLS block does not read its input). Then:
 *   ap_ready  pulses for one cycle, two cycles after the last input beat of an image is accepted (the
 *             block can take the next invocation's input),
 *   ap_done   pulses for one cycle, two cycles after the last output beat of an image is accepted,
 *   ap_idle   is high when ap_start is low and no image is in flight (started, not yet done; an image
 *             counts as done a clock after its ap_done would have, one clock late, never early).
 * Hold ap_start high to stream images back to back.
 * The beats are registered before they are counted: the input's ready comes from the first stage's
 * scan state through LUTs, and with the counters behind it, it was a critical path of the whole
 * ecp5-85k design (91.5 MHz: conv1's window generator to the image counters, 4.7 ns of routing).
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module ap_ctrl_stream #
(
    // Input beats per image (one invocation)
    parameter integer IN_BEATS = 784,
    // Output beats per image
    parameter integer OUT_BEATS = 1,
    // Images in flight the counters can track (pipeline depth in images, generous)
    parameter integer MAX_IN_FLIGHT = 15
)
(
    input  wire clk,
    input  wire rst,

    input  wire ap_start,
    output wire ap_done,
    output wire ap_idle,
    output wire ap_ready,

    // input stream handshake, observed and gated with ap_start
    input  wire s_tvalid,
    input  wire s_tready,
    output wire gate_tvalid,
    output wire gate_tready,

    // output stream handshake, observed
    input  wire m_tvalid,
    input  wire m_tready
);

// counter widths
localparam integer IN_CW = $clog2(IN_BEATS + 1);
localparam integer OUT_CW = $clog2(OUT_BEATS + 1);
localparam integer FLIGHT_CW = $clog2(MAX_IN_FLIGHT + 1);

initial begin
    if (IN_BEATS < 1 || OUT_BEATS < 1) begin
        $error("ap_ctrl_stream: IN_BEATS (%0d) and OUT_BEATS (%0d) must be >= 1", IN_BEATS, OUT_BEATS);
        $finish;
    end
    if (MAX_IN_FLIGHT < 1) begin
        $error("ap_ctrl_stream: MAX_IN_FLIGHT (%0d) must be >= 1", MAX_IN_FLIGHT);
        $finish;
    end
end

// last beat indices at the counters' widths
localparam integer IN_LAST_INT = IN_BEATS - 1;
localparam integer OUT_LAST_INT = OUT_BEATS - 1;
localparam [IN_CW-1:0] IN_LAST = IN_LAST_INT[IN_CW-1:0];
localparam [OUT_CW-1:0] OUT_LAST = OUT_LAST_INT[OUT_CW-1:0];

reg [IN_CW-1:0] in_count_reg, in_count_next;
reg [OUT_CW-1:0] out_count_reg, out_count_next;
reg [FLIGHT_CW-1:0] flight_reg, flight_next;
reg ready_reg, ready_next;
reg done_reg, done_next;

// the beats of the clock before
reg in_beat_reg, out_beat_reg;
wire in_beat = in_beat_reg;
wire out_beat = out_beat_reg;
wire in_last = in_beat && in_count_reg == IN_LAST;
wire out_last = out_beat && out_count_reg == OUT_LAST;
wire image_start = in_beat && in_count_reg == {IN_CW{1'b0}};

assign gate_tvalid = s_tvalid && ap_start;
assign gate_tready = s_tready && ap_start;
assign ap_ready = ready_reg;
assign ap_done = done_reg;
// (a beat registered and not yet counted may start an image)
assign ap_idle = !ap_start && flight_reg == {FLIGHT_CW{1'b0}} && !in_beat_reg;

always @* begin
    in_count_next = in_count_reg;
    out_count_next = out_count_reg;
    flight_next = flight_reg;
    ready_next = in_last;
    done_next = out_last;
    if (in_beat) begin
        in_count_next = in_last ? {IN_CW{1'b0}} : in_count_reg + 1'b1;
    end
    if (out_beat) begin
        out_count_next = out_last ? {OUT_CW{1'b0}} : out_count_reg + 1'b1;
    end
    if (image_start && !out_last) begin
        flight_next = flight_reg + 1'b1;
    end else if (out_last && !image_start) begin
        flight_next = flight_reg - 1'b1;
    end
end

always @(posedge clk) begin
    if (rst) begin
        in_beat_reg <= 1'b0;
        out_beat_reg <= 1'b0;
        in_count_reg <= {IN_CW{1'b0}};
        out_count_reg <= {OUT_CW{1'b0}};
        flight_reg <= {FLIGHT_CW{1'b0}};
        ready_reg <= 1'b0;
        done_reg <= 1'b0;
    end else begin
        in_beat_reg <= s_tvalid && s_tready && ap_start;
        out_beat_reg <= m_tvalid && m_tready;
        in_count_reg <= in_count_next;
        out_count_reg <= out_count_next;
        flight_reg <= flight_next;
        ready_reg <= ready_next;
        done_reg <= done_next;
    end
end

endmodule

`resetall
