"""The ``memspy`` command line, on top of every other package: ``demo``, ``doctor``, ``bench``, ``eval``,
``optimize``, ``tune`` (see :data:`memspy.cli.main.COMMANDS`)."""

from memspy.cli.main import COMMANDS, Command, main

__all__ = ["COMMANDS", "Command", "main"]
