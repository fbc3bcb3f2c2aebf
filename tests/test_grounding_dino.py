"""Grounding-DINO boxes (evals/detectors): sam-hq's caption / token-span / top-k rules on crafted logits, and a tiny
randomly initialised `transformers` Grounding-DINO loaded from a local folder, end to end to the SegInW box files.

Nothing is downloaded: the model (tiny Swin + tiny BERT) and its tokenizer (a BERT WordPiece vocabulary written here,
with [CLS] / [SEP] / "." / "?" at bert-base-uncased's ids, which the model hard-codes) are built in a temporary folder
and read back with ``local_files_only=True`` under HF_HUB_OFFLINE=1.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from evals.detectors.coco_results import detect_annotation_file
from evals.errors import DataError
from evals.protocols.box_prompts.prompts import read_detection_prompts
from evals.detectors.grounding_dino import (
    DetectorWeightsError,
    GroundingDinoDetector,
    preprocess_image,
    read_image,
    resized_size,
)
from evals.detectors.phrase_grounding import (
    NUM_SELECT,
    POSITIVE_MAP_EPS,
    caption_token_spans,
    detection_caption,
    positive_map_from_spans,
    select_top_detections,
)
from evals.seginw.datasets import annotation_file, images_dir
from evals.seginw.detect import detect_seginw
from evals.seginw.sample_data import SAMPLE_DATASETS
from evals.seginw.sources import PROVENANCE_FILE

transformers = pytest.importorskip("transformers")  # a test dependency (pyproject: test extra)

SAMPLE_SEGINW = Path(__file__).resolve().parent.parent / "datasets" / "sample" / "seginw"
WORDS = ("circle", "square", "triangle", "red", "blue", "blob", "airplane", "body", "wing", "plastic", "bag", "-", "_")
# bert-base-uncased's ids, which transformers' GroundingDinoModel hard-codes as phrase delimiters (SPECIAL_TOKENS).
BERT_IDS = {"[PAD]": 0, "[UNK]": 100, "[CLS]": 101, "[SEP]": 102, "[MASK]": 103, ".": 1012, "?": 1029}
TRASH_NAMES = ["Aluminium foil", "Cigarette", "Clear plastic bottle", "Plastic bag - wrapper", "Pop tab"]


@pytest.fixture(autouse=True, scope="module")
def offline():
    """No hub access: anything that would download fails instead."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("TRANSFORMERS_OFFLINE", "1")
        yield


@pytest.fixture(autouse=True)
def one_thread():
    """The tiny model's many small kernels run ~10x slower on two threads of a shared 2-core machine than on one."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_vocabulary() -> list[str]:
    """A WordPiece vocabulary: bert-base-uncased's special ids, a few words, and the letters (so any name tokenizes)."""
    tokens = [f"[unused{i}]" for i in range(1040)]
    for token, index in BERT_IDS.items():
        tokens[index] = token
    return tokens + list(WORDS) + [chr(c) for c in range(97, 123)] + [f"##{chr(c)}" for c in range(97, 123)]


def tiny_tokenizer(directory: Path):
    """A BERT tokenizer from a vocab.txt written to `directory` (no hub files)."""
    from transformers import AutoTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.txt").write_text("\n".join(tiny_vocabulary()) + "\n")
    config = {"tokenizer_class": "BertTokenizer", "do_lower_case": True}
    (directory / "tokenizer_config.json").write_text(json.dumps(config))
    return AutoTokenizer.from_pretrained(str(directory), local_files_only=True)


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return tiny_tokenizer(tmp_path_factory.mktemp("tokenizer"))


def save_tiny_grounding_dino(directory: Path, num_queries: int = 60) -> Path:
    """A randomly initialised Grounding-DINO (tiny Swin backbone, tiny BERT) and its processor, saved as a
    transformers folder."""
    from transformers import (
        BertConfig,
        GroundingDinoConfig,
        GroundingDinoForObjectDetection,
        GroundingDinoImageProcessor,
        GroundingDinoProcessor,
        SwinConfig,
    )

    torch.manual_seed(0)
    tokenizer = tiny_tokenizer(Path(directory) / "tokenizer")
    backbone = SwinConfig(embed_dim=8, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1], window_size=4, image_size=64,
                          out_features=["stage2", "stage3", "stage4"])  # fmt: skip
    text = BertConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                      intermediate_size=32, max_position_embeddings=64)  # fmt: skip
    config = GroundingDinoConfig(
        backbone_config=backbone, text_config=text, d_model=32, encoder_layers=1, decoder_layers=2, encoder_ffn_dim=32,
        decoder_ffn_dim=32, encoder_attention_heads=2, decoder_attention_heads=2, num_queries=num_queries,
        encoder_n_points=1, decoder_n_points=1,
    )  # fmt: skip
    GroundingDinoForObjectDetection(config).eval().save_pretrained(directory)
    processor = GroundingDinoProcessor(image_processor=GroundingDinoImageProcessor(), tokenizer=tokenizer)
    processor.save_pretrained(directory)
    return Path(directory)


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory) -> Path:
    return save_tiny_grounding_dino(tmp_path_factory.mktemp("grounding-dino-tiny"))


@pytest.fixture(scope="module")
def detector(tiny_weights) -> GroundingDinoDetector:
    return GroundingDinoDetector.load(tiny_weights, "cpu")


def logit(p: float) -> float:
    return math.log(p / (1 - p))


# --- captions and the token-span -> category map -----------------------------------------------------------------
def test_captions_follow_sam_hq():
    assert detection_caption(["Airplane", "Body", "Wing"]) == "Airplane . Body . Wing ."  # sam-hq's log prints these
    caption, spans = caption_token_spans(["Airplane", "Body", "Wing"])
    assert caption == "Airplane . Body . Wing ." and spans == [[(0, 8)], [(11, 15)], [(18, 22)]]
    caption, spans = caption_token_spans(TRASH_NAMES)  # multi-word names: one span per word
    assert caption == detection_caption(TRASH_NAMES)
    assert [caption[b:e] for b, e in spans[3]] == ["Plastic", "bag", "-", "wrapper"]
    assert caption_token_spans(["a  b"])[0] == "a b ."  # split on single spaces, empty words dropped
    assert caption_token_spans(["car/truck"])[0] == "car/truck ."  # kept whole (sam-hq: random part, else KeyError)
    assert caption_token_spans(["bag", "bag"])[1] == [[(6, 9)], [(6, 9)]]  # duplicates: the last one's span
    with pytest.raises(ValueError, match="no word"):
        caption_token_spans(["ok", "  "])


def test_positive_map_covers_each_category_tokens_normalised(tokenizer):
    caption, spans = caption_token_spans(["red blob", "square", "Salmon_fillet"])
    encoding = tokenizer(caption)
    tokens = tokenizer.convert_ids_to_tokens(encoding["input_ids"])
    positive_map = positive_map_from_spans(encoding, spans)
    assert positive_map.shape == (3, 256)
    rows = [torch.nonzero(row).flatten().tolist() for row in positive_map]
    assert [tokens[i] for i in rows[0]] == ["red", "blob"] and [tokens[i] for i in rows[1]] == ["square"]
    assert tokens[rows[2][0]] == "s" and tokens[rows[2][-1]] == "##t"  # s ##a ##l ... _ f ##i ... ##t: one span
    assert "_" in [tokens[i] for i in rows[2]]
    assert positive_map[0, rows[0][0]] == torch.tensor(1.0) / (torch.tensor(2.0) + POSITIVE_MAP_EPS)  # float32, exact
    assert torch.allclose(positive_map.sum(1), torch.tensor([len(r) / (len(r) + POSITIVE_MAP_EPS) for r in rows]))


def test_scores_are_the_mean_over_the_category_tokens_and_top_k_runs_over_queries_x_categories(tokenizer):
    caption, spans = caption_token_spans(["red blob", "square"])
    positive_map = positive_map_from_spans(tokenizer(caption), spans)  # tokens: [CLS] red blob . square . [SEP]
    logits = torch.full((1, 4, 256), float("-inf"))
    logits[0, :, :7] = -20.0
    logits[0, 0, 1], logits[0, 0, 2], logits[0, 0, 4] = logit(0.9), logit(0.5), logit(0.2)
    logits[0, 1, 4] = logit(0.95)
    logits[0, 2, 1], logits[0, 2, 2] = logit(0.99), logit(0.01)  # max over tokens would rank this first
    boxes = torch.tensor([[[0.5, 0.5, 0.2, 0.4], [0.25, 0.5, 0.5, 0.5], [0.1, 0.1, 0.1, 0.1], [0.9, 0.9, 0.1, 0.1]]])
    selected = select_top_detections(logits, boxes, positive_map, image_size=(100, 200), num_select=4)
    scale = 2 / (2 + POSITIVE_MAP_EPS)
    assert selected.queries.tolist() == [1, 0, 2, 0] and selected.labels.tolist() == [1, 0, 0, 1]
    assert torch.allclose(selected.scores, torch.tensor([0.95 / (1 + POSITIVE_MAP_EPS), 0.7 * scale, 0.5 * scale,
                                                         0.2 / (1 + POSITIVE_MAP_EPS)]))  # fmt: skip
    # query 1: cxcywh (0.25, 0.5, 0.5, 0.5) of a 200 x 100 image -> xyxy (0, 25, 100, 75)
    assert selected.boxes_xyxy[0].tolist() == [0.0, 25.0, 100.0, 75.0]
    assert selected.boxes_xyxy[1].tolist() == pytest.approx([80.0, 30.0, 120.0, 70.0])
    assert len(select_top_detections(logits, boxes, positive_map, (100, 200)).scores) == 8  # < 100 entries: all
    many = torch.zeros((1, 900, 256))
    assert len(select_top_detections(many, torch.rand(1, 900, 4), positive_map, (100, 200)).scores) == NUM_SELECT


def test_image_resize_follows_groundingdino_transforms():
    assert resized_size(160, 120) == (800, 1066)  # (height, width): short side to 800
    assert resized_size(120, 160) == (1066, 800)
    assert resized_size(2000, 500) == (333, 1332)  # long side capped: size = round(1333 * 500 / 2000)
    assert resized_size(1066, 800) == (800, 1066)  # already there: unchanged
    image = read_image(images_dir(SAMPLE_SEGINW, "Synthetic-Shapes") / "synthetic-shapes_00.jpg")
    pixels = preprocess_image(image)
    assert pixels.shape == (1, 3, 800, 1066) and pixels.dtype == torch.float32


# --- the tiny model from a local folder ---------------------------------------------------------------------------
def test_missing_weights_folder_says_what_to_download(tmp_path):
    with pytest.raises(DetectorWeightsError, match="IDEA-Research/grounding-dino-base") as info:
        GroundingDinoDetector.load(tmp_path / "nothing", "cpu")
    assert "groundingdino_swinb_cogcoor.pth" in str(info.value) and "convert_grounding_dino_to_hf.py" in str(info.value)


def test_a_tokenizer_of_another_vocabulary_is_refused(detector, tmp_path):
    from transformers import AutoTokenizer

    (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n.\n?\n")
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "BertTokenizer"}))
    other = AutoTokenizer.from_pretrained(str(tmp_path), local_files_only=True)
    with pytest.raises(DataError, match="does not belong to the model"):
        GroundingDinoDetector(detector.model, other, "cpu", {})


def test_tiny_detector_gives_top_100_boxes_per_image(detector):
    assert detector.provenance["backbone"].startswith("other") and len(detector.provenance["weights_sha256"]) == 64
    text = detector.prepare_text(["red blob", "blue blob"])
    assert text.caption == "red blob . blue blob ." and text.positive_map.shape == (2, 256)
    image = read_image(images_dir(SAMPLE_SEGINW, "Synthetic-Blobs") / "synthetic-blobs_00.jpg")
    found = detector.detect(image, text)
    assert len(found.scores) == NUM_SELECT  # 60 queries x 2 categories, top 100
    assert torch.all(found.scores[:-1] >= found.scores[1:]) and set(found.labels.tolist()) <= {0, 1}
    again = detector.detect(image, text)
    assert torch.equal(found.boxes_xyxy, again.boxes_xyxy) and torch.equal(found.scores, again.scores)


def test_detect_seginw_writes_valid_box_files_and_resumes(detector, tmp_path):
    out = tmp_path / "boxes"
    written = detect_seginw(SAMPLE_SEGINW.parent, None, out, tuple(SAMPLE_DATASETS), detector=detector)
    assert [p.name for p in written] == [f"{name}.json" for name in SAMPLE_DATASETS]
    provenance = json.loads((out / PROVENANCE_FILE).read_text())["datasets"]
    for name, path in zip(SAMPLE_DATASETS, written):
        content = json.loads(annotation_file(SAMPLE_SEGINW, name).read_text())
        entries = json.loads(path.read_text())
        category_ids = {c["id"] for c in content["categories"]}
        image_ids = [image["id"] for image in content["images"]]
        assert len(entries) == NUM_SELECT * len(image_ids)
        assert all(e["category_id"] in category_ids and e["image_id"] in image_ids and 0 <= e["score"] <= 1
                   and len(e["bbox"]) == 4 for e in entries)  # fmt: skip
        prompts = read_detection_prompts(path)  # the reader of --seginw-boxes takes it
        assert sorted(prompts) == image_ids and all(len(p) == NUM_SELECT for p in prompts.values())
        entry = provenance[name]
        assert entry["num_detections"] == len(entries) and entry["protocol"]["num_select"] == NUM_SELECT
        assert entry["detector"]["weights_sha256"] == detector.provenance["weights_sha256"]
    # the box SAM is prompted with (x + w) is the detector's float32 corner exactly
    content = json.loads(annotation_file(SAMPLE_SEGINW, "Synthetic-Shapes").read_text())
    first = content["images"][0]
    image = read_image(images_dir(SAMPLE_SEGINW, "Synthetic-Shapes") / first["file_name"])
    direct = detector.detect(image, detector.prepare_text([c["name"] for c in content["categories"]]))
    prompts = read_detection_prompts(out / "Synthetic-Shapes.json")[first["id"]]
    assert torch.equal(torch.tensor([p.xyxy for p in prompts], dtype=torch.float64).float(), direct.boxes_xyxy)
    assert [p.score for p in prompts] == direct.scores.tolist()
    # a second run keeps up-to-date files, and redoes a file that changed since
    stamps = [p.stat().st_mtime_ns for p in written]
    detect_seginw(SAMPLE_SEGINW.parent, None, out, tuple(SAMPLE_DATASETS), detector=detector)
    assert [p.stat().st_mtime_ns for p in written] == stamps
    original = written[0].read_bytes()
    written[0].write_text("[]")
    detect_seginw(SAMPLE_SEGINW.parent, None, out, tuple(SAMPLE_DATASETS), detector=detector)
    assert written[0].read_bytes() == original and written[1].stat().st_mtime_ns == stamps[1]


def test_detections_map_labels_to_the_files_category_ids(detector, tmp_path):
    content = json.loads(annotation_file(SAMPLE_SEGINW, "Synthetic-Blobs").read_text())
    for category in content["categories"]:
        category["id"] += 7  # a file numbered otherwise than 0, 1, ...
    shifted = tmp_path / "annotations.json"
    shifted.write_text(json.dumps(content))
    entries = detect_annotation_file(detector, shifted, images_dir(SAMPLE_SEGINW, "Synthetic-Blobs"), num_select=5)
    assert len(entries) == 5 * len(content["images"]) and {e["category_id"] for e in entries} <= {7, 8}


def test_detect_hook_takes_the_command_line_options(tiny_weights, tmp_path, capsys):
    """`run_eval.py --detect seginw` calls SegInWTask.detect(args); what is missing is named, rc 2."""
    from evals import cli
    from evals.seginw.task import SegInWTask

    argv = ["--data-root", str(SAMPLE_SEGINW.parent), "--detector-weights", str(tiny_weights), "--out",
            str(tmp_path / "boxes"), "--seginw-datasets", "Synthetic-Blobs"]  # fmt: skip
    assert [p.name for p in SegInWTask.detect(cli.build_parser().parse_args(argv))] == ["Synthetic-Blobs.json"]
    assert cli.main(["--detect", "seginw", *argv[:3], str(tmp_path / "none"), *argv[4:]]) == 2
    assert "IDEA-Research/grounding-dino-base" in capsys.readouterr().err
    assert cli.main(["--detect", "seginw", *argv[:6], "--seginw-datasets", "Cows"]) == 2  # not in the sample: named
    assert "Cows" in capsys.readouterr().err
