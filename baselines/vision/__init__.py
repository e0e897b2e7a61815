"""The image kind: competitions whose submissions classify images. What every image baseline
shares (the data, the held-out slice, :class:`~baselines.vision.shared.ImageModel`) is
:mod:`baselines.vision.shared`; the GPU training machinery is the ``engine/`` package (torch
imported at its top, so never scanned); each other file here is one baseline (``airnet``, the
timm presets and ``timm:<architecture>``).
"""

from __future__ import annotations

from harness.baselines import Baseline, Kind
from harness.baselines.vision.shared import TASKS, ImageModel, image_baseline, load_data


def find(name: str) -> Baseline | None:
    """``timm:<architecture>``: any timm model by name (:mod:`baselines.vision.timm_models`)."""
    from harness.baselines.vision.timm_models import find

    return find(name)


KIND = Kind("vision", TASKS, load_data, default="airnet", find=find)

__all__ = ["KIND", "ImageModel", "image_baseline", "load_data"]
