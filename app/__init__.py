"""The interactive demo (`python app/app.py`): prompt several models with the same clicks and compare their masks.

The logic is plain functions, testable without a browser: images.py (any upload -> 8-bit RGB, said in words),
prompts.py (clicks, boxes, undo), panels.py (each model: loading, the cached embedding, timed predictions),
drawing.py (overlays); ui.py lays them out in Gradio and app.py is the command line.
"""
