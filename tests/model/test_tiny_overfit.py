"""The tiny preset learns: a handful of (region, answer) pairs, overfit on CPU, read back right."""

import numpy as np
import pytest
import torch

from seagull.labels import instructions as ins
from seagull.labels.levels import level_word


@pytest.mark.slow
def test_tiny_preset_overfits_a_few_regions_to_the_right_levels(tiny_tokenizer, image):
    from seagull.model import SeagullModel, SeagullPredictor, build_batch

    torch.manual_seed(0)
    model = SeagullModel.from_preset("tiny", tokenizer=tiny_tokenizer)
    h, w = image.shape[:2]
    noisy = np.clip(image.astype(int) + np.random.default_rng(1).normal(0, 70, image.shape),
                    0, 255).astype(np.uint8)

    def box(x0, y0, x1, y1):
        m = np.zeros((h, w), bool)
        m[y0:y1, x0:x1] = True
        return m

    regions = [(image, box(0, 0, 40, 30), 0.95), (image, box(50, 30, 96, 72), 0.7),
               (noisy, box(0, 0, 40, 30), 0.1), (noisy, box(50, 30, 96, 72), 0.3)]
    samples = [{"image": im, "mask": m, "question": ins.AIR_QUESTIONS["quality"],
                "answer": ins.quality_answer(q)} for im, m, q in regions]
    batch = build_batch(samples, model.prompts, model.config)
    optimiser = torch.optim.AdamW(model.trainable_parameters(),
                                  lr=model.config.training.stage1_lr)
    model.train()
    first = None
    for _ in range(50):
        loss = model(**batch).loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        first = first if first is not None else float(loss.detach())
    assert float(loss.detach()) < 0.2 * first

    predictor = SeagullPredictor(model.eval())
    scores = []
    for im in (image, noisy):
        predictor.set_image(im)
        mine = [(m, q) for i, m, q in regions if i is im]
        got = predictor.assess([m for m, _ in mine], tasks=("quality",))
        assert [g["quality"]["level"] for g in got] == [level_word("quality", q) for _, q in mine]
        scores += [g["quality"]["score"] for g in got]
    # The closed-set scores rank the regions as their labels do.
    targets = [q for _, _, q in regions]
    assert np.argsort(scores).tolist() == np.argsort(targets).tolist()
