"""Export golden records into a system's shape, through the object's mapping spec (reversed)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from hub.model import EntityType
from hub.ports import RecordRef

CANONICAL_ID_COLUMN = "huitong_id"


class ReverseMapper(Protocol):
    def to_system(
        self, values: Mapping[str, Any], resolve_ref: Callable[[str, str], str | None] | None = None
    ) -> dict[str, Any]: ...

    def system_columns(self) -> list[str]: ...


def export_rows(
    store: Any,
    entity: EntityType,
    mapper: ReverseMapper,
    system: str,
    with_id: bool = True,
) -> tuple[list[str], Iterator[dict[str, Any]]]:
    """The columns and a stream of rows: one per live golden record of ``entity``.

    A reference (a person's company) is written as the referenced record's id in ``system`` when the
    hub knows one, else as the canonical id, so the link survives the round trip either way.
    """
    columns = ([CANONICAL_ID_COLUMN] if with_id else []) + mapper.system_columns()

    def rows() -> Iterator[dict[str, Any]]:
        with store.transaction() as tx:
            for page in _pages(tx.iter_goldens(entity), 500):
                targets = {
                    gv.value
                    for golden in page
                    for name, gv in golden.fields.items()
                    if name.endswith("_id")
                }
                known = tx.external_ids_of(system, targets) if targets else {}

                def resolve(
                    obj: str, canonical_id: str, known: dict[tuple[str, str], RecordRef] = known
                ) -> str | None:
                    ref = known.get((obj, canonical_id))
                    return ref.external_id if ref else canonical_id

                for golden in page:
                    row = mapper.to_system(golden.values(), resolve)
                    if with_id:
                        row[CANONICAL_ID_COLUMN] = golden.canonical_id
                    yield row

    return columns, rows()


def _pages(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    page: list[Any] = []
    for item in items:
        page.append(item)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page
