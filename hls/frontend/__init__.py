"""hls4ml front end: Keras model -> hls4ml ModelGraph (HLS project, C simulation) -> pipeline spec."""
