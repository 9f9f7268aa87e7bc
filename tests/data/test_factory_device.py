"""The factory's model stages run on the GPU their worker was given, and on the CPU otherwise."""

from __future__ import annotations

import torch

from seagull.data.factory import actor_device, build_on_device


def test_stages_build_their_models_on_the_device_the_worker_has(monkeypatch):
    calls = []

    def build(**kwargs):
        calls.append(kwargs)
        return "model"

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert actor_device() == "cpu" and build_on_device(build) == "model"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a GPU reserved for it
    assert actor_device() == "cuda" and build_on_device(build) == "model"
    assert calls == [{}, {"device": "cuda"}]

