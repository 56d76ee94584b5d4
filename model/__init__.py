"""Data and models: MNIST / Fashion-MNIST readers, Keras LeNet-5 architectures, HGQ2 training; the committed model."""
