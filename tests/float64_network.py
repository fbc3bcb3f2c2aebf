"""A SAM-style network run end to end in float64, for protocol-parity references and tests (tests/data/protocols).

Protocol parity compares binary masks pixel for pixel: a pixel whose float32 logit lies within rounding of the 0
threshold flips with the CPU's summation order (instruction set, threads), and with untrained (parity) weights
millions of pixels are decoded, some of them that close. In float64 everything (image encoder, prompt encoder, mask
decoder, upsampling) the differences shrink ~1e9-fold, so the masks no longer depend on the machine. The reference
drivers and the tests apply this same function to the official network and to ours; it changes no computation but its
precision:
- every parameter and buffer becomes float64 (`.double()`), so SAM's preprocessing (uint8 image minus the float64
  pixel mean) hands the encoder float64;
- the encoder's input is cast to float64 (EfficientViT-SAM's predictor normalises the image in float32 itself);
- the prompt encoder's random-Fourier positional encoding takes its coordinates as float64: SAM's
  `PositionEmbeddingRandom.forward_with_coords` casts them to float32 before `_pe_encoding` (so the prompt
  coordinates are still rounded to float32 as the official code rounds them; only what follows is float64).
Prompts (boxes, points) still reach the network through each predictor's own float32 coordinate transform.
Needs only torch: the reference drivers import it from their scratch venv.
"""
from __future__ import annotations

import torch


class Float64Input(torch.nn.Module):
    """`encoder` (made float64) behind a cast of its input to float64; keeps `img_size` (SamPredictor reads it)."""

    def __init__(self, encoder: torch.nn.Module):
        super().__init__()
        self.encoder = encoder.double()
        if hasattr(encoder, "img_size"):
            self.img_size = encoder.img_size

    def forward(self, x: torch.Tensor):
        return self.encoder(x.double())


def float64_prompt_encoding(prompt_encoder: torch.nn.Module) -> None:
    """Make `prompt_encoder` (already float64) encode prompt coordinates in float64 (see the module docstring)."""
    pe_layer = prompt_encoder.pe_layer
    encode = pe_layer._pe_encoding  # the official bound method
    dtype = pe_layer.positional_encoding_gaussian_matrix.dtype
    pe_layer._pe_encoding = lambda coords: encode(coords.to(dtype))


def float64_network(network: torch.nn.Module) -> torch.nn.Module:
    """`network` (a Sam-like module with image_encoder, prompt_encoder, mask_decoder) in float64, in place, in eval
    mode (set after the cast: TinyViT caches its attention biases when switched to eval)."""
    network.double()
    network.image_encoder = Float64Input(network.image_encoder)
    float64_prompt_encoding(network.prompt_encoder)
    return network.eval()
