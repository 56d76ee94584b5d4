"""The built-in layer kinds, one module per kind or family of kinds; importing the package registers them in
lenet5_hls.core.kind (lenet5_hls/__init__.py does, so every stage sees them)."""

from lenet5_hls.kinds import (  # noqa: F401
    batchnorm,
    conv2d,
    dense,
    flatten,
    parametrized_relu,
    pooling,
    relu,
    softmax,
    table_activation,
    unary_lut,
    zeropad2d,
)
