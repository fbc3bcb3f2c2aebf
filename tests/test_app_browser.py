"""The demo's page in a real browser: Debian's chromium driven by Playwright (no browser download), `make test-browser`.

A sample is picked, one point is clicked on the canvas, and each model's panel must change around the click, beyond
the drawn point, against the same panel before the click (the image without a prompt). The full-page screenshot is
left in pytest's tmp_path to look at.
"""
from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.images import load_image
from tests.test_app import ROOT, SERVER_MODELS, start_server

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip
SAMPLE = ROOT / "datasets/sample/BSDS500/images/test/8068.jpg"  # a swan, one of the page's samples
SIZE = (481, 321)
CLICK = (250, 150)  # on the swan's neck
MARKER_RADIUS = 12  # the drawn point (dot and white ring) fits in this radius at this image size
WINDOW = 30  # half-width of the window around the click that is compared


def fetch_image(page, selector: str) -> np.ndarray:
    """The image an <img> shows, at its own pixels (not as scaled on screen)."""
    source = page.locator(selector).get_attribute("src")
    return np.asarray(Image.open(io.BytesIO(page.request.get(source).body())).convert("RGB"))


def click_pixel(page, selector: str, x: int, y: int) -> None:
    """Click pixel (x, y) of the image in `selector`, placed as Gradio's frontend places it (scaled down to fit,
    never up, centred). The browser reports whole CSS pixels and the frontend rounds the position in the image, so the
    pixel the page receives may be a neighbour of (x, y): the page's status line says which."""
    box = page.locator(selector).bounding_box()
    width, height = page.eval_on_selector(selector, "image => [image.naturalWidth, image.naturalHeight]")
    scale = min(box["width"] / width, box["height"] / height, 1)
    left = box["x"] + (box["width"] - width * scale) / 2
    top = box["y"] + (box["height"] - height * scale) / 2
    page.mouse.click(round(left + x * scale), round(top + y * scale))


def test_a_click_on_the_page_segments_in_every_panel(tmp_path):
    if not CHROMIUM.is_file():
        pytest.skip(f"no {CHROMIUM}: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    server, url = start_server(SERVER_MODELS, tmp_path / "server.log")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch_persistent_context(
                tmp_path / "profile", executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True,
                viewport={"width": 1400, "height": 1100})  # fmt: skip
            page = browser.new_page()
            page.set_default_timeout(300_000)  # a model's first embedding on a busy CPU
            page.goto(url)
            page.locator(f'button.gallery-item:has(img[src$="{SAMPLE.name}"])').click()
            loaded = f"Image {SIZE[0]}x{SIZE[1]}."
            page.wait_for_function(f"document.querySelector('#status').innerText.startsWith({loaded!r})")
            panels = [f"#panel-{i} img" for i in range(len(SERVER_MODELS))]
            for panel in panels:
                page.wait_for_selector(panel)
            before = [fetch_image(page, panel) for panel in panels]
            sources = [page.locator(panel).get_attribute("src") for panel in panels]

            click_pixel(page, "#canvas img", *CLICK)
            for i, source in enumerate(sources):
                page.wait_for_function(
                    f"document.querySelector('#panel-text-{i}').innerText.includes('predicted IoU') && "
                    f"document.querySelector('#panel-{i} img').src != {source!r}")  # fmt: skip
            status = page.inner_text("#status")
            after = [fetch_image(page, panel) for panel in panels]
            texts = [page.inner_text(f"#panel-text-{i}") for i in range(len(panels))]
            page.screenshot(path=tmp_path / "demo.png", full_page=True)
            browser.close()
    finally:
        server.terminate()
        server.wait(30)
    print(f"screenshot: {tmp_path / 'demo.png'}")

    clicked = re.fullmatch(r"Positive point at \((\d+), (\d+)\)\.", status)
    assert clicked, status
    x, y = int(clicked[1]), int(clicked[2])
    assert abs(x - CLICK[0]) <= 1 and abs(y - CLICK[1]) <= 1
    image = load_image(SAMPLE).rgb
    yy, xx = np.mgrid[: SIZE[1], : SIZE[0]]
    distance = np.hypot(xx - x, yy - y)
    around = (distance > MARKER_RADIUS) & (abs(xx - x) <= WINDOW) & (abs(yy - y) <= WINDOW)
    for name, old, new, text in zip(SERVER_MODELS, before, after, texts):
        np.testing.assert_array_equal(old, image)  # before any prompt, a panel shows the image itself
        changed = (old != new).any(axis=2)
        print(f"{name}: {changed[around].mean():.1%} of the pixels around the click changed")
        assert changed[around].mean() > 0.2, name  # the mask's tint, not only the drawn point
        assert "untrained weights" in text
