"""Baseline on the embedded scikit-learn digits: the README quickstart.

Trains the small VGG-style CNN (``digits_cnn``) for 30 epochs on CPU in well
under a minute.
"""

from experiments.configs import base


def get_config():
  return base.override(base.get_config(), {
      'study': 'baseline', 'model.name': 'digits_cnn', 'data.name': 'digits',
      'optim.epochs': 30, 'optim.learning_rate': 0.05,
      'optim.weight_decay': 5e-4, 'optim.schedule': 'cosine'})
