"""The interactive demo (app/): its plain functions without a browser, and the server through gradio_client (slow).

Masks are checked against `PromptModel.predict` of EdgeSAM with untrained weights (the cheapest registered encoder on
a CPU) on a 160x120 sample image; the embedding cache and the page's handlers run on a stub model (a disk around the
first prompt, no network), the server on two registered models with untrained weights (slow: a minute on 2 cores).
"""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from app.app import main
from app.drawing import draw_masks
from app.images import MAX_PIXELS, ImageProblem, load_image
from app.panels import UNTRAINED, ModelSlot, describe, load_slot, segment, segment_everything
from app.prompts import CORNER, NEGATIVE, POSITIVE, Prompts, add_click
from app.ui import NO_IMAGE, Page, Session
from models import Capabilities, MaskPrediction, load_prompt_model, model_variant

ROOT = Path(__file__).resolve().parent.parent
SHAPES = ROOT / "datasets/sample/seginw/Synthetic-Shapes/valid/synthetic-shapes_00.jpg"  # 160x120: a disk, a square
DISK, SQUARE, BACKGROUND = (27, 61), (87, 51), (120, 100)  # (x, y) inside each
SERVER_MODELS = ("edgesam", "efficientvit_sam_l0")  # the two cheapest encoders on a CPU


def clicks(*spec: tuple[int, int, str], size=(120, 160)) -> Prompts:
    prompts = Prompts()
    for x, y, kind in spec:
        prompts, _ = add_click(prompts, size, x, y, kind)
    return prompts


@pytest.fixture(scope="module")
def shapes():
    return load_image(SHAPES)


@pytest.fixture(scope="module")
def edgesam():
    return ModelSlot("edgesam", "EdgeSAM", load_prompt_model("edgesam", untrained=True), untrained=True)


def disk(size: tuple[int, int], x: float, y: float, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[: size[0], : size[1]]
    return (xx - x) ** 2 + (yy - y) ** 2 <= radius**2


class StubModel:
    """The prompt interface without a network: its mask is a disk of radius 20 around the first point (or the box's
    first corner), its automatic masks three disks; it counts `set_image` calls."""

    capabilities = Capabilities()
    device = torch.device("cpu")

    def __init__(self):
        self.set_image_calls = 0
        self.encoder_seconds = 0.0
        self.size = None

    def set_image(self, image: np.ndarray) -> None:
        self.set_image_calls += 1
        self.size = image.shape[:2]

    def predict(self, point_coords=None, point_labels=None, boxes=None, multimask_output=True) -> MaskPrediction:
        x, y = point_coords[0, 0] if point_coords is not None else boxes[0, :2]
        count = 3 if multimask_output else 1
        logits = torch.where(torch.from_numpy(disk(self.size, x, y, 20)), 1.0, -1.0).expand(1, count, *self.size)
        return MaskPrediction(logits=logits, iou=torch.tensor([[0.5, 0.9, 0.7][:count]]), low_res=None)

    def generate(self, image: np.ndarray, **params) -> list[dict]:
        self.encoder_seconds += 0.25  # as the encoder's timing hooks count the generator's own embedding
        masks = [disk(image.shape[:2], 80, 60, radius) for radius in (5, 30, 10)]
        return [{"segmentation": m, "area": int(m.sum()), "predicted_iou": m.mean()} for m in masks]


# ---------------------------------------------------------------------------------------------- masks and predict


def test_single_point_shows_the_best_multimask_output(edgesam, shapes):
    result = segment(edgesam, shapes, clicks((*DISK, POSITIVE)))
    expected = edgesam.model.predict(point_coords=np.array([[DISK]]), point_labels=np.array([[1]]),
                                     multimask_output=True)  # fmt: skip
    best = int(expected.iou[0].argmax())
    assert len(result.masks) == 1 and result.masks[0].shape == (120, 160)
    np.testing.assert_array_equal(result.masks[0], (expected.logits[0, best] > 0).numpy())
    assert result.ious == [pytest.approx(float(expected.iou[0, best]))]
    assert "best of its 3 masks" in result.choice


def test_points_with_a_negative_and_a_box_give_the_single_mask_output(edgesam, shapes):
    points = segment(edgesam, shapes, clicks((*DISK, POSITIVE), (*SQUARE, NEGATIVE), (*BACKGROUND, POSITIVE)))
    expected = edgesam.model.predict(point_coords=np.array([[DISK, SQUARE, BACKGROUND]]),
                                     point_labels=np.array([[1, 0, 1]]), multimask_output=False)  # fmt: skip
    np.testing.assert_array_equal(points.masks[0], (expected.logits[0, 0] > 0).numpy())
    assert points.ious == [pytest.approx(float(expected.iou[0, 0]))]
    # corners clicked bottom-right first: the box is still (x0, y0, x1, y1)
    box = segment(edgesam, shapes, clicks((110, 80, CORNER), (70, 30, CORNER)))
    expected = edgesam.model.predict(boxes=np.array([[70, 30, 110, 80]]), multimask_output=False)
    np.testing.assert_array_equal(box.masks[0], (expected.logits[0, 0] > 0).numpy())
    assert box.choice == "its single-mask output"
    assert not box.encoder_computed  # the image's embedding, reused


def test_everything_mode_is_the_models_own_generator_largest_first(shapes):
    slot = ModelSlot("stub", "Stub", StubModel())
    params = {"points_per_side": 4, "pred_iou_thresh": 0.5, "stability_score_thresh": 0.6}
    result = segment_everything(slot, shapes, params)
    expected = [disk((120, 160), 80, 60, radius) for radius in (30, 10, 5)]
    assert len(result.masks) == 3 and all((m == e).all() for m, e in zip(result.masks, expected))
    assert result.ious == [pytest.approx(e.mean()) for e in expected]
    assert result.everything and result.encoder_ms == pytest.approx(250)
    assert result.choice == "automatic masks (points_per_side 4, pred_iou_thresh 0.5, stability_score_thresh 0.6)"


# ------------------------------------------------------------------------------------------ the embedding cache


def test_each_model_embeds_an_image_once():
    counting = [StubModel(), StubModel()]
    page = Page([ModelSlot(f"stub{i}", "Stub", model) for i, model in enumerate(counting)], "cpu")
    first = page.open_image(np.full((120, 160, 3), 90, np.uint8)).session
    view = page.click(first, "point", POSITIVE, *DISK)
    assert [r.encoder_computed for r in view.results] == [True, True]
    view = page.click(view.session, "point", NEGATIVE, *SQUARE)
    view = page.undo(view.session)
    assert [r.encoder_computed for r in view.results] == [False, False]
    assert [c.set_image_calls for c in counting] == [1, 1]
    second = page.open_image(np.full((120, 160, 3), 200, np.uint8)).session
    page.click(second, "point", POSITIVE, *DISK)
    page.click(first, "point", POSITIVE, *DISK)  # the cache holds one image per model: the first is embedded again
    assert [c.set_image_calls for c in counting] == [3, 3]


# ---------------------------------------------------------------------------------------------- image conversion


def test_grey_rgba_palette_and_16_bit_images_become_8_bit_rgb(tmp_path):
    grey = np.arange(120 * 160, dtype=np.uint32).reshape(120, 160) % 256
    loaded = load_image(Image.fromarray(grey.astype(np.uint8), "L"))
    np.testing.assert_array_equal(loaded.rgb, np.repeat(grey[..., None], 3, axis=2))
    assert loaded.notes == ("grey image repeated into R, G and B",)

    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., :3] = (200, 100, 0)
    rgba[..., 3] = [[255, 0], [51, 255]]
    loaded = load_image(Image.fromarray(rgba, "RGBA"))
    np.testing.assert_array_equal(loaded.rgb[0, 0], (200, 100, 0))  # opaque: as it was
    np.testing.assert_array_equal(loaded.rgb[0, 1], (255, 255, 255))  # transparent: white
    np.testing.assert_array_equal(loaded.rgb[1, 0], (244, 224, 204))  # 20% opaque over white
    assert loaded.notes == ("transparent pixels composited over white",)

    palette = Image.fromarray(np.array([[0, 1], [1, 0]], np.uint8), "P")
    palette.putpalette([10, 20, 30, 250, 240, 230])
    loaded = load_image(palette)
    np.testing.assert_array_equal(loaded.rgb[0, 1], (250, 240, 230))
    assert loaded.notes == ("palette image converted to RGB",)

    deep = np.array([[0, 257 * 100], [65535, 257 * 200 + 128]], np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(deep).save(path)  # a 16-bit grey PNG, read back through the upload path
    loaded = load_image(path)
    np.testing.assert_array_equal(loaded.rgb[..., 0], [[0, 100], [255, 200]])
    assert loaded.notes == ("16-bit values scaled to 8 bits", "grey image repeated into R, G and B")


def test_huge_images_are_downscaled_and_giant_ones_refused():
    loaded = load_image(np.zeros((3000, 4100, 3), np.uint8))
    assert loaded.size == (1499, 2048)
    assert loaded.notes == ("downscaled from 4100x3000 to 2048x1499 (longest side at most 2048 px)",)
    with pytest.raises(ImageProblem, match="megapixels"):
        load_image(np.zeros((1, MAX_PIXELS + 1), np.uint8))
    page = Page([], "cpu")
    view = page.open_image(np.zeros((1, MAX_PIXELS + 1), np.uint8))
    assert view.session.image is None and view.status.startswith("This image cannot be used: refused")


def test_the_content_hash_keys_the_cache():
    image = np.random.default_rng(0).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    changed = image.copy()
    changed[5, 5, 1] ^= 1
    assert load_image(image).key == load_image(image.copy()).key != load_image(changed).key


# ----------------------------------------------------------------------------------------------------- prompts


def test_a_click_outside_the_image_is_ignored():
    prompts = clicks((*DISK, POSITIVE))
    for x, y in ((160, 10), (10, 120), (-1, 5), (None, None)):
        after, message = add_click(prompts, (120, 160), x, y, POSITIVE)
        assert after == prompts and "outside the 160x120 image: ignored" in message


def test_an_empty_box_is_refused_and_the_first_corner_kept():
    first = clicks((30, 40, CORNER))
    for x, y in ((30, 90), (80, 40), (30, 40)):
        after, message = add_click(first, (120, 160), x, y, CORNER)
        assert after == first and message.startswith("Box refused") and "no area" in message
    assert first.box is None and first.pending_corner.x == 30 and not first.ready
    box, _ = add_click(first, (120, 160), 80, 90, CORNER)
    assert box.box == (30, 40, 80, 90) and box.pending_corner is None
    assert box.undo() == first and box.undo().undo() == Prompts()


def test_the_page_answers_prompts_before_an_image_and_clears():
    page = Page([ModelSlot("stub", "Stub", StubModel())], "cpu")
    for view in (page.click(Session(), "point", POSITIVE, 5, 5), page.undo(Session()), page.clear(Session()),
                 page.everything(Session(), 4, 0.0, 0.0)):  # fmt: skip
        assert view.status == NO_IMAGE and view.results == [None]
    session = page.open_image(SHAPES).session
    view = page.click(session, "point", POSITIVE, *DISK)
    session, canvas, status, overlay, text = page.render(view)
    assert session.prompts.points[0].x == DISK[0] and status == f"Positive point at {DISK}."
    np.testing.assert_array_equal(overlay, draw_masks(session.image.rgb, view.results[0].masks, session.prompts))
    assert "predicted IoU" in text and "image encoder" in text and "mask decoder" in text
    cleared = page.render(page.clear(session))
    assert cleared[0].prompts == Prompts() and cleared[4].endswith("no prompt yet")
    np.testing.assert_array_equal(cleared[1], session.image.rgb)  # the canvas without prompts


# ------------------------------------------------------------------------------------- weights and the command line


def test_a_missing_checkpoint_is_a_panel_message_and_the_other_models_work(tmp_path, shapes):
    variant = model_variant("repvit")
    missing = load_slot("repvit", checkpoint=tmp_path / "repvit_sam.pt")
    assert missing.model is None
    assert str(tmp_path / "repvit_sam.pt") in missing.problem and variant.url in missing.problem
    stub = ModelSlot("stub", "Stub", StubModel(), untrained=True)
    page = Page([missing, stub], "cpu")
    view = page.click(Session(shapes), "point", POSITIVE, *DISK)
    _, _, _, missing_overlay, stub_overlay, missing_text, stub_text = page.render(view)
    assert variant.url in missing_text and "predicted IoU" not in missing_text
    assert "predicted IoU **0.900**" in stub_text and UNTRAINED in stub_text
    prompts = view.session.prompts
    np.testing.assert_array_equal(missing_overlay, draw_masks(shapes.rgb, [], prompts))
    np.testing.assert_array_equal(stub_overlay, draw_masks(shapes.rgb, [disk((120, 160), *DISK, 20)], prompts))


def test_untrained_weights_are_said_in_every_panel():
    slot = ModelSlot("stub", "Stub", StubModel(), untrained=True)
    assert UNTRAINED in slot.title and UNTRAINED in describe(slot, None, "cpu")


@pytest.mark.parametrize("argv, message", [
    (["--models", "mobilesam,repvt"], "unknown model 'repvt' (did you mean 'repvit'?)"),
    (["--models", "mobilesam", "--checkpoint", "repvit=x.pt"], "'repvit' is not one of --models"),
    (["--models", "mobilesam", "--checkpoint", "mobilesam=/nonexistent.pt"], "/nonexistent.pt not found"),
    (["--models", "mobilesam", "--port", "70000"], "--port 70000: not a port number"),
])  # fmt: skip
def test_bad_options_exit_2_with_a_message(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_busy_port_exits_2_before_any_model_loads(capsys):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert main(["--models", "mobilesam", "--port", str(port)]) == 2
    assert f"--port {port}: cannot serve there" in capsys.readouterr().err


# --------------------------------------------------------------------------------------- the server, as a client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(models: tuple[str, ...], log: Path) -> tuple[subprocess.Popen, str]:
    """`python app/app.py --untrained --models ...` on a free port; returns when it serves the page."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "app/app.py", "--untrained", "--models", ",".join(models),
                               "--port", str(port)], cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT)  # fmt: skip
    deadline = time.monotonic() + 180
    while "page ready" not in log.read_text():
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            pytest.fail(f"the demo did not start:\n{log.read_text()}")
        time.sleep(0.5)
    return server, f"http://127.0.0.1:{port}/"


def read_rgb(path: str) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.mark.slow
def test_the_server_answers_point_box_and_everything_for_two_models(tmp_path, shapes):
    from gradio_client import Client, handle_file

    server, url = start_server(SERVER_MODELS, tmp_path / "server.log")
    try:
        client = Client(url, verbose=False)
        loaded = client.predict(handle_file(str(SHAPES)), api_name="/load_image")
        assert loaded[1] == "Image 160x120. Click on it to prompt the models."
        np.testing.assert_array_equal(read_rgb(loaded[0]), shapes.rgb)

        point = client.predict("point", POSITIVE, *DISK, api_name="/add_prompt")
        client.predict(api_name="/clear")
        client.predict("box", POSITIVE, 70, 30, api_name="/add_prompt")
        box = client.predict("box", POSITIVE, 110, 80, api_name="/add_prompt")
        everything = client.predict(4, 0.0, 0.0, api_name="/everything")
        log = (tmp_path / "server.log").read_text()
    finally:
        server.terminate()
        server.wait(30)
    assert "Traceback" not in log
    assert "edgesam: untrained weights" in log and "efficientvit_sam_l0: untrained weights" in log
    assert "Running on local URL:  http://127.0.0.1:" in log

    # the same untrained (seeded) models here give the masks the server's overlays must show
    slots = [ModelSlot(name, name, load_prompt_model(name, untrained=True)) for name in SERVER_MODELS]
    for name, prompts, answer in (("point", clicks((*DISK, POSITIVE)), point),
                                  ("box", clicks((70, 30, CORNER), (110, 80, CORNER)), box)):  # fmt: skip
        overlays, texts = answer[2:4], answer[4:6]
        assert len(overlays) == len(texts) == len(SERVER_MODELS)
        for slot, overlay, text in zip(slots, overlays, texts):
            mask = segment(slot, shapes, prompts).masks[0]
            overlay = read_rgb(overlay)
            same = (overlay == draw_masks(shapes.rgb, [mask], prompts)).all(axis=2).mean()
            changed = (overlay != shapes.rgb).any(axis=2)
            assert mask.any() and changed[mask].mean() > 0.95 and same > 0.99, (name, slot.name, same)
            assert UNTRAINED in text and "predicted IoU" in text and "mask decoder" in text
        assert (read_rgb(overlays[0]) != read_rgb(overlays[1])).any()  # two models, two masks
    for overlay, text in zip(everything[2:4], everything[4:6]):
        assert (read_rgb(overlay) != shapes.rgb).any() and "automatic masks (points_per_side 4" in text
