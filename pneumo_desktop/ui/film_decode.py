"""The viewer's decode job: a film at full resolution, read on a worker, tagged with the number
of the request that asked for it (so the viewer drops a decode overtaken by a later one)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from pneumo_desktop.core.imaging import ImageLoadError, LoadedImage, load_image


@dataclass(frozen=True)
class Decoded:
    """What a decode job hands back to the GUI thread."""

    request: int
    path: str
    image: LoadedImage | None = None
    error: str | None = None  # the file could not be read
    size: int | None = None  # bytes on disk


def decode_job(request: int, path: str) -> Decoded:
    """Runs in a worker: decode the film at full resolution."""
    try:
        image = load_image(path)
        return Decoded(request, path, image, size=os.path.getsize(path))
    except ImageLoadError as error:
        return Decoded(request, path, error=str(error))
    except Exception as error:  # never a traceback: one line the user can pass on
        name = os.path.basename(path)
        return Decoded(request, path, error=f'Cannot open "{name}": {error!r}.')
