"""File names of a Transformers-style checkpoint, shared by the writers and the readers.

A model that fits in one file is ``model.safetensors``; a sharded one is
``model-00001-of-00003.safetensors`` … plus ``model.safetensors.index.json``, as
Transformers' ``save_pretrained`` names them.
"""

from __future__ import annotations

import re

CONFIG_NAME = "config.json"
SINGLE_NAME = "model.safetensors"
INDEX_NAME = "model.safetensors.index.json"
# save_pretrained's default max_shard_size (Transformers 5): most models are one file.
SAVE_PRETRAINED_SHARD_SIZE = 50 * 10**9
SHARD_NAME = re.compile(r"model-\d{5}-of-\d{5}\.safetensors")


def shard_name(k: int, n: int) -> str:
    """File name of shard ``k`` (1-based) of ``n``.

    >>> shard_name(2, 3), shard_name(1, 1)
    ('model-00002-of-00003.safetensors', 'model.safetensors')
    """
    return SINGLE_NAME if n == 1 else f"model-{k:05d}-of-{n:05d}.safetensors"


def is_checkpoint_file(name: str) -> bool:
    """A file name that Transformers reads as (part of) a checkpoint's weights."""
    return name in (SINGLE_NAME, INDEX_NAME) or SHARD_NAME.fullmatch(name) is not None
