"""Fault injection and the `rms chaos` run: database crashes, Shopify faults, dying and racing
workers; figures of events and jobs with zero lost or duplicated writes expected."""

from tools.chaos.figures import Figures, format_table
from tools.chaos.run import run_chaos

__all__ = ["Figures", "format_table", "run_chaos"]
