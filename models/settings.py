"""The inference settings a run chooses, as data the command line reads without importing torch.

What each one does: models/backends.py.
"""
# No TorchScript backend: torch.jit is deprecated since PyTorch 2.9 (compile and onnxruntime do its work).
BACKENDS = ("eager", "channels_last", "compile", "cudagraphs", "onnxruntime")
PRECISIONS = ("fp32", "bf16x3", "tf32", "bf16", "fp16")
