"""Width-configured Flax Linen models with a registry by name."""

from jaxprune.models.registry import (ModelSpec, create_model, default_widths,
                                      get_spec, model_names, register_model)
# Importing a family module registers its models.
from jaxprune.models import digits_cnn  # noqa: F401
from jaxprune.models import densenet  # noqa: F401
from jaxprune.models import preresnet  # noqa: F401
from jaxprune.models import resnet_cifar  # noqa: F401
from jaxprune.models import resnet_imagenet  # noqa: F401
from jaxprune.models import vgg_cifar  # noqa: F401
from jaxprune.models import vgg_imagenet  # noqa: F401
