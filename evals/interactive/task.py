"""`--task interactive`: interactive segmentation, prompt mIoU from ground-truth boxes and simulated clicks.

    python run_eval.py --task interactive --model repvit                          # COCO val2017, box + 1..5 clicks
    python run_eval.py --task interactive --model repvit --clicks 20              # + NoC@85 / NoC@90
    python run_eval.py --task interactive --model repvit --interactive-data lvis  # LVIS v1 val on COCO's images
    python run_eval.py --task interactive --model mine --annotations A.json --images DIR   # any COCO-format set
    python run_eval.py --task interactive --model repvit --export-prompts prompts.json
    python run_eval.py --task interactive --model mobilesam --prompts prompts.json  # the same clicks, another model
    python run_eval.py --task interactive --model theirs --prompts prompts.json --predictions masks.json  # saved masks
    python run_eval.py --compare-runs results/interactive/repvit.efficientvit.json \\
                                      results/interactive/mobilesam.efficientvit.json

The references disagree on the protocol, so each is a named protocol (`--interactive-protocol`) that reproduces
its reference exactly, recorded in the results and labelled in the tables:
- `efficientvit` (default): EfficientViT-SAM's eval_efficientvit_sam_model.py with the RITM clicker
  (efficientvit.py, clicker.py);
- `edgesam`: EdgeSAM's evaluation/eval_mIoU.py (edgesam.py): a first point from the mask's centre, a random mask
  pixel or the box's centre (`--edgesam-point-from`), or the box (`--prompt-types box`), then `--edgesam-refine-iter`
  - 1 refinement clicks drawn at random in the error region at the decoder's resolution, 1 / 3 / 4 masks with score,
  area or oracle selection. Its random draws are seeded per image (`--seed`), so that a run resumes and shards
  image by image; EdgeSAM's single-process run draws one stream across images, which edgesam.py reproduces exactly
  when given the images in order (tests/test_interactive_edgesam.py). With a box, the first IoU is the box's and
  the later ones the refinement clicks'.
SAM's paper (§7.1, appendix D.1) places the first point "farthest from the object boundary" and each later one
farthest from the boundary of the error region between the ground truth and the previous prediction, and reports
the IoU after N = 1, 2, 3, 5, 9 points with the most confident of the multimask outputs (and, for one point, the
oracle best of them): that is the RITM clicker and the mask selection of `efficientvit` (run `--clicks 9`); what
D.1 does not say is whether earlier points are re-sent and the previous mask fed back (`efficientvit` re-sends every
click and feeds no mask back), and its oracle selection is the `edgesam` protocol's `oracle`, not `efficientvit`'s.
SAM's 23-dataset suite is not public as one download: datasets/README.md lists its datasets, each read here once
converted to COCO format.

A sample is an image: every object of it shares one embedding; the objects of an image are decoded together, one
decoder call per round of clicks (`--object-batch` objects at a time). Its stored prediction holds each object's
box, clicks, IoU after the box and after each click, and the box's and last click's masks (RLE, for the report).
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..base import Column, Dataset, DatasetLayoutError, Evaluator, Requirement, Sample, Task
from ..protocols.coco_format.dataset import (
    VAL2017_ANNOTATIONS_URL,
    find_val2017,
    read_coco_images,
    read_rgb,
    require_image_files,
    val2017_requirements,
)
from ..errors import UsageError
from ..params import TaskParams, evaluation_only
from .edgesam_params import MASK_COUNTS, POINT_FROM, SELECTIONS, EdgeSamParams
from .evaluator import NOC_MAX_CLICKS, PromptIoUEvaluator
from .instances import AnnotatedImage, read_instances

if TYPE_CHECKING:
    from models.prompt_model import PromptModel
    from models.capabilities import Capabilities

SECTION = "Prompt mIoU (interactive segmentation)"
PROTOCOLS = ("efficientvit", "edgesam")
PROTOCOL_LABELS = {"efficientvit": "EfficientViT-SAM protocol, RITM clicks", "edgesam": "EdgeSAM protocol"}
PROMPT_TYPES = ("box", "point")
DATASETS = ("coco", "lvis")
DEFAULT_CLICKS = 5  # EfficientViT-SAM's tables: 1, 3 and 5 clicks
DEFAULT_OBJECT_BATCH = 16  # objects per decoder call; memory only: 16 x 3 masks at the image's size
LVIS_ANNOTATIONS = Path("lvis") / "lvis_v1_val.json"
LVIS_URL = "https://dl.fbaipublicfiles.com/LVIS/lvis_v1_val.json.zip"
LVIS_TREE = """\
<data-root>/lvis/lvis_v1_val.json       from lvis_v1_val.json.zip
<data-root>/coco/val2017/*.jpg          LVIS v1 val's images are COCO 2017 images:
<data-root>/coco/train2017/*.jpg        its records name them by coco_url (train2017 or val2017)
"""


@dataclass(frozen=True)
class InteractiveParams(TaskParams):
    protocol: str = PROTOCOLS[0]
    prompt_types: tuple[str, ...] = PROMPT_TYPES
    clicks: int = DEFAULT_CLICKS
    object_batch: int = DEFAULT_OBJECT_BATCH
    dataset: str = "coco"  # a DATASETS name, or "custom" (`annotations` and `images`)
    edgesam: EdgeSamParams | None = None  # the edgesam protocol's (sources: edgesam_params.py)
    annotations: str | None = None
    images: str | None = None
    prompts_file: str | None = None  # --prompts: the boxes and clicks of a prompt file replace the protocol's
    prompts_sha256: str | None = None
    export_prompts: str | None = evaluation_only(None)  # where the prompts made are written: not a prediction's


class InteractiveTask(Task):
    name = "interactive"
    description = "interactive segmentation: mIoU from ground-truth boxes and 1..N simulated clicks (COCO, LVIS, any COCO-format set)"
    columns = (
        Column("box_mIoU", "Box mIoU", SECTION, unit="%"),
        Column("click1_mIoU", "1-click mIoU", SECTION, unit="%"),
        Column("click3_mIoU", "3-click mIoU", SECTION, unit="%"),
        Column("click5_mIoU", "5-click mIoU", SECTION, unit="%"),
    )
    samples_name = "images"
    params_type = InteractiveParams
    example_metric = "the object's IoU after its last click"
    example_parts_name = "objects"

    params: InteractiveParams

    def __init__(self, params: InteractiveParams | None = None):
        super().__init__(params)
        self._frozen: dict = {}  # {image id: {annotation id: FrozenPrompts}} of --prompts, read by load_dataset
        self._external: tuple[Path, dict] | None = None  # (--predictions file, its masks), read at its first image

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("interactive")
        group.add_argument("--interactive-protocol", choices=PROTOCOLS, default=PROTOCOLS[0],
                           help="whose protocol: efficientvit = EfficientViT-SAM's eval script with the RITM clicker "
                                "(default efficientvit)")  # fmt: skip
        group.add_argument("--prompt-types", nargs="+", choices=PROMPT_TYPES, default=list(PROMPT_TYPES),
                           help="box: the ground-truth box; point: simulated clicks (default: both)")
        group.add_argument("--clicks", type=int, default=DEFAULT_CLICKS,
                           help=f"clicks per object; NoC@85/90 need {NOC_MAX_CLICKS} (default {DEFAULT_CLICKS})")
        group.add_argument("--interactive-data", choices=DATASETS, default="coco",
                           help="coco: COCO val2017; lvis: LVIS v1 val on COCO's images (default coco); "
                                "--annotations with --images: any COCO-format set instead")  # fmt: skip
        group.add_argument("--annotations", type=Path, metavar="FILE", help="a COCO-format instances file")
        group.add_argument("--images", type=Path, metavar="DIR", help="the folder its file_names are relative to")
        group.add_argument("--prompts", type=Path, metavar="FILE",
                           help="a prompt file (--export-prompts): its boxes and clicks replace the protocol's")
        group.add_argument("--export-prompts", type=Path, metavar="FILE",
                           help="write every object's box and clicks, as made, to FILE")
        group.add_argument("--edgesam-point-from", choices=POINT_FROM, default=EdgeSamParams.point_from,
                           help="edgesam: the first point (box-center is EdgeSAM's, with its x/y mix-up; "
                                "box-center-fixed the true centre) (default mask-center)")  # fmt: skip
        group.add_argument("--edgesam-refine-iter", type=int, default=EdgeSamParams.refine_iter,
                           help="edgesam: decoder passes, each after the first with one more random click in the "
                                "error region (default 3, EdgeSAM's COCO runs)")  # fmt: skip
        group.add_argument("--edgesam-masks", type=int, choices=MASK_COUNTS,
                           default=EdgeSamParams.num_multimask_outputs,
                           help="edgesam: masks per prompt (EdgeSAM's --num-multimask-outputs) (default 1)")
        group.add_argument("--edgesam-select", choices=SELECTIONS, default=EdgeSamParams.multimask_select,
                           help="edgesam: which of several masks (oracle: the best by the ground truth) (default score)")
        group.add_argument("--seed", type=int, default=EdgeSamParams.seed,
                           help="edgesam: the seed of its random draws (default 0)")
        group.add_argument("--object-batch", type=int, default=DEFAULT_OBJECT_BATCH,
                           help=f"objects per mask-decoder call (default {DEFAULT_OBJECT_BATCH})")

    @classmethod
    def params_from_args(cls, args: argparse.Namespace) -> InteractiveParams:
        from models.checkpoint import sha256_file  # imports torch: only once a run is set up

        if args.clicks < 0 or args.object_batch < 1:
            raise UsageError("--clicks must be >= 0 and --object-batch >= 1")
        if getattr(args, "predictions", None) is not None and args.prompts is None:
            raise UsageError("--predictions: another method's masks answer the prompts of a prompt file; give the "
                             "one they were made from with --prompts FILE")  # fmt: skip
        if (args.annotations is None) != (args.images is None):
            raise UsageError("--annotations and --images go together (a COCO-format file and its image folder)")
        prompt_types = tuple(sorted(set(args.prompt_types)))
        params = InteractiveParams(
            protocol=args.interactive_protocol,
            prompt_types=prompt_types,
            clicks=args.clicks if "point" in args.prompt_types else 0,
            object_batch=args.object_batch,
            dataset="custom" if args.annotations is not None else args.interactive_data,
            export_prompts=str(args.export_prompts) if args.export_prompts else None,
        )
        if args.interactive_protocol == "edgesam":
            if len(prompt_types) != 1:
                raise UsageError("--interactive-protocol edgesam prompts with a point or a box, not both: give "
                                 "--prompt-types point or --prompt-types box")  # fmt: skip
            params = params.replace(clicks=args.edgesam_refine_iter, edgesam=EdgeSamParams(
                prompt=prompt_types[0], point_from=args.edgesam_point_from, refine_iter=args.edgesam_refine_iter,
                num_multimask_outputs=args.edgesam_masks, multimask_select=args.edgesam_select, seed=args.seed))
        if args.annotations is not None:
            params = params.replace(annotations=str(args.annotations), images=str(args.images))
        if args.prompts is not None:
            params = params.replace(prompts_file=str(args.prompts),
                                    prompts_sha256=sha256_file(args.prompts) if args.prompts.is_file() else None)  # fmt: skip
        return params

    def variant(self) -> str:
        parts = [self.params.protocol, None if self.params.dataset == "coco" else self.params.dataset]
        if self.params.protocol == "edgesam":
            e = self.params.edgesam
            parts[0] = f"edgesam-{e.prompt if e.prompt == 'box' else e.point_from}-{e.num_multimask_outputs}" \
                       f"{e.multimask_select if e.num_multimask_outputs > 1 else ''}-seed{e.seed}"
        if self.params.prompts_file:
            parts.append("frozen-prompts")
        return ".".join(p for p in parts if p)

    def variant_label(self) -> str:
        label = PROTOCOL_LABELS[self.params.protocol]
        if self.params.dataset != "coco":
            label += f", {self.params.dataset}"
        return label + (", prompts from a file" if self.params.prompts_file else "")

    def paper_comparable(self) -> bool:
        return False  # the RepViT-SAM paper reports no prompt mIoU

    def capability_problems(self, capabilities: Capabilities) -> list[str]:
        problems = []
        if self.params.protocol == "edgesam":
            return problems  # checked on the model itself (edgesam.protocol_problem) at its first image
        if "box" in self.params.prompt_types and not capabilities.boxes:
            problems.append("box prompts (the ground-truth box of each object)")
        if capabilities.multimask_outputs < 3:
            problems.append("multimask output (the mask of the highest predicted IoU of 3, as EfficientViT-SAM's script)")
        return problems

    def requirements(self, data_root: Path) -> list[Requirement]:
        params = self.params
        requirements = []
        if params.dataset == "custom":
            requirements += [Requirement("COCO-format instances file (--annotations)", Path(params.annotations),
                                         "your dataset, in COCO format"),
                             Requirement("its images (--images)", Path(params.images), "your dataset")]  # fmt: skip
        elif params.dataset == "lvis":
            requirements.append(Requirement("LVIS v1 val annotations", Path(data_root) / LVIS_ANNOTATIONS, LVIS_URL))
        else:
            requirements += val2017_requirements(data_root)
        if params.prompts_file:
            requirements.append(Requirement("prompt file (--prompts)", Path(params.prompts_file),
                                            "python run_eval.py --task interactive ... --export-prompts FILE"))  # fmt: skip
        return requirements

    def load_dataset(self, data_root: Path) -> Dataset:
        params = self.params
        if params.dataset == "custom":
            annotation_file, images_dir = Path(params.annotations), Path(params.images)
            images = read_coco_images(annotation_file, images_dir)
            name, split = annotation_file.stem, "custom"
        elif params.dataset == "lvis":
            annotation_file, images_dir = Path(data_root) / LVIS_ANNOTATIONS, Path(data_root) / "coco"
            if not annotation_file.is_file():
                raise DatasetLayoutError(f"LVIS v1 val not found under {data_root}", LVIS_TREE)
            images = read_coco_images(annotation_file, images_dir, LVIS_URL, file_name_key="coco_url")
            name, split = "LVIS", "v1 val"
        else:
            images_dir, annotation_file = find_val2017(data_root)
            images = read_coco_images(annotation_file, images_dir, VAL2017_ANNOTATIONS_URL)
            name, split = "COCO", "val2017"
        require_image_files(images)
        if params.prompts_file:
            from .prompt_file import read_prompt_file

            _, self._frozen = read_prompt_file(Path(params.prompts_file))
        annotated = [a for a in read_instances(annotation_file, images) if a.instances]
        samples = [Sample(str(a.image.image_id), a) for a in annotated]
        files = [annotation_file, *(a.image.path for a in annotated)]
        return Dataset(name=name, split=split, root=annotation_file.parent, samples=samples, files=files)

    def sample_files(self, sample: Sample) -> list[Path]:
        files = [sample.data.image.path, sample.data.image.annotation_file]
        return files + ([Path(self.params.prompts_file)] if self.params.prompts_file else [])

    def load_inputs(self, sample: Sample) -> np.ndarray:
        if self.params.protocol == "edgesam":
            from .edgesam import read_image  # PIL, as EdgeSAM's dataset reads

            return read_image(sample.data.image.path)
        return read_rgb(sample.data.image)

    def predict(self, model: PromptModel, sample: Sample, image: np.ndarray) -> dict:
        annotated: AnnotatedImage = sample.data
        params = self.params
        frozen = self._frozen.get(annotated.image.image_id)
        if params.protocol == "edgesam":
            return {"model": model.provenance.get("model"), "objects": self._edgesam(model, annotated, image, frozen)}
        from .efficientvit import run_efficientvit

        model.set_image(image)
        objects = run_efficientvit(model, annotated.instances, annotated.image.height, annotated.image.width,
                                   params.prompt_types, params.clicks, params.object_batch, frozen)  # fmt: skip
        return {"model": model.provenance.get("model"), "objects": objects}

    def _edgesam(self, model, annotated: AnnotatedImage, image: np.ndarray, frozen) -> list[dict]:
        """EdgeSAM's records in this task's form: with a box, its first IoU is the box's (`box_iou`)."""
        from .edgesam import EdgeSamRandom, protocol_problem, run_edgesam

        params = self.params.edgesam
        if problem := protocol_problem(model, params):  # at the first image: the check needs the model itself
            raise UsageError(f"--interactive-protocol edgesam: {problem}")
        given = {aid: list(p.clicks) for aid, p in frozen.items()} if frozen else None
        records = run_edgesam(model, image, annotated.instances, params, given, EdgeSamRandom(params.seed))
        for record in records:
            boxed = params.prompt == "box"
            record.update(box_iou=record["ious"][0] if boxed else None, ious=record["ious"][1:] if boxed else record["ious"],
                          mask=None, box_mask=None)  # fmt: skip
        return records

    def read_external_prediction(self, path: Path, sample: Sample) -> dict:
        """Another method's masks for the --prompts file's prompts (mask_file.py: `--predictions FILE`)."""
        from .mask_file import read_mask_file, score_masks

        if self._external is None or self._external[0] != path:
            self._external = (path, read_mask_file(path))
        annotated: AnnotatedImage = sample.data
        masks = self._external[1].get(annotated.image.image_id, {})
        objects = score_masks(path, masks, annotated, self._frozen.get(annotated.image.image_id, {}),
                              self.params.prompt_types, self.params.clicks)  # fmt: skip
        return {"model": None, "objects": objects}

    def evaluator(self) -> Evaluator:
        export = self.params.export_prompts
        return PromptIoUEvaluator(self._exporter(Path(export)) if export else None)

    def _exporter(self, path: Path):
        def export(predictions: list) -> None:
            from models.checkpoint import sha256_file

            from .prompt_file import write_prompt_file

            annotation_file = predictions[0][0].data.image.annotation_file if predictions else None
            made_by = {"model": predictions[0][1].get("model") if predictions else None, "protocol": self.params.protocol,
                       "clicks": self.params.clicks, "prompt_types": self.params.prompt_types}  # fmt: skip
            annotations = {"file": str(annotation_file), "sha256": sha256_file(annotation_file) if annotation_file else None}
            write_prompt_file(path, predictions, made_by, annotations)

        return export

    def example_score(self, sample: Sample, prediction: dict) -> dict[str, float]:
        """{annotation id: the object's IoU after its last click, or after its box without clicks}: the report ranks
        objects, not images (an image's mean hides its best and worst objects)."""
        scores = {}
        for record in prediction["objects"]:
            iou = record["ious"][-1] if record["ious"] else record["box_iou"]
            if iou is not None:
                scores[str(record["annotation_id"])] = float(iou)
        return scores

    def draw_example(self, sample: Sample, prediction: dict, part: str | None = None) -> dict:
        from .examples import draw

        return draw(sample.data, next(r for r in prediction["objects"] if str(r["annotation_id"]) == part))
