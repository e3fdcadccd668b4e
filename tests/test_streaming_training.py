"""The train loop on a streamed (ImageNet-style tf.data) source."""

import numpy as np
import tensorflow as tf

from jaxprune import data as data_lib
from jaxprune import models
from jaxprune import optim
from jaxprune import sources
from jaxprune import steps as steps_lib
from jaxprune import train
from jaxprune import trainer


def _write_folder(root, n_per_class=8, size=(20, 24)):
  rng = np.random.default_rng(0)
  for split in ('train', 'test'):
    for c, name in enumerate(('ant', 'bee')):
      d = root / split / name
      d.mkdir(parents=True)
      for i in range(n_per_class):
        img = np.full((*size, 3), 60 + 120 * c, np.uint8)
        img = np.clip(img + rng.integers(-20, 20, img.shape), 0, 255)
        (d / f'{i}.jpg').write_bytes(
            tf.io.encode_jpeg(img.astype(np.uint8)).numpy())


def test_fit_on_streaming_folder(tmp_path):
  _write_folder(tmp_path / 'folder')
  streaming = data_lib.make_folder_iterators(
      tmp_path / 'folder', global_batch=8, num_devices=2, seed=0,
      image_size=16, resize_size=18, cache_dir=tmp_path / 'cache')
  source = sources.StreamingSource(streaming)
  assert source.input_shape == (16, 16, 3) and source.steps_per_epoch == 2
  model = models.create_model('digits_cnn', 2, widths=[8, 'M', 8],
                              axis_name=steps_lib.AXIS_NAME)
  params, batch_stats = train.init_variables(model, source.input_shape, 0)
  tx = optim.sgd_coupled(0.05)
  state = steps_lib.create_train_state(params, batch_stats, tx)
  result = trainer.fit(name='stream', workdir=str(tmp_path / 'run'),
                       model=model, tx=tx, state=state,
                       param_map=steps_lib.dense_param_map(), source=source,
                       epochs=2, seed=0, config_dict={}, tensorboard=False)
  assert [h['epoch'] for h in result.history] == [1, 2]
  assert 0.0 <= result.last_accuracy <= 1.0
  assert int(result.state.step) == 4
