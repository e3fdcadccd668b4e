"""Mask criteria at shared per-layer prune counts, and the overlap study.

See :mod:`.criteria` (magnitude, random, L1-filter, SNIP, GraSP, SynFlow; each
returns a score-tree mask with exactly ``P_l`` zeros per layer) and
:mod:`.report` (overlap metric ``|keep_A ∧ keep_B| / |keep_B|``, the
project's own definition, markdown + heatmap report).
"""

from jaxprune.overlap.criteria import all_masks
from jaxprune.overlap.criteria import CRITERIA
from jaxprune.overlap.criteria import grasp_masks
from jaxprune.overlap.criteria import grasp_scores
from jaxprune.overlap.criteria import l1_filter_masks
from jaxprune.overlap.criteria import magnitude_masks
from jaxprune.overlap.criteria import make_apply_fn
from jaxprune.overlap.criteria import make_loss_fn
from jaxprune.overlap.criteria import masks_from_scores
from jaxprune.overlap.criteria import neutral_batch_stats
from jaxprune.overlap.criteria import random_masks
from jaxprune.overlap.criteria import snip_masks
from jaxprune.overlap.criteria import snip_scores
from jaxprune.overlap.criteria import synflow_masks
from jaxprune.overlap.criteria import synflow_scores
from jaxprune.overlap.report import overlap_markdown
from jaxprune.overlap.report import overlap_table
from jaxprune.overlap.report import OverlapTable
from jaxprune.overlap.report import write_overlap_report
