"""Region labels: the five-level scales, instruction/answer text, full-reference labelling and
Seagull-3k aggregation."""


def build_labeller(*args, **kwargs):
    """The full-reference labeller (see ``seagull.labels.labeller.build_labeller``)."""
    from seagull.labels.labeller import build_labeller as build

    return build(*args, **kwargs)
