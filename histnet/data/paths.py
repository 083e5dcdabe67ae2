"""Confining reads to the data set folder the user named.

Every reader resolves the paths it is about to open (symbolic links followed) and refuses
one that lands outside the data set folder: a link out of it, ``..`` or an absolute name in
an annotation file. A link that stays inside, and a data folder that is itself a link, are
read as usual. Kept apart from the readers so that every reader can use it without
importing another.
"""

from __future__ import annotations

import os

from ..errors import DataError


def resolved_root(folder) -> str:
    """``folder`` with every symbolic link resolved: the base :func:`check_inside` confines reads to."""
    return os.path.realpath(folder)


def is_inside(real: str, base: str) -> bool:
    """True if the resolved path ``real`` is ``base`` or lies below it (both from ``os.path.realpath``)."""
    return real == base or real.startswith(base if base.endswith(os.sep) else base + os.sep)


def check_inside(path, base: str, what: str = "file", listed_in: str = "") -> None:
    """Refuse ``path`` unless it resolves (symbolic links followed) to ``base`` or below.

    Parameters
    ----------
    path : str or Path
        The file or folder about to be read.
    base : str
        The data set folder, already resolved (:func:`resolved_root`).
    what : str
        What ``path`` is, for the message ("image", "class folder", ...).
    listed_in : str, optional
        Where the name came from (an annotation file and line), put first in the message.

    Raises
    ------
    DataError
        ``path`` resolves outside ``base``: a link out of the folder, ``..`` or an
        absolute name.
    """
    real = os.path.realpath(path)
    if not is_inside(real, base):
        where = f"{listed_in}: " if listed_in else ""
        raise DataError(f"{where}{path}: {what} resolves to {real}, outside the data set folder {base}; "
                        "histnet reads only files inside the folder it is given")
