"""Runtime hook for the frozen programs: runs before wingmate.py, wmexec.py or
wmpidproxy.py, inside the Python process that the onefile bootloader starts.

1. The bootloader puts its unpack directory first in LD_LIBRARY_PATH and adds
   _PYI_* bookkeeping variables.  Every service, job and target we spawn or
   exec would inherit them: an image's own programs would then load our
   bundled libz or libffi, and a frozen program started from a service would
   take itself for the bootloader's child.  The dynamic loader read
   LD_LIBRARY_PATH when this process started, so removing it here changes
   only what children see.
2. The tz database travels as one zip (see build.spec) rather than as ~600
   files that the bootloader would unpack and delete on every start.
"""

import os
import sys


def restore_environment(environ: "os._Environ[str]") -> None:
    original = environ.pop("LD_LIBRARY_PATH_ORIG", None)
    if original is None:
        environ.pop("LD_LIBRARY_PATH", None)
    else:
        environ["LD_LIBRARY_PATH"] = original
    for name in [name for name in environ if name.startswith("_PYI_")]:
        del environ[name]


def add_tzdata_archive() -> None:
    archive = os.path.join(getattr(sys, "_MEIPASS", ""), "tzdata.zip")
    if os.path.isfile(archive):
        sys.path.append(archive)


restore_environment(os.environ)
add_tzdata_archive()
