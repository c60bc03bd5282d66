"""PyInstaller entry script of the bundle's programs (build.spec's Analysis starts here).

``pneumo_desktop/app.py`` uses relative imports, so it cannot be the frozen script itself (the
script runs as ``__main__``, outside its package); this launcher imports it instead.

One frozen program serves every command of ``pyproject.toml``: it runs the one it is started
as. On Linux the console commands are symbolic links to ``pneumo-desktop``; on Windows
``pneumo-scan.exe`` is the console program and the other commands are ``.cmd`` files that
start it with ``PNEUMO_COMMAND`` set (pneumo_packaging/commands.py writes both).
"""

import importlib
import os
import sys

GUI_COMMAND = ("pneumo-desktop", "pneumo_desktop.app:main")
# pyproject.toml's [project.scripts]; tests/packaging/test_launcher.py keeps them in step.
CONSOLE_COMMANDS = {
    "pneumo-scan": "pneumo_desktop.cli:scan_main",
    "pneumo-calibrate": "pneumo_desktop.calibrate_cli:calibrate_main",
    "pneumo-receive": "pneumo_desktop.receive_cli:receive_main",
}
COMMAND_VARIABLE = "PNEUMO_COMMAND"


def command_name(argv0: str, environ) -> str:
    """The command to run: ``PNEUMO_COMMAND`` (the Windows wrappers), else the program's name."""
    chosen = environ.get(COMMAND_VARIABLE)
    if chosen:
        return chosen
    return os.path.basename(argv0.replace("\\", "/")).lower().removesuffix(".exe")


def main() -> int:
    name = command_name(sys.argv[0], os.environ)
    os.environ.pop(COMMAND_VARIABLE, None)  # not for the programs this one starts
    module, function = CONSOLE_COMMANDS.get(name, GUI_COMMAND[1]).split(":")
    # Imported by name: build.spec collects every module of pneumo_desktop.
    return getattr(importlib.import_module(module), function)()


if __name__ == "__main__":  # the frozen program runs this file as __main__
    raise SystemExit(main())
