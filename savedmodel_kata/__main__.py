import sys

from savedmodel_kata.cli import main

sys.exit(main())
