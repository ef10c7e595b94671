"""The harness of the SavedModel kata: exercise catalogue, MNIST data,
reference training loop, pytest plugin and the `kata` runner.

Importing this package does not import TensorFlow; the modules that need it
import it themselves, so `kata hint` answers at once.
"""

__version__ = "0.1.0"
