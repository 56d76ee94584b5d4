"""Data and models: MNIST / Fashion-MNIST readers, Keras LeNet-5 architectures, HGQ2 training; the committed model."""

# `train --arch` names, kept here so the CLI lists them without importing Keras (lenet5.py maps them to builders)
ARCHITECTURE_NAMES = ('lenet5', 'lenet5-classic', 'd2l')
