"""Make the reference masks of SAM 2's VOS protocol with the official tools/vos_inference.py (facebookresearch/sam2).

    cd /tmp && PYTHONPATH=/work/ref/sam2:/work/ref/sam2/tools /work/refvenv/bin/python \
        /work/main/tests/data/sam2_vos/make_reference.py

/work/ref/sam2 is a work tree of github.com/facebookresearch/sam2 (its COMMIT file). As the tool's `main()` builds it
for DAVIS (defaults: no --apply_postprocessing, no --per_obj_png_file, no --use_vos_optimized_video_predictor), but
on the CPU and without a checkpoint:
    build_sam2_video_predictor(CONFIG, ckpt_path=None, device="cpu", apply_postprocessing=False,
                               hydra_overrides_extra=["++model.non_overlap_masks=true"], vos_optimized=False)
then the weights of tests/parity_weights.py (derived from the key names) loaded strictly, the image encoder computing
in float64 (its feature levels cast back to float32; as tests/test_parity.py's Float64Encoder), and the tool's own
`vos_inference(predictor, base_video_dir, input_mask_dir, output_mask_dir, video_name)` on the first FRAMES frames
of the bundled DAVIS sample (datasets/sample/DAVIS, 480p, copied with their annotations into a temporary DAVIS tree:
tests/davis_clip.py, as tests/test_sam2_vos.py does). The PNGs it writes are read back (palette indices)
-> blackswan.npz: `masks` (T x H x W uint8 id maps in frame order), `frame_names`; provenance -> blackswan.json.
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(REPO / "tests"))
from davis_clip import VIDEO, sample_clip  # noqa: E402
from parity_weights import parity_state_dict  # noqa: E402

import sam2  # noqa: E402  (the official repository's package, through PYTHONPATH)
from sam2.build_sam import build_sam2_video_predictor  # noqa: E402
from vos_inference import vos_inference  # noqa: E402  (tools/vos_inference.py, through PYTHONPATH)

OFFICIAL = Path(sam2.__file__).resolve().parents[1]
CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"


def cast(out, dtype):
    if isinstance(out, torch.Tensor):
        return out.to(dtype)
    if isinstance(out, dict):
        return {k: cast(v, dtype) for k, v in out.items()}
    return type(out)(cast(o, dtype) for o in out)


class Float64Encoder(torch.nn.Module):
    def __init__(self, encoder: torch.nn.Module):
        super().__init__()
        self.encoder = encoder.double()

    def forward(self, x):
        return cast(self.encoder(x.double()), torch.float32)


def main() -> None:
    torch.set_num_threads(2)
    torch.manual_seed(0)
    predictor = build_sam2_video_predictor(CONFIG, ckpt_path=None, device="cpu", apply_postprocessing=False,
                                           hydra_overrides_extra=["++model.non_overlap_masks=true"],
                                           vos_optimized=False)  # fmt: skip
    predictor.load_state_dict(parity_state_dict(predictor), strict=True)
    predictor.eval()
    predictor.image_encoder = Float64Encoder(predictor.image_encoder)
    started = time.time()
    with tempfile.TemporaryDirectory() as scratch:
        clip, out = sample_clip(Path(scratch) / "DAVIS"), Path(scratch) / "out"
        vos_inference(predictor, base_video_dir=str(clip / "JPEGImages" / "480p"),
                      input_mask_dir=str(clip / "Annotations" / "480p"), output_mask_dir=str(out), video_name=VIDEO)  # fmt: skip
        pngs = sorted((out / VIDEO).glob("*.png"), key=lambda p: int(p.stem))
        masks = np.stack([np.asarray(Image.open(p)) for p in pngs])
        names = [p.stem for p in pngs]
    seconds = time.time() - started
    np.savez_compressed(HERE / f"{VIDEO}.npz", masks=masks, frame_names=np.array(names))
    commit = (OFFICIAL / "COMMIT").read_text().strip() if (OFFICIAL / "COMMIT").is_file() else "unknown"
    info = {
        "official_repository": "https://github.com/facebookresearch/sam2",
        "official_commit": commit,
        "official_code": "tools/vos_inference.py vos_inference() with the predictor its main() builds for DAVIS",
        "config": CONFIG,
        "video": f"datasets/sample/DAVIS {VIDEO}, its first {len(names)} frames (480p)",
        "weights": "tests/parity_weights.py (key-derived), strict load",
        "image_encoder": "float64 (feature levels cast back to float32)",
        "torch": torch.__version__,
        "device": "cpu",
        "objects_per_frame": [sorted(int(i) for i in np.unique(m) if i) for m in masks],
        "seconds": round(seconds, 1),
    }
    (HERE / f"{VIDEO}.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"{VIDEO}: {len(names)} frames, {seconds:.1f} s")


if __name__ == "__main__":
    main()
