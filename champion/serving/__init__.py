"""The serving engine: loaded models, atomic swap, predict, micro-batching."""
