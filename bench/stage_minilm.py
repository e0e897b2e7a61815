"""Write an fp16 copy of the all-MiniLM-L6-v2 checkpoint (weights ~45 MB instead of ~90 MB,
tokenizer and config beside them) into a folder that can be carried to a GPU machine in one
call (64 MiB a call; the data travels in the next call while the machine stays warm).

    python bench/stage_minilm.py .gpu-data/minilm

The baseline loads it with ``--checkpoint .gpu-data/minilm`` and trains in fp32 (bf16 autocast):
fp16 storage only rounds the starting weights.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> None:
    import torch
    from harness.baselines.text.transformer import minilm_path
    from transformers import AutoModel, AutoTokenizer

    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".gpu-data/minilm")
    source = minilm_path()
    AutoTokenizer.from_pretrained(source, local_files_only=True).save_pretrained(out)
    model = AutoModel.from_pretrained(source, local_files_only=True).to(torch.float16)
    model.save_pretrained(out, safe_serialization=True)
    size = sum(f.stat().st_size for f in out.iterdir()) / 2**20
    print(f"{out}: {size:.1f} MiB")


if __name__ == "__main__":
    main()
