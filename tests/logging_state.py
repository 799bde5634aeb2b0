"""Logging as it was: nir's CLI configures logging as a program does (a handler on the stderr of
the moment, the tensorflow logger printing on its own and not propagating, warnings captured).
Run in the tests' own process, that would outlive the run: the next test's log records would go
to a closed stream and never reach pytest's capture."""

from __future__ import annotations

import contextlib
import logging

LOGGERS = ("", "tensorflow", "nir", "py.warnings")


@contextlib.contextmanager
def logging_restored():
    loggers = [logging.getLogger(name) for name in LOGGERS]
    saved = [(logger, logger.level, list(logger.handlers), logger.propagate, logger.disabled) for logger in loggers]
    try:
        yield
    finally:
        for logger, level, handlers, propagate, disabled in saved:
            logger.setLevel(level)
            logger.handlers = handlers
            logger.propagate = propagate
            logger.disabled = disabled
        logging.captureWarnings(False)
