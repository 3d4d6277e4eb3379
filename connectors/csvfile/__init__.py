"""CSV connector: customer files exported from Excel and other tools, read and written safely."""

from .connector import CsvConnector
from .settings import CsvObjectSettings, CsvSettings

__all__ = ["CsvConnector", "CsvObjectSettings", "CsvSettings"]
