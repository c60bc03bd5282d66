"""``python3 -m pneumo_packaging COMMAND``: build the app folder and the installers.

    bundle    dist/pneumo-desktop/ (PyInstaller, in build/installer-venv)
    deb       dist/pneumo-desktop_<version>_<arch>.deb from the folder (Debian/Ubuntu)
    tarball   dist/pneumo-desktop-<version>-linux-<machine>.tar.gz from the folder
    linux     bundle, then deb and tarball
    nsis      dist/pneumo-desktop-<version>-setup.exe from the folder (Windows; makensis)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .bundle import DEFAULT_VENV
from .project import APP_NAME, REPO_ROOT, BuildError

DIST = REPO_ROOT / "dist"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python3 -m pneumo_packaging",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("bundle", "linux"):
        command = commands.add_parser(name)
        command.add_argument("--venv", type=Path, default=DEFAULT_VENV)
        command.add_argument("--distpath", type=Path, default=DIST)
        command.add_argument("--workpath", type=Path, default=REPO_ROOT / "build" / "pyinstaller")
    for name in ("deb", "tarball", "nsis", "linux"):
        command = commands.choices.get(name) or commands.add_parser(name)
        if name != "linux":
            command.add_argument("--bundle", type=Path, default=DIST / APP_NAME)
        command.add_argument("--out", type=Path, default=DIST)
    commands.choices["deb"].add_argument(
        "--compression", default="zstd", choices=["zstd", "xz", "gzip", "none"]
    )
    commands.choices["nsis"].add_argument("--makensis", default="makensis")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command in ("bundle", "linux"):
            from .bundle import build_bundle

            args.bundle = build_bundle(args.venv, args.distpath, args.workpath)
        if args.command in ("deb", "linux"):
            from .deb import build_deb

            build_deb(args.bundle, args.out, getattr(args, "compression", "zstd"))
        if args.command in ("tarball", "linux"):
            from .tarball import build_tarball

            build_tarball(args.bundle, args.out)
        if args.command == "nsis":
            from .nsis import build_installer

            build_installer(args.bundle, args.out, args.makensis)
    except BuildError as error:
        print(f"pneumo_packaging: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
