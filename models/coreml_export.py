"""Core ML export of a SAM-family model (image encoder + prompt decoder), as RepViT-SAM's release converts them.

Reference: THU-MIG/RepViT @ 298f420 (2024-06-14), `sam/scripts/export_coreml_encoder.py`,
`sam/scripts/export_coreml_decoder.py`, `sam/repvit_sam/utils/coreml.py` (`SamCoreMLModel`) and
`sam/notebooks/coreml_example.ipynb`, which made the paper's Core ML latency table (iPhone 12, M1 Pro). Matched:
- image encoder: the network's `image_encoder` alone, one float32 input 1x3x1024x1024 that is already normalised
  with SAM's pixel mean / std and padded (their notebook's `preprocess` does both before `predict`), one output, the
  1x256x64x64 embedding. Their names are whatever tracing produced (`x_1` in, an op name out); ours are our ONNX
  export's, `image` -> `embedding`.
- decoder: their `SamCoreMLModel`, i.e. segment_anything's `SamOnnxModel` with the original image size fixed at
  1024x1024 (no `orig_im_size` input) and the single best mask returned (their `--return-single-mask` is a
  store_true flag whose default is True, so it is always on). Inputs `image_embeddings` 1x256x64x64, `point_coords`
  1xNx2, `point_labels` 1xN with N a RangeDim 0..5, default 1 (the notebook passes one point, no padding point),
  `mask_input` 1x1x256x256, `has_mask_input` 1. Outputs `masks` 1x1x1024x1024, `iou_predictions` 1x1,
  `low_res_masks` 1x1x256x256: the names their script lists in `output_names` but never passes to `ct.convert`.
- precision: `compute_precision` FLOAT16 by default (their `--precision fp16`), float32 inputs and outputs; an ML
  program (`.mlpackage`) at coremltools' default deployment target, default compute units (ALL).
Not matched, on purpose: they trace with `torch.jit`; we convert a `torch.export` program (ATEN dialect), which
coremltools 9 reads directly. The converted programs run only on macOS (coremltools' runtime is macOS-only):
elsewhere their layout and precision are checked from the saved spec, and the numeric check is recorded as skipped.
"""
from __future__ import annotations

import collections
import contextlib
import copy
import io
import json
import logging
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from segment_anything.modeling import Sam
from segment_anything.utils.onnx import SamOnnxModel
from torch.nn import functional as F

from .errors import UnsupportedSetting
from .numerics import relative_error
from .prompt_model import PromptModel

REFERENCE = "THU-MIG/RepViT @ 298f420, sam/scripts/export_coreml_{encoder,decoder}.py"
DECODER_INPUTS = ("image_embeddings", "point_coords", "point_labels", "mask_input", "has_mask_input")
DECODER_OUTPUTS = ("masks", "iou_predictions", "low_res_masks")
MAX_POINTS = 5  # their RangeDim(lower_bound=0, upper_bound=5, default=1) on the points axis
PROGRESS_BARS = ("Converting PyTorch Frontend", "Running MIL")  # coremltools' tqdm lines during ct.convert


@contextlib.contextmanager
def _quiet_coremltools_logger():
    """coremltools logs at import that its native runtime is missing off macOS ("Failed to load _MLModelProxy ...")
    and that it was tested with torch up to 2.7 (we run 2.14, see README "Core ML"): noise, silenced only here."""
    logger = logging.getLogger("coremltools")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def import_coremltools():
    with _quiet_coremltools_logger():
        import coremltools

    return coremltools


def compute_precision(precision: str):
    ct = import_coremltools()
    precisions = {"fp16": ct.precision.FLOAT16, "fp32": ct.precision.FLOAT32}
    if precision not in precisions:
        raise UnsupportedSetting(f"unknown Core ML precision {precision!r}; known: {', '.join(precisions)}")
    return precisions[precision]


class SamCoreMLDecoder(SamOnnxModel):
    """Prompt encoder, mask decoder, best-mask selection and upscaling to a fixed original size: RepViT-SAM's
    `SamCoreMLModel` (sam/repvit_sam/utils/coreml.py), which is segment_anything's `SamOnnxModel` with the original
    size a constructor constant instead of the `orig_im_size` input."""

    def __init__(self, sam: Sam, orig_img_size: tuple[int, int] | None = None):
        # return_single_mask: export_coreml_decoder.py's flag is store_true with default True, so always on.
        super().__init__(sam, return_single_mask=True)
        # export_coreml_decoder.py passes orig_img_size=[1024, 1024], its models' encoder size.
        self.orig_img_size = orig_img_size or (self.img_size, self.img_size)

    def mask_postprocessing(self, masks: torch.Tensor, orig_im_size=None) -> torch.Tensor:
        masks = F.interpolate(masks, size=(self.img_size, self.img_size), mode="bilinear", align_corners=False)
        scale = self.img_size / max(self.orig_img_size)
        prepadded = [int(math.floor(scale * side + 0.5)) for side in self.orig_img_size]
        # Sliced only where it crops: a slice that crops nothing exports as `alias`, which coremltools cannot convert.
        if prepadded != [self.img_size, self.img_size]:
            masks = masks[..., : prepadded[0], : prepadded[1]]
        return F.interpolate(masks, size=tuple(self.orig_img_size), mode="bilinear", align_corners=False)

    def forward(self, image_embeddings: torch.Tensor, point_coords: torch.Tensor, point_labels: torch.Tensor,
                mask_input: torch.Tensor, has_mask_input: torch.Tensor):  # fmt: skip
        sparse_embedding = self._embed_points(point_coords, point_labels)
        dense_embedding = self._embed_masks(mask_input, has_mask_input)
        masks, scores = self.model.mask_decoder.predict_masks(
            image_embeddings=image_embeddings,
            image_pe=self.model.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse_embedding,
            dense_prompt_embeddings=dense_embedding,
        )
        # The number of points as a tensor, not `point_coords.shape[1]`: under torch.export that is a symbolic int,
        # and `num_points - 2.5` becomes a sym_float node, which coremltools cannot convert. Same value.
        num_points = torch.ones_like(point_labels).sum(dim=1, keepdim=True)
        masks, scores = self.select_masks(masks, scores, num_points)
        return self.mask_postprocessing(masks), scores, masks


def example_decoder_inputs(sam: Sam, num_points: int = MAX_POINTS, seed: int = 0) -> dict[str, torch.Tensor]:
    """Decoder inputs of the reference script's shapes (it exports with 5 points, labels drawn from 0..3)."""
    gen = torch.Generator().manual_seed(seed)
    embed_size = sam.prompt_encoder.image_embedding_size
    return {
        "image_embeddings": torch.randn(1, sam.prompt_encoder.embed_dim, *embed_size, generator=gen),
        "point_coords": torch.randint(0, sam.image_encoder.img_size, (1, num_points, 2), generator=gen).float(),
        "point_labels": torch.randint(0, 4, (1, num_points), generator=gen).float(),
        "mask_input": torch.randn(1, 1, *(4 * s for s in embed_size), generator=gen),
        "has_mask_input": torch.tensor([1.0]),
    }


def _exported_program(module: torch.nn.Module, args: tuple, dynamic_shapes: dict | None = None):
    with torch.inference_mode(False), torch.no_grad():
        return torch.export.export(module.eval(), args, dynamic_shapes=dynamic_shapes).run_decompositions({})


def _convert(program, inputs: list, outputs: list, precision: str, metadata: dict, path: Path) -> Path:
    """ct.convert + save, with coremltools' progress bars dropped (they go to stderr; anything else it writes there,
    warnings included, is passed on)."""
    ct = import_coremltools()
    written = io.StringIO()
    with contextlib.redirect_stderr(written), _quiet_coremltools_logger(), warnings.catch_warnings():
        # Its int64 -> int32 notes (logged), and its own use of a registry it deprecated.
        warnings.filterwarnings("ignore", "Function _TORCH_OPS_REGISTRY", DeprecationWarning)
        mlmodel = ct.convert(program, inputs=inputs, outputs=outputs, compute_precision=compute_precision(precision),
                             minimum_deployment_target=ct.target.iOS15)  # coremltools' default, named to say so
    kept = [line for line in written.getvalue().replace("\r", "\n").splitlines()
            if line.strip() and not line.lstrip().startswith(PROGRESS_BARS)]  # fmt: skip
    if kept:
        print("\n".join(kept), file=sys.stderr)
    mlmodel.user_defined_metadata.update({f"samzero.{key}": str(value) for key, value in metadata.items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    mlmodel.save(str(path))
    return path


def export_encoder(encoder: torch.nn.Module, example: torch.Tensor, path: Path, precision: str = "fp16",
                   metadata: dict | None = None) -> Path:  # fmt: skip
    """The image encoder as an ML program: `image` (normalised, padded) -> `embedding`."""
    ct = import_coremltools()
    program = _exported_program(encoder, (example,))
    return _convert(program, [ct.TensorType(name="image", shape=tuple(example.shape))],
                    [ct.TensorType(name="embedding")], precision, metadata or {}, path)  # fmt: skip


def export_decoder(sam: Sam, path: Path, precision: str = "fp16", metadata: dict | None = None) -> Path:
    """`SamCoreMLDecoder` as an ML program with the reference's inputs, outputs and variable number of points."""
    ct = import_coremltools()
    inputs = example_decoder_inputs(sam)
    points = torch.export.Dim("num_points", min=0, max=MAX_POINTS)
    shapes = {name: None for name in inputs} | {"point_coords": {1: points}, "point_labels": {1: points}}
    program = _exported_program(SamCoreMLDecoder(sam), tuple(inputs.values()), shapes)

    def points_dim():
        return ct.RangeDim(lower_bound=0, upper_bound=MAX_POINTS, default=1)

    shape = {name: tuple(value.shape) for name, value in inputs.items()}
    shape |= {"point_coords": ct.Shape((1, points_dim(), 2)), "point_labels": ct.Shape((1, points_dim()))}
    inputs = [ct.TensorType(name=name, shape=shape[name]) for name in DECODER_INPUTS]
    outputs = [ct.TensorType(name=name) for name in DECODER_OUTPUTS]
    return _convert(program, inputs, outputs, precision, metadata or {}, path)


# --- what a saved package holds ------------------------------------------------------------------------------------
def read_spec(path: Path):
    ct = import_coremltools()
    return ct.utils.load_spec(str(path))


def _feature(feature) -> dict:
    array = feature.type.multiArrayType
    ranges = [(r.lowerBound, r.upperBound) for r in array.shapeRange.sizeRanges]
    return {
        "name": feature.name,
        "shape": list(array.shape),  # the default shape where a dimension varies
        "range": [list(r) for r in ranges] if ranges else None,  # (lower, upper) per dimension; -1: unbounded
        "dtype": type(array).ArrayDataType.Name(array.dataType),
    }


def describe_package(path: Path) -> dict:
    """A saved package's inputs and outputs (name, default shape, shape ranges, dtype), the element types of what its
    program computes (FLOAT16 / FLOAT32 results of every operation but constants and casts: the compute precision as
    converted) and its metadata."""
    from coremltools.proto import MIL_pb2

    spec = read_spec(path)
    function = spec.mlProgram.functions["main"]
    types = collections.Counter()
    for op in function.block_specializations[function.opset].operations:
        if op.type in ("const", "cast"):  # fp16 programs keep float32 casts of their I/O and a few float32 constants
            continue
        for output in op.outputs:
            if output.type.WhichOneof("type") == "tensorType":
                types[MIL_pb2.DataType.Name(output.type.tensorType.dataType)] += 1
    return {
        "specification_version": spec.specificationVersion,
        "opset": function.opset,
        "inputs": [_feature(feature) for feature in spec.description.input],
        "outputs": [_feature(feature) for feature in spec.description.output],
        "float_results": {name: types[name] for name in ("FLOAT16", "FLOAT32")},
        "metadata": dict(spec.description.metadata.userDefined),
    }


def float_precision(description: dict) -> str:
    """fp16 or fp32 when every float the program computes has that type, else mixed."""
    counts = description["float_results"]
    return {(True, False): "fp16", (False, True): "fp32"}.get((counts["FLOAT16"] > 0, counts["FLOAT32"] > 0), "mixed")


def expected_layout(sam: Sam) -> dict[str, dict]:
    """The reference's inputs and outputs, as `describe_package` reports them: {package: {name: (shape, range)}}."""
    size, dim = sam.image_encoder.img_size, sam.prompt_encoder.embed_dim
    h, w = sam.prompt_encoder.image_embedding_size
    embedding, points = [1, dim, h, w], [0, MAX_POINTS]
    fixed = None
    return {
        "image_encoder": {"inputs": {"image": ([1, 3, size, size], fixed)},
                          "outputs": {"embedding": (embedding, fixed)}},  # fmt: skip
        "mask_decoder": {
            "inputs": {
                "image_embeddings": (embedding, fixed),
                "point_coords": ([1, 1, 2], [[1, 1], points, [2, 2]]),
                "point_labels": ([1, 1], [[1, 1], points]),
                "mask_input": ([1, 1, 4 * h, 4 * w], fixed),
                "has_mask_input": ([1], fixed),
            },
            "outputs": {"masks": ([1, 1, size, size], fixed), "iou_predictions": ([1, 1], fixed),
                        "low_res_masks": ([1, 1, 4 * h, 4 * w], fixed)},  # fmt: skip
        },
    }


def layout_problems(description: dict, expected: dict, precision: str) -> list[str]:
    """How a saved package differs from the reference's layout (names in order, shapes, ranges, float32 I/O) and
    from the precision asked for; empty when it matches."""
    problems = []
    for kind in ("inputs", "outputs"):
        found = {f["name"]: (f["shape"], f["range"], f["dtype"]) for f in description[kind]}
        wanted = {name: (shape, ranges, "FLOAT32") for name, (shape, ranges) in expected[kind].items()}
        if list(found) != list(wanted):
            problems.append(f"{kind} {list(found)}, expected {list(wanted)}")
        problems += [f"{kind[:-1]} {name}: {found[name]}, expected {wanted[name]}"
                     for name in wanted if name in found and found[name] != wanted[name]]  # fmt: skip
    if float_precision(description) != precision:
        found = float_precision(description)
        problems.append(f"computes in {found} ({description['float_results']}), asked {precision}")
    return problems


# --- running them (macOS) ------------------------------------------------------------------------------------------
def coreml_runtime_problem() -> str | None:
    """Why converted programs cannot run here (None: they can)."""
    if sys.platform != "darwin":
        return (f"Core ML runs only on macOS (coremltools' runtime, libcoremlpython, is macOS-only); "
                f"this is {sys.platform}")
    import_coremltools()  # quietly, before its runtime module
    try:
        from coremltools.libcoremlpython import _MLModelProxy  # noqa: F401
    except ImportError as err:
        return f"coremltools' native runtime is missing ({err})"
    return None


def numeric_check(sam: Sam, encoder: torch.nn.Module, example: torch.Tensor, paths: dict[str, Path]) -> dict:
    """Relative error of each package against torch (macOS): the encoder on `example`, the decoder on its torch
    embedding with 1 point (the notebook's prompt) and with 5 (the upper bound)."""
    ct = import_coremltools()
    with torch.no_grad():
        embedding = encoder(example)
    encoder_model = ct.models.MLModel(str(paths["image_encoder"]))
    decoder_model = ct.models.MLModel(str(paths["mask_decoder"]))
    (ours,) = encoder_model.predict({"image": example.numpy()}).values()
    report = {"compute_units": "ALL", "encoder_relative_error": relative_error(ours, embedding.numpy()),
              "decoder_relative_error": {}}  # fmt: skip
    decoder = SamCoreMLDecoder(sam).eval()
    for num_points in (1, MAX_POINTS):
        inputs = example_decoder_inputs(sam, num_points, seed=num_points) | {"image_embeddings": embedding}
        with torch.no_grad():
            reference = dict(zip(DECODER_OUTPUTS, decoder(*inputs.values())))
        outputs = decoder_model.predict({name: value.numpy() for name, value in inputs.items()})
        report["decoder_relative_error"][f"{num_points}_points"] = {
            name: relative_error(np.asarray(outputs[name]), reference[name].numpy()) for name in DECODER_OUTPUTS
        }
    return report


# --- the latency task's --export coreml ----------------------------------------------------------------------------
def export_and_check(model: PromptModel, directory: Path, precision: str = "fp16") -> dict:
    """Write image_encoder.mlpackage and mask_decoder.mlpackage to `directory`; check their layout and precision
    from the saved spec, and their numbers against torch where Core ML runs (macOS); say what was skipped and why."""
    if not isinstance(model.network, Sam):
        raise UnsupportedSetting(f"--export coreml knows segment_anything's Sam network; "
                                 f"{model.provenance.get('display')} has another one")  # fmt: skip
    # A CPU copy (the latency task goes on to time the decoder on the model's own device), made outside inference
    # mode (the engine predicts in it), whose tensors torch.export cannot trace.
    with torch.inference_mode(False):
        sam = copy.deepcopy(model.network).cpu().eval()
        example = model.encoder_example(seed=1).cpu()
    # The encoder as built (RepViT-SAM: fused unless --no-fuse). The reference converts it unfused (no `fuse()` in
    # export_coreml_encoder.py): the same function, with the BatchNorms and parallel branches left to Core ML.
    encoder = sam.image_encoder
    ct = import_coremltools()
    metadata = {"provenance": json.dumps(model.provenance), "precision": precision, "reference": REFERENCE}
    directory.mkdir(parents=True, exist_ok=True)
    paths, seconds = {}, {}
    for name, export in (("image_encoder", lambda path: export_encoder(encoder, example, path, precision, metadata)),
                         ("mask_decoder", lambda path: export_decoder(sam, path, precision, metadata))):  # fmt: skip
        start = time.perf_counter()
        paths[name] = export(directory / f"{name}.mlpackage")
        seconds[name] = round(time.perf_counter() - start, 1)
    descriptions = {name: describe_package(path) for name, path in paths.items()}
    expected = expected_layout(sam)
    problems = {name: layout_problems(descriptions[name], expected[name], precision) for name in paths}
    report = {
        **{name: str(path) for name, path in paths.items()},
        "precision": precision,
        "reference": REFERENCE,
        "coremltools": ct.__version__,
        "fused": model.provenance.get("fused"),
        "conversion_seconds": seconds,
        "spec": {name: {k: v for k, v in description.items() if k != "metadata"}
                 for name, description in descriptions.items()},  # fmt: skip
        "layout_problems": problems,
        "checked": ["input and output names, shapes, points range and dtypes against the reference (saved spec)",
                    "compute precision (saved spec)"],  # fmt: skip
        "skipped": {},
    }
    runtime_problem = coreml_runtime_problem()
    if runtime_problem is None:
        report["numeric"] = numeric_check(sam, encoder, example, paths)
        report["checked"].append("outputs against torch (Core ML on this Mac, compute units ALL)")
    else:
        report["skipped"]["outputs against torch"] = runtime_problem
    return report
