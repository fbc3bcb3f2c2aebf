"""Model registry: a `--model` name -> its family, builder, official checkpoint and prompt interface.

A model family is one file under models/families/ that registers its variants where they are defined, in the
manner of timm's `register_model`:

    FAMILY = ModelFamily("edgesam", official="chongzhou96/EdgeSAM @ <commit>", prompt_model=SamPromptModel)

    @FAMILY.register(display="EdgeSAM", checkpoint="edge_sam.pth", url="https://...",
                     signature=("image_encoder.features.0.0.c.weight", (24, 3, 3, 3)))
    def edgesam() -> nn.Module:
        return build_edgesam(...)          # the network, in the official checkpoint's key layout

This module imports nothing heavy: the command line validates `--model` and answers `--help` without torch. The
built-in families are listed in `BUILTIN_FAMILIES` with the names they register (a test holds the two equal), and a
family's file is imported only when one of its models is used. Families of other packages plug in through the entry
point group `samzero.models` (each entry point names a module that registers a family when imported) or
`--model-module pkg.module`.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .errors import SamzeroError

from .capabilities import Capabilities

if TYPE_CHECKING:
    from torch import nn

    from .prompt_model import PromptModel

WEIGHTS_DIR = Path("weights")
ENTRY_POINT_GROUP = "samzero.models"

# family module -> the `--model` names it registers, in the order of the tables' rows (the RepViT-SAM paper's rows
# first: ViT-H-SAM, ViT-B-SAM, MobileSAM, RepViT-SAM; then the families the field compares with).
BUILTIN_FAMILIES: dict[str, tuple[str, ...]] = {
    "models.families.sam": ("vit_h", "vit_l", "vit_b"),
    "models.families.mobilesam": ("mobilesam",),
    "models.families.repvit_sam": ("repvit",),
    "models.families.edgesam": ("edgesam", "edgesam_3x"),
    "models.families.hq_sam": ("hq_vit_h", "hq_vit_l", "hq_vit_b", "hq_vit_tiny"),
    "models.families.efficientsam": ("efficientsam_ti", "efficientsam_s"),
    "models.families.tinysam": ("tinysam",),
    "models.families.efficientvit_sam": ("efficientvit_sam_l0", "efficientvit_sam_l1", "efficientvit_sam_l2",
                                         "efficientvit_sam_xl0", "efficientvit_sam_xl1"),
    "models.families.sam2": ("sam2.1_hiera_t", "sam2.1_hiera_s", "sam2.1_hiera_b+", "sam2.1_hiera_l",
                             "sam2_hiera_t", "sam2_hiera_s", "sam2_hiera_b+", "sam2_hiera_l"),
}
PAPER_ROWS = ("vit_h", "vit_b", "mobilesam", "repvit")  # the RepViT-SAM paper's four rows


@dataclass(frozen=True)
class ModelVariant:
    """One `--model`: everything needed to build it, load its official checkpoint and drive it."""

    name: str  # the CLI key (`--model`), also the row's key in the tables and results
    display: str  # row label in the tables
    family: ModelFamily
    build: Callable[[], nn.Module]  # the network with its constructors' initialisation, in the official key layout
    checkpoint: str  # official file name, looked up in WEIGHTS_DIR by default
    url: str  # where the official file is published
    # A (key, shape) of this variant's official state dict that tells it apart from every other known one. Variants
    # whose layouts are identical (MobileSAM and TinySAM) share one: the file they name is then the only evidence.
    signature: tuple[str, tuple[int, ...]]
    capabilities: Capabilities = field(default_factory=Capabilities)
    # Folds training-time branches into single layers after loading (RepViT's BatchNorms); None: nothing to fold.
    fuse: Callable[[nn.Module], nn.Module] | None = None
    # Where the state dict sits inside the checkpoint file: None for a plain state dict, else the key of the
    # wrapping dict (e.g. "model"). A plain state dict is always accepted too.
    state_dict_key: str | None = "model"
    notes: str = ""  # shown by --list-models (e.g. which automatic mask generator it uses)

    @property
    def default_checkpoint(self) -> Path:
        return WEIGHTS_DIR / self.checkpoint

    def how_to_get(self) -> str:
        """What to download and where it comes from (an archive: what to extract from it)."""
        if self.url.endswith((".zip", ".tar", ".tar.gz", ".tgz")):
            return f"download {self.url} and extract {self.checkpoint} from it"
        return f"download the official {self.checkpoint} from {self.url}"

    def prompt_model(self, network: nn.Module, provenance: dict) -> PromptModel:
        return self.family.prompt_model(network, self, provenance)


@dataclass(frozen=True, eq=False)
class ModelFamily:
    """A family of variants sharing their official code and their prompt interface."""

    name: str
    official: str  # the official code the family reproduces: repository (or PyPI package) and commit / version
    # (network, variant, provenance) -> the PromptModel tasks drive; usually a PromptModel subclass.
    prompt_model: Callable[..., PromptModel]

    def register(self, *, name: str | None = None, **fields: Any) -> Callable[[Callable], Callable]:
        """Decorator: register the decorated builder as a variant (`name` defaults to the function's name)."""

        def decorate(build: Callable) -> Callable:
            register_variant(ModelVariant(name=name or build.__name__, family=self, build=build, **fields))
            return build

        return decorate


class UnknownModel(SamzeroError):
    """A --model name no family registers, or a plug-in that fails to import."""


_VARIANTS: dict[str, ModelVariant] = {}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")


def register_variant(variant: ModelVariant) -> None:
    if not _NAME.fullmatch(variant.name) or ".." in variant.name:
        raise ValueError(f"model name {variant.name!r} must match {_NAME.pattern} (it names files)")
    known = _VARIANTS.get(variant.name)
    if known is not None and known.family is not variant.family:
        raise ValueError(f"model {variant.name!r} is registered twice: by {known.family.name} and {variant.family.name}")
    _VARIANTS[variant.name] = variant


def _builtin_module(name: str) -> str | None:
    return next((module for module, names in BUILTIN_FAMILIES.items() if name in names), None)


def load_plugins(modules: tuple[str, ...] = ()) -> list[str]:
    """Import the plug-in families: `modules` (`--model-module`) and every entry point of `samzero.models`.
    Returns the module names imported. A plug-in that fails to import is an error naming it."""
    names = list(modules) + [ep.value for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)]
    for module in names:
        try:
            importlib.import_module(module)
        except Exception as err:  # a broken plug-in must name itself, whatever it raised
            raise UnknownModel(f"model plug-in {module!r} failed to import: {type(err).__name__}: {err}") from err
    return names


def variant_names() -> list[str]:
    """Every known `--model` name, built-in first (table order), then plug-ins'; imports only what is loaded."""
    builtin = [name for names in BUILTIN_FAMILIES.values() for name in names]
    return builtin + sorted(name for name in _VARIANTS if name not in builtin)


def is_known(name: str) -> bool:
    """Whether `name` is a model, without importing torch for the built-in ones."""
    return _builtin_module(name) is not None or name in _VARIANTS


def model_variant(name: str) -> ModelVariant:
    """The registered variant `name` (its family module is imported on first use)."""
    if name not in _VARIANTS:
        module = _builtin_module(name)
        if module is None:
            raise UnknownModel(f"unknown model {name!r}; known: {', '.join(variant_names())} "
                               "(python run_eval.py --list-models)")  # fmt: skip
        importlib.import_module(module)
        if name not in _VARIANTS:
            raise UnknownModel(f"{module} does not register {name!r}, which BUILTIN_FAMILIES says it does")
    return _VARIANTS[name]


def all_variants() -> list[ModelVariant]:
    """Every variant, built-in and loaded plug-ins', in table order (imports every built-in family)."""
    return [model_variant(name) for name in variant_names()]


def identify(state_dict: dict) -> list[str]:
    """Which known variants a state dict's signature matches ("ViT-B-SAM (--model vit_b)", ...); [] when none."""
    return [
        f"{v.display} (--model {v.name})"
        for v in all_variants()
        if v.signature[0] in state_dict and tuple(state_dict[v.signature[0]].shape) == v.signature[1]
    ]
