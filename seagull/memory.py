"""Bytes held by arrays and tensors: what a cache of per-image state pays for an entry."""

from __future__ import annotations


def nbytes(*values) -> int:
    """Total bytes of numpy arrays and torch tensors (anything with ``nbytes``, or with
    ``numel`` and ``element_size``)."""
    total = 0
    for value in values:
        if hasattr(value, "element_size"):  # a torch tensor (torch is imported only where used)
            total += int(value.numel() * value.element_size())
        else:
            total += int(value.nbytes)
    return total
