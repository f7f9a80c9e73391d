"""The number lifecycle app.

The app is named ``numbers`` (the project layout asks for it), which is also
the name of a standard-library module that ``decimal``, ``fractions`` and
pytest import. So that both work, this package re-exports the standard
module's abstract base classes (``Number``, ``Complex``, ``Real``,
``Rational``, ``Integral``) from the one copy of it loaded in the process:
``isinstance(Decimal(1), numbers.Number)`` stays true whichever was imported
first. ``portal/__init__.py`` moves an already-imported standard module aside
to ``_stdlib_numbers`` before Django imports this app.
"""

import importlib.util
import os
import sys
import sysconfig
import types


def _load_stdlib_numbers() -> types.ModuleType:
    module = sys.modules.get("_stdlib_numbers")
    if module is None:
        path = os.path.join(sysconfig.get_paths()["stdlib"], "numbers.py")
        spec = importlib.util.spec_from_file_location("_stdlib_numbers", path)
        assert spec is not None and spec.loader is not None  # a .py file path always has a spec and a loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["_stdlib_numbers"] = module
        spec.loader.exec_module(module)
    return module


_std = _load_stdlib_numbers()
Number = _std.Number
Complex = _std.Complex
Real = _std.Real
Rational = _std.Rational
Integral = _std.Integral
__all__ = ["Number", "Complex", "Real", "Rational", "Integral"]
del _load_stdlib_numbers
