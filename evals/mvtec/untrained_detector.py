"""A tiny, randomly initialised Grounding DINO folder, for pipeline checks only (tests, the bundled demo cache).

It has the layout of a real `transformers` weights folder (config.json, model.safetensors, tokenizer and image
processor files), so it goes through exactly the loader and the code paths of the real Swin-T OGC model, but its
numbers mean nothing; the folder holds an UNTRAINED marker, recorded as ``trained: false`` in the prompt cache.

Its vocabulary keeps bert-base-uncased's ids of [PAD] 0, [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103, "." 1012 and
"?" 1029 (transformers' Grounding DINO splits captions into phrases at the hard-coded ids 101, 102, 1012, 1029),
followed by the words of SAA+'s MVTec prompts. Nothing is downloaded.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from .categories import CATEGORIES
from .grounding import UNTRAINED_MARKER
from .saa_prompts import category_prompts

SPECIAL_IDS = {"[PAD]": 0, "[UNK]": 100, "[CLS]": 101, "[SEP]": 102, "[MASK]": 103, ".": 1012, "?": 1029}


def prompt_words() -> list[str]:
    """Every word and punctuation mark of the MVTec prompts, as BERT's basic tokenizer splits them."""
    texts = []
    for category in CATEGORIES:
        prompts = category_prompts(category)
        texts += [prompts.object_prompt] + [text for pair in prompts.defect_prompts for text in pair]
    words = {piece for text in texts for piece in re.findall(r"[a-z0-9]+|[^a-z0-9\s]", text.lower())}
    return sorted(words - set(SPECIAL_IDS))


def write_vocab(path: Path) -> None:
    size = max(SPECIAL_IDS.values()) + 1
    vocab = [f"[unused{i}]" for i in range(size)]
    for token, index in SPECIAL_IDS.items():
        vocab[index] = token
    vocab += prompt_words()
    path.write_text("\n".join(vocab) + "\n")


def tiny_config(num_queries: int = 30):
    from transformers import BertConfig, GroundingDinoConfig, SwinConfig

    backbone = SwinConfig(embed_dim=8, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1], window_size=7,
                          out_features=["stage2", "stage3", "stage4"], out_indices=[2, 3, 4])  # fmt: skip
    text = BertConfig(vocab_size=1100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                      intermediate_size=37, max_position_embeddings=512)  # fmt: skip
    return GroundingDinoConfig(
        backbone_config=backbone, text_config=text, d_model=32, num_queries=num_queries, encoder_layers=1,
        decoder_layers=2, encoder_ffn_dim=32, decoder_ffn_dim=32, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_n_points=2, decoder_n_points=2, max_text_len=256,
        disable_custom_kernels=True,
    )  # fmt: skip


def write_untrained_detector(folder: str | Path, seed: int = 0, num_queries: int = 30) -> Path:
    """Write the tiny random Grounding DINO to `folder` (loadable by CaptionGrounding.from_folder)."""
    from transformers import (
        AutoTokenizer,
        GroundingDinoForObjectDetection,
        GroundingDinoImageProcessor,
        GroundingDinoProcessor,
    )

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_vocab(folder / "vocab.txt")
    tokenizer_config = {"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": 512}
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    GroundingDinoProcessor(image_processor=GroundingDinoImageProcessor(), tokenizer=tokenizer).save_pretrained(folder)
    torch.manual_seed(seed)
    GroundingDinoForObjectDetection(tiny_config(num_queries)).eval().save_pretrained(folder)
    marker = "random weights (evals/mvtec/untrained_detector.py): pipeline checks only\n"
    (folder / UNTRAINED_MARKER).write_text(marker)
    return folder
