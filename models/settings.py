"""The inference settings a run chooses, as data the command line reads without importing torch.

What each one does: models/backends.py.
"""
BACKENDS = ("eager", "channels_last", "jit", "compile", "cudagraphs", "onnxruntime")
PRECISIONS = ("fp32", "bf16x3", "tf32", "bf16", "fp16")
