"""Rendered stand-in dive videos whose pixels carry the real labels, in the real datasets' layouts.

Public API: :func:`render_sample`, :func:`render_dataset`, :func:`draw_samples`, :func:`frame_states`.
"""

from hieroaction.synth.dataset import render_dataset
from hieroaction.synth.draw import draw_samples
from hieroaction.synth.render import RenderError, frame_states, render_sample

__all__ = ["RenderError", "draw_samples", "frame_states", "render_dataset", "render_sample"]
