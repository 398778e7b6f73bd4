"""Entry point for Dagster: everything under orchestration/defs/, with the shared resources."""

import warnings

import dagster as dg

import orchestration.defs
from orchestration.defs.resources import build_resources
from orchestration.lib.progress import progress_logger

with warnings.catch_warnings():
    # loading a package of definitions is a "preview" API; it is the one we want
    warnings.simplefilter("ignore", dg.PreviewWarning)
    defs = dg.load_definitions_from_package_module(
        orchestration.defs,
        resources=build_resources(),
        # Dagster's own console log, and the step events a person sees (orchestration/build.py)
        loggers={"console": dg.colored_console_logger, "progress": progress_logger},
    )
