"""The page: Gradio components and their events, over the plain functions of images.py, prompts.py, panels.py and
drawing.py.

Every event handler returns the whole view: the session's state, the canvas (the image with its prompts, where one
clicks), a status line, then each model's overlay and text. The handlers are plain functions of plain values
(`Session`), so tests call them without a server. Clicks on the canvas come from the image's select event (left
clicks only, hence the positive / negative choice); "Prompt by coordinates" adds the same click by numbers, which is
also the API endpoint (`/add_prompt`) clients use, since a select event cannot be sent from a client.
"""
# No `from __future__ import annotations`: Gradio reads the click handler's `gr.SelectData` annotation as an object.
import traceback
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from evals.protocols.amg import AMG_DEFAULTS
from models.errors import SamzeroError

from .drawing import draw_masks, draw_prompts
from .images import MAX_SIDE, LoadedImage, load_image
from .panels import ModelSlot, PanelResult, describe, segment, segment_everything
from .prompts import CORNER, NEGATIVE, POSITIVE, Prompts, add_click

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = [ROOT / "datasets/sample" / path for path in (
    "coco/val2017/000000404484.jpg", "coco/val2017/000000343937.jpg", "DAVIS/JPEGImages/480p/blackswan/00000.jpg",
    "BSDS500/images/test/8068.jpg", "coco/val2017/000000555009.jpg",
    "seginw/Synthetic-Shapes/valid/synthetic-shapes_00.jpg",
)]  # fmt: skip
POINT, BOX, EVERYTHING = "point", "box", "everything"
# Everything mode's default grid: SAM's 32 x 32 on a GPU; 8 x 8 on a CPU, where the decoder takes ~0.2 s a grid
# point (BENCHMARKS.md, "Automatic mask generator"): ~15 s a model instead of minutes.
CPU_POINTS_PER_SIDE = 8
NO_IMAGE = "Upload an image or pick a sample first."


@dataclass(frozen=True)
class Session:
    """What one browser session holds: its image and the prompts on it."""

    image: LoadedImage | None = None
    prompts: Prompts = Prompts()


@dataclass
class View:
    """Everything an event shows: the session, the canvas, the status line and one result per model."""

    session: Session
    status: str
    results: list[PanelResult | None]  # None: nothing to show yet (no prompt)
    everything: bool = False  # results are automatic masks (drawn without the prompts)


class Page:
    """The handlers of one page over its models (`slots`, shared by every session) on `device`."""

    def __init__(self, slots: list[ModelSlot], device: str):
        self.slots = slots
        self.device = device

    # ------------------------------------------------------------------------------------------------ handlers

    def open_image(self, source: str | np.ndarray | None) -> View:
        """A new image (an uploaded file, a sample, an array): converted, described; the prompts are cleared."""
        if source is None:
            return View(Session(), NO_IMAGE, self._nothing())
        try:
            image = load_image(source)
        except SamzeroError as err:
            return View(Session(), f"This image cannot be used: {err}", self._nothing())
        height, width = image.size
        status = f"Image {width}x{height}" + (f" ({'; '.join(image.notes)})" if image.notes else "") + "."
        return View(Session(image), f"{status} Click on it to prompt the models.", self._nothing())

    def click(self, session: Session, mode: str, polarity: str, x: int | None, y: int | None) -> View:
        """A click at pixel (x, y) of the canvas (None: outside the image) in `mode`."""
        if session.image is None:
            return View(session, NO_IMAGE, self._nothing())
        if mode == EVERYTHING:
            return View(session, "Everything mode takes no clicks: press 'Segment everything', or choose point or "
                                 "box mode to prompt.", self._nothing())  # fmt: skip
        kind = CORNER if mode == BOX else (NEGATIVE if polarity == NEGATIVE else POSITIVE)
        prompts, status = add_click(session.prompts, session.image.size, x, y, kind)
        return self._predict(replace(session, prompts=prompts), status)

    def undo(self, session: Session) -> View:
        if session.image is None:
            return View(session, NO_IMAGE, self._nothing())
        if not session.prompts.clicks:
            return View(session, "Nothing to undo.", self._nothing())
        return self._predict(replace(session, prompts=session.prompts.undo()), "Last click undone.")

    def clear(self, session: Session) -> View:
        if session.image is None:
            return View(session, NO_IMAGE, self._nothing())
        return View(replace(session, prompts=Prompts()), "Prompts cleared.", self._nothing())

    def show_prompts(self, session: Session, mode: str) -> View:
        """The mode changed: the prompts' masks again (cached embeddings: decoder time only), or what to press."""
        if session.image is None:
            return View(session, NO_IMAGE, self._nothing())
        if mode == EVERYTHING:
            return View(session, "Press 'Segment everything' (slow on a CPU: see the note above).", self._nothing())
        return self._predict(session, f"{mode.capitalize()} mode.")

    def everything(self, session: Session, points_per_side: int, pred_iou_thresh: float,
                   stability_score_thresh: float) -> View:  # fmt: skip
        """Every model's automatic masks with the generator's grid of `points_per_side` squared points."""
        if session.image is None:
            return View(session, NO_IMAGE, self._nothing())
        params = {"points_per_side": int(points_per_side), "pred_iou_thresh": float(pred_iou_thresh),
                  "stability_score_thresh": float(stability_score_thresh)}  # fmt: skip
        results = [self._run(segment_everything, slot, session.image, params) for slot in self.slots]
        return View(session, "Everything mode: each model's automatic masks, a colour each.", results, everything=True)

    # ------------------------------------------------------------------------------------------------- helpers

    def _nothing(self) -> list[None]:
        return [None] * len(self.slots)

    def _predict(self, session: Session, status: str) -> View:
        prompts = session.prompts
        if not prompts.ready:
            return View(session, status, self._nothing())
        results = [self._run(segment, slot, session.image, prompts) for slot in self.slots]
        return View(session, status, results)

    @staticmethod
    def _run(function, slot: ModelSlot, *args) -> PanelResult:
        """One model's result; a failure becomes that panel's message, and the page and other models go on."""
        try:
            return function(slot, *args)
        except SamzeroError as err:
            return PanelResult(problem=str(err))
        except Exception as err:  # a bug: its traceback on the console, one line in the panel, the server serves on
            traceback.print_exc()
            return PanelResult(problem=f"failed: {type(err).__name__}: {err} (traceback on the server's console)")

    # ----------------------------------------------------------------------------------------------- rendering

    def render(self, view: View) -> tuple:
        """The components' values: session, canvas, status, then each model's overlay, then each model's text."""
        image = view.session.image
        prompts = view.session.prompts
        canvas = None if image is None else draw_prompts(image.rgb, prompts)
        overlays, texts = [], []
        for slot, result in zip(self.slots, view.results):
            overlays.append(self._overlay(image, prompts, result, view.everything))
            texts.append(describe(slot, result, self.device))
        return (view.session, canvas, view.status, *overlays, *texts)

    @staticmethod
    def _overlay(image: LoadedImage | None, prompts: Prompts, result: PanelResult | None,
                 everything: bool) -> np.ndarray | None:  # fmt: skip
        if image is None:
            return None
        if result is None or result.problem is not None:
            return draw_prompts(image.rgb, prompts)
        return draw_masks(image.rgb, result.masks, None if everything else prompts)


INTRO = f"""# samzero: prompt several models at once

Upload an image or pick a sample, then click on the image to prompt. **Point** mode: each click adds a point,
positive or negative as chosen. **Box** mode: two clicks at opposite corners make a box (the first is drawn as a
cross until the second). **Everything** mode: each model's own automatic mask generator over a grid of points,
**slow on a CPU**: its mask decoder runs once per grid point, about 0.2 s a point a model on two cores (8 x 8 points:
~15 s a model; SAM's 32 x 32: minutes). It embeds the image itself, again. **Undo** drops the last click, **Clear**
all of them.

Every model gets the same prompts; each panel shows its mask, its predicted IoU and what its image encoder and mask
decoder took on this machine. A model embeds an image once, on the first click (its encoder time); later clicks on
the same image reuse the embedding and take the decoder's time only. For a single point a panel shows the mask of
highest predicted IoU among the model's multimask outputs (SAM's advice for an ambiguous prompt); for several
points or a box, the model's single mask. Images are converted to 8-bit RGB of at most {MAX_SIDE} px a side; the
line under the image says what was converted.
"""


def build_page(slots: list[ModelSlot], device: str):
    """The Gradio Blocks of the page (not launched)."""
    import gradio as gr

    page = Page(slots, device)
    # Every overlay is a file in Gradio's cache: those older than an hour are deleted, hourly.
    with gr.Blocks(title="samzero demo", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.Markdown(INTRO)
        session = gr.State(Session())
        with gr.Row():
            with gr.Column(scale=1):
                upload = gr.Image(label="Image", type="filepath", image_mode=None, sources=["upload", "clipboard"],
                                  height=240)  # fmt: skip
                gr.Examples([[str(path)] for path in SAMPLES if path.is_file()], inputs=[upload], label="Samples")
                mode = gr.Radio([POINT, BOX, EVERYTHING], value=POINT, label="Mode")
                polarity = gr.Radio([POSITIVE, NEGATIVE], value=POSITIVE, label="Point (point mode)")
                with gr.Row():
                    undo = gr.Button("Undo")
                    clear = gr.Button("Clear")
                with gr.Accordion("Everything mode", open=False):
                    points = CPU_POINTS_PER_SIDE if device == "cpu" else AMG_DEFAULTS["points_per_side"]
                    points_per_side = gr.Slider(2, 64, value=points, step=1, label="points per side")
                    pred_iou_thresh = gr.Slider(0, 1, value=AMG_DEFAULTS["pred_iou_thresh"],
                                                label="predicted IoU threshold")  # fmt: skip
                    stability = gr.Slider(0, 1, value=AMG_DEFAULTS["stability_score_thresh"],
                                          label="stability score threshold")  # fmt: skip
                    everything = gr.Button("Segment everything")
                with gr.Accordion("Prompt by coordinates", open=False):
                    with gr.Row():
                        x = gr.Number(label="x", precision=0)
                        y = gr.Number(label="y", precision=0)
                    add = gr.Button("Add at (x, y)")
            with gr.Column(scale=2):
                canvas = gr.Image(label="Click to prompt", interactive=False, format="png", elem_id="canvas")
                status = gr.Markdown(NO_IMAGE, elem_id="status")
        overlays, texts = [], []
        with gr.Row():
            for i, slot in enumerate(slots):
                with gr.Column():
                    overlays.append(gr.Image(label=slot.title, interactive=False, format="png", elem_id=f"panel-{i}"))
                    texts.append(gr.Markdown(describe(slot, None, device), elem_id=f"panel-text-{i}"))
        outputs = [session, canvas, status, *overlays, *texts]

        def shown(handler):
            """`handler`'s View rendered as the outputs' values."""
            return lambda *args: page.render(handler(*args))

        def click_canvas(state: Session, mode_value: str, polarity_value: str, event: gr.SelectData):
            at = event.index if event.index is not None else (None, None)
            return page.render(page.click(state, mode_value, polarity_value, *at))

        upload.change(shown(page.open_image), [upload], outputs, api_name="load_image")
        canvas.select(click_canvas, [session, mode, polarity], outputs, api_visibility="private")
        add.click(shown(page.click), [session, mode, polarity, x, y], outputs, api_name="add_prompt")
        undo.click(shown(page.undo), [session], outputs, api_name="undo")
        clear.click(shown(page.clear), [session], outputs, api_name="clear")
        mode.input(shown(page.show_prompts), [session, mode], outputs, api_visibility="private")
        everything.click(lambda: EVERYTHING, None, mode, api_visibility="private").then(
            shown(page.everything), [session, points_per_side, pred_iou_thresh, stability], outputs,
            api_name="everything")  # fmt: skip
    return demo


def launch(demo, port: int, share: bool) -> None:
    """Serve `demo` on 127.0.0.1:`port` (and a public link with `share`) without blocking. The theme uses the system's
    fonts: the page then loads nothing from outside the server."""
    import gradio as gr

    theme = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                              font_mono=["ui-monospace", "monospace"])  # fmt: skip
    demo.queue().launch(server_name="127.0.0.1", server_port=port, share=share, ssr_mode=False, theme=theme,
                        prevent_thread_lock=True)  # fmt: skip
