"""Fault injection and the `rms chaos` run: database crashes and stalls, Shopify faults, dying
and racing workers; figures of acknowledged, stored, lost and duplicated writes."""

from tools.chaos.figures import Figures, format_runs, format_table
from tools.chaos.run import run_chaos

__all__ = ["Figures", "format_runs", "format_table", "run_chaos"]
