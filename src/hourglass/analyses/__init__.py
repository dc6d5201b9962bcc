"""Layer 3: one module per analysis, (spec, events table) -> Ibis expression. Never executes."""

from hourglass.analyses._match import annotate, micros, step_predicate
from hourglass.analyses.funnel import FunnelPlan, funnel_plan

__all__ = ["FunnelPlan", "annotate", "funnel_plan", "micros", "step_predicate"]
