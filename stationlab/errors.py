"""The exceptions stationlab raises: one root, subclasses that carry where things went wrong."""

from __future__ import annotations


class StationlabError(Exception):
    """Root of every error stationlab raises on purpose."""


class ParseError(StationlabError):
    """A logger file could not be read.

    Parameters
    ----------
    message
        What is wrong, in words a person can act on.
    source
        The file's name (or ``"<buffer>"``).
    line
        1-based line number in the file, where known.
    column
        The column's name (or 1-based field number), where known.
    """

    def __init__(self, message: str, *, source: str = "<buffer>", line: int | None = None,
                 column: str | int | None = None) -> None:
        self.message = message
        self.source = source
        self.line = line
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.where()
        return f"{self.source}, {where}: {self.message}" if where else \
            f"{self.source}: {self.message}"

    def where(self) -> str:
        """``line 3, column Speed``, or ``""`` where neither is known."""
        parts = [f"line {self.line}"] if self.line is not None else []
        parts += [f"column {self.column}"] if self.column is not None else []
        return ", ".join(parts)

    def located(self) -> str:
        """The message with its line and column but without the file's name (for lines that
        name the file already): ``line 1: the file is empty``."""
        where = self.where()
        return f"{where}: {self.message}" if where else self.message

    def __reduce__(self):  # keep the keyword arguments through pickling (worker processes)
        return (_rebuild_parse_error, (self.message, self.source, self.line, self.column))


def _rebuild_parse_error(message, source, line, column):
    return ParseError(message, source=source, line=line, column=column)


class UnknownFormatError(ParseError):
    """No registered parser recognises the file."""


class ImportRejected(StationlabError):
    """A file parsed but cannot be stored as asked (for example it belongs to another station)."""


class StorageError(StationlabError):
    """The database refused or failed an operation."""


class ConfigError(StationlabError):
    """The configuration or environment is not usable (no server, bad DSN, ...)."""


class DatabaseUnavailable(StorageError):
    """The database cannot be reached or went away; the same work may succeed later."""


class StorageConflict(StorageError):
    """A transaction lost a race (deadlock, serialisation failure); retrying it is safe."""


class ArchiveError(StationlabError):
    """A compressed file (zip, gz, 7z, tar) could not be opened."""


class FetchError(StationlabError):
    """A source could not be listed or read, or its decrypt command failed."""


class MetadataError(StationlabError):
    """Station metadata (an IEA Task 43 document) is invalid or cannot be stored.

    Parameters
    ----------
    message
        What is wrong, in words a person can act on.
    violations
        Every problem found, as ``(JSON path, what is wrong)``, listed after the message.
    """

    def __init__(self, message: str, violations: list[tuple[str, str]] | None = None) -> None:
        self.message = message
        self.violations = list(violations or [])
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join([self.message] + [f"  {path}: {what}" for path, what in self.violations])

    def __reduce__(self):
        return (MetadataError, (self.message, self.violations))
