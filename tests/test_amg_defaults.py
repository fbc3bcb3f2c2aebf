"""evals/protocols/amg.py restates SamAutomaticMaskGenerator's defaults: they must stay equal to the installed package's."""
import inspect

from segment_anything import SamAutomaticMaskGenerator

from evals.protocols.amg import AMG_DEFAULTS


def test_amg_defaults_equal_segment_anything():
    signature = inspect.signature(SamAutomaticMaskGenerator.__init__).parameters
    official = {name: p.default for name, p in signature.items() if name not in ("self", "model")}
    assert AMG_DEFAULTS == official
