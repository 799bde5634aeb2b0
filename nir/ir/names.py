"""Node names: TensorFlow needs them unique within a graph or function body."""

from __future__ import annotations


def unique_name(wanted: str, taken: set[str]) -> str:
    """`wanted`, or `wanted_1`, `wanted_2`, ... whichever is not in `taken`; it is added there."""
    name, suffix = wanted, 1
    while name in taken:
        name, suffix = f"{wanted}_{suffix}", suffix + 1
    taken.add(name)
    return name
