"""Importers of foreign checkpoints into jaxprune param trees."""

from jaxprune.importers.torch_jackpot import import_scores
from jaxprune.importers.torch_jackpot import import_state_dict
from jaxprune.importers.torch_jackpot import load_checkpoint_file
from jaxprune.importers.torch_jackpot import official_key_map
from jaxprune.importers.torch_jackpot import supported_models
from jaxprune.importers.torch_jackpot import unwrap_state_dict
