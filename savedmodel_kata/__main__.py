import sys

from savedmodel_kata.runner.cli import main

sys.exit(main())
