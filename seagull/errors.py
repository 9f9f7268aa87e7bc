"""The project's typed errors.

Each error subclasses the built-in that matches its meaning, so callers that only know the
standard library still catch it (``except ValueError`` catches bad input). Errors are raised
where the problem is known, with the offending input named in the message; the CLI, the HTTP
service and the pipelines turn them into a one-line message, a 4xx answer or an ``errors`` row.
"""

from __future__ import annotations


class SeagullError(Exception):
    """Base of every error this project raises on purpose."""


class InvalidInputError(SeagullError, ValueError):
    """An input (file, argument, request field) is malformed or out of range."""


class InvalidArgumentError(InvalidInputError):
    """A command-line or API argument has a bad value."""


class RawDecodeError(InvalidInputError):
    """A file is not a RAW that libraw can decode (not a RAW, truncated, empty, unsupported)."""


class UnsupportedSensorError(RawDecodeError):
    """A RAW decodes but its sensor layout is outside what the ISP supports."""


class ImageDecodeError(InvalidInputError):
    """Bytes or a file are not a decodable image."""


class EmptyMaskError(InvalidInputError):
    """A region mask selects no pixel."""


class MaskShapeError(InvalidInputError):
    """A mask does not match the image it is applied to."""


class DatasetError(InvalidInputError):
    """A dataset folder or table does not match the schema or the run's parameters."""


class WeightsNotFoundError(SeagullError, FileNotFoundError):
    """Weights were asked for (configured, or ``--strict``) but are not at the given location."""


class WeightsMismatchError(SeagullError, ValueError):
    """A weights file exists but does not fit the model it is loaded into."""


class OutputError(SeagullError, OSError):
    """An output location cannot be created or written."""


class ConfigError(SeagullError, ValueError):
    """A configuration file or value is malformed."""
