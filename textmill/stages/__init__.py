"""Built-in stages. Every module below this package is imported here so that its
`@register(...)` line runs; adding a stage is adding a file."""

import importlib
import pkgutil


def _import_all() -> None:
    for module in pkgutil.walk_packages(__path__, prefix=f"{__name__}."):
        importlib.import_module(module.name)


_import_all()
