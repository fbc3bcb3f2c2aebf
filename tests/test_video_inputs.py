"""The video tasks (davis, uvo) and their point trackers on a fresh machine and on damaged inputs, through the command
line (`evals.cli.main`): every bad input is exit status 2 with one paragraph naming the file and what was expected,
no traceback, before the first prediction where it can be, and nothing written outside --out; a run with nothing
downloaded lists every missing thing (checkpoint, data, tracker weights and code) in one message, before any model
is built; changed inputs and truncated stored predictions are predicted again.

Data: small generated DAVIS and UVO trees in tmp_path; the model: `FakeVideoModel`, a PromptModel answering every
prompt in microseconds (the protocol around it, the lk tracker, the stores and the metrics are the real ones)."""
from __future__ import annotations

import json
import shutil
import sys
import types
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from evals import cli
from evals.davis.io import davis_palette, write_palette_mask
from evals.davis.task import DavisParams, DavisTask
from evals.trackers import LazyTracker, TrackerUnavailable, build_tracker, tracker_params, tracker_requirements
from evals.uvo.sample import write_sample_dataset
from evals.uvo.task import UvoTask
from models.prompt_model import MaskPrediction, PromptModel
from models.capabilities import Capabilities

# ---------------------------------------------------------------- a model that answers at once


class FakeVideoModel(PromptModel):
    """Every prompt: a disk around the mean of its positive points (predicted IoU 0.9); automatic masks: two
    squares. Enough for SAM-PT's protocol to run end to end; nothing of SAM."""

    def __init__(self):
        super().__init__(None, None, {"model": "fake", "display": "Fake", "trained": False, "checkpoint_sha256": None,
                                "fused": False, "backend": "eager", "precision": "fp32"})  # fmt: skip
        self._size = (0, 0)
        self.images = 0

    encoder = property(lambda self: torch.nn.Identity(), lambda self, module: None)
    device = property(lambda self: torch.device("cpu"))
    image_size = property(lambda self: self._size)

    def encoder_example(self, seed: int = 0) -> torch.Tensor:
        raise NotImplementedError

    def decode_once(self):
        raise NotImplementedError

    def set_image(self, image: np.ndarray) -> None:
        self._size, self.images = image.shape[:2], self.images + 1

    def embedding(self) -> torch.Tensor:
        return torch.zeros(1, 256, 64, 64)

    def predict(self, point_coords=None, point_labels=None, boxes=None, mask_input=None, multimask_output=True):
        height, width = self._size
        positive = point_coords[0][point_labels[0] == 1] if point_coords is not None else np.zeros((0, 2))
        cx, cy = positive.mean(axis=0) if len(positive) else (width / 2, height / 2)
        yy, xx = np.mgrid[:height, :width]
        disk = (xx - cx) ** 2 + (yy - cy) ** 2 <= (0.2 * min(height, width)) ** 2
        logits = torch.from_numpy(np.where(disk, 10.0, -10.0).astype(np.float32))[None, None]
        return MaskPrediction(logits, torch.tensor([[0.9]]), torch.zeros(1, 1, 256, 256))

    def generate(self, image: np.ndarray, **params) -> list[dict]:
        height, width = image.shape[:2]
        records = []
        for x0 in (0.2, 0.6):
            mask = np.zeros((height, width), bool)
            mask[int(0.3 * height) : int(0.6 * height), int(x0 * width) : int((x0 + 0.2) * width)] = True
            records.append({"segmentation": mask, "area": int(mask.sum()), "predicted_iou": 0.9})
        return records


# ---------------------------------------------------------------- generated data

W, H = 64, 48  # DAVIS frames of the generated tree (W x H)


def texture(height: int, width: int, seed: int) -> np.ndarray:
    coarse = np.random.default_rng(seed).uniform(0, 255, (max(height // 8, 2), max(width // 8, 2), 3))
    smooth = cv2.resize(coarse.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    return smooth.clip(0, 255).astype(np.uint8)


def square_ids(t: int, height: int = H, width: int = W) -> np.ndarray:
    ids = np.zeros((height, width), np.uint8)
    ids[height // 4 : 3 * height // 4, width // 6 + 2 * t : width // 2 + 2 * t] = 1
    return ids


def make_davis(data_root: Path, sequences=("seq_a",), frames: int = 3, full: bool = False) -> Path:
    """<data_root>/DAVIS: 64x48 frames with a textured square (object 1) moving right; `full`: also
    Full-Resolution frames and annotations at 128x96."""
    davis = data_root / "DAVIS"
    for s, name in enumerate(sequences):
        for resolution, scale in (("480p", 1), ("Full-Resolution", 2)) if full else (("480p", 1),):
            (davis / "JPEGImages" / resolution / name).mkdir(parents=True)
            for t in range(frames):
                ids = square_ids(t, H * scale, W * scale)
                inside, outside = texture(H * scale, W * scale, 100 + s), texture(H * scale, W * scale, s)
                frame = np.where(ids[..., None] > 0, inside, outside)
                Image.fromarray(frame).save(davis / "JPEGImages" / resolution / name / f"{t:05d}.jpg", quality=95)
                write_palette_mask(davis / "Annotations" / resolution / name / f"{t:05d}.png", ids)
    (davis / "ImageSets" / "2017").mkdir(parents=True)
    (davis / "ImageSets" / "2017" / "val.txt").write_text("\n".join(sequences) + "\n")
    return davis


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def listing(root: Path, out: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if out not in p.parents and p != out)


def run_cli(tmp_path, monkeypatch, capsys, args: list[str], model: type | None = None) -> tuple[int, str]:
    """`evals.cli.main(args)` in tmp_path with --data-root data --out out; `model`: what load_prompt_model returns
    (None: building a model fails the test). Returns (exit status, stderr); asserts that nothing was written
    outside --out and that no traceback was printed."""
    monkeypatch.chdir(tmp_path)

    def no_model(*args, **kwargs):
        raise AssertionError("a model was built before the inputs were checked")

    monkeypatch.setattr("models.load_prompt_model", (lambda *a, **k: model()) if model is not None else no_model)
    monkeypatch.setattr("models.loading.build_model", no_model)
    before = listing(tmp_path, tmp_path / "out")
    capsys.readouterr()
    status = cli.main(["--data-root", "data", "--out", "out", *args])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert listing(tmp_path, tmp_path / "out") == before
    return status, err


DAVIS_RUN = ["--task", "davis", "--model", "mobilesam", "--untrained", "--tracker", "lk",
             "--refinement-iterations", "1"]
UVO_RUN = ["--task", "uvo", "--model", "mobilesam", "--untrained", "--tracker", "lk", "--uvo-amg-points-per-side", "4"]


# ---------------------------------------------------------------- nothing downloaded


@pytest.mark.parametrize("tracker,needs", [
    ("pips", ["PIPS weights", "weights/pips/reference_model", "dropbox.com/s/glk6jmoa9yeervl/reference_model.tar.gz",
              "PIPS network code", "nets.pips", "github.com/aharley/pips", "PYTHONPATH"]),
    ("cotracker", ["CoTracker weights", "weights/cotracker/cotracker_stride_4_wind_8.pth",
                   "https://dl.fbaipublicfiles.com/cotracker/cotracker_stride_4_wind_8.pth", "CoTracker v1 code",
                   "co-tracker.git@4f297a92fe1a684b1b0980da138b706d62e45472"]),
])  # fmt: skip
def test_davis_with_nothing_downloaded_lists_everything_in_one_message(tmp_path, monkeypatch, capsys, tracker, needs):
    args = ["--task", "davis", "--model", "mobilesam", "--tracker", tracker]
    status, err = run_cli(tmp_path, monkeypatch, capsys, args)
    assert status == 2 and err.startswith("error: this run cannot start; missing:")
    lines = err.splitlines()
    assert len(lines) == 5  # the heading, then checkpoint, DAVIS, tracker weights, tracker code
    assert "weights/mobile_sam.pt" in lines[1] and "https://" in lines[1]
    assert "DAVIS 2017 trainval 480p" in lines[2] and "data/DAVIS" in lines[2]
    assert "https://data.vision.ee.ethz.ch/csergi/share/davis/DAVIS-2017-trainval-480p.zip" in lines[2]
    for need in needs:
        assert need in err


def test_full_resolution_and_uvo_requirements_name_their_archives_and_commands(tmp_path, monkeypatch, capsys):
    status, err = run_cli(tmp_path, monkeypatch, capsys, ["--task", "davis,uvo", "--model", "mobilesam", "--tracker",
                                                          "lk", "--source-resolution", "full"])  # fmt: skip
    assert status == 2
    assert "DAVIS-2017-trainval-Full-Resolution.zip" in err and "data/DAVIS/JPEGImages/Full-Resolution" in err
    assert "uvo: UVO v1.0 dense val annotations" in err and "data/UVOv1.0/VideoDenseSet/UVO_video_val_dense.json" in err
    assert "https://sites.google.com/view/unidentified-video-object/dataset" in err
    command = "python -m evals.uvo.extract_frames data/UVOv1.0/uvo_videos_dense data/UVOv1.0/uvo_videos_dense_frames"
    assert command in err
    assert "uvo_videos_dense.zip" in err
    assert len(err.splitlines()) == 7 and "PIPS" not in err  # checkpoint, 2 DAVIS, 3 UVO; lk needs nothing
    # With the videos there, the frames' command is all that is left for UVO.
    (tmp_path / "data" / "UVOv1.0" / "uvo_videos_dense").mkdir(parents=True)
    (tmp_path / "data" / "UVOv1.0" / "uvo_videos_dense" / "x.mp4").write_bytes(b"")
    _, err = run_cli(tmp_path, monkeypatch, capsys, ["--task", "uvo", "--model", "mobilesam", "--tracker", "lk"])
    assert "extract_frames" in err and "uvo_videos_dense.zip" not in err


def test_tracker_requirements_are_met_by_weights_and_importable_code(tmp_path, monkeypatch):
    weights = tmp_path / "reference_model"
    weights.mkdir()
    settings = tracker_params("pips", weights, require_weights=False)
    assert settings.checkpoint_sha256 is None  # recorded as missing, left to the requirement check
    assert [r.is_met() for r in tracker_requirements(settings)] == [False, False]
    torch.save({"model_state_dict": {"weight": torch.ones(1)}}, weights / "model-000200000.pth")
    install_fake_pips(monkeypatch)
    assert [r.is_met() for r in tracker_requirements(settings)] == [True, True]
    assert tracker_requirements(tracker_params("lk")) == []


@pytest.mark.parametrize("args,message", [
    (["--task", "davis", "--tracker", "lk", "--tracker-checkpoint", "x.pth"],
     "--tracker lk takes no --tracker-checkpoint"),
    (["--task", "davis", "--refinement-iterations", "-1", "--positive-points", "0"],
     "--refinement-iterations must be 0 or more (got -1); --positive-points must be at least 1 (got 0)"),
    (["--task", "uvo", "--uvo-amg-points-per-side", "0"], "--uvo-amg-points-per-side must be at least 1 (got 0)"),
    (["--task", "uvo", "--tracker", "cotracker", "--tracker-checkpoint", "mine.pth"], "'mine.pth' is none of"),
])  # fmt: skip
def test_option_errors_are_one_line(tmp_path, monkeypatch, capsys, args, message):
    status, err = run_cli(tmp_path, monkeypatch, capsys, [*args, "--model", "mobilesam", "--untrained"])
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------- tracker weights: safe loading, the recorded file


class FakePips(torch.nn.Module):
    def __init__(self, S=8, stride=4):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))


def install_fake_pips(monkeypatch) -> None:
    nets, nets_pips = types.ModuleType("nets"), types.ModuleType("nets.pips")
    nets_pips.Pips, nets.pips = FakePips, nets_pips
    monkeypatch.setitem(sys.modules, "nets", nets)
    monkeypatch.setitem(sys.modules, "nets.pips", nets_pips)


class Planted:
    """Pickles as a call of Path.touch: a checkpoint that runs code when it is unpickled without weights_only."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pips_weights_are_loaded_with_weights_only(tmp_path, monkeypatch):
    install_fake_pips(monkeypatch)
    marker = tmp_path / "code_ran"
    torch.save({"model_state_dict": {"weight": torch.full((1,), 2.0)}, "optimizer_state_dict": {"state": {},
                "param_groups": [{"lr": 1e-4, "betas": (0.9, 0.999), "foreach": None, "params": [0]}]}},
               tmp_path / "model-000200000.pth")  # fmt: skip  (the official layout: model and AdamW state dicts)
    assert build_tracker("pips", tmp_path / "model-000200000.pth").model.weight.item() == 2.0
    torch.save({"model_state_dict": {"weight": torch.ones(1)}, "extra": Planted(marker)}, tmp_path / "model-1.pth")
    with pytest.raises(TrackerUnavailable, match="model-1.pth cannot be read as a weights file"):
        build_tracker("pips", tmp_path / "model-1.pth")
    assert not marker.exists()
    truncate(tmp_path / "model-000200000.pth")
    with pytest.raises(TrackerUnavailable, match="truncated download"):
        build_tracker("pips", tmp_path / "model-000200000.pth")


def test_tracker_weights_changed_since_the_settings_were_read_are_refused(tmp_path, monkeypatch):
    install_fake_pips(monkeypatch)
    path = tmp_path / "model-000200000.pth"
    torch.save({"model_state_dict": {"weight": torch.ones(1)}}, path)
    settings = tracker_params("pips", path)
    torch.save({"model_state_dict": {"weight": torch.zeros(1)}}, path)
    with pytest.raises(TrackerUnavailable, match="changed since this run's settings were read"):
        LazyTracker().get(settings, "cpu")
    assert LazyTracker().get(tracker_params("pips", path), "cpu").model.weight.item() == 0.0


# ---------------------------------------------------------------- capabilities and the files a prediction reads


def test_capabilities_name_what_sam_pt_uses():
    davis = DavisTask(DavisTask.sam_pt_params("lk", refinement_iterations=3))
    lacking = Capabilities(mask_input=False, boxes=False, automatic_masks=False, multimask_outputs=1)
    problems = davis.capability_problems(lacking)
    assert len(problems) == 2 and problems[0].startswith("mask input (SAM-PT's second pass")
    assert "--refinement-iterations 3" in problems[0] and problems[1].startswith("box prompts")
    no_refinement = DavisTask(DavisTask.sam_pt_params("lk", refinement_iterations=0)).capability_problems(lacking)
    assert len(no_refinement) == 1 and "refinement" not in no_refinement[0]  # the second pass still feeds logits back
    assert davis.capability_problems(Capabilities()) == []
    uvo = UvoTask(UvoTask.sam_pt_params("lk")).capability_problems(lacking)
    assert [p.split(" (")[0] for p in uvo] == ["automatic masks", "mask input"]
    assert DavisTask(DavisParams(masks_from="predictions", predictions_dir="x")).capability_problems(lacking) == []


def test_sample_files_are_the_frames_and_the_files_the_prompts_and_sizes_come_from(tmp_path):
    davis = make_davis(tmp_path / "data", frames=3, full=True)
    task = DavisTask(DavisTask.sam_pt_params("lk", source_resolution="full"))
    (sample,) = task.load_dataset(tmp_path / "data").samples
    names = [str(p.relative_to(davis)) for p in task.sample_files(sample)]
    assert names == [f"JPEGImages/Full-Resolution/seq_a/0000{t}.jpg" for t in range(3)] + [
        "Annotations/Full-Resolution/seq_a/00000.png", "Annotations/480p/seq_a/00000.png"]  # not the scored frames'
    write_sample_dataset(tmp_path / "data")
    uvo = UvoTask(UvoTask.sam_pt_params("lk"))
    first = uvo.load_dataset(tmp_path / "data").samples[0]
    assert [p.name for p in uvo.sample_files(first)] == ["0.png", "1.png", "2.png", "3.png", "UVO_video_val_dense.json"]


# ---------------------------------------------------------------- DAVIS: damaged inputs


def test_half_size_first_annotation_is_named_before_any_prediction(tmp_path, monkeypatch, capsys):
    """The issue's probe: a first-frame annotation at half size used to be found only after the whole prediction,
    blamed on 'frame 00001 result'."""
    davis = make_davis(tmp_path / "data")
    write_palette_mask(davis / "Annotations/480p/seq_a/00000.png", square_ids(0)[::2, ::2])
    status, err = run_cli(tmp_path, monkeypatch, capsys, DAVIS_RUN)  # no model: it must fail before one is built
    assert status == 2
    assert f"{Path('data/DAVIS/Annotations/480p/seq_a/00000.png')}: 32x24 pixels (W x H), but its frame" in err
    assert "00000.jpg is 64x48" in err and "result" not in err


def _palette_reindexed(davis: Path) -> None:
    image = Image.fromarray(square_ids(1))
    palette = davis_palette().copy()
    palette[1] = (0, 255, 0)  # object 1 drawn green: its pixel value no longer means the red object of the others
    image.putpalette(palette.ravel().tolist())
    image.save(davis / "Annotations/480p/seq_a/00001.png")


def _rgb_annotation(davis: Path) -> None:
    Image.fromarray(davis_palette()[square_ids(1)]).save(davis / "Annotations/480p/seq_a/00001.png")


def _frame_of_another_size(davis: Path) -> None:
    Image.fromarray(texture(24, 32, 0)).save(davis / "JPEGImages/480p/seq_a/00002.jpg")


def _not_an_image(davis: Path) -> None:
    (davis / "Annotations/480p/seq_a/00002.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20 + b"IEND\xaeB`\x82")


@pytest.mark.parametrize("damage,expected", [
    (lambda d: write_palette_mask(d / "Annotations/480p/seq_a/00002.png", square_ids(2)[:40]),
     ["Annotations/480p/seq_a/00002.png: 64x40 pixels (W x H), but its frame", "00002.jpg is 64x48"]),
    (_rgb_annotation, ["Annotations/480p/seq_a/00001.png: a RGB PNG", "indexed (palette) PNGs"]),
    (_palette_reindexed, ["Annotations/480p/seq_a/00001.png: its palette gives pixel value 1 the colour (0, 255, 0)",
                          "give it (128, 0, 0)"]),
    (lambda d: truncate(d / "Annotations/480p/seq_a/00001.png"), ["Annotations/480p/seq_a/00001.png: truncated PNG"]),
    (_not_an_image, ["Annotations/480p/seq_a/00002.png: not an image PIL can read"]),
    (_frame_of_another_size, ["JPEGImages/480p/seq_a/00002.jpg: 32x24 pixels (W x H), the other frames", "64x48"]),
    (lambda d: (d / "JPEGImages/480p/seq_a/00001.jpg").unlink(), ["1 frame(s) missing", "00001.jpg"]),
    (lambda d: (d / "ImageSets/2017/val.txt").write_text("seq_a\n../../etc\n"),
     ["ImageSets/2017/val.txt: sequence name '../../etc' cannot name a file"]),
    (lambda d: (d / "ImageSets/2017/val.txt").write_text("seq_a\nseq_a\n"), ["seq_a listed more than once"]),
])  # fmt: skip
def test_damaged_davis_inputs_are_named_before_the_model_loads(tmp_path, monkeypatch, capsys, damage, expected):
    damage(make_davis(tmp_path / "data"))
    status, err = run_cli(tmp_path, monkeypatch, capsys, DAVIS_RUN)
    assert status == 2 and err.count("error:") == 1
    assert len(err.strip().splitlines()) <= 10  # one line, or a layout error and its expected tree
    for text in expected:
        assert text in err


def test_full_resolution_first_annotation_is_checked_against_its_frames(tmp_path, monkeypatch, capsys):
    davis = make_davis(tmp_path / "data", full=True)
    write_palette_mask(davis / "Annotations/Full-Resolution/seq_a/00000.png", square_ids(0))  # the 480p size
    status, err = run_cli(tmp_path, monkeypatch, capsys, [*DAVIS_RUN, "--source-resolution", "full"])
    assert status == 2
    assert "Annotations/Full-Resolution/seq_a/00000.png: 64x48 pixels (W x H), but its frame" in err
    assert "Full-Resolution/seq_a/00000.jpg is 128x96" in err


def test_truncated_frame_is_named_when_it_is_read(tmp_path, monkeypatch, capsys):
    davis = make_davis(tmp_path / "data")
    truncate(davis / "JPEGImages/480p/seq_a/00001.jpg")  # its header is whole: found when it is decoded
    status, err = run_cli(tmp_path, monkeypatch, capsys, DAVIS_RUN, model=FakeVideoModel)
    assert status == 2 and "JPEGImages/480p/seq_a/00001.jpg: truncated JPEG" in err


@pytest.mark.parametrize("damage,expected", [
    (lambda r: (r / "seq_a/00001.png").unlink(), ["seq_a", "1 result frame(s) missing", "00001.png"]),
    (lambda r: write_palette_mask(r / "seq_a/00001.png", square_ids(1)[:24]), ["result is 64x24, annotation is 64x48"]),
    (lambda r: write_palette_mask(r / "seq_a/00001.png", 2 * square_ids(1)), ["result holds object id 2", "1 object"]),
    (lambda r: truncate(r / "seq_a/00001.png"), ["seq_a/00001.png: truncated PNG"]),
])  # fmt: skip
def test_damaged_davis_results_folder(tmp_path, monkeypatch, capsys, damage, expected):
    make_davis(tmp_path / "data")
    results = tmp_path / "results"
    write_palette_mask(results / "seq_a" / "00001.png", square_ids(1))
    damage(results)
    status, err = run_cli(tmp_path, monkeypatch, capsys, ["--task", "davis", "--model", "osvos", "--predictions",
                                                          "results"])  # fmt: skip
    assert status == 2
    for text in expected:
        assert text in err


# ---------------------------------------------------------------- UVO: damaged inputs

UVO_JSON = "UVOv1.0/VideoDenseSet/UVO_video_val_dense.json"


def edit_json(data_root: Path, edit) -> None:
    path = data_root / UVO_JSON
    dataset = json.loads(path.read_text())
    edit(dataset)
    path.write_text(json.dumps(dataset))


def _rle_of_another_size(dataset: dict) -> None:
    dataset["annotations"][0]["segmentations"][1]["size"] = [48, 64]


@pytest.mark.parametrize("damage,expected", [
    (lambda r: truncate(r / UVO_JSON, 0.6), [f"{UVO_JSON}: not valid JSON", "truncated?"]),
    (lambda r: (r / UVO_JSON).write_text("[]"), [f"{UVO_JSON}: the file has no 'videos'"]),
    (lambda r: edit_json(r, lambda d: d["videos"][1].pop("height")),
     [f"{UVO_JSON}, video 2: the video has no 'height'"]),
    (lambda r: edit_json(r, lambda d: d["videos"][0].update(width=0)), [f"{UVO_JSON}, video 1: size 0x96",
                                                                        "positive sizes"]),
    (lambda r: edit_json(r, _rle_of_another_size), [f"{UVO_JSON}, annotation 1 of video 1, frame 1: an RLE of size "
                                                    "[48, 64] (height, width), the video is [96, 128]"]),
    (lambda r: edit_json(r, lambda d: d["annotations"][2]["segmentations"].pop()),
     [f"{UVO_JSON}, annotation 3 of video 2: 3 segmentations, the video has 4 frames"]),
    (lambda r: edit_json(r, lambda d: d["annotations"][0].update(video_id=7)),
     ["annotations[0]: video_id 7 is no video"]),
    (lambda r: edit_json(r, lambda d: d["videos"][0]["file_names"].__setitem__(0, "../../secret.png")),
     ["file name '../../secret.png' would name a file outside"]),
    (lambda r: Image.fromarray(texture(48, 64, 0)).save(r / "UVOv1.0/uvo_videos_dense_frames/video_b/2.png"),
     ["uvo_videos_dense_frames/video_b/2.png: 64x48 pixels (W x H), but video 2 (video_b) is 128x96"]),
])  # fmt: skip
def test_damaged_uvo_inputs_are_named_before_the_model_loads(tmp_path, monkeypatch, capsys, damage, expected):
    write_sample_dataset(tmp_path / "data")
    damage(tmp_path / "data")
    status, err = run_cli(tmp_path, monkeypatch, capsys, UVO_RUN)
    assert status == 2 and len(err.strip().splitlines()) <= 4
    for text in expected:
        assert text in err


def test_truncated_uvo_frame_is_named_when_it_is_read(tmp_path, monkeypatch, capsys):
    write_sample_dataset(tmp_path / "data")
    truncate(tmp_path / "data/UVOv1.0/uvo_videos_dense_frames/video_b/1.png")
    status, err = run_cli(tmp_path, monkeypatch, capsys, UVO_RUN, model=FakeVideoModel)
    assert status == 2 and "uvo_videos_dense_frames/video_b/1.png: truncated PNG" in err


@pytest.mark.parametrize("results,expected", [
    ('[{"video_id": 1, "score": 0.5, "segm', ["results.json: not valid JSON", "truncated?"]),
    ('{"video_id": 1}', ["results.json: a YouTube-VIS results file is a list", "not a dict"]),
    ('[{"video_id": 1, "segmentations": []}]', ["results.json, result 0: no score"]),
    ('[{"video_id": 1, "score": 0.5, "segmentations": [null]}]', ["video_a (id 1): a predicted track of 1 frames, "
                                                                   "the video has 4"]),
])  # fmt: skip
def test_damaged_uvo_results_file(tmp_path, monkeypatch, capsys, results, expected):
    write_sample_dataset(tmp_path / "data")
    (tmp_path / "results.json").write_text(results)
    status, err = run_cli(tmp_path, monkeypatch, capsys, ["--task", "uvo", "--model", "other", "--predictions",
                                                          "results.json"])  # fmt: skip
    assert status == 2
    for text in expected:
        assert text in err


def test_extract_frames_names_what_it_cannot_read(tmp_path, capsys):
    from evals.uvo.extract_frames import main

    assert main([str(tmp_path / "absent"), str(tmp_path / "frames")]) == 2
    assert "absent: no such folder" in capsys.readouterr().err
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "broken.mp4").write_bytes(b"not a video")
    assert main([str(tmp_path / "videos"), str(tmp_path / "frames")]) == 2
    assert "broken.mp4: OpenCV cannot open it" in capsys.readouterr().err
    assert not (tmp_path / "frames" / "broken").exists()


# ---------------------------------------------------------------- stored predictions: changed inputs, truncated files


def test_davis_changed_frame_and_truncated_prediction_are_predicted_again(tmp_path, monkeypatch, capsys):
    davis = make_davis(tmp_path / "data", sequences=("seq_a", "seq_b"))
    status, _ = run_cli(tmp_path, monkeypatch, capsys, DAVIS_RUN, model=FakeVideoModel)
    results_path = tmp_path / "out/davis/mobilesam.lk.refine1.json"
    first = json.loads(results_path.read_text())
    assert status == 0 and first["provenance"]["timings"]["predicted_samples"] == 2
    Image.fromarray(texture(H, W, 7)).save(davis / "JPEGImages/480p/seq_a/00001.jpg", quality=95)
    truncate(tmp_path / "out/davis/mobilesam.lk.refine1.predictions/seq_b.npz")
    status, err = run_cli(tmp_path, monkeypatch, capsys, DAVIS_RUN, model=FakeVideoModel)
    timings = json.loads(results_path.read_text())["provenance"]["timings"]
    assert status == 0 and timings["predicted_samples"] == 2
    assert timings["repredicted_samples"] == {"inputs_changed": 1, "unreadable": 1}
    assert "made from inputs that have changed since are predicted again: seq_a.npz" in err
    assert "unreadable are predicted again: seq_b.npz" in err
    status, _ = run_cli(tmp_path, monkeypatch, capsys, DAVIS_RUN, model=FakeVideoModel)
    timings = json.loads(results_path.read_text())["provenance"]["timings"]
    assert timings["predicted_samples"] == 0 and timings["resumed_samples"] == 2


def test_uvo_changed_frame_and_truncated_prediction_are_predicted_again(tmp_path, monkeypatch, capsys):
    write_sample_dataset(tmp_path / "data")
    status, _ = run_cli(tmp_path, monkeypatch, capsys, UVO_RUN, model=FakeVideoModel)
    results_path = tmp_path / "out/uvo/mobilesam.lk.amg4.json"
    assert status == 0 and json.loads(results_path.read_text())["provenance"]["timings"]["predicted_samples"] == 2
    frame = tmp_path / "data/UVOv1.0/uvo_videos_dense_frames/video_b/3.png"
    Image.fromarray(255 - np.asarray(Image.open(frame))).save(frame)
    truncate(tmp_path / "out/uvo/mobilesam.lk.amg4.predictions/video_a.npz", 0.3)
    status, err = run_cli(tmp_path, monkeypatch, capsys, UVO_RUN, model=FakeVideoModel)
    timings = json.loads(results_path.read_text())["provenance"]["timings"]
    assert status == 0 and timings["repredicted_samples"] == {"inputs_changed": 1, "unreadable": 1}
    assert "video_b.npz" in err and "video_a.npz" in err


def test_davis_export_names_a_truncated_stored_prediction(tmp_path, capsys):
    from evals.davis.export_results import main

    store = tmp_path / "store"
    store.mkdir()
    (store / "seq_a.npz").write_bytes(b"PK\x03\x04 truncated")
    assert main([str(store), str(tmp_path / "pngs")]) == 2
    assert "seq_a.npz: not a whole stored prediction" in capsys.readouterr().err
    shutil.rmtree(store)
    store.mkdir()
    assert main([str(store), str(tmp_path / "pngs")]) == 2
    assert "no stored predictions" in capsys.readouterr().err
