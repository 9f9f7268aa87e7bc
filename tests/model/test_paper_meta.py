"""The paper preset builds at full size on the meta device: right shapes, no memory."""

import re

import torch


def _rss_bytes() -> int:
    with open("/proc/self/status") as fh:
        status = fh.read()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024


def test_paper_preset_on_meta_has_the_expected_parameter_counts():
    from seagull.model import SeagullModel

    before = _rss_bytes()
    model = SeagullModel.from_preset("paper", device="meta")
    grown = _rss_bytes() - before
    assert all(p.device.type == "meta" for p in model.parameters())
    assert grown < 1 << 30  # 7.3 B fp32 parameters would be ~29 GB
    counts = model.count_parameters()
    # Vicuna-7B (LLaMA-2 7B): 6.738 B with the three placeholder rows (2 × 3 × 4096) added.
    assert counts["llm"] == 6_738_415_616 + 2 * 3 * 4096
    assert 190e6 < counts["encoder"] < 200e6  # ConvNeXt-Large trunk, ~196 M
    # LoRA r=128 on q,k,v,o (4096→4096) and gate,up (4096→11008), down (11008→4096), 32 layers.
    r = 128
    per_layer = 4 * r * (4096 + 4096) + 3 * r * (4096 + 11008)
    assert counts["lora"] == 32 * per_layer
    assert counts["trainable"] == counts["lora"] + counts["mfe"] + counts["projector"]
    # The projector maps the third stage's 768 channels to 4096 with a two-layer MLP.
    assert counts["projector"] == 768 * 4096 + 4096 + 4096 * 4096 + 4096
    assert model.encoder.trunk.stem[0].weight.device.type == "meta"
    assert not any(p.requires_grad for p in model.encoder.parameters())


def test_paper_preset_without_weights_is_a_typed_error():
    import pytest

    from seagull.errors import WeightsNotFoundError
    from seagull.model import SeagullModel

    with pytest.raises(WeightsNotFoundError):
        SeagullModel.from_preset("paper")
    assert torch.tensor(1).device.type == "cpu"  # the default device is left alone
