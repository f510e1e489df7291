"""Host references of the fixed-point feature extractors that run on the MCU (bit-exact twins of the C)."""
