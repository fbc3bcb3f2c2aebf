"""Write the official state-dict layout of SAM ViT-L (`sam_vit_l_layout.tsv`).

    /work/refvenv/bin/python tests/data/parity/make_reference_sam_vit_l.py

Built by the official `segment_anything.build_sam_vit_l` (PyPI segment-anything 1.0, facebookresearch/segment-anything)
without a checkpoint; one line per key: key, shape (`AxBxC`, `scalar` for 0-d), dtype. Run WITHOUT a PYTHONPATH that
puts another `segment_anything` (e.g. HQ-SAM's) first: the script checks it got facebookresearch's.
"""
from __future__ import annotations

from pathlib import Path

import segment_anything
import torch
from segment_anything import build_sam_vit_l

HERE = Path(__file__).resolve().parent


def main() -> None:
    module = Path(segment_anything.__file__).resolve().parent
    assert not (module / "modeling" / "mask_decoder_hq.py").exists(), f"{module} is HQ-SAM's, not segment-anything's"
    torch.manual_seed(0)
    sam = build_sam_vit_l()
    lines = []
    for key, value in sam.state_dict().items():
        shape = "x".join(str(s) for s in value.shape) if value.dim() else "scalar"
        lines.append(f"{key}\t{shape}\t{str(value.dtype).removeprefix('torch.')}")
    (HERE / "sam_vit_l_layout.tsv").write_text("\n".join(lines) + "\n")
    print(f"sam_vit_l_layout.tsv: {len(lines)} keys from {module}")


if __name__ == "__main__":
    main()
