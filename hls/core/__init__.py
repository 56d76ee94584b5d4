"""The contracts every stage shares: ap_fixed arithmetic and the versioned pipeline spec (no TensorFlow)."""
