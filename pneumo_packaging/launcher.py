"""PyInstaller entry script of the bundle's executables (build.spec's Analysis starts here).

``pneumo_desktop/app.py`` uses relative imports, so it cannot be the frozen script itself (the
script runs as ``__main__``, outside its package); this launcher imports it instead.

One script serves both commands: invoked as ``pneumo-scan`` (the Windows console executable,
or the symbolic link beside ``pneumo-desktop`` on Linux) it runs the headless scanner, else
the desktop application.
"""

import os
import sys


def main() -> int:
    if os.path.basename(sys.argv[0]).lower().removesuffix(".exe") == "pneumo-scan":
        from pneumo_desktop.cli import scan_main

        return scan_main()
    from pneumo_desktop.app import main as app_main

    return app_main()


if __name__ == "__main__":  # the frozen program runs this file as __main__
    raise SystemExit(main())
