"""A PDF read by a PDF parser (pypdf), looking for what a viewer runs or opens by itself.

The byte scan in `filetypes` finds `/JavaScript` written plainly; a PDF may spell a name with
escapes (`/J#61vaScript` is `/JavaScript`) or keep its objects in compressed object streams,
where no byte of the name is visible. pypdf decodes names and inflates object streams, so the
check here sees the objects as a viewer does: every object reachable from the trailer (the
catalog, the names tree, pages, annotations, OpenAction, AA, AcroForm) is walked, and any
dictionary key or name value among `ACTIVE` refuses the file. Content streams (pages,
images, fonts) are left out (`CONTENT_KEYS`); a file with no `startxref` is refused before
pypdf sees it, as pypdf would read all of it into memory to rebuild the cross-references.
"""

from __future__ import annotations

import logging
import warnings
from typing import IO, Any

from pypdf import PdfReader
from pypdf.errors import PdfReadError, PyPdfError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

# Keys and names a viewer acts on by itself: scripts, launching programs, files carried
# inside, XML forms (XFA runs scripts too), Flash and other rich media.
ACTIVE = frozenset(
    {
        "/JavaScript",
        "/JS",
        "/Launch",
        "/EmbeddedFile",
        "/EmbeddedFiles",
        "/EF",  # a file specification's embedded file streams
        "/XFA",
        "/RichMedia",
    }
)
# Keys whose values are page content, images, fonts, appearances and metadata: streams no
# viewer looks for actions in. They are not walked, so a 200 MB image is never read into
# memory (pypdf reads a stream's data with its dictionary). Their names still pass the byte scan.
CONTENT_KEYS = frozenset(
    {
        "/Contents",
        "/XObject",
        "/FontFile",
        "/FontFile2",
        "/FontFile3",
        "/Thumb",
        "/Metadata",
        "/AP",
        "/ColorSpace",
        "/Shading",
        "/Pattern",
        "/Font",
    }
)
# More objects than a legitimate e-book or report has; a file past this is not checked fully.
MAX_OBJECTS = 500_000


class Unreadable(ValueError):
    """pypdf could not read the file (damaged, or encrypted with a password)."""


class TooComplex(ValueError):
    """More objects than we are willing to walk."""


def active_content(file: IO[bytes]) -> str | None:
    """The first active name found in the PDF (`/JavaScript`, ...), or None when there is none.

    Raises `Unreadable` when the file cannot be parsed or decrypted, `TooComplex` when it has
    more than `MAX_OBJECTS` reachable objects."""
    file.seek(0)
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # damaged input is the caller's answer
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            reader = PdfReader(file, strict=False)
            if reader.is_encrypted and not reader.decrypt(""):
                raise Unreadable("encrypted")
            root = reader.trailer.get("/Root")
            if not isinstance(root, IndirectObject | DictionaryObject) or not isinstance(
                root.get_object(), DictionaryObject
            ):
                raise Unreadable("no catalog")
            return _walk(reader.trailer)
        except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, OSError) as error:
            if isinstance(error, Unreadable | TooComplex):
                raise
            raise Unreadable(type(error).__name__) from error
        except (RecursionError, NotImplementedError, AttributeError, IndexError) as error:
            raise Unreadable(type(error).__name__) from error


def _walk(root: Any) -> str | None:
    """Iterative walk over dictionaries and arrays, each indirect object once."""
    seen: set[tuple[int, int]] = set()
    pending: list[Any] = [root]
    while pending:
        value = pending.pop()
        if isinstance(value, IndirectObject):
            key = (value.idnum, value.generation)
            if key in seen:
                continue
            seen.add(key)
            if len(seen) > MAX_OBJECTS:
                raise TooComplex(f"more than {MAX_OBJECTS} objects")
            value = value.get_object()
        if isinstance(value, DictionaryObject):  # streams too: their dictionary is checked
            for name, item in value.items():
                if name in ACTIVE:
                    return str(name)
                if name not in CONTENT_KEYS:
                    pending.append(item)
        elif isinstance(value, ArrayObject):
            pending.extend(value)
        elif isinstance(value, NameObject) and value in ACTIVE:
            return str(value)
    return None
