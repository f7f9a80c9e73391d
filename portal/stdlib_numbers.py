"""Make room for the ``numbers`` app when the standard ``numbers`` module is already loaded.

pytest (and anything importing ``decimal`` before the project directory is on
``sys.path``) loads the standard module first; the app would then fail to
import ("'numbers' is not a package"). Moving the loaded module aside keeps its
classes, which ``numbers/__init__.py`` re-exports, so every ``isinstance``
check registered against them keeps working.
"""

import sys

_loaded = sys.modules.get("numbers")
if _loaded is not None and not hasattr(_loaded, "__path__"):
    sys.modules["_stdlib_numbers"] = sys.modules.pop("numbers")
