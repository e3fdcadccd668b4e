"""Baseline on the embedded scikit-learn digits: the README quickstart.

Trains the small VGG-style CNN (``digits_cnn``) for 30 epochs on CPU in well
under a minute.
"""

from experiments.configs import base


def get_config():
  config = base.get_base_config()
  config.model = 'digits_cnn'
  config.dataset = 'digits'
  config.epochs = 30
  config.batch_size = 64
  config.learning_rate = 0.05
  config.weight_decay = 5e-4
  config.schedule = 'cosine'
  return config
