"""Pictures of (transposed) convolution."""
