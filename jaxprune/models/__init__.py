"""Width-configured Flax Linen models, each owning its structure, by name.

``get_spec(name)`` gives a model's :class:`ModelSpec` (build, widths, channel
units, compaction, classifier name); ``create_model(name, num_classes,
widths)`` builds its Linen module. Adding a model is one family file that
calls :func:`register_model`, imported here.
"""

from jaxprune.models.spec import (ChannelUnit, ModelSpec,
                                  channel_prunable_models, create_model,
                                  default_widths, get_spec, model_names,
                                  register_model)
# Importing a family module registers its models.
from jaxprune.models import digits_cnn  # noqa: F401
from jaxprune.models import densenet  # noqa: F401
from jaxprune.models import preresnet  # noqa: F401
from jaxprune.models import resnet_cifar  # noqa: F401
from jaxprune.models import resnet_imagenet  # noqa: F401
from jaxprune.models import sss_resnet  # noqa: F401
from jaxprune.models import vgg_cifar  # noqa: F401
from jaxprune.models import vgg_imagenet  # noqa: F401
