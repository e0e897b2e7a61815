"""The image kind: competitions whose submissions classify images. What every image baseline
shares (the data, the held-out slice, :class:`~baselines.vision.shared.ImageModel`) is
:mod:`baselines.vision.shared`; the GPU training machinery is the ``engine/`` package (torch
imported at its top, so never scanned); each other file here is one baseline (``airnet``, the
timm presets and ``timm:<architecture>``).
"""

from __future__ import annotations

from harness.baselines import Baseline, Kind
from harness.baselines.vision.shared import TASKS, ImageModel, image_baseline, load_data

from harness.competition import Competition


def find(name: str) -> Baseline | None:
    """``timm:<architecture>``: any timm model by name (:mod:`baselines.vision.timm_models`)."""
    from harness.baselines.vision.timm_models import find

    return find(name)


#: Images this small are glyphs (handwritten digits), which ImageNet features do not describe:
#: the small CNN learns them in seconds on any CPU.
GLYPHS = 28


def default(comp: Competition | None = None) -> tuple[str, str]:
    """The image default for the device it will run on: AirNet (the GPU recipe) where torch
    sees a CUDA GPU, else the frozen pretrained features + logistic regression (minutes on a
    laptop's CPU, where AirNet's recipe takes most of an hour); the small CNN for glyphs."""
    from harness.baselines.cpu import cuda_here

    if comp is not None and comp.images is not None and comp.images.size <= GLYPHS:
        return "cnn", f"images of {comp.images.size} px or less: the small CNN, any machine"
    if cuda_here():
        return "airnet", "a CUDA GPU is visible: the GPU recipe"
    return "lite0-lr", "no CUDA GPU here: the CPU recipe, frozen ImageNet features"


KIND = Kind("vision", TASKS, load_data, default=default, find=find)

__all__ = ["KIND", "ImageModel", "image_baseline", "load_data"]
