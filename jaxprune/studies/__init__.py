"""Studies: each a function ``(config, workdir) -> results`` on one run
context, found by name.

``get_study(name)(config, workdir)`` runs ``baseline``, ``rethinking``,
``jackpot``, ``lottery_ticket``, ``sss``, ``architecture_search``,
``mask_overlap`` or ``suite`` (or a study registered with
:func:`register_study`); every one writes ``results.json`` in the schema of
:mod:`jaxprune.results`.
"""

from jaxprune.studies.context import RunContext, StageRun
from jaxprune.studies.registry import get_study, register_study, study_names
# Importing a study module registers it.
from jaxprune.studies import architecture_search  # noqa: F401
from jaxprune.studies import baseline  # noqa: F401
from jaxprune.studies import jackpot  # noqa: F401
from jaxprune.studies import lottery_ticket  # noqa: F401
from jaxprune.studies import mask_overlap  # noqa: F401
from jaxprune.studies import rethinking  # noqa: F401
from jaxprune.studies import sss  # noqa: F401
from jaxprune.studies import suite  # noqa: F401
